// The PyTorch program against the standalone engine, per feature: nnc's seeded initial weights go
// to the generated program as safetensors, the same batch as input; the forward outputs (inference)
// must agree to 1e-5 and the weights after optimizer steps (taken by the program's own train_step
// and Optimizer) to 1e-4, relative to each tensor's scale. One Python process runs every case
// (test/pytorch/parity_driver.py), with Debian's real PyTorch.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { IR, IRRef } from "../../src/compiler/ir.js";
import { generatePytorch } from "../../src/compiler/targets/pytorch/index.js";
import { readSafetensors, safetensorsBytes } from "../../src/runtime/safetensors.js";
import { buildModelIR, ref, type LayerSpec } from "../standalone/ir-builder.js";
import { fillBatch, loadInternals } from "../standalone/harness.js";
import { HERE, PYTHON } from "./python.js";

const N = 4;

interface Case {
  name: string;
  ir: IR;
  /** optimizer steps to compare (0: forward only, e.g. with dropout, whose masks differ by design) */
  steps: number;
}

interface Expected {
  forward: Float32Array;
  after: Record<string, Float32Array> | null;
  dir: string;
}

const head: LayerSpec[] = [{ kind: "flatten" }, { kind: "dense", args: { units: 3, activation: ref("softmax") } }];
const vhead: LayerSpec[] = [{ kind: "dense", args: { units: 3, activation: ref("softmax") } }];
const conv = (filters: number, k: number, extra: Record<string, unknown> = {}): LayerSpec => ({
  kind: "conv2d",
  args: { filters, kernel_size: [k, k], activation: ref("relu"), ...(extra as object) },
});
const sgd = ref("sgd", { lr: 0.1, momentum: 0, nesterov: false });

