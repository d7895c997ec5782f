// The PyTorch program against the standalone engine, for every per-feature case (test/cases/):
// nnc's seeded initial weights go to the generated program as safetensors, the case's fixed batch
// as input; the forward outputs (inference) must agree to 1e-5 and the weights after optimizer
// steps (taken by the program's own train_step and Optimizer, at the learning rates the case's
// schedule gives) to 1e-4, relative to each tensor's scale. A model that draws random numbers in
// training (dropout) is compared in inference only: its masks differ by design. One Python process
// runs every case (test/pytorch/parity_driver.py), with Debian's real PyTorch.
//
// What `nnc compile --target pytorch` refuses is listed in REFUSED and asserted (E701, positioned
// on the offending line); `nnc run --engine pytorch` still runs such a case, with the program it
// generates for itself, and that program is the one compared.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PytorchTargetError, generatePytorch } from "../../src/compiler/targets/pytorch/index.js";
import { scheduledLearningRate } from "../../src/runtime/training/callbacks.js";
import { readSafetensors, safetensorsBytes } from "../../src/runtime/safetensors.js";
import { loadInternals } from "../standalone/harness.js";
import { N, allCases, classesOf, fill, hasStochastic, relDiff, type Case } from "../cases/cases.js";
import { HERE, PYTHON } from "./python.js";

/**
 * The entries `nnc compile --target pytorch` refuses, by `folder/kind` (every case of the kind): the
 * message expected and the word the diagnostic points at, on the line that starts with `line`
 * (never a comment). A case of any other kind must compile.
 */
const REFUSED: Record<string, { message: RegExp; at: string; line: string }> = {
  "callbacks/tensorboard": { message: /does not write TensorBoard event files/, at: "tensorboard", line: "callbacks" },
};

/** Optimizer steps compared: 0 with dropout (forward only); three for optimizers (their state matters), else two. */
const stepsOf = (c: Case): number => (hasStochastic(c.ir) ? 0 : c.folder === "optimizers" ? 3 : 2);

interface Expected {
  forward: Float32Array;
  init: Map<string, Float32Array>;
  after: Record<string, Float32Array> | null;
  steps: number;
  dir: string;
}

const f32 = (values: ArrayLike<number>) => Float32Array.from(values);

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

const ALL = allCases();
const expected = new Map<Case, Expected>();
const root = mkdtempSync(join(tmpdir(), "nnc-pt-parity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  const dirs: string[] = [];
  for (const [i, c] of ALL.entries()) {
    const dir = join(root, String(i));
    mkdirSync(dir);
    const ir = c.ir;
    const m = await loadInternals(ir);
    m.initializeWeights(11);
    const shapes = new Map(ir.model.layers.flatMap((l) => l.weights.map((w) => [w.name, w.shape] as const)));
    const init = new Map(Object.entries(m.weights).map(([name, data]) => [name, f32(data)]));
    writeFileSync(join(dir, "init.safetensors"), safetensorsBytes([...init].map(([name, data]) => ({ name, shape: shapes.get(name)!, dtype: "float32" as const, data }))));
    const classes = classesOf(ir);
    const x = fill(m, ir, N);
    writeFileSync(
      join(dir, "batch.safetensors"),
      safetensorsBytes([
        { name: "x", shape: [N, ...ir.model.inputShape], dtype: "float32", data: x },
        { name: "y", shape: [N, classes], dtype: "float32", data: f32(m.target.subarray(0, N * classes)) },
      ]),
    );
    m.forward(N, false);
    const forward = f32(m.output.subarray(0, N * classes));
    const t = ir.training!;
    const lr0 = Number(t.optimizer.args.lr);
    const steps = stepsOf(c);
    const lrs = Array.from({ length: steps }, (_, s) => scheduledLearningRate(t.schedule, lr0, s));
    let after: Record<string, Float32Array> | null = null;
    if (steps > 0) {
      for (const lr of lrs) {
        m.forward(N, true);
        m.computeLoss(N);
        m.backward(N);
        m.addRegularizationGradients?.();
        m.applyGradients(lr);
      }
      after = Object.fromEntries(Object.entries(m.weights).map(([k, v]) => [k, f32(v)]));
    }
    writeFileSync(join(dir, "case.json"), JSON.stringify({ lrs }));
    // the program `nnc run --engine pytorch` runs (it writes TensorBoard files itself)
    writeFileSync(join(dir, "program.py"), generatePytorch(ir, { sourceText: c.source, hostWritesTensorboard: true }));
    expected.set(c, { forward, init, after, steps, dir });
    dirs.push(dir);
  }
  const r = spawnSync(PYTHON, [join(HERE, "parity_driver.py"), ...dirs], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`the parity driver failed (exit ${r.status}):\n${`${r.stdout}\n${r.stderr}`.slice(-3000)}`);
}, 180_000);

describe("PyTorch program = standalone engine, from nnc's initial weights, on every per-feature case", () => {
  for (const c of ALL) {
    it(`${c.folder}/${c.name}`, () => {
      const e = expected.get(c)!;
      const forward = readSafetensors(readFileSync(join(e.dir, "forward.safetensors"))).weights[0]!;
      expect(relDiff(forward.data, e.forward), "forward (inference)").toBeLessThan(1e-5);
      if (e.after === null) return;
      const after = new Map(readSafetensors(readFileSync(join(e.dir, "after.safetensors"))).weights.map((w) => [w.name, w.data]));
      expect([...after.keys()].sort()).toEqual(Object.keys(e.after).sort());
      let moved = 0;
      for (const [name, ours] of Object.entries(e.after)) {
        const theirs = after.get(name)!;
        expect(maxDiff(theirs, ours) / Math.max(1, maxAbs(ours)), `${name} after ${e.steps} step(s)`).toBeLessThan(1e-4);
        moved = Math.max(moved, maxDiff(ours, e.init.get(name)!));
      }
      // the steps changed the weights (else the comparison would prove nothing)
      expect(moved).toBeGreaterThan(1e-4);
    });
  }
});

describe("nnc compile --target pytorch refuses what the program cannot express, with a positioned E701", () => {
  for (const c of ALL) {
    const refusal = REFUSED[`${c.folder}/${c.kind}`];
    it(`${c.folder}/${c.name}: ${refusal ? "refused" : "compiles"}`, () => {
      if (!refusal) {
        expect(generatePytorch(c.ir, { sourceText: c.source })).toContain("class Model(nn.Module)");
        return;
      }
      let error: unknown = null;
      try {
        generatePytorch(c.ir, { sourceText: c.source });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(PytorchTargetError);
      const [d, ...more] = (error as PytorchTargetError).diagnostics;
      expect(more).toEqual([]);
      expect(d!.code).toBe("E701");
      expect(d!.message).toMatch(refusal.message);
      expect(d!.hint).toBeTruthy();
      const line = c.source.split("\n")[d!.span.startLine - 1]!;
      expect(line).toMatch(new RegExp(`^\\s*${refusal.line}\\b`));
      expect(line.slice(d!.span.startColumn - 1)).toMatch(new RegExp(`^${refusal.at}\\b`));
    });
  }
});
