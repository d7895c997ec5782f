// `nnc run FILE --gpu --engine standalone`: the standalone engine's training step (forward, loss,
// backward, optimizer update) run as nnc's own WGSL kernels
// (src/compiler/targets/standalone/kernels/webgpu/: wgsl.ts, runtime.ts) on WebGPU through Dawn
// (src/runtime/webgpu/dawn.ts), with the standalone engine's initial weights (random.ts,
// bit-identical), its MNIST loader, its shuffling and dropout streams and its callbacks' decisions
// (src/runtime/training/callbacks.ts), saving the model in the same TensorFlow.js layers format.
//
// Covered (anything else is refused before training, naming what is not covered; COVERED lists
// what is, read off its tables):
//   layers     a chain (no merges) of the layer kinds the standalone target's GPU_LAYER_STEPS
//              (src/compiler/targets/standalone/layers.ts) turns into steps: views share their
//              input's buffer; batch normalisation (the channel-normalisation step) uses batch
//              statistics in training, moving ones at inference; dense and conv2d (padding
//              valid/same, any strides, with or without bias) and activation layers apply the
//              activations that have WGSL forms (wgsl in the standalone target's activations.ts),
//              softmax and linear
//   loss       categorical_crossentropy / sparse_categorical_crossentropy on the softmax output,
//              or from logits on a linear output; binary_crossentropy on a sigmoid output or from
//              logits; label smoothing; the elementwise losses of WGSL_ELEMENTWISE_LOSSES
//   weights    l1, l2, l1l2 regularizers (penalty in the loss, its gradient added)
//   optimizer  every one (OPTIMIZER_PLANS): Adam, AdamW and SGD (momentum, Nesterov) as kernels of
//              their own, the others as WGSL update rules after the CPU program's; schedules
//   metrics    accuracy; callbacks: all, through the CPU program's runner (CallbackRunner, src/runtime/training/callbacks.ts)
//   data       no augmentation
// Convolutions run as the CPU kernels do them: im2col, a gemm, col2im for the input gradient.
// Every product is a gemm specialised to its shapes; pooling, activations, bias and the updates are
// kernels of their own, every size a constant in the shader: nothing runs on the CPU but the
// shuffling, the dropout masks, the targets and the loss/accuracy sums from the predictions read
// back after each step.
//
// What differs from the CPU standalone engine: the order of float32 sums inside the products
// (4 x 4 blocks per invocation) and float32 rather than float64 arithmetic inside the
// elementwise kernels. The random streams are the CPU program's: the same shuffles and dropout
// masks for the same seed, so both engines train on the same batches from the same weights:
// test/gpu/standalone-webgpu.test.ts compares them on every per-feature case this engine covers.
import { mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { activationOf, type IR, type IRLayer } from "../../compiler/ir.js";
import { activations, layers } from "../../compiler/catalog/index.js";
import type { CallbackKind, LayerKind, OptimizerKind } from "../../compiler/catalog/kinds.js";
import { elementwise, numArgs } from "../../compiler/targets/standalone/activations.js";
import { GPU_LAYER_STEPS, num as fmt, type Act, type LayerSteps, type Step } from "../../compiler/targets/standalone/layers.js";
import type { Engine, EpochLogs, RunOptions, TrainHooks, TrainResult } from "../engine.js";
import { CliError } from "../errors.js";
import { loadMnist } from "../data/mnist.js";
import { hashSeed, initialWeights, Random } from "../random.js";
import { writeAtomic } from "../run/files.js";
import { CALLBACK_FACTORIES, CallbackRunner, scheduledLearningRate, type CallbackFactory } from "../training/callbacks.js";
import { KerasTensorBoard } from "../tensorboard.js";
import { openDawn } from "../webgpu/dawn.js";
import { kerasTopology } from "../../compiler/targets/keras.js";
import { WebgpuKernels, type GpuTensor } from "../../compiler/targets/standalone/kernels/webgpu/runtime.js";
import { WGSL_ELEMENTWISE_LOSSES, wgslFloat, type WindowShape } from "../../compiler/targets/standalone/kernels/webgpu/wgsl.js";

const EPSILON = 1e-7;

/**
 * An optimizer as a WGSL update rule (updateRuleWgsl): its per-value state arrays and their initial
 * values, the WGSL body (after the CPU program's applyGradients in targets/standalone/training.ts,
 * constants baked in), and the per-step floats the host computes in float64 (t: the step, from 1).
 */
interface UpdateRule {
  key: string;
  state: string[];
  init: number[];
  body: string;
  /** `memory`: the net's own record of what a rule carries from step to step on the host (nadam's product). */
  floats: (lr: number, t: number, memory: Record<string, number>) => number[];
}

type OptimizerArgs = Record<string, number | boolean>;
const f = (x: unknown) => wgslFloat(x as number);
const oneMinus = (x: unknown) => wgslFloat(Number((1 - (x as number)).toPrecision(12)));
const num = (v: unknown, fallback: number): number => (typeof v === "number" ? v : fallback);

/** Keras's Adam (AdamW with a decoupled weight decay), a kernel of its own. */
const adamPlan =
  (decay: boolean) =>
  (a: OptimizerArgs): Plan["optimizer"] => ({
    kind: "adam",
    lr: num(a.lr, 1e-3),
    beta1: num(a.beta1, 0.9),
    beta2: num(a.beta2, 0.999),
    epsilon: num(a.epsilon, 1e-7),
    weightDecay: decay ? num(a.weight_decay, 0) : 0,
  });

/** An optimizer run as a WGSL update rule. */
const rulePlan =
  (rule: (a: OptimizerArgs) => UpdateRule) =>
  (a: OptimizerArgs): Plan["optimizer"] => ({ kind: "rule", lr: num(a.lr, 0.001), ...rule(a) });

/** Every optimizer kind as the GPU runs it: a kernel of its own (Adam, SGD) or a WGSL update rule. A kind without an entry fails the typecheck. */
const OPTIMIZER_PLANS: { [K in OptimizerKind]: (args: OptimizerArgs) => Plan["optimizer"] } = {
  sgd: (a) => ({ kind: "sgd", lr: num(a.lr, 0.01), momentum: num(a.momentum, 0), nesterov: a.nesterov === true }),
  adam: adamPlan(false),
  adamw: adamPlan(true),
  adagrad: rulePlan((a) => ({
    key: `adagrad ${a.initial_accumulator_value} ${a.epsilon}`,
    state: ["accumulator"],
    init: [a.initial_accumulator_value as number],
    body: `  let s = accumulator[i] + g * g;
  accumulator[i] = s;
  value[i] = value[i] - (p[0].x * g) / (sqrt(s) + ${f(a.epsilon)});`,
    floats: (lr) => [lr],
  })),
  adadelta: rulePlan((a) => ({
    key: `adadelta ${a.rho} ${a.epsilon}`,
    state: ["accumulatedGrad", "accumulatedUpdate"],
    init: [0, 0],
    body: `  let ag = ${f(a.rho)} * accumulatedGrad[i] + ${oneMinus(a.rho)} * g * g;
  accumulatedGrad[i] = ag;
  let update = (sqrt(accumulatedUpdate[i] + ${f(a.epsilon)}) / sqrt(ag + ${f(a.epsilon)})) * g;
  accumulatedUpdate[i] = ${f(a.rho)} * accumulatedUpdate[i] + ${oneMinus(a.rho)} * update * update;
  value[i] = value[i] - p[0].x * update;`,
    floats: (lr) => [lr],
  })),
  rmsprop: rulePlan((a) => {
    const centered = a.centered === true;
    const momentum = a.momentum as number;
    const state = ["meanSquare", ...(centered ? ["meanGrad"] : []), ...(momentum ? ["moment"] : [])];
    const lines = [`  let ms = ${f(a.rho)} * meanSquare[i] + ${oneMinus(a.rho)} * g * g;`, "  meanSquare[i] = ms;"];
    if (centered) lines.push(`  let mg = ${f(a.rho)} * meanGrad[i] + ${oneMinus(a.rho)} * g;`, "  meanGrad[i] = mg;");
    lines.push(`  let denom = sqrt(ms${centered ? " - mg * mg" : ""} + ${f(a.epsilon)});`);
    if (momentum) lines.push(`  let mo = ${f(momentum)} * moment[i] + (p[0].x * g) / denom;`, "  moment[i] = mo;", "  value[i] = value[i] - mo;");
    else lines.push("  value[i] = value[i] - (p[0].x * g) / denom;");
    return { key: `rmsprop ${a.rho} ${a.epsilon} ${momentum} ${centered}`, state, init: state.map(() => 0), body: lines.join("\n"), floats: (lr) => [lr] };
  }),
  adamax: rulePlan((a) => ({
    key: `adamax ${a.beta1} ${a.beta2} ${a.epsilon}`,
    state: ["m", "u"],
    init: [0, 0],
    body: `  let m2 = ${f(a.beta1)} * m[i] + ${oneMinus(a.beta1)} * g;
  m[i] = m2;
  let u2 = max(${f(a.beta2)} * u[i], abs(g));
  u[i] = u2;
  value[i] = value[i] - (p[0].x * m2) / (u2 + ${f(a.epsilon)});`,
    floats: (lr, t) => [lr / (1 - Math.pow(a.beta1 as number, t))],
  })),
  nadam: rulePlan((a) => {
    // Keras's momentum schedule, its running product kept on the host.
    const b1 = a.beta1 as number;
    return {
      key: `nadam ${a.beta1} ${a.beta2} ${a.epsilon}`,
      state: ["m", "v"],
      init: [0, 0],
      body: `  let m2 = ${f(a.beta1)} * m[i] + ${oneMinus(a.beta1)} * g;
  m[i] = m2;
  let v2 = ${f(a.beta2)} * v[i] + ${oneMinus(a.beta2)} * g * g;
  v[i] = v2;
  let mBar = p[0].y * g + p[0].z * m2;
  value[i] = value[i] - (p[0].x * mBar) / (sqrt(v2 / p[0].w) + ${f(a.epsilon)});`,
      floats: (lr, t, memory) => {
        const mu = b1 * (1 - 0.5 * Math.pow(0.96, 0.004 * t));
        const muNext = b1 * (1 - 0.5 * Math.pow(0.96, 0.004 * (t + 1)));
        const product = (memory.product = (memory.product ?? 1) * mu);
        return [lr, (1 - mu) / (1 - product), muNext / (1 - product * muNext), 1 - Math.pow(a.beta2 as number, t)];
      },
    };
  }),
};

export interface Plan {
  /** Values per example of the input. */
  inputSize: number;
  /** The chain; the last step's output are the logits the softmax reads. */
  steps: Step[];
  classes: number;
  /**
   * The loss: cross-entropy on the softmax (binary: sigmoid) of the chain's last output (the loss
   * kernel's), with its label smoothing (0: none); or an elementwise loss (mse, mae, huber) on the
   * model's output.
   */
  loss:
    | {
        kind: "crossentropy";
        /** Binary (sigmoid per output) rather than categorical (softmax per row). */
        binary: boolean;
        labelSmoothing: number;
        /** Keras's binary accuracy (outputs thresholded at 0.5) as "accuracy". */
        binaryAccuracy: boolean;
        /**
         * The probability that binary accuracy thresholds: 0.5, or sigmoid(0.5) when the model
         * outputs logits (Keras thresholds the model's output, the logit, at 0.5, as the CPU
         * program does; the GPU reads back probabilities).
         */
        threshold: number;
      }
    | { kind: string; delta: number };
  /** The weights with an l1/l2 penalty (Keras: l1 * sum |w| + l2 * sum w², added to the loss). */
  regularized: { name: string; l1: number; l2: number }[];
  optimizer:
    | {
        kind: "adam";
        lr: number;
        beta1: number;
        beta2: number;
        epsilon: number;
        /** adamw's decoupled weight decay (0: adam). */
        weightDecay: number;
      }
    | { kind: "sgd"; lr: number; momentum: number; nesterov: boolean }
    | ({ kind: "rule"; lr: number } & UpdateRule);
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The activation of a layer, if the kernels have it (linear and softmax included), else null. */
function actOf(l: IRLayer): Act | null {
  const a = activationOf(l);
  const width = l.outputShape.at(-1)!;
  const code = elementwise(a.kind);
  if (a.kind === "linear" || !code) return { kind: a.kind, width, wgsl: null };
  if (!code.wgsl) return null;
  const args = numArgs(a.args);
  return { kind: a.kind, width, wgsl: { forward: code.wgsl.forward(args), backward: code.wgsl.backward(args) } };
}

/** Every callback kind, run by the CPU program's runner (src/runtime/training/callbacks.ts): a kind without a factory fails the typecheck. */
const CALLBACKS: Record<CallbackKind, CallbackFactory> = CALLBACK_FACTORIES;

/** What the engine covers, from its tables (for the refusal of a model it does not). */
export const COVERED = ((): string => {
  const layerKinds = layers.filter((e) => !("notCovered" in GPU_LAYER_STEPS[e.name]));
  const activationKinds = activations.filter((a) => {
    const code = elementwise(a.name);
    return !code || code.wgsl || a.name === "linear";
  });
  return [
    `layers ${layerKinds.filter((e) => !e.traits.activation).map((e) => e.name).join(", ")}`,
    `activations ${activationKinds.map((a) => a.name).join(", ")} (also as layers)`,
    "l1/l2 regularizers",
    `categorical and binary cross-entropy (also from logits, label smoothing), ${Object.keys(WGSL_ELEMENTWISE_LOSSES).join(", ")}`,
    `optimizers ${Object.keys(OPTIMIZER_PLANS).join(", ")}`,
    "schedules",
    "accuracy",
    "every callback",
  ].join("; ");
})();

/** The plan of a model this engine covers, or what it does not cover (a phrase: "the mape loss"). */
export function webgpuPlan(ir: IR): Plan | string {
  const t = ir.training;
  if (!t) return "no train section";
  if (ir.sweep) return "a sweep";
  const merge = ir.model.layers.find((l) => l.inputs.length > 1);
  if (merge) return `the ${merge.kind} layer ${merge.id} (only a chain of layers is covered, no merges)`;
  const binary = t.loss.kind === "binary_crossentropy";
  const crossEntropy = binary || t.loss.kind === "categorical_crossentropy" || t.loss.kind === "sparse_categorical_crossentropy";
  if (!crossEntropy && !WGSL_ELEMENTWISE_LOSSES[t.loss.kind]) return `the ${t.loss.kind} loss`;
  const steps: Step[] = [];
  const regularized: Plan["regularized"] = [];
  let inputSize = 0;
  let prev: string | null = null;
  for (const l of ir.model.layers) {
    if (prev !== null && l.inputs[0] !== prev) return `the ${l.kind} layer ${l.id} (only a chain of layers is covered: it does not read the layer before it)`;
    prev = l.id;
    const inShape = l.inputs.length === 1 ? ir.model.layers.find((x) => x.id === l.inputs[0])!.outputShape : [];
    const common = { id: l.id, in: size(inShape), size: size(l.outputShape) };
    if (l.inputs.length === 0) inputSize = common.size;
    for (const w of l.weights) {
      const r = w.regularizer;
      if (!r) continue;
      const l1 = r.kind === "l1" || r.kind === "l1l2" ? num(r.args.l1, 0.01) : 0;
      const l2 = r.kind === "l2" || r.kind === "l1l2" ? num(r.args.l2, 0.01) : 0;
      regularized.push({ name: w.name, l1, l2 });
    }
    const act = actOf(l);
    if (!act) return `the ${activationOf(l).kind} activation of ${l.id}`;
    const entry = GPU_LAYER_STEPS[l.kind] as LayerSteps<LayerKind>;
    if ("notCovered" in entry) return `the ${l.kind} layer ${l.id} (${entry.notCovered})`;
    const step = entry({ l, common, inShape, act, weight: (role) => l.weights.find((w) => w.role === role)?.name ?? null });
    if (typeof step === "string") return step;
    if (step) steps.push(step);
  }
  // The softmax (sigmoid for the binary cross-entropy) that ends the model, a dense or conv2d
  // layer's activation or an activation layer, is the loss kernel's: the chain ends with its logits.
  // With a loss from logits the chain ends with them (a linear output).
  const last = steps.at(-1);
  const fromLogits = t.loss.args.from_logits === true;
  const squash = binary ? "sigmoid" : "softmax";
  if (!crossEntropy) {
    // an elementwise loss reads the model's output as it is (its last activation stays in the chain)
  } else if (fromLogits) {
    if (last && "act" in last && last.act.kind !== "linear") return `a ${last.act.kind} output with the ${t.loss.kind} loss from logits`;
  } else {
    if (!last || !("act" in last) || last.act.kind !== squash) return `a model that does not end with a ${squash} (the ${t.loss.kind} loss reads its probabilities)`;
    if (last.op === "activation") steps.pop();
    else last.act = { kind: "linear", width: last.act.width, wgsl: null };
  }
  if ((steps.at(-1)?.size ?? inputSize) !== t.data.classes) return `an output of ${steps.at(-1)?.size ?? inputSize} values for ${t.data.classes} classes`;
  if (t.data.augment) return "augmentation";
  if (t.metrics.some((m) => m !== "accuracy")) return `metrics other than accuracy (${t.metrics.join(", ")})`;
  const optimizer = OPTIMIZER_PLANS[t.optimizer.kind](t.optimizer.args as OptimizerArgs);
  const loss: Plan["loss"] = crossEntropy
    ? { kind: "crossentropy", binary, labelSmoothing: num(t.loss.args.label_smoothing, 0), binaryAccuracy: binary && t.metrics.includes("accuracy"), threshold: fromLogits ? 1 / (1 + Math.exp(-0.5)) : 0.5 }
    : { kind: t.loss.kind, delta: num(t.loss.args.delta, 1) };
  return { inputSize, steps, classes: t.data.classes, loss, regularized, optimizer };
}

/**
 * Target j of a row whose label is `label`: one-hot, or with label smoothing ls
 * (1 - ls) * onehot + ls / classes (ls / 2 for the binary cross-entropy), the constants rounded
 * as the CPU program prints them.
 */
export function targetValue(j: number, label: number, classes: number, labelSmoothing: number, binary = false): number {
  const y = j === label ? 1 : 0;
  return labelSmoothing ? Number(fmt(1 - labelSmoothing)) * y + Number(fmt(labelSmoothing / (binary ? 2 : classes))) : y;
}

/**
 * The summed cross-entropy -sum y log p (p clipped to [1e-7, 1 - 1e-7], as the CPU program's loss;
 * y: targetValue) and the count of rows whose largest probability is at the label, over n rows.
 */
export function crossEntropySums(p: Float32Array, label: (row: number) => number, n: number, classes: number, labelSmoothing = 0): [number, number] {
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < n; r++) {
    const y = label(r);
    for (let j = 0; j < classes; j++) {
      const t = targetValue(j, y, classes, labelSmoothing);
      if (t !== 0) loss -= t * Math.log(Math.min(Math.max(p[r * classes + j]!, EPSILON), 1 - EPSILON));
    }
    let best = 0;
    for (let j = 1; j < classes; j++) if (p[r * classes + j]! > p[r * classes + best]!) best = j;
    if (best === y) correct++;
  }
  return [loss, correct];
}

/**
 * The binary cross-entropy -(y log p + (1 - y) log(1 - p)) averaged over the classes, summed over
 * n rows (p clipped as the CPU program does), and the rows' hits: Keras's binary accuracy (the
 * share of outputs on the label's side of `threshold`) when `binaryAccuracy`, else argmax hits.
 */
function binaryCrossEntropySums(p: Float32Array, label: (row: number) => number, n: number, classes: number, labelSmoothing: number, binaryAccuracy: boolean, threshold: number): [number, number] {
  let loss = 0;
  let hits = 0;
  for (let r = 0; r < n; r++) {
    const l = label(r);
    let best = 0;
    let rowHits = 0;
    for (let j = 0; j < classes; j++) {
      const q = p[r * classes + j]!;
      const y = targetValue(j, l, classes, labelSmoothing, true);
      const pc = Math.min(Math.max(q, EPSILON), 1 - EPSILON);
      loss -= (y * Math.log(pc) + (1 - y) * Math.log(1 - pc)) / classes;
      if ((q > threshold ? 1 : 0) === (j === l ? 1 : 0)) rowHits++;
      if (q > p[r * classes + best]!) best = j;
    }
    hits += binaryAccuracy ? rowHits / classes : best === l ? 1 : 0;
  }
  return [loss, hits];
}

/** Label smoothing of the plan's loss (0: none, or not a cross-entropy). */
export function smoothingOf(plan: Plan): number {
  return "labelSmoothing" in plan.loss ? plan.loss.labelSmoothing : 0;
}

/**
 * The plan's loss summed over n rows (each row's loss as the CPU program averages it: the
 * cross-entropy per row, an elementwise loss's mean over the classes) and the count of rows whose
 * largest prediction is at the label, from the predictions (GpuNet.predictions) read back.
 */
export function lossSums(plan: Plan, p: Float32Array, label: (row: number) => number, n: number): [number, number] {
  const loss = plan.loss;
  const C = plan.classes;
  if ("binary" in loss && loss.binary) return binaryCrossEntropySums(p, label, n, C, loss.labelSmoothing, loss.binaryAccuracy, loss.threshold);
  if ("labelSmoothing" in loss) return crossEntropySums(p, label, n, C, loss.labelSmoothing);
  const d = loss.delta;
  const term =
    loss.kind === "mse"
      ? (e: number) => e * e
      : loss.kind === "mae"
        ? (e: number) => Math.abs(e)
        : (e: number) => (Math.abs(e) <= d ? 0.5 * e * e : d * (Math.abs(e) - Number(fmt(d / 2))));
  let total = 0;
  let correct = 0;
  for (let r = 0; r < n; r++) {
    const y = label(r);
    let best = 0;
    for (let j = 0; j < C; j++) {
      total += term(p[r * C + j]! - (j === y ? 1 : 0)) / C;
      if (p[r * C + j]! > p[r * C + best]!) best = j;
    }
    if (best === y) correct++;
  }
  return [total, correct];
}

/** The refusal of a model the engine does not cover: what it covers, what the model has, the alternatives. */
export function notCoveredMessage(what: string): string {
  return `--gpu --engine standalone does not cover ${what}; it covers ${COVERED}. Use --engine tfjs --gpu for this model, or the standalone engine on the CPU (without --gpu).`;
}

interface Param {
  value: GpuTensor;
  grad: GpuTensor;
  /** Adam's moments; SGD's velocity in m. */
  m: GpuTensor | null;
  v: GpuTensor | null;
  /** An update rule's state arrays. */
  state: GpuTensor[];
}

interface StepBuffers {
  /** The step's output (for a linear layer without activation: z itself). */
  out: GpuTensor;
  /** dL/d(out). */
  dOut: GpuTensor;
  /** Pre-activation and its gradient (layers with an activation). */
  z: GpuTensor | null;
  dz: GpuTensor | null;
  /** conv2d: the patches (and, in the backward pass, their gradient). */
  cols: GpuTensor | null;
  /** max_pool: where each maximum came from; dropout: the mask; channel_norm: the normalised input. */
  aux: GpuTensor | null;
  /** channel_norm: the batch mean and 1/std per channel. */
  stats: GpuTensor | null;
  /** channel_norm without gamma or beta: where their (unused) gradients go. */
  paramGrads: [GpuTensor | null, GpuTensor | null] | null;
}

/**
 * The model on the GPU: its weights, gradients and optimizer state, and every activation buffer
 * for up to `batch` rows, with the step's kernels. The training loop below drives it; so do the
 * tests, against the CPU program's internals (test/standalone/harness.ts).
 */
export class GpuNet {
  /** The trainable weights. */
  readonly params = new Map<string, Param>();
  /** The weights training updates without gradients (batch normalisation's moving statistics). */
  readonly state = new Map<string, GpuTensor>();
  /** The input batch (n rows of plan.inputSize) and the one-hot targets. */
  readonly x: GpuTensor;
  readonly y: GpuTensor;
  /** The softmax probabilities after forward() (cross-entropy; else see predictions()). */
  readonly probs: GpuTensor;
  private readonly bufs: StepBuffers[];
  private readonly masks: (Float32Array | null)[];
  private readonly targets: Float32Array;
  /** Where dL/d(logits) goes when the chain is empty (the input is the logits): unused. */
  private readonly inputGrad: GpuTensor;
  /** The best epoch's weights a callback keeps (snapshot), by name. */
  private best: Map<string, GpuTensor> | null = null;
  /** The stream dropout masks draw from, as the CPU program's `random`. */
  private random = new Random(0);
  private iterations = 0;
  /** What the optimizer's update rule carries from step to step on the host. */
  private readonly ruleMemory: Record<string, number> = {};
  /** The regularized weights' penalties, one slot each. */
  private readonly penalties: GpuTensor | null;

  constructor(
    readonly plan: Plan,
    readonly k: WebgpuKernels,
    readonly batch: number,
    initial: Map<string, Float32Array>,
  ) {
    const B = batch;
    for (const s of plan.steps) {
      if (s.op === "channel_norm") for (const name of [s.movingMean, s.movingVariance]) this.state.set(name, k.tensor(initial.get(name)!));
      const trainable = s.op === "dense" || s.op === "conv2d" ? [s.kernel, s.bias] : s.op === "channel_norm" ? [s.gamma, s.beta] : s.op === "prelu" ? [s.alpha] : [];
      for (const name of trainable) {
        if (!name) continue;
        const w = initial.get(name)!;
        const o = plan.optimizer;
        // Adam's two moments; SGD's velocity (in m) with momentum.
        const m = o.kind === "adam" || (o.kind === "sgd" && o.momentum > 0);
        this.params.set(name, {
          value: k.tensor(w),
          grad: k.tensor(w.length),
          m: m ? k.tensor(w.length) : null,
          v: o.kind === "adam" ? k.tensor(w.length) : null,
          state: o.kind === "rule" ? o.init.map((x) => k.tensor(new Float32Array(w.length).fill(x))) : [],
        });
      }
    }
    this.x = k.tensor(B * plan.inputSize);
    this.y = k.tensor(B * plan.classes);
    this.probs = k.tensor(B * plan.classes);
    this.targets = new Float32Array(B * plan.classes);
    this.inputGrad = k.tensor(B * plan.inputSize);
    this.bufs = plan.steps.map((s) => {
      const activated = "act" in s && s.act.kind !== "linear";
      const linear = s.op === "dense" || s.op === "conv2d";
      const z = linear && activated ? k.tensor(B * s.size) : null;
      const patches = s.op === "conv2d" ? B * s.window.OH * s.window.OW * s.window.KH * s.window.KW * s.window.C : 0;
      return {
        out: k.tensor(B * s.size),
        dOut: k.tensor(B * s.size),
        z,
        dz: z ? k.tensor(B * s.size) : null,
        cols: patches ? k.tensor(patches) : null,
        aux: s.op === "max_pool" || s.op === "dropout" || s.op === "channel_norm" ? k.tensor(B * s.size) : null,
        stats: s.op === "channel_norm" ? k.tensor(2 * s.channels) : null,
        paramGrads: s.op === "channel_norm" ? [s.gamma ? null : k.tensor(s.channels), s.beta ? null : k.tensor(s.channels)] : null,
      };
    });
    this.masks = plan.steps.map((s) => (s.op === "dropout" ? new Float32Array(B * s.size) : null));
    this.penalties = plan.regularized.length ? k.tensor(plan.regularized.length) : null;
  }

  /**
   * The weights' penalty (0 without regularizers), of the weights as they are when it is called
   * (before update(), as the CPU program adds it to the step's loss).
   */
  async penalty(): Promise<number> {
    if (!this.penalties) return 0;
    this.plan.regularized.forEach((r, slot) => this.k.kernelPenalty(this.params.get(r.name)!.value, this.penalties!, slot, r.l1, r.l2));
    return (await this.k.read(this.penalties)).reduce((a, b) => a + b, 0);
  }

  /** Keeps a copy of every weight on the GPU (the best epoch's, for a callback that restores them). */
  snapshot(): void {
    for (const [name, t] of this.allWeights()) {
      const copy = (this.best ??= new Map()).get(name) ?? this.k.tensor(t.length);
      this.best.set(name, copy);
      this.k.copy(t, copy, t.length);
    }
  }

  /** Puts the weights of the last snapshot() back. */
  restore(): void {
    if (!this.best) return;
    for (const [name, t] of this.allWeights()) this.k.copy(this.best.get(name)!, t, t.length);
  }

  private allWeights(): [string, GpuTensor][] {
    return [...[...this.params].map(([name, p]): [string, GpuTensor] => [name, p.value]), ...this.state];
  }

  /** Writes the targets of n rows (one-hot, or smoothed as the loss says) from their labels. */
  setLabels(label: (row: number) => number, n: number): void {
    const C = this.plan.classes;
    const y = this.targets;
    for (let r = 0; r < n; r++) {
      const l = label(r);
      for (let j = 0; j < C; j++) y[r * C + j] = targetValue(j, l, C, smoothingOf(this.plan), "binary" in this.plan.loss && this.plan.loss.binary);
    }
    this.k.write(this.y, y.subarray(0, n * C));
  }

  /** Restarts the dropout stream (the CPU program's reseed()). */
  reseed(seed: number): void {
    this.random = new Random(seed);
  }

  private shape(w: Omit<WindowShape, "n">, n: number): WindowShape {
    return { ...w, n };
  }

  /** a = act(z) over count values. */
  private activate(act: Act, z: GpuTensor, a: GpuTensor, count: number): void {
    if (act.kind === "softmax") this.k.kernelSoftmax(z, a, count / act.width, act.width);
    else this.k.kernelActivation(act.kind, act.wgsl!.forward, z, a, count);
  }

  /** dz = act'(z) * g over count values (a: the activation's output). */
  private activateBackward(act: Act, z: GpuTensor, a: GpuTensor, g: GpuTensor, dz: GpuTensor, count: number): void {
    if (act.kind === "relu") this.k.kernelReluBackward(z, g, dz, count);
    else if (act.kind === "softmax") this.k.kernelSoftmaxBackward(a, g, dz, count / act.width, act.width);
    else this.k.kernelActivationBackward(act.kind, act.wgsl!.backward, z, a, g, dz, count);
  }

  private output(i: number): GpuTensor {
    return i < 0 ? this.x : this.bufs[i]!.out;
  }

  /** The forward pass over n rows of x, then softmax and dL/d(logits) against y. */
  forward(n: number, training: boolean): void {
    const k = this.k;
    this.plan.steps.forEach((s, i) => {
      const b = this.bufs[i]!;
      const input = this.output(i - 1);
      switch (s.op) {
        case "dense":
        case "conv2d": {
          const z = b.z ?? b.out;
          let rows = n;
          let width = s.in;
          let x = input;
          let units = s.size;
          if (s.op === "conv2d") {
            const w = this.shape(s.window, n);
            k.kernelIm2col(input, b.cols!, w);
            rows = n * w.OH * w.OW;
            width = w.KH * w.KW * w.C;
            x = b.cols!;
            units = s.filters;
          }
          k.gemm(false, false, rows, units, width, x, this.params.get(s.kernel)!.value, z, false);
          // bias and relu in one pass where both are there (the CPU program's biasRelu), else apart
          if (s.bias && s.act.kind === "relu") k.kernelBiasRelu(z, b.out, this.params.get(s.bias)!.value, rows, units);
          else {
            if (s.bias) k.kernelBiasAdd(z, this.params.get(s.bias)!.value, rows, units);
            if (b.z) this.activate(s.act, b.z, b.out, n * s.size);
          }
          break;
        }
        case "max_pool":
          k.kernelMaxPool(input, b.out, b.aux!, this.shape(s.window, n));
          break;
        case "avg_pool":
          k.kernelAvgPool(input, b.out, this.shape(s.window, n));
          break;
        case "activation":
          this.activate(s.act, input, b.out, n * s.size);
          break;
        case "prelu":
          k.kernelPrelu(input, this.params.get(s.alpha)!.value, b.out, n * s.size);
          break;
        case "channel_norm": {
          const rows = (n * s.size) / s.channels;
          const gamma = s.gamma ? this.params.get(s.gamma)!.value : null;
          const beta = s.beta ? this.params.get(s.beta)!.value : null;
          const mm = this.state.get(s.movingMean)!;
          const mv = this.state.get(s.movingVariance)!;
          if (training) k.kernelChannelNormalize(input, b.stats!, mm, mv, b.aux!, b.out, gamma, beta, rows, s.channels, s.momentum, s.epsilon);
          else k.kernelChannelNormalizeMeanVariance(input, mm, mv, b.out, gamma, beta, rows, s.channels, s.epsilon);
          break;
        }
        case "dropout": {
          if (!training) {
            k.copy(input, b.out, n * s.size);
            break;
          }
          // The CPU program's draw: one stream, layer after layer, value after value.
          const mask = this.masks[i]!;
          const scale = 1 / s.keep;
          for (let j = 0; j < n * s.size; j++) mask[j] = this.random.next() < s.rate ? 0 : scale;
          k.write(b.aux!, mask.subarray(0, n * s.size));
          k.kernelMask(input, b.aux!, b.out, n * s.size);
          break;
        }
      }
    });
    const last = this.plan.steps.length - 1;
    const dOut = last >= 0 ? this.bufs[last]!.dOut : this.inputGrad;
    const loss = this.plan.loss;
    if ("binary" in loss && loss.binary) k.kernelSigmoidCrossEntropy(this.output(last), this.y, this.probs, dOut, n, this.plan.classes);
    else if ("labelSmoothing" in loss) k.kernelSoftmaxCrossEntropy(this.output(last), this.y, this.probs, dOut, n, this.plan.classes);
    else k.kernelElementwiseLoss(loss.kind, loss.delta, this.output(last), this.y, dOut, n, this.plan.classes);
  }

  /** The backward pass after forward(n, true): every weight's gradient, the regularizers' included. */
  backward(n: number): void {
    const k = this.k;
    const steps = this.plan.steps;
    const firstWeighted = steps.findIndex((s) => s.op === "dense" || s.op === "conv2d" || s.op === "prelu" || (s.op === "channel_norm" && (s.gamma || s.beta)));
    // (nothing to do in a model without weights: firstWeighted is -1)
    for (let i = steps.length - 1; firstWeighted >= 0 && i >= firstWeighted; i--) {
      const s = steps[i]!;
      const b = this.bufs[i]!;
      const input = this.output(i - 1);
      // dL/d(input) is needed when a layer with weights comes before this one.
      const dIn = i > firstWeighted ? this.bufs[i - 1]!.dOut : null;
      switch (s.op) {
        case "dense":
        case "conv2d": {
          const dz = b.dz ?? b.dOut;
          if (b.z) this.activateBackward(s.act, b.z, b.out, b.dOut, dz, n * s.size);
          const p = this.params.get(s.kernel)!;
          if (s.op === "dense") {
            k.gemm(true, false, s.in, s.size, n, input, dz, p.grad, false);
            if (s.bias) k.kernelBiasGrad(dz, this.params.get(s.bias)!.grad, n, s.size);
            if (dIn) k.gemm(false, true, n, s.in, s.size, dz, p.value, dIn, false);
          } else {
            const w = this.shape(s.window, n);
            const rows = n * w.OH * w.OW;
            const patch = w.KH * w.KW * w.C;
            k.gemm(true, false, patch, s.filters, rows, b.cols!, dz, p.grad, false);
            if (s.bias) k.kernelBiasGrad(dz, this.params.get(s.bias)!.grad, rows, s.filters);
            if (dIn) {
              // dPatches = dz · kernelᵀ into the patch buffer, gathered back onto the image
              k.gemm(false, true, rows, patch, s.filters, dz, p.value, b.cols!, false);
              k.kernelCol2im(b.cols!, dIn, w);
            }
          }
          break;
        }
        case "max_pool":
          if (dIn) k.kernelMaxPoolBackward(b.dOut, b.aux!, dIn, this.shape(s.window, n));
          break;
        case "avg_pool":
          if (dIn) k.kernelAvgPoolBackward(b.dOut, dIn, this.shape(s.window, n));
          break;
        case "activation":
          if (dIn) this.activateBackward(s.act, input, b.out, b.dOut, dIn, n * s.size);
          break;
        case "dropout":
          if (dIn) k.kernelMask(b.dOut, b.aux!, dIn, n * s.size);
          break;
        case "prelu": {
          const p = this.params.get(s.alpha)!;
          k.kernelPreluBackward(input, p.value, b.dOut, p.grad, dIn, n * s.size);
          break;
        }
        case "channel_norm": {
          const [dg, db] = b.paramGrads!;
          k.kernelChannelNormalizeBackward(
            b.dOut,
            b.aux!,
            b.stats!,
            s.gamma ? this.params.get(s.gamma)!.value : null,
            dg ?? this.params.get(s.gamma!)!.grad,
            db ?? this.params.get(s.beta!)!.grad,
            dIn,
            (n * s.size) / s.channels,
            s.channels,
          );
          break;
        }
      }
    }
    for (const r of this.plan.regularized) {
      const p = this.params.get(r.name)!;
      k.kernelRegularizerGrad(p.value, p.grad, r.l1, r.l2);
    }
  }

  /** One optimizer step over every weight (lr: the learning rate of this step). */
  update(lr: number): void {
    this.iterations++;
    const o = this.plan.optimizer;
    // A rule's per-step floats once for all weights (nadam's schedule advances once a step).
    const floats = o.kind === "rule" ? o.floats(lr, this.iterations, this.ruleMemory) : [];
    for (const p of this.params.values()) {
      if (o.kind === "adam") {
        // adamw: w -= lr * weight_decay * w first (decoupled), then the Adam step
        if (o.weightDecay > 0) this.k.updateRule("decay", [], "  value[i] = value[i] - p[0].x * value[i];", p.value, p.grad, [], [lr * o.weightDecay]);
        const lrT = (lr * Math.sqrt(1 - Math.pow(o.beta2, this.iterations))) / (1 - Math.pow(o.beta1, this.iterations));
        this.k.adamUpdate(p.value, p.grad, p.m!, p.v!, lrT, o.beta1, o.beta2, o.epsilon);
      } else if (o.kind === "rule") this.k.updateRule(o.key, o.state, o.body, p.value, p.grad, p.state, floats);
      else if (o.momentum > 0) this.k.momentumUpdate(p.value, p.grad, p.m!, lr, o.momentum, o.nesterov);
      else this.k.sgdUpdate(p.value, p.grad, lr);
    }
  }

  /** The model's predictions of the last forward pass: the softmax probabilities, or the output an elementwise loss reads. */
  async predictions(n: number): Promise<Float32Array> {
    if ("labelSmoothing" in this.plan.loss) return (await this.k.read(this.probs)).slice(0, n * this.plan.classes);
    return this.logits(n);
  }

  /** The logits of the last forward pass (n rows). */
  async logits(n: number): Promise<Float32Array> {
    const last = this.plan.steps.length - 1;
    return (await this.k.read(this.output(last))).slice(0, n * this.plan.classes);
  }

  /** A weight's values (trainable or not). */
  async weight(name: string): Promise<Float32Array> {
    return this.k.read(this.params.get(name)?.value ?? this.state.get(name)!);
  }

  async gradient(name: string): Promise<Float32Array> {
    return this.k.read(this.params.get(name)!.grad);
  }

  setWeight(name: string, value: Float32Array): void {
    this.k.write(this.params.get(name)!.value, value);
  }
}

interface Data {
  x: Float32Array;
  labels: Uint8Array;
  count: number;
  size: number;
}

async function loadData(ir: IR, options: RunOptions): Promise<{ train: Data; validation: Data | null; test: Data }> {
  const d = ir.training!.data;
  const load = async (split: "train" | "test", limit?: number): Promise<Data> => {
    try {
      const m = await loadMnist({
        dataset: d.dataset,
        split,
        dataDir: options.dataDir,
        limit,
      });
      return {
        x: m.images,
        labels: m.labels,
        count: m.count,
        size: m.rows * m.cols,
      };
    } catch (e) {
      throw new CliError((e as Error).message, 2);
    }
  };
  const all = await load("train", options.trainLimit);
  const test = await load("test", options.testLimit);
  const slice = (from: number, to: number): Data => ({
    x: all.x.subarray(from * all.size, to * all.size),
    labels: all.labels.subarray(from, to),
    count: to - from,
    size: all.size,
  });
  if (d.validation.kind === "split") {
    const at = Math.floor(all.count * (1 - d.validation.fraction));
    return { train: slice(0, at), validation: slice(at, all.count), test };
  }
  return {
    train: all,
    validation: d.validation.kind === "test" ? test : null,
    test,
  };
}

/** The engine; `name` is "standalone" (its backend is "webgpu"). */
export function createStandaloneWebgpuEngine(): Engine {
  return {
    name: "standalone",
    async train(ir: IR, options: RunOptions, hooks: TrainHooks): Promise<TrainResult> {
      const plan = webgpuPlan(ir);
      if (typeof plan === "string") throw new CliError(notCoveredMessage(plan), 1);
      const dawn = await openDawn();
      return trainOnGpu(ir, plan, options, hooks, new WebgpuKernels(dawn.device));
    },
  };
}

async function trainOnGpu(ir: IR, plan: Plan, options: RunOptions, hooks: TrainHooks, k: WebgpuKernels): Promise<TrainResult> {
  const started = performance.now();
  const t = ir.training!;
  const seed = options.seed ?? t.seed;
  const epochs = options.epochs ?? t.epochs;
  const B = t.batchSize;
  const C = plan.classes;
  const I = plan.inputSize;
  const { train, validation, test } = await loadData(ir, options);
  if (train.count === 0) throw new CliError("no training examples (check --train-limit and the validation split)", 2);

  // The standalone engine's initial weights and random streams (its program's names for them).
  const net = new GpuNet(plan, k, B, initialWeights(ir.model, seed));
  net.reseed(hashSeed(seed, "dropout"));
  const shuffleRng = new Random(hashSeed(seed, "shuffle"));
  const xBatch = new Float32Array(B * I);

  /** Rows from..from+n of the data (through `order`, wrapping around as the CPU program's gatherBatch). */
  const fill = (d: Data, order: Int32Array | null, from: number, n: number) => {
    const example = (r: number) => (order ? order[(from + r) % d.count]! : (from + r) % d.count);
    for (let r = 0; r < n; r++) {
      const e = example(r);
      xBatch.set(d.x.subarray(e * d.size, (e + 1) * d.size), r * I);
    }
    k.write(net.x, xBatch.subarray(0, n * I));
    net.setLabels((r) => d.labels[example(r)]!, n);
  };

  /** Loss and correct count of the n rows just computed, from the probabilities read back. */
  const score = async (d: Data, order: Int32Array | null, from: number, n: number): Promise<[number, number]> => {
    return lossSums(plan, await net.predictions(n), (r) => d.labels[order ? order[(from + r) % d.count]! : (from + r) % d.count]!, n);
  };

  const evaluate = async (d: Data): Promise<{ loss: number; accuracy: number }> => {
    let loss = 0;
    let correct = 0;
    for (let from = 0; from < d.count; from += B) {
      const n = Math.min(B, d.count - from);
      fill(d, null, from, n);
      net.forward(n, false);
      const [l, c] = await score(d, null, from, n);
      loss += l;
      correct += c;
    }
    return {
      loss: loss / Math.max(1, d.count) + (await net.penalty()),
      accuracy: correct / Math.max(1, d.count),
    };
  };

  const files: string[] = [];
  const save = async (dir: string, extra: Record<string, unknown> = {}) => {
    const weights = ir.model.layers.flatMap((l: IRLayer) => l.weights);
    const values = await Promise.all(weights.map((w) => net.weight(w.name)));
    const total = values.reduce((s, v) => s + v.length, 0);
    const bytes = new Float32Array(total);
    let at = 0;
    for (const v of values) {
      bytes.set(v, at);
      at += v.length;
    }
    writeAtomic(join(options.outDir, dir, "weights.bin"), new Uint8Array(bytes.buffer));
    const modelJson = {
      format: "layers-model",
      generatedBy: `nnc ${ir.nncVersion}`,
      convertedBy: null,
      modelTopology: kerasTopology(ir.model),
      weightsManifest: [
        {
          paths: ["weights.bin"],
          weights: weights.map((w) => ({
            name: w.name,
            shape: w.shape,
            dtype: "float32",
          })),
        },
      ],
      userDefinedMetadata: {
        sourceSha256: ir.source.sha256,
        sourceFile: ir.source.file,
        nncVersion: ir.nncVersion,
        engine: "standalone",
        backend: "webgpu",
        ...extra,
      },
    };
    writeAtomic(join(options.outDir, dir, "model.json"), JSON.stringify(modelJson, null, 2));
    for (const f of [join(dir, "model.json"), join(dir, "weights.bin")]) if (!files.includes(f)) files.push(f);
  };

  const order = new Int32Array(train.count).map((_, i) => i);
  const stepsPerEpoch = t.stepsPerEpoch ?? Math.ceil(train.count / B);
  hooks.onTrainBegin?.({
    epochs,
    stepsPerEpoch,
    trainSamples: train.count,
    validationSamples: validation?.count ?? 0,
  });
  const say = (message: string) => hooks.log?.(message);
  // The callbacks, through the CPU program's runner (the first of each kind, in its order), with
  // everything they may ask of an engine.
  const callbacks = new CallbackRunner(t.callbacks as { kind: string; args: Record<string, unknown> }[], CALLBACKS, {
    say,
    snapshotWeights: () => net.snapshot(),
    restoreWeights: () => net.restore(),
    saveModel: (dir, epoch, logs) => save(dir, { epoch: epoch + 1, ...logs }),
    writeText: (path, text) => {
      mkdirSync(dirname(join(options.outDir, path)), { recursive: true });
      writeAtomic(join(options.outDir, path), text);
      if (!files.includes(path)) files.push(path);
    },
    eventFiles: (dir, updateFreq) => new KerasTensorBoard(join(options.outDir, dir), updateFreq),
  });

  const history: EpochLogs[] = [];
  // The learning rate of each step: the optimizer's (a plateau callback lowers it), or its
  // schedule's at the steps done so far, as the CPU program.
  let baseLr = plan.optimizer.lr;
  let lr = baseLr;
  let iterations = 0;
  let trainSeconds = 0;
  let trained = 0;
  let stoppedEarly = false;
  for (let epoch = 0; epoch < epochs && !stoppedEarly; epoch++) {
    const t0 = performance.now();
    // As the CPU program: shuffled at each epoch's start, batches from the start of the order.
    if (t.data.shuffle) shuffleRng.shuffle(order);
    let cursor = 0;
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    for (let b = 0; b < stepsPerEpoch; b++) {
      if (options.signal?.aborted) throw options.signal.reason ?? Object.assign(new Error("training aborted"), { name: "AbortError" });
      const n = t.stepsPerEpoch ? B : Math.min(B, train.count - cursor);
      fill(train, order, cursor, n);
      lr = scheduledLearningRate(t.schedule, baseLr, iterations);
      net.forward(n, true);
      const penalty = plan.regularized.length ? await net.penalty() : 0;
      net.backward(n);
      net.update(lr);
      iterations++;
      const [l, c] = await score(train, order, cursor, n);
      const batchLoss = l / n + penalty;
      cursor += n;
      lossSum += batchLoss * n;
      correct += c;
      seen += n;
      hooks.onBatchEnd?.(b, {
        loss: lossSum / seen,
        accuracy: correct / seen,
      });
      const batchLogs = { loss: lossSum / seen, ...(t.metrics.includes("accuracy") ? { accuracy: correct / seen } : {}) };
      if (callbacks.onBatchEnd(epoch, b, batchLoss, batchLogs, lr)) {
        stoppedEarly = true;
        break;
      }
    }
    trainSeconds += (performance.now() - t0) / 1000;
    trained += seen;
    const logs: EpochLogs = { loss: lossSum / Math.max(seen, 1) };
    if (t.metrics.includes("accuracy")) logs.accuracy = correct / Math.max(seen, 1);
    if (validation) {
      const v = await evaluate(validation);
      logs.val_loss = v.loss;
      if (t.metrics.includes("accuracy")) logs.val_accuracy = v.accuracy;
    }
    logs.lr = lr;
    history.push(logs);
    hooks.onEpochEnd?.(epoch, logs);
    const decided = await callbacks.onEpochEnd(epoch, logs, baseLr);
    baseLr = decided.lr;
    if (decided.stop) stoppedEarly = true;
  }
  const final = await evaluate(test);
  await save("model", { epochs: history.length });
  for (const path of callbacks.onTrainEnd()) files.push(relative(options.outDir, path));
  return {
    engine: "standalone",
    backend: "webgpu",
    history,
    epochs: history.length,
    trainSamples: train.count,
    testLoss: final.loss,
    testAccuracy: final.accuracy,
    testMetrics: { accuracy: final.accuracy },
    seconds: (performance.now() - started) / 1000,
    samplesPerSecond: trained / Math.max(trainSeconds, 1e-9),
    stoppedEarly,
    files,
  };
}
