// Every example, compiled by `nnc compile` for both targets (standalone and tfjs), runs as its
// header says: the command is read from the program's header ("Run it with `node mlp.js ...`",
// "Run: npx tsx mlp.ts ..."), run in a subprocess from the folder the program was written to,
// with the program's own flags for a short run (one epoch, a few dozen examples), on the MNIST
// files the other tests use. It must exit 0, print its test figures and save its model.
// Each example is compiled once per target; the examples alternate between .ts (npx tsx) and
// .js (plain node) so that both outputs of both targets are run; the tfjs programs run on tfjs's
// cpu backend (their default) or its wasm one (`--backend wasm`), each in both languages.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.js";
import { mnistDir, writeSyntheticMnist } from "./helpers/data.js";

const root = resolve(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "nnc-programs-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// the tfjs program imports @tensorflow/tfjs (and `npx tsx` finds tsx) from the folder it runs in
symlinkSync(join(root, "node_modules"), join(tmp, "node_modules"));
const data = mnistDir() ?? writeSyntheticMnist(join(tmp, "data"), { train: 512, test: 256 });
const examples = readdirSync(join(root, "examples"))
  .filter((f) => f.endsWith(".nn"))
  .sort()
  .map((f) => f.slice(0, -3));
const targets = ["standalone", "tfjs"] as const;

/** examples/<name>.nn for target, as .ts or .js by turns. */
const programFile = (name: string, target: (typeof targets)[number]) =>
  `${name}_${target}${(examples.indexOf(name) + targets.indexOf(target)) % 2 === 0 ? ".js" : ".ts"}`;

beforeAll(async () => {
  const quiet = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    for (const name of examples) {
      for (const target of targets) {
        const code = await main(["node", "nnc", "compile", join(root, "examples", `${name}.nn`), "--target", target, "-o", join(tmp, programFile(name, target))]);
        if (code !== 0) throw new Error(`nnc compile examples/${name}.nn --target ${target} exited ${code}`);
      }
    }
  } finally {
    quiet.mockRestore();
  }
}, 120_000);

/**
 * The tfjs program's backend for examples/<name>.nn: wasm for the four slowest on tfjs's cpu
 * backend (alexnet's takes 6 s on wasm, 50 s on cpu), cnn's being a .js program and the others
 * .ts ones, so that both languages run on both backends; cpu for the rest.
 */
const WASM_EXAMPLES = ["alexnet", "cnn", "deep", "tf1_cnn"];
const tfjsBackend = (name: string) => (WASM_EXAMPLES.includes(name) ? "wasm" : "cpu");

/** The command the program's header gives, e.g. ["node", "mlp_standalone.js"]. */
function headerCommand(file: string): string[] {
  const text = readFileSync(join(tmp, file), "utf8").slice(0, 4000);
  const m = /Run it with `(.+?) --data DIR/.exec(text) ?? /^\/\/ Run: (.+?) \[--data DIR\]/m.exec(text);
  if (!m) throw new Error(`${file}: no command in its header`);
  return m[1]!.split(" ");
}

/** The programs still running when the file ends (a timed-out test): killed, with their process groups. */
const running = new Set<number>();
afterAll(() => {
  for (const pid of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

function runProgram(command: string[], args: string[]): Promise<{ code: number | null; output: string }> {
  // detached: its own process group, so that npx's children go with it
  const child = spawn(command[0]!, [...command.slice(1), ...args], { cwd: tmp, stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child.pid!);
  child.on("exit", () => running.delete(child.pid!));
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  return new Promise((done) => child.on("exit", (code) => done({ code, output })));
}

describe("compiled programs run as their headers say", () => {
  for (const target of targets) {
    it.concurrent.each(examples)(`%s (${target})`, async (name) => {
      const file = programFile(name, target);
      const command = headerCommand(file);
      expect(command).toEqual(file.endsWith(".js") ? ["node", file] : ["npx", "tsx", file]);
      if (name === "cnn" && target === "tfjs") expect(file.endsWith(".js")).toBe(true); // wasm under plain node (WASM_EXAMPLES)
      const out = join(tmp, `out-${name}-${target}`);
      // small: one epoch of a few examples. The tfjs programs train on two (validation_split 0.2
      // leaves one of them to train on): on tfjs's pure-JavaScript cpu backend a conv2d example
      // takes seconds (mostly conv2DBackpropFilter), and Adam over alexnet's 20M weights 15 s.
      const limits =
        target === "tfjs"
          ? ["--train-limit", "2", "--test-limit", "1", "--backend", tfjsBackend(name)]
          : ["--train-limit", "128", "--test-limit", "64"];
      const { code, output } = await runProgram(command, ["--data", data, "--epochs", "1", ...limits, "--out", out]);
      expect(code, output).toBe(0);
      // both programs end with the same line: "test loss 0.1234, test accuracy 91.20% (...)"
      const accuracy = Number(/test loss [\d.]+, test accuracy ([\d.]+)%/.exec(output)?.[1]) / 100;
      expect(accuracy, output).toBeGreaterThanOrEqual(0);
      expect(accuracy, output).toBeLessThanOrEqual(1);
      if (target === "tfjs") expect(output).toMatch(new RegExp(`samples/s, backend ${tfjsBackend(name)}\\)`));
      expect(existsSync(join(out, "model", "model.json"))).toBe(true);
      expect(existsSync(join(out, "model", "weights.bin"))).toBe(true);
    }, 600_000); // seconds each on an idle machine; generous for a loaded one
  }

  it("--help gives the header's command", async () => {
    for (const file of [programFile("mlp", "standalone"), programFile("mlp", "tfjs")]) {
      const command = headerCommand(file);
      const { code, output } = await runProgram(command, ["--help"]);
      expect(code).toBe(0);
      expect(output).toContain(`usage: ${command.join(" ")} [--data DIR] [--epochs N] [--train-limit N] [--test-limit N] [--seed N] [--out DIR]`);
    }
  }, 60_000);
});
