// bin/ts-hooks.mjs, which runs nnc's TypeScript sources (bin/nnc.js, `node --import
// ./bin/register.mjs`): esbuild's output is cached in node_modules/.cache/nnc-ts/ by the file's
// path and text, so an edited file runs as edited, never as its cached past.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "nnc-ts-hooks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cache = join(root, "node_modules", ".cache", "nnc-ts");

const run = (file: string) =>
  spawnSync(process.execPath, ["--import", join(root, "bin/register.mjs"), file], { cwd: root, encoding: "utf8", timeout: 30_000 });

describe("the TypeScript hooks' cache", () => {
  it("runs a cached module as it is on disk: an edit is transpiled anew, and the type-only syntax is stripped", () => {
    const main = join(dir, "main.ts");
    writeFileSync(join(dir, "value.ts"), "export const value: number = 1;\n");
    writeFileSync(main, 'import { value } from "./value.js";\nconst label: string = "value";\nconsole.log(`${label} ${value}`);\n');
    const first = run(main);
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe("value 1\n");
    const entries = readdirSync(cache).length;
    expect(run(main).stdout).toBe("value 1\n"); // from the cache: nothing added
    expect(readdirSync(cache).length).toBe(entries);
    writeFileSync(join(dir, "value.ts"), "export const value: number = 2;\n");
    expect(run(main).stdout).toBe("value 2\n");
    expect(readdirSync(cache).length).toBe(entries + 1);
    expect(readdirSync(cache).some((f) => f.endsWith(".tmp"))).toBe(false);
  });

  it("makes a cached file again when it is not whole", () => {
    const main = join(dir, "truncated.ts");
    writeFileSync(main, `const stamp: number = ${Date.now()};\nconsole.log(stamp > 0 ? "whole" : "never");\n`);
    const before = new Set(readdirSync(cache));
    expect(run(main).stdout).toBe("whole\n");
    const made = readdirSync(cache).filter((f) => !before.has(f));
    expect(made).toHaveLength(1);
    // cut in the middle of its code: run as it is, it would be a syntax error
    const file = join(cache, made[0]!);
    writeFileSync(file, readFileSync(file, "utf8").slice(0, 30));
    const r = run(main);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("whole\n");
    expect(readFileSync(file, "utf8")).toMatch(/\/\/# sourceMappingURL=data:/);
  });

  it("runs without a cache where it cannot write one", () => {
    // the cache folder's place taken by a file: every write fails, and the modules still load
    const main = join(dir, "plain.ts");
    writeFileSync(main, `const n: number = ${Date.now()};\nconsole.log(typeof n);\n`);
    const moved = `${cache}.moved-${process.pid}`;
    const had = existsSync(cache);
    if (had) spawnSync("mv", [cache, moved]);
    writeFileSync(cache, "not a folder");
    try {
      const r = run(main);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("number\n");
    } finally {
      rmSync(cache, { force: true });
      if (had) spawnSync("mv", [moved, cache]);
    }
  });
});
