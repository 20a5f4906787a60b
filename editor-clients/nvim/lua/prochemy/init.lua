-- Prochemy for Neovim 0.11+: starts `prochemy-lsp` for Python (and Java) buffers through
-- vim.lsp.config / vim.lsp.enable and adds :Prochemy* commands. Progress ($/progress) goes
-- through Neovim's own LSP progress handling (vim.lsp.status(), the LspProgress event).
local M = {}

M.defaults = {
  cmd = { "prochemy-lsp" }, -- or { "/path/to/venv/bin/python", "-m", "prochemy.server.main" }
  filetypes = { "python", "java" }, -- Java: to translate it (code action or :ProchemyTranslate)
  root_markers = { "pyproject.toml", "setup.cfg", "setup.py", "pytest.ini", ".git" },
  settings = {}, -- the `prochemy` settings: endpoint, test, editor, sandbox ... (see the README)
  echo_progress = true, -- echo progress messages in the command line
  status_poll_ms = 5000, -- how often M.statusline() asks the server (0: only on events)
}

local function client(bufnr)
  local found = vim.lsp.get_clients({ name = "prochemy", bufnr = bufnr or 0 })
  if #found == 0 then
    found = vim.lsp.get_clients({ name = "prochemy" })
  end
  return found[1]
end

