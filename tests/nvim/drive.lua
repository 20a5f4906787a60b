-- Driven by tests/test_nvim.py: nvim --headless --clean -l drive.lua
-- Loads the plugin, opens the example repository, runs :ProchemyRefine until the job is
-- done, then :ProchemyGenerate on a stubbed function, then :ProchemyTranslate on a Java
-- file, and writes what happened to OUT.
local env = vim.env
local out = {}
local function finish(ok, why)
  out.ok, out.why = ok, why
  local f = io.open(env.NVIM_TEST_OUT, "w")
  f:write(vim.json.encode(out))
  f:close()
  vim.cmd("qall!")
end

vim.opt.rtp:prepend(env.NVIM_TEST_PLUGIN)
vim.cmd("filetype on")
require("prochemy").setup({
  cmd = vim.json.decode(env.NVIM_TEST_CMD),
  settings = vim.json.decode(env.NVIM_TEST_SETTINGS),
  echo_progress = false,
})
local progress = {}
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(ev)
    local v = ev.data.params.value
    table.insert(progress, v.kind .. ":" .. (v.message or v.title or ""))
  end,
})

vim.cmd("cd " .. env.NVIM_TEST_REPO)
vim.cmd("edit shelfkit/money.py")
if not vim.wait(30000, function() return #vim.lsp.get_clients({ name = "prochemy", bufnr = 0 }) > 0 end, 100) then
  return finish(false, "the server never attached")
end
local client = vim.lsp.get_clients({ name = "prochemy" })[1]
out.root = client.config.root_dir

vim.cmd("ProchemyRefine")
if not vim.wait(60000, function() return vim.g.prochemy_last_job ~= nil end, 100) then
  return finish(false, ":ProchemyRefine returned no job")
end
local state
local done = vim.wait(240000, function()
  local r = client:request_sync("workspace/executeCommand", { command = "prochemy.status", arguments = {} }, 10000)
  for _, job in ipairs((r and r.result and r.result.jobs) or {}) do
    if job.id == vim.g.prochemy_last_job and job.state ~= "running" then
      state = job
      return true
    end
  end
  return false
end, 500)
if not done then
  return finish(false, "the refinement did not finish")
end
out.refine = state
out.progress = progress
require("prochemy").refresh_status()
vim.wait(10000, function() return require("prochemy").statusline():match("refined") or require("prochemy").statusline():match("seed") end, 100)
out.statusline = require("prochemy").statusline()

-- stub one function in the buffer, then let the server implement it
local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
local def_line
for i, l in ipairs(lines) do
  if l:match("^def split_evenly") then def_line = i end
end
local body_start, body_end
for i = def_line + 1, #lines do
  if lines[i]:match('^    """') and not body_start then
    -- skip the docstring
    local j = i
    if not lines[i]:match('""".*"""') then
      j = i + 1
      while not lines[j]:match('"""') do j = j + 1 end
    end
    body_start = j + 1
  elseif body_start and (lines[i]:match("^%S") and lines[i] ~= "") then
    body_end = i - 1
    break
  end
end
while lines[body_end] == "" do body_end = body_end - 1 end
vim.api.nvim_buf_set_lines(0, body_start - 1, body_end, false, { "    raise NotImplementedError" })
out.stubbed = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
vim.api.nvim_win_set_cursor(0, { def_line, 0 })
vim.cmd("ProchemyGenerate")
if not vim.wait(120000, function() return vim.g.prochemy_last_generate ~= nil end, 100) then
  return finish(false, ":ProchemyGenerate did not answer")
end
out.generate = vim.g.prochemy_last_generate
out.buffer = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
vim.cmd("checkhealth prochemy")
out.health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")

-- a Java file: :ProchemyTranslate python writes a new Python file and opens it
local java = env.NVIM_TEST_REPO .. "/Twice.java"
local f = io.open(java, "w")
f:write("class Twice {\n    static int twice(int x) { return 2 * x; }\n}\n")
f:close()
vim.cmd("edit " .. java)
if not vim.wait(30000, function() return #vim.lsp.get_clients({ name = "prochemy", bufnr = 0 }) > 0 end, 100) then
  return finish(false, "the server never attached to the Java buffer")
end
vim.cmd("ProchemyTranslate python")
if not vim.wait(60000, function() return vim.g.prochemy_last_translate ~= nil end, 100) then
  return finish(false, ":ProchemyTranslate did not answer")
end
out.translate = vim.g.prochemy_last_translate
vim.wait(5000, function() return vim.api.nvim_buf_get_name(0):match("Twice%.py$") ~= nil end, 100)
out.translated_buffer = vim.api.nvim_buf_get_name(0)
local made = vim.fn.bufnr(env.NVIM_TEST_REPO .. "/Twice.py")
out.translated = made > 0 and table.concat(vim.api.nvim_buf_get_lines(made, 0, -1, false), "\n") or ""
out.java_after = table.concat(vim.fn.readfile(java), "\n")

-- a selection of a Python file: :1,3ProchemyTranslate java writes the Java beside it
local py = env.NVIM_TEST_REPO .. "/ops.py"
local g = io.open(py, "w")
g:write("def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n")
g:close()
vim.cmd("edit " .. py)
vim.wait(30000, function() return #vim.lsp.get_clients({ name = "prochemy", bufnr = 0 }) > 0 end, 100)
vim.g.prochemy_last_translate = nil
vim.cmd("1,2ProchemyTranslate java")
if not vim.wait(60000, function() return vim.g.prochemy_last_translate ~= nil end, 100) then
  return finish(false, ":ProchemyTranslate java did not answer")
end
out.translate_java = vim.g.prochemy_last_translate
local made_java = vim.fn.bufnr(env.NVIM_TEST_REPO .. "/ops.java")
vim.wait(5000, function() return vim.fn.bufnr(env.NVIM_TEST_REPO .. "/ops.java") > 0 end, 100)
made_java = vim.fn.bufnr(env.NVIM_TEST_REPO .. "/ops.java")
out.translated_java = made_java > 0 and table.concat(vim.api.nvim_buf_get_lines(made_java, 0, -1, false), "\n") or ""

vim.cmd("ProchemyClearCache")
if not vim.wait(30000, function() return vim.g.prochemy_last_clear ~= nil end, 100) then
  return finish(false, ":ProchemyClearCache did not answer")
end
out.cleared = vim.g.prochemy_last_clear
finish(true, "")