const LAYER_CASES: [string, number[], LayerSpec[], number][] = [
  ["dense", [5], [{ kind: "dense", args: { units: 4, activation: ref("relu") } }, ...vhead], 2],
  ["dense without bias", [5], [{ kind: "dense", args: { units: 4, use_bias: false, activation: ref("tanh") } }, ...vhead], 2],
  ["conv2d valid", [6, 6, 2], [conv(3, 3), ...head], 2],
  ["conv2d same, strides 2, symmetric padding", [7, 7, 1], [conv(3, 3, { padding: "same", strides: [2, 2] }), ...head], 2],
  ["conv2d same, strides 2, asymmetric padding (TF pads after)", [6, 6, 2], [conv(3, 3, { padding: "same", strides: [2, 2] }), ...head], 2],
  ["conv2d same, even kernel (asymmetric)", [5, 5, 1], [conv(2, 2, { padding: "same" }), ...head], 2],
  ["conv2d rectangular kernel, strides 1x2", [6, 7, 1], [{ kind: "conv2d", args: { filters: 2, kernel_size: [3, 2], strides: [1, 2], activation: ref("relu") } }, ...head], 2],
  ["global_avg_pool", [5, 4, 1], [conv(3, 3, { padding: "same" }), { kind: "global_avg_pool" }, ...vhead], 2],
  ["global_max_pool", [5, 4, 1], [conv(3, 3, { padding: "same" }), { kind: "global_max_pool" }, ...vhead], 2],
  ["max_pool valid", [6, 6, 1], [conv(2, 3, { padding: "same" }), { kind: "max_pool", args: { pool_size: [2, 2] } }, ...head], 2],
  ["max_pool same (asymmetric)", [7, 7, 1], [conv(2, 3, { padding: "same" }), { kind: "max_pool", args: { pool_size: [2, 2], padding: "same" } }, ...head], 2],
  ["max_pool 3, strides 2", [7, 7, 1], [conv(2, 3), { kind: "max_pool", args: { pool_size: [3, 3], strides: [2, 2] } }, ...head], 2],
  ["avg_pool valid", [6, 6, 1], [conv(2, 3, { padding: "same" }), { kind: "avg_pool", args: { pool_size: [2, 2] } }, ...head], 2],
  ["avg_pool same (asymmetric: averages only inside)", [5, 5, 1], [conv(2, 3, { padding: "same" }), { kind: "avg_pool", args: { pool_size: [2, 2], padding: "same" } }, ...head], 2],
  ["flatten of NHWC (Keras order)", [3, 4, 2], [...head], 2],
  ["reshape vector -> image", [6], [{ kind: "dense", args: { units: 8 } }, { kind: "reshape", args: { target_shape: [2, 2, 2] } }, conv(2, 2), ...head], 2],
  ["reshape image -> vector", [2, 3, 2], [{ kind: "reshape", args: { target_shape: [12] } }, ...vhead], 2],
  ["dropout (inference)", [5], [{ kind: "dense", args: { units: 6 } }, { kind: "dropout", args: { rate: 0.5 } }, ...vhead], 0],
  ["batch_norm", [5], [{ kind: "dense", args: { units: 6 } }, { kind: "batch_norm" }, ...vhead], 2],
  ["batch_norm on images (channel axis)", [4, 4, 1], [conv(3, 3, { padding: "same" }), { kind: "batch_norm", args: { momentum: 0.9, epsilon: 0.01 } }, ...head], 2],
  ["batch_norm without center and scale", [5], [{ kind: "dense", args: { units: 6 } }, { kind: "batch_norm", args: { center: false, scale: false } }, ...vhead], 2],
  ["prelu", [5], [{ kind: "dense", args: { units: 6 } }, { kind: "prelu", args: { alpha_initializer: ref("random_uniform", { minval: 0.1, maxval: 0.5 }) } }, ...vhead], 2],
  ["prelu on images", [4, 4, 1], [conv(2, 3, { padding: "same", activation: ref("linear") }), { kind: "prelu", args: { alpha_initializer: ref("random_uniform", { minval: 0.1, maxval: 0.5 }) } }, ...head], 2],
  ["add", [5], [{ kind: "dense", id: "h", args: { units: 4 } }, { kind: "dense", id: "a", inputs: ["h"], args: { units: 4 } }, { kind: "add", inputs: ["a", "h"] }, ...vhead], 2],
  ["concat", [5], [{ kind: "dense", id: "h", args: { units: 4 } }, { kind: "dense", id: "a", inputs: ["h"], args: { units: 3 } }, { kind: "concat", inputs: ["a", "h"] }, ...vhead], 2],
  [
    "concat of images on channels",
    [4, 4, 1],
    [{ ...conv(2, 3, { padding: "same" }), id: "c" }, { kind: "max_pool", id: "m", args: { pool_size: [2, 2] } }, { kind: "avg_pool", id: "v", inputs: ["c"], args: { pool_size: [2, 2] } }, { kind: "concat", inputs: ["m", "v"] }, ...head],
    2,
  ],
  [
    "concat of images on height (axis 0)",
    [4, 4, 1],
    [{ ...conv(2, 3, { padding: "same" }), id: "c" }, { kind: "max_pool", id: "m", args: { pool_size: [2, 2] } }, { kind: "avg_pool", id: "v", inputs: ["c"], args: { pool_size: [2, 2] } }, { kind: "concat", inputs: ["m", "v"], args: { axis: 0 } }, ...head],
    2,
  ],
  ...["relu", "sigmoid", "tanh", "softmax", "elu", "leaky_relu"].map((kind): [string, number[], LayerSpec[], number] => [
    `${kind} layer`,
    [5],
    [{ kind: "dense", args: { units: 6 } }, { kind }, ...vhead],
    2,
  ]),
  ...[ref("elu", { alpha: 0.5 }), ref("leaky_relu", { alpha: 0.2 }), ref("softplus"), ref("sigmoid")].map((act): [string, number[], LayerSpec[], number] => [
    `dense activation ${act.kind}`,
    [5],
    [{ kind: "dense", args: { units: 6, activation: act } }, ...vhead],
    2,
  ]),
  ["softmax output as a layer (folded into the loss)", [5], [{ kind: "dense", args: { units: 3 } }, { kind: "softmax" }], 2],
  ["regularizers l1, l2, l1l2", [5], [
    { kind: "dense", args: { units: 4, activation: ref("relu"), kernel_regularizer: ref("l1", { l1: 0.01 }), bias_regularizer: ref("l2", { l2: 0.02 }) } },
    { kind: "dense", args: { units: 3, activation: ref("softmax"), kernel_regularizer: ref("l1l2", { l1: 0.01, l2: 0.01 }) } },
  ], 2],
];

const mlp = (out: string): LayerSpec[] => [
  { kind: "dense", args: { units: 4, activation: ref("tanh") } },
  { kind: "dense", args: { units: 3, activation: ref(out) } },
];

const OPTIMIZER_CASES: [string, IRRef][] = [
  ["sgd", sgd],
  ["sgd + momentum", ref("sgd", { lr: 0.1, momentum: 0.9, nesterov: false })],
  ["sgd + nesterov", ref("sgd", { lr: 0.1, momentum: 0.9, nesterov: true })],
  ["adagrad", ref("adagrad", { lr: 0.05, initial_accumulator_value: 0.1, epsilon: 1e-7 })],
  ["adadelta", ref("adadelta", { lr: 1, rho: 0.95, epsilon: 1e-6 })],
  ["rmsprop", ref("rmsprop", { lr: 0.01, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false })],
  ["rmsprop centered with momentum", ref("rmsprop", { lr: 0.01, rho: 0.9, momentum: 0.5, epsilon: 1e-7, centered: true })],
  ["adam (Keras's epsilon)", ref("adam", { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-3 })],
  ["adamw", ref("adamw", { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weight_decay: 0.1 })],
  ["adamax", ref("adamax", { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 })],
  ["nadam", ref("nadam", { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 })],
];