--- Run a prochemy.* command on the server; `on_result(result)` gets its answer.
function M.execute(command, arguments, on_result, bufnr)
  local c = client(bufnr)
  if not c then
    vim.notify("Prochemy: the language server is not running for this buffer", vim.log.levels.WARN)
    return
  end
  c:request("workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if err then
      vim.notify("Prochemy: " .. command .. " failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif on_result then
      on_result(result)
    end
  end, bufnr or 0)
end

local function root_arg()
  local c = client()
  return { { root = c and c.config.root_dir or vim.fn.getcwd() } }
end

function M.refine()
  M.execute("prochemy.refinePrompt", root_arg(), function(result)
    vim.g.prochemy_last_job = result.jobId
    vim.notify("Prochemy: refining (" .. result.jobId .. "); progress in the LSP status")
  end)
end

-- opts.apply_failing: keep the best failing candidate when none passes the related tests
-- (`:ProchemyGenerate!`); by default only a verified pass changes the buffer
function M.generate(opts)
  opts = opts or {}
  local line = vim.api.nvim_win_get_cursor(0)[1] - 1
  local args = { { uri = vim.uri_from_bufnr(0), line = line, applyFailing = opts.apply_failing or false } }
  M.execute("prochemy.generate", args, function(result)
    vim.g.prochemy_last_generate = result
    if result.error then
      vim.notify("Prochemy: " .. result.error, vim.log.levels.WARN)
    elseif result.applied == false and result.passed == false then
      vim.notify(
        "Prochemy: no candidate passed the related tests; :ProchemyGenerate! applies the best failing one",
        vim.log.levels.WARN
      )
    end
  end)
end

-- The selection (a visual range) or the whole file, into a new file beside it that the
-- server opens; the source buffer is never changed. `to`: "python" or "java".
function M.translate(to, range)
  local args = { uri = vim.uri_from_bufnr(0), to = to }
  if range then
    local last = vim.api.nvim_buf_get_lines(0, range[2] - 1, range[2], false)[1] or ""
    args.range = {
      start = { line = range[1] - 1, character = 0 },
      ["end"] = { line = range[2] - 1, character = #last },
    }
  end
  M.execute("prochemy.translate", { args }, function(result)
    vim.g.prochemy_last_translate = result
    if result.error then
      vim.notify("Prochemy: " .. result.error, vim.log.levels.WARN)
    elseif result.created then
      vim.notify("Prochemy: translated into " .. result.path)
    end
  end)
end

-- A status-line component, like the VS Code status item: "Prochemy: refining 2/10",
-- "Prochemy: prompt stale", "Prochemy: refined", "Prochemy: seed" or "Prochemy: no prompt
-- yet". It is kept up to date from LSP progress and a prochemy.status poll
-- (M.refresh_status, run on attach, after progress ends and every few seconds).
M.status = { text = "Prochemy", progress = nil }

local function present(v) -- JSON null arrives as vim.NIL
  return v ~= nil and v ~= vim.NIL
end

local function status_text(status, progress)
  local running = {}
  for _, job in ipairs((status and status.jobs) or {}) do
    if job.state == "running" then table.insert(running, job) end
  end
  if #running > 0 then
    local k, n = (progress or ""):match("iteration (%d+)/(%d+)")
    return "Prochemy: " .. (k and ("refining " .. k .. "/" .. n) or (running[1].kind == "generate" and "generating" or "refining"))
  end
  local prompt = status and present(status.prompt) and status.prompt or nil
  if prompt and prompt.stale == true then return "Prochemy: prompt stale" end
  if status and present(status.projectFile) then return "Prochemy: " .. status.projectFile .. " (project file)" end
  if prompt then return "Prochemy: " .. prompt.adopted end
  return "Prochemy: no prompt yet"
end

function M.refresh_status()
  local c = client()
  if not c then return end
  M.execute("prochemy.status", root_arg(), function(result)
    M.status.text = status_text(result, M.status.progress)
    vim.cmd("redrawstatus")
  end)
end

function M.statusline()
  return M.status.text
end

function M.show_prompt()
  M.execute("prochemy.showPrompt", root_arg()) -- the server asks Neovim to open the file
end

function M.cancel()
  M.execute("prochemy.cancel", {}, function(result)
    vim.notify("Prochemy: cancelled " .. (#result.cancelled > 0 and table.concat(result.cancelled, ", ") or "nothing"))
  end)
end

function M.clear_cache()
  M.execute("prochemy.clearCache", root_arg(), function(result)
    vim.g.prochemy_last_clear = result -- the server also says what it cleared
  end)
end

function M.doctor()
  M.execute("prochemy.doctor", root_arg(), function(result)
    vim.cmd("new")
    vim.bo.buftype = "nofile"
    vim.bo.bufhidden = "wipe"
    vim.api.nvim_buf_set_lines(0, 0, -1, false, vim.split(result.text, "\n"))
  end)
end

function M.setup(opts)
  opts = vim.tbl_deep_extend("force", M.defaults, opts or {})
  M.options = opts
  vim.lsp.config("prochemy", {
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = opts.settings,
    settings = { prochemy = opts.settings },
  })
  vim.lsp.enable("prochemy")
  local commands = {
    ProchemyRefine = { M.refine, "Refine the code-generation prompt for this repository" },
    ProchemyGenerate = {
      function(cmd) M.generate({ apply_failing = cmd.bang }) end,
      "Implement the function under the cursor with the refined prompt (! keeps a failing version)",
      { bang = true },
    },
    ProchemyTranslate = {
      function(cmd)
        M.translate(cmd.args, cmd.range > 0 and { cmd.line1, cmd.line2 } or nil)
      end,
      "Translate the selection or the file to python|java, into a new file beside it",
      { nargs = 1, range = true, complete = function() return { "python", "java" } end },
    },
    ProchemyPrompt = { M.show_prompt, "Show the stored prompt, its scores and history" },
    ProchemyCancel = { M.cancel, "Cancel running Prochemy jobs" },
    ProchemyClearCache = { M.clear_cache, "Clear Prochemy's caches (stored prompts are kept)" },
    ProchemyDoctor = { M.doctor, "Configuration, backend, sandbox and test interpreter" },
  }
  for name, spec in pairs(commands) do
    vim.api.nvim_create_user_command(name, spec[1], vim.tbl_extend("force", { desc = spec[2] }, spec[3] or {}))
  end
  local group = vim.api.nvim_create_augroup("prochemy-status", { clear = true })
  vim.api.nvim_create_autocmd("LspProgress", {
    group = group,
    callback = function(ev)
      local c = vim.lsp.get_client_by_id(ev.data.client_id)
      local value = ev.data.params.value
      if not (c and c.name == "prochemy" and type(value) == "table") then return end
      M.status.progress = value.message or value.title
      if value.kind == "end" then M.status.progress = nil end
      M.refresh_status()
    end,
  })
  vim.api.nvim_create_autocmd("LspAttach", {
    group = group,
    callback = function(ev)
      local c = vim.lsp.get_client_by_id(ev.data.client_id)
      if c and c.name == "prochemy" then M.refresh_status() end
    end,
  })
  if not M._timer and (opts.status_poll_ms or 0) > 0 then
    M._timer = vim.uv.new_timer()
    M._timer:start(opts.status_poll_ms, opts.status_poll_ms, vim.schedule_wrap(M.refresh_status))
  end
  if opts.echo_progress then
    vim.api.nvim_create_autocmd("LspProgress", {
      group = vim.api.nvim_create_augroup("prochemy-progress", { clear = true }),
      callback = function(ev)
        local c = vim.lsp.get_client_by_id(ev.data.client_id)
        local value = ev.data.params.value
        if c and c.name == "prochemy" and type(value) == "table" then
          vim.api.nvim_echo({ { (value.title or "Prochemy") .. ": " .. (value.message or value.kind) } }, false, {})
        end
      end,
    })
  end
end

return M
