// `nnc check -` and `nnc fmt -` read standard input (editors pipe the buffer), named in messages
// by --stdin-filename. Run as the real command, with a real pipe.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { format } from "../src/compiler/format.js";

const root = join(import.meta.dirname, "..");
const nnc = (args: string[], input: string) =>
  spawnSync(process.execPath, [join(root, "bin/nnc.js"), ...args], { cwd: root, input, encoding: "utf8", timeout: 30_000 });

const broken = "model m {\n  input image(28, 28, 1)\n  dense(10)\n}\n";
const messy = "model m {\ninput image(28,28,1)\n flatten\n  dense(10)\n}\n";

describe("standard input", () => {
  it("check - reports the diagnostics under the --stdin-filename name", () => {
    const r = nnc(["check", "-", "--stdin-filename", "models/foo.nn"], broken);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("error[E401]: `dense` expects a vector (rank 1); got [28, 28, 1] (rank 3)");
    expect(r.stdout).toContain(" --> models/foo.nn:3:3");
  });

  it("fmt - prints what nnc fmt prints for the same file; --check - says it is not formatted; two `-` are refused", () => {
    const text = readFileSync(join(root, "examples/deep.nn"), "utf8");
    const r = nnc(["fmt", "-"], messy + "\n" + text.replace(/model deep[^]*$/, ""));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(format(messy + "\n" + text.replace(/model deep[^]*$/, "")).text);
    const c = nnc(["fmt", "--check", "-", "--stdin-filename", "m.nn"], messy);
    expect(c.status).toBe(1);
    expect(c.stdout).toBe("m.nn: not formatted (run `nnc fmt -` for the formatted text)\n");
    const twice = nnc(["check", "-", "-"], messy);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toContain("`-` (standard input) can be given only once");
  });
});
