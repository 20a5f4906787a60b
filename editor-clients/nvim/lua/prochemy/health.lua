-- :checkhealth prochemy
local M = {}

function M.check()
  local health = vim.health
  health.start("prochemy")
  if vim.fn.has("nvim-0.11") == 1 then
    health.ok("Neovim " .. tostring(vim.version()))
  else
    health.error("Neovim 0.11 or newer is needed (vim.lsp.config / vim.lsp.enable)")
  end
  local opts = require("prochemy").options
  if not opts then
    health.warn('require("prochemy").setup({...}) has not been called')
    return
  end
  local exe = opts.cmd[1]
  if vim.fn.executable(exe) == 1 then
    health.ok("server command: " .. table.concat(opts.cmd, " "))
  else
    health.error("server command not found: " .. exe, { "pip install prochemy (or set cmd in setup)" })
    return
  end
  local clients = vim.lsp.get_clients({ name = "prochemy" })
  if #clients == 0 then
    health.info("no prochemy client running (open a Python file in a project)")
    return
  end
  local result = clients[1]:request_sync("workspace/executeCommand",
    { command = "prochemy.doctor", arguments = { { root = clients[1].config.root_dir } } }, 30000)
  if result and result.result then
    for _, line in ipairs(vim.split(result.result.text, "\n")) do
      if line:find("MISSING") or line:find("NOT ") then
        health.warn(line)
      elseif not line:find("^  ") then
        health.info(line)
      end
    end
    health.ok("the server answers prochemy.doctor")
  else
    health.error("prochemy.doctor did not answer: " .. vim.inspect(result and result.err))
  end
end

return M
