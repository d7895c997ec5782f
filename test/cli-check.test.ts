// `nnc check` and `nnc fmt` as a user runs them: `node bin/nnc.js ...` in a child process.
// Exit codes (0 clean, 1 diagnostics, 2 usage or I/O), output shapes, and never a stack trace.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..");
const EXAMPLES = readdirSync(join(ROOT, "examples"))
  .filter((f) => f.endsWith(".nn"))
  .map((f) => join("examples", f));

function nnc(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "nnc.js"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: "1", NNC_DEBUG: "" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** No stack trace and no internal error, whatever happened. */
function noCrash(r: { stdout: string; stderr: string }): void {
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(r.stdout).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(r.stderr).not.toMatch(/internal error/);
}

let dir = "";
const BAD = "model m {\n  dense(10 relu\n  dropout(0.5)\n}\n\ntrain m {\n  epochs\n}\n";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "nnc-cli-check-"));
  writeFileSync(join(dir, "bad.nn"), BAD);
  writeFileSync(join(dir, "empty.nn"), "");
  writeFileSync(join(dir, "binary.nn"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0xff, 0xfe, 0, 0]));
  writeFileSync(join(dir, "huge.nn"), `# ${"x".repeat(10 * 1024 * 1024)}\n`);
  symlinkSync(join(dir, "nowhere.nn"), join(dir, "dangling.nn"));
  writeFileSync(join(dir, "messy.nn"), "model   m {\ninput image( 28,28,1 )\n   flatten # keep me\n dense(10)}\n");
});

describe("nnc check", () => {
  it("exits 0 on every example", () => {
    const r = nnc("check", ...EXAMPLES);
    noCrash(r);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("exits 1 and prints every syntax error with a code frame and caret; an empty file is a diagnostic too", () => {
    const r = nnc("check", join(dir, "bad.nn"), join(dir, "empty.nn"));
    noCrash(r);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("error[E111]: expected `)`, found `relu`");
    expect(r.stdout).toContain(`--> ${join(dir, "bad.nn")}:2:12`);
    expect(r.stdout).toContain("2 |   dense(10 relu\n  |            ^^^^\n");
    expect(r.stdout).toContain("= hint: separate items with `,`");
    expect(r.stdout).toContain("error[E114]: expected a value, found `}`");
    expect(r.stdout).toContain(`--> ${join(dir, "bad.nn")}:7:9`);
    expect(r.stdout).toContain("bad.nn: 2 errors");
    expect(r.stdout).toContain("error[E104]: the file is empty");
    expect(r.stdout).toContain("empty.nn: 1 error");
  });

  it("--format json prints DESIGN.md's array of diagnostics, I/O problems included", () => {
    const r = nnc("check", "--format", "json", join(dir, "bad.nn"), EXAMPLES[0]!, join(dir, "missing.nn"));
    noCrash(r);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(out.map((d) => d.code)).toEqual(["E111", "E114", "E901"]);
    expect(out[0]).toEqual({
      file: join(dir, "bad.nn"),
      line: 2,
      column: 12,
      endLine: 2,
      endColumn: 16,
      severity: "error",
      code: "E111",
      message: "expected `)`, found `relu`",
      hint: "separate items with `,`",
    });
    for (const d of out) {
      expect(Object.keys(d).sort()).toEqual(
        ["code", "column", "endColumn", "endLine", "file", "line", "message", "severity", ...(d.hint ? ["hint"] : [])].sort(),
      );
    }
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("--format json on clean files prints an empty array and exits 0", () => {
    const r = nnc("check", "--format", "json", EXAMPLES[1]!);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it("unknown, dangling, directory, binary, 10 MB and unreadable files: one line each, exit 2", () => {
    // /proc/self/mem cannot be read from its start (EIO), even by root, who can read any chmod 000 file.
    const files = [...["missing.nn", "dangling.nn", ".", "binary.nn", "huge.nn"].map((f) => join(dir, f)), "/proc/self/mem"];
    const r = nnc("check", ...files);
    noCrash(r);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toEqual([
      `nnc: cannot read ${files[0]}: no such file`,
      `nnc: cannot read ${files[1]}: no such file`,
      `nnc: ${files[2]} is a directory, not a .nn file`,
      `nnc: ${files[3]} is not a text file (it contains binary data)`,
      `nnc: ${files[4]} is too large (10.0 MB; the limit is 1.0 MB)`,
      "nnc: cannot read /proc/self/mem: input/output error",
    ]);
  });

  it("usage problems exit 2", () => {
    const r = nnc("check", "--format", "yaml", EXAMPLES[0]!);
    noCrash(r);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown --format `yaml`");
    expect(nnc("check").code).toBe(2);
  });
});

describe("nnc fmt", () => {
  it("--check passes on every example", () => {
    const r = nnc("fmt", "--check", ...EXAMPLES);
    noCrash(r);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
  });

  it("prints the canonical layout; --check fails on it; --write rewrites it", () => {
    const file = join(dir, "messy.nn");
    const printed = nnc("fmt", file);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe("model m {\n  input image(28, 28, 1)\n  flatten # keep me\n  dense(10)\n}\n");
    const check = nnc("fmt", "--check", file);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain("messy.nn: not formatted");
    const write = nnc("fmt", "--write", file);
    expect(write.code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(printed.stdout);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
    expect(nnc("fmt", "--check", file).code).toBe(0);
  });

  it("does not format files with syntax errors (exit 1) and reports I/O problems (exit 2)", () => {
    const bad = nnc("fmt", "--write", join(dir, "bad.nn"));
    noCrash(bad);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error[E111]");
    expect(readFileSync(join(dir, "bad.nn"), "utf8")).toBe(BAD);
    const io = nnc("fmt", join(dir, "binary.nn"));
    noCrash(io);
    expect(io.code).toBe(2);
    expect(io.stderr.trim().split("\n")).toHaveLength(1);
    expect(nnc("fmt", "--check", "--write", EXAMPLES[0]!).code).toBe(2);
  });
});
