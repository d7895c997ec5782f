// A second real editor: Debian's Emacs (28, with elpa-eglot; .ci/run) in
// batch mode runs eglot on `node bin/nnc.js lsp` (test/lsp/emacs/session.el), opens a broken
// example, reads Flymake's diagnostics, a hover and completion-at-point's candidates, fixes the
// file with an edit and sees the diagnostic go away; then shuts the server down.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const EMACS = "/usr/bin/emacs";

describe("Emacs (eglot)", () => {
  it("shows nnc's diagnostics through Flymake, a hover and completions, and an edit clears the error", () => {
    expect(existsSync(EMACS), "Emacs is missing: `bash .ci/run` installs emacs-nox and elpa-eglot (.ci/run)").toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "nnc-emacs-"));
    try {
      const file = join(dir, "cnn.nn");
      writeFileSync(file, readFileSync(join(root, "examples/cnn.nn"), "utf8").replace("dense(100", "dnese(100"));
      const out = join(dir, "results.json");
      const r = spawnSync(EMACS, ["--batch", "-Q", "-l", join(root, "test/lsp/emacs/session.el")], {
        cwd: dir,
        env: { ...process.env, HOME: dir, NNC_ROOT: root, NNC_FILE: file, NNC_OUT: out },
        encoding: "utf8",
        timeout: 45_000,
      });
      expect(existsSync(out), `Emacs wrote no results (exit ${r.status}, signal ${r.signal}): ${r.stderr}`).toBe(true);
      const res = JSON.parse(readFileSync(out, "utf8"));
      expect(res.error).toBeUndefined();
      expect(res.mode).toBe("nn-mode");
      expect(res.connected).toBe(true);
      expect(res.diagnostics).toEqual([
        { line: 9, text: "dnese", type: "eglot-error", message: "nnc [E201]: unknown layer `dnese`\nhint: did you mean `dense`?" },
      ]);
      expect(res.hover).toContain("layer · 2-D convolution over [height, width, channels] images");
      expect(res.hover).toContain("[28, 28, 1] → [28, 28, 8] · 208 params · 313,600 FLOPs");
      expect(res.completion).toEqual(["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam"]);
      expect(res.cleared).toBe(true);
      expect(res.exit_code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