const LOSS_CASES: [string, IRRef, string][] = [
  ["categorical_crossentropy (softmax folded)", ref("categorical_crossentropy"), "softmax"],
  ["categorical_crossentropy with label_smoothing", ref("categorical_crossentropy", { label_smoothing: 0.1 }), "softmax"],
  ["categorical_crossentropy from_logits", ref("categorical_crossentropy", { from_logits: true }), "linear"],
  ["categorical_crossentropy on non-softmax outputs (rows rescaled)", ref("categorical_crossentropy"), "sigmoid"],
  ["sparse_categorical_crossentropy", ref("sparse_categorical_crossentropy"), "softmax"],
  ["binary_crossentropy (sigmoid folded)", ref("binary_crossentropy", { label_smoothing: 0.1 }), "sigmoid"],
  ["binary_crossentropy on softmax outputs (clipped)", ref("binary_crossentropy"), "softmax"],
  ["mse", ref("mse"), "softmax"],
  ["mae", ref("mae"), "softmax"],
  ["huber", ref("huber", { delta: 0.3 }), "linear"],
];

function cases(): Case[] {
  const out: Case[] = LAYER_CASES.map(([name, shape, layers, steps]) => ({ name: `layer: ${name}`, ir: buildModelIR(shape, layers, { optimizer: sgd }), steps }));
  for (const [name, opt] of OPTIMIZER_CASES) out.push({ name: `optimizer: ${name}`, ir: buildModelIR([5], mlp("softmax"), { optimizer: opt }), steps: 3 });
  for (const [name, loss, act] of LOSS_CASES) out.push({ name: `loss: ${name}`, ir: buildModelIR([5], mlp(act), { optimizer: sgd, loss }), steps: 2 });
  return out;
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

const ALL = cases();
const expected = new Map<string, Expected>();
let pythonOutput = "";

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), "nnc-pt-parity-"));
  const dirs: string[] = [];
  for (const [i, c] of ALL.entries()) {
    const dir = join(root, String(i));
    mkdirSync(dir);
    const m = await loadInternals(c.ir);
    m.initializeWeights(11);
    const shapes = new Map(c.ir.model.layers.flatMap((l) => l.weights.map((w) => [w.name, w.shape] as const)));
    writeFileSync(
      join(dir, "init.safetensors"),
      safetensorsBytes(Object.entries(m.weights).map(([name, data]) => ({ name, shape: shapes.get(name)!, dtype: "float32" as const, data: f32(data) }))),
    );
    const inputSize = c.ir.model.inputShape.reduce((p, d) => p * d, 1);
    const classes = c.ir.model.layers.at(-1)!.outputShape.reduce((p, d) => p * d, 1);
    fillBatch(m, N, inputSize, classes, 5);
    writeFileSync(
      join(dir, "batch.safetensors"),
      safetensorsBytes([
        { name: "x", shape: [N, ...c.ir.model.inputShape], dtype: "float32", data: f32(m.input.subarray(0, N * inputSize)) },
        { name: "y", shape: [N, classes], dtype: "float32", data: f32(m.target.subarray(0, N * classes)) },
      ]),
    );
    m.forward(N, false);
    const forward = f32(m.output.subarray(0, N * classes));
    const lr = Number(c.ir.training!.optimizer.args.lr);
    let after: Record<string, Float32Array> | null = null;
    if (c.steps > 0) {
      for (let s = 0; s < c.steps; s++) {
        m.forward(N, true);
        m.computeLoss(N);
        m.backward(N);
        m.addRegularizationGradients?.();
        m.applyGradients(lr);
      }
      after = Object.fromEntries(Object.entries(m.weights).map(([k, v]) => [k, f32(v)]));
    }
    writeFileSync(join(dir, "case.json"), JSON.stringify({ steps: c.steps, lr }));
    writeFileSync(join(dir, "program.py"), generatePytorch(c.ir));
    expected.set(c.name, { forward, after, dir });
    dirs.push(dir);
  }
  const r = spawnSync(PYTHON, [join(HERE, "parity_driver.py"), ...dirs], { encoding: "utf8", timeout: 120_000 });
  pythonOutput = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`the parity driver failed (exit ${r.status}):\n${pythonOutput.slice(-3000)}`);
}, 180_000);

describe("PyTorch program = standalone engine, from nnc's initial weights", () => {
  for (const c of ALL) {
    it(c.name, () => {
      const e = expected.get(c.name)!;
      const forward = readSafetensors(readFileSync(join(e.dir, "forward.safetensors"))).weights[0]!;
      expect(maxDiff(forward.data, e.forward), "forward (inference)").toBeLessThan(1e-5);
      if (e.after === null) return;
      const after = new Map(readSafetensors(readFileSync(join(e.dir, "after.safetensors"))).weights.map((w) => [w.name, w.data]));
      let moved = 0;
      for (const [name, ours] of Object.entries(e.after)) {
        const theirs = after.get(name);
        expect(theirs, `${name} in the program's weights`).toBeDefined();
        const scale = Math.max(1, maxAbs(ours));
        expect(maxDiff(theirs!, ours) / scale, `${name} after ${c.steps} step(s)`).toBeLessThan(1e-4);
        moved = Math.max(moved, maxDiff(ours, readSafetensors(readFileSync(join(e.dir, "init.safetensors"))).weights.find((w) => w.name === name)!.data));
      }
      // the steps changed the weights (else the comparison would prove nothing)
      expect(moved).toBeGreaterThan(1e-4);
    });
  }
});
