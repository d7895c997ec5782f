-- A Neovim 0.7+ session against `nnc lsp`, run headless by test/lsp/neovim.test.ts:
--   nvim --headless --clean -i NONE -n -c "luafile test/lsp/nvim/session.lua"
-- with NNC_ROOT (the repository), NNC_FILE (a broken .nn file) and NNC_OUT (where the results
-- go, as JSON). It opens the file, reads the diagnostics, a hover and a completion, applies the
-- server's quick fix, waits for the diagnostic to go away, and stops the server.
-- The client setup is the one docs/editors.md gives for Neovim.
local root = os.getenv("NNC_ROOT")
local file = os.getenv("NNC_FILE")
local out = os.getenv("NNC_OUT")
local results = { steps = {} }

local function step(name) table.insert(results.steps, name) end

local function finish()
  vim.fn.writefile({ vim.fn.json_encode(results) }, out)
  vim.cmd("qa!")
end

local function main()
  -- The setup of docs/editors.md (the command is this checkout's bin/nnc.js; on_exit only
  -- records how the server exited).
  vim.cmd([[autocmd BufRead,BufNewFile *.nn setfiletype nn]])

  vim.api.nvim_create_autocmd("FileType", {
    pattern = "nn",
    callback = function(args)
      local client_id = vim.lsp.start_client({
        name = "nnc",
        cmd = { "node", root .. "/bin/nnc.js", "lsp" },
        root_dir = vim.fn.getcwd(),
        init_options = { inlayHints = { shapes = true }, debounceMs = 50 },
        on_exit = function(code, signal) results.exit_code = code; results.exit_signal = signal end,
      })
      vim.lsp.buf_attach_client(args.buf, client_id)
      results.client_id = client_id
    end,
  })

  vim.cmd("edit " .. vim.fn.fnameescape(file))
  results.filetype = vim.bo.filetype
  local client_id = results.client_id
  results.client_id = nil
  if client_id then step("attached") end

  -- 1. The broken file's diagnostics.
  results.got_diagnostics = vim.wait(10000, function() return #vim.diagnostic.get(0) > 0 end, 20)
  results.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    table.insert(results.diagnostics, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      severity = d.severity, message = d.message, source = d.source, code = lsp.code,
    })
  end
  step("diagnostics")

  -- 2. A hover on `conv2d` (line 4, column 3).
  vim.api.nvim_win_set_cursor(0, { 4, 2 })
  local hover = vim.lsp.buf_request_sync(0, "textDocument/hover", vim.lsp.util.make_position_params(), 5000)
  for _, r in pairs(hover or {}) do
    if r.result and r.result.contents then results.hover = r.result.contents.value end
  end
  step("hover")

  -- 3. Completion on the optimizer's value (`adam`, line 17 column 13).
  local line = vim.fn.search("^  optimizer ", "n")
  vim.api.nvim_win_set_cursor(0, { line, 12 })
  local completion = vim.lsp.buf_request_sync(0, "textDocument/completion", vim.lsp.util.make_position_params(), 5000)
  results.completion = {}
  for _, r in pairs(completion or {}) do
    local items = r.result and (r.result.items or r.result) or {}
    for _, item in ipairs(items) do table.insert(results.completion, item.label) end
  end
  step("completion")

  -- 4. The quick fix for the first diagnostic, applied by the editor: the diagnostic goes away.
  local d = vim.diagnostic.get(0)[1]
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(0) },
    range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } },
    context = { diagnostics = { d.user_data.lsp } },
  }
  local actions = vim.lsp.buf_request_sync(0, "textDocument/codeAction", params, 5000)
  results.actions = {}
  for _, r in pairs(actions or {}) do
    for _, action in ipairs(r.result or {}) do
      table.insert(results.actions, action.title)
      if action.edit and not results.applied then
        vim.lsp.util.apply_workspace_edit(action.edit, "utf-16")
        results.applied = action.title
      end
    end
  end
  results.fixed_line = vim.api.nvim_buf_get_lines(0, d.lnum, d.lnum + 1, false)[1]
  results.cleared = vim.wait(10000, function() return #vim.diagnostic.get(0) == 0 end, 20)
  step("fixed")

  -- 5. Stop the server: it answers shutdown, exits with 0.
  vim.lsp.stop_client(client_id)
  results.stopped = vim.wait(5000, function() return results.exit_code ~= nil end, 20)
  step("stopped")
end

local ok, err = pcall(main)
if not ok then results.error = tostring(err) end
finish()
