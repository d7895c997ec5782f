// A real editor: Debian's Neovim (0.7.x, .ci/run) runs headless with its
// built-in LSP client started on `node bin/nnc.js lsp` (test/lsp/nvim/session.lua), opens a
// broken example, reads vim.diagnostic.get(), a hover and a completion, applies the server's
// quick fix, and sees the diagnostic go away; then stops the server.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const NVIM = "/usr/bin/nvim";

describe("Neovim", () => {
  it("shows nnc's diagnostics, hover and completion, and a quick fix clears the error", () => {
    expect(existsSync(NVIM), "Neovim is missing: `bash .ci/run` installs it (.ci/run)").toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "nnc-nvim-"));
    try {
      const file = join(dir, "cnn.nn");
      const broken = readFileSync(join(root, "examples/cnn.nn"), "utf8").replace("dense(100", "dnese(100");
      writeFileSync(file, broken);
      const out = join(dir, "results.json");
      const r = spawnSync(NVIM, ["--headless", "--clean", "-i", "NONE", "-n", "-c", `luafile ${join(root, "test/lsp/nvim/session.lua")}`], {
        cwd: dir,
        env: { ...process.env, NNC_ROOT: root, NNC_FILE: file, NNC_OUT: out, XDG_STATE_HOME: dir, XDG_CACHE_HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(existsSync(out), `Neovim wrote no results (exit ${r.status}, signal ${r.signal}): ${r.stderr}`).toBe(true);
      const res = JSON.parse(readFileSync(out, "utf8"));
      expect(res.error).toBeUndefined();
      expect(res.steps).toEqual(["attached", "diagnostics", "hover", "completion", "fixed", "stopped"]);
      expect(res.filetype).toBe("nn");
      expect(res.diagnostics).toEqual([
        { lnum: 8, col: 2, end_lnum: 8, end_col: 7, severity: 1, message: "unknown layer `dnese`\nhint: did you mean `dense`?", source: "nnc", code: "E201" },
      ]);
      expect(res.hover).toContain("layer · 2-D convolution over [height, width, channels] images");
      expect(res.hover).toContain("[28, 28, 1] → [28, 28, 8] · 208 params");
      expect(res.completion).toEqual(["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam"]);
      expect(res.actions).toEqual(["Change `dnese` to `dense`"]);
      expect(res.fixed_line).toBe("  dense(100, activation: relu)");
      expect(res.cleared).toBe(true);
      expect(res.stopped).toBe(true);
      expect(res.exit_code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
