// `nnc run FILE --gpu --engine standalone` for dense networks: the standalone engine's training
// step (forward, softmax + cross-entropy, backward, optimizer update) run as nnc's own WGSL
// kernels (./wgsl.ts, ./runtime.ts) on WebGPU through Dawn (src/runtime/webgpu/dawn.ts), with the
// standalone engine's initial weights (random.ts, bit-identical), its MNIST loader and its
// checkpoint decisions, saving the model in the same TensorFlow.js layers format.
//
// Covered (anything else is refused before training, naming what is not covered):
//   layers     input, flatten, dense (activation relu, sigmoid, linear, or softmax on the last
//              layer), dropout
//   loss       categorical_crossentropy / sparse_categorical_crossentropy on the softmax output
//              (no label smoothing, not from logits)
//   optimizer  adam, sgd without momentum; no schedule, no regularizer, no augmentation
//   metrics    accuracy; callbacks: checkpoint
// Every product is a gemm specialised to its shapes, the bias/relu and their gradients and the
// updates are elementwise kernels: nothing runs on the CPU but the shuffling, the dropout masks and
// the loss/accuracy sums from the probabilities read back after each step.
//
// What differs from the CPU standalone engine: the order of float32 sums inside the products
// (tiles of 16), and the random streams of shuffling and dropout (this engine's own, seeded).
// With shuffling off and dropout 0 both train on the same batches from the same weights:
// test/gpu/standalone-webgpu.test.ts compares their losses step by step.
import { join } from "node:path";
import type { IR, IRLayer, IRRef } from "../../compiler/ir.js";
import type { Engine, EpochLogs, RunOptions, TrainHooks, TrainResult } from "../engine.js";
import { CliError } from "../../cli/errors.js";
import { loadMnist } from "../data/mnist.js";
import { hashSeed, initialWeights, Random } from "../random.js";
import { writeAtomic } from "../run/files.js";
import { CheckpointDecider } from "../training/callbacks.js";
import { openDawn } from "../webgpu/dawn.js";
import { kerasTopology } from "../../compiler/targets/keras.js";
import { WebgpuKernels, type GpuTensor } from "../../compiler/targets/standalone/kernels/webgpu/runtime.js";

const EPSILON = 1e-7;

/** relu and sigmoid write their output to `a`; linear (and softmax, handled apart) leave it in `z`. */
const hasOutput = (l: { activation: string }) => l.activation === "relu" || l.activation === "sigmoid";

interface DenseLayer {
  id: string;
  inputs: number;
  units: number;
  activation: "relu" | "sigmoid" | "linear" | "softmax";
  kernel: string;
  bias: string;
  /** Rate of a dropout layer right after this one (0: none). */
  dropout: number;
}

interface Plan {
  layers: DenseLayer[];
  classes: number;
  optimizer:
    | {
        kind: "adam";
        lr: number;
        beta1: number;
        beta2: number;
        epsilon: number;
      }
    | { kind: "sgd"; lr: number };
  checkpoint: {
    monitor: string;
    save_best_only: boolean;
    mode?: string;
    path: string;
  } | null;
}

const num = (v: unknown, fallback: number): number => (typeof v === "number" ? v : fallback);

/** The plan of a model this engine covers, or the reason it does not cover it. */
export function denseWebgpuPlan(ir: IR): Plan | string {
  const t = ir.training;
  if (!t) return "the file has no train section";
  if (ir.sweep) return "sweeps";
  const layers: DenseLayer[] = [];
  let width = 0;
  let prev: string | null = null;
  for (const l of ir.model.layers) {
    if (prev !== null && (l.inputs.length !== 1 || l.inputs[0] !== prev)) return `layer ${l.id} (only a chain of layers is covered)`;
    prev = l.id;
    if (l.kind === "input" || l.kind === "flatten") {
      width = l.outputShape.reduce((a, b) => a * b, 1);
      continue;
    }
    if (l.kind === "dropout") {
      const last = layers.at(-1);
      if (!last || last.activation === "softmax") return `dropout ${l.id} (covered only after a hidden dense layer)`;
      last.dropout = num(l.args.rate, 0);
      continue;
    }
    if (l.kind !== "dense") return `the ${l.kind} layer ${l.id}`;
    const act = (l.args.activation as IRRef | null)?.kind ?? "linear";
    if (act !== "relu" && act !== "sigmoid" && act !== "linear" && act !== "softmax") return `activation ${act} on ${l.id}`;
    if (l.args.use_bias === false) return `dense without bias (${l.id})`;
    if (l.weights.some((w) => w.regularizer)) return `regularizers (${l.id})`;
    const kernel = l.weights.find((w) => w.role === "kernel");
    const bias = l.weights.find((w) => w.role === "bias");
    if (!kernel || !bias) return `dense ${l.id} without kernel and bias`;
    const units = l.outputShape[0]!;
    layers.push({
      id: l.id,
      inputs: width,
      units,
      activation: act,
      kernel: kernel.name,
      bias: bias.name,
      dropout: 0,
    });
    width = units;
  }
  const last = layers.at(-1);
  if (!last || last.activation !== "softmax") return "a model whose last layer is not dense with softmax";
  if (layers.slice(0, -1).some((l) => l.activation === "softmax")) return "softmax before the last layer";
  if (t.loss.kind !== "categorical_crossentropy" && t.loss.kind !== "sparse_categorical_crossentropy") return `the ${t.loss.kind} loss`;
  if (t.loss.args.from_logits === true || num(t.loss.args.label_smoothing, 0) !== 0) return "from_logits / label_smoothing";
  if (t.schedule) return `the ${t.schedule.kind} schedule`;
  if (t.data.augment) return "augmentation";
  if (t.metrics.some((m) => m !== "accuracy")) return `metrics other than accuracy (${t.metrics.join(", ")})`;
  let checkpoint: Plan["checkpoint"] = null;
  for (const c of t.callbacks) {
    if (c.kind !== "checkpoint") return `the ${c.kind} callback`;
    checkpoint = c.args as unknown as NonNullable<Plan["checkpoint"]>;
  }
  const o = t.optimizer;
  let optimizer: Plan["optimizer"];
  if (o.kind === "adam") {
    optimizer = {
      kind: "adam",
      lr: num(o.args.lr, 1e-3),
      beta1: num(o.args.beta1, 0.9),
      beta2: num(o.args.beta2, 0.999),
      epsilon: num(o.args.epsilon, 1e-7),
    };
  } else if (o.kind === "sgd" && num(o.args.momentum, 0) === 0) {
    optimizer = { kind: "sgd", lr: num(o.args.lr, 0.01) };
  } else return `the ${o.kind} optimizer${o.kind === "sgd" ? " with momentum" : ""}`;
  if (last.units !== t.data.classes) return `an output of ${last.units} units for ${t.data.classes} classes`;
  return { layers, classes: t.data.classes, optimizer, checkpoint };
}

export const COVERED =
  "input, flatten, dense (relu, sigmoid, linear, softmax last), dropout; categorical cross-entropy; adam or plain sgd; accuracy; checkpoint";

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
      const plan = denseWebgpuPlan(ir);
      if (typeof plan === "string") {
        throw new CliError(
          `--gpu --engine standalone covers dense networks only (${COVERED}); this model has ${plan}. Use --engine tfjs --gpu for it.`,
          1,
        );
      }
      const dawn = await openDawn();
      return trainDense(ir, plan, options, hooks, new WebgpuKernels(dawn.device));
    },
  };
}

async function trainDense(ir: IR, plan: Plan, options: RunOptions, hooks: TrainHooks, k: WebgpuKernels): Promise<TrainResult> {
  const started = performance.now();
  const t = ir.training!;
  const seed = options.seed ?? t.seed;
  const epochs = options.epochs ?? t.epochs;
  const B = t.batchSize;
  const C = plan.classes;
  const { train, validation, test } = await loadData(ir, options);
  if (train.count === 0) throw new CliError("no training examples (check --train-limit and the validation split)", 2);

  // Parameters, gradients and optimizer state on the GPU, from the standalone engine's initial weights.
  const init = initialWeights(ir.model, seed);
  const params = new Map<string, { value: GpuTensor; grad: GpuTensor; m: GpuTensor; v: GpuTensor }>();
  for (const l of plan.layers) {
    for (const name of [l.kernel, l.bias]) {
      const w = init.get(name)!;
      params.set(name, {
        value: k.tensor(w),
        grad: k.tensor(w.length),
        m: k.tensor(w.length),
        v: k.tensor(w.length),
      });
    }
  }
  // Activations for up to B rows; the pipelines are specialised per row count (B and the last, shorter batch).
  const I = plan.layers[0]!.inputs;
  const x = k.tensor(B * I);
  const y = k.tensor(B * C);
  const probs = k.tensor(B * C);
  const acts = plan.layers.map((l) => ({
    z: k.tensor(B * l.units),
    a: k.tensor(B * l.units),
    dz: k.tensor(B * l.units),
    da: k.tensor(B * l.units),
    mask: k.tensor(B * l.units),
  }));
  const xBatch = new Float32Array(B * I);
  const yBatch = new Float32Array(B * C);
  const masks = plan.layers.map((l) => (l.dropout > 0 ? new Float32Array(B * l.units) : null));
  const dropoutRng = plan.layers.map((l) => new Random(hashSeed(seed, `${l.id}/dropout-webgpu`)));
  const shuffleRng = new Random(hashSeed(seed, "shuffle-webgpu"));

  const fill = (d: Data, order: Int32Array | null, from: number, n: number) => {
    yBatch.fill(0, 0, n * C);
    for (let r = 0; r < n; r++) {
      const e = order ? order[from + r]! : from + r;
      xBatch.set(d.x.subarray(e * d.size, (e + 1) * d.size), r * I);
      yBatch[r * C + d.labels[e]!] = 1;
    }
    k.write(x, xBatch.subarray(0, n * I));
    k.write(y, yBatch.subarray(0, n * C));
  };

  const forward = (n: number, training: boolean) => {
    let input = x;
    plan.layers.forEach((l, i) => {
      const s = acts[i]!;
      const p = params;
      k.gemm(false, false, n, l.units, l.inputs, input, p.get(l.kernel)!.value, s.z, false);
      if (l.activation === "relu") k.kernelBiasRelu(s.z, s.a, p.get(l.bias)!.value, n, l.units);
      else k.kernelBiasAdd(s.z, p.get(l.bias)!.value, n, l.units);
      if (l.activation === "sigmoid") k.kernelSigmoid(s.z, s.a, n * l.units);
      const out = hasOutput(l) ? s.a : s.z;
      if (training && l.dropout > 0) {
        const mask = masks[i]!;
        const keep = 1 - l.dropout;
        const rng = dropoutRng[i]!;
        for (let j = 0; j < n * l.units; j++) mask[j] = rng.next() < keep ? 1 / keep : 0;
        k.write(s.mask, mask.subarray(0, n * l.units));
        k.kernelMul(out, s.mask, n * l.units);
      }
      input = out;
    });
    const last = acts.at(-1)!;
    k.kernelSoftmaxCrossEntropy(last.z, y, probs, last.dz, n, C);
  };

  const backward = (n: number) => {
    for (let i = plan.layers.length - 1; i >= 0; i--) {
      const l = plan.layers[i]!;
      const s = acts[i]!;
      const prev = i > 0 ? acts[i - 1]! : null;
      const input = prev ? (hasOutput(plan.layers[i - 1]!) ? prev.a : prev.z) : x;
      k.gemm(true, false, l.inputs, l.units, n, input, s.dz, params.get(l.kernel)!.grad, false);
      k.kernelBiasGrad(s.dz, params.get(l.bias)!.grad, n, l.units);
      if (!prev) break;
      const pl = plan.layers[i - 1]!;
      // d(input) = dz · Wᵀ; through the previous layer's dropout mask and relu into its dz.
      const target = hasOutput(pl) ? prev.da : prev.dz;
      k.gemm(false, true, n, l.inputs, l.units, s.dz, params.get(l.kernel)!.value, target, false);
      if (pl.dropout > 0) k.kernelMul(target, prev.mask, n * pl.units);
      if (pl.activation === "relu") k.kernelReluBackward(prev.z, prev.da, prev.dz, n * pl.units);
      if (pl.activation === "sigmoid") k.kernelSigmoidBackward(prev.z, prev.da, prev.dz, n * pl.units);
    }
  };

  let step = 0;
  const update = () => {
    step++;
    const o = plan.optimizer;
    for (const p of params.values()) {
      if (o.kind === "adam") {
        const lrT = (o.lr * Math.sqrt(1 - Math.pow(o.beta2, step))) / (1 - Math.pow(o.beta1, step));
        k.adamUpdate(p.value, p.grad, p.m, p.v, lrT, o.beta1, o.beta2, o.epsilon);
      } else k.sgdUpdate(p.value, p.grad, o.lr);
    }
  };

  /** Loss and correct count of the n rows just computed, from the probabilities read back. */
  const score = async (d: Data, order: Int32Array | null, from: number, n: number): Promise<[number, number]> => {
    const p = await k.read(probs);
    let loss = 0;
    let correct = 0;
    for (let r = 0; r < n; r++) {
      const label = d.labels[order ? order[from + r]! : from + r]!;
      loss -= Math.log(Math.min(Math.max(p[r * C + label]!, EPSILON), 1 - EPSILON));
      let best = 0;
      for (let j = 1; j < C; j++) if (p[r * C + j]! > p[r * C + best]!) best = j;
      if (best === label) correct++;
    }
    return [loss, correct];
  };

  const evaluate = async (d: Data): Promise<{ loss: number; accuracy: number }> => {
    let loss = 0;
    let correct = 0;
    for (let from = 0; from < d.count; from += B) {
      const n = Math.min(B, d.count - from);
      fill(d, null, from, n);
      forward(n, false);
      const [l, c] = await score(d, null, from, n);
      loss += l;
      correct += c;
    }
    return {
      loss: loss / Math.max(1, d.count),
      accuracy: correct / Math.max(1, d.count),
    };
  };

  const files: string[] = [];
  const save = async (dir: string, extra: Record<string, unknown> = {}) => {
    const weights = ir.model.layers.flatMap((l: IRLayer) => l.weights);
    const values = await Promise.all(weights.map((w) => k.read(params.get(w.name)!.value)));
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
  const checkpoint = plan.checkpoint ? new CheckpointDecider(plan.checkpoint as never) : null;
  const history: EpochLogs[] = [];
  let trainSeconds = 0;
  let trained = 0;
  let cursor = train.count;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const t0 = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    for (let b = 0; b < stepsPerEpoch; b++) {
      if (options.signal?.aborted) throw options.signal.reason ?? Object.assign(new Error("training aborted"), { name: "AbortError" });
      if (cursor >= train.count) {
        if (t.data.shuffle) shuffleRng.shuffle(order);
        cursor = 0;
      }
      const n = Math.min(B, train.count - cursor);
      fill(train, order, cursor, n);
      forward(n, true);
      backward(n);
      update();
      const [l, c] = await score(train, order, cursor, n);
      cursor += n;
      lossSum += l;
      correct += c;
      seen += n;
      hooks.onBatchEnd?.(step - 1, {
        loss: lossSum / seen,
        accuracy: correct / seen,
      });
    }
    trainSeconds += (performance.now() - t0) / 1000;
    trained += seen;
    const logs: EpochLogs = { loss: lossSum / seen, accuracy: correct / seen };
    if (validation) {
      const v = await evaluate(validation);
      logs.val_loss = v.loss;
      logs.val_accuracy = v.accuracy;
    }
    logs.lr = plan.optimizer.lr;
    history.push(logs);
    hooks.onEpochEnd?.(epoch, logs);
    if (checkpoint) {
      const d = checkpoint.onEpochEnd(logs);
      if (d.warning) hooks.log?.(d.warning);
      if (d.save) {
        if (d.message) hooks.log?.(d.message);
        await save(plan.checkpoint!.path || "checkpoint", {
          epoch: epoch + 1,
          ...logs,
        });
      }
    }
  }
  const final =
    validation === test && history.at(-1)?.val_loss !== undefined
      ? {
          loss: history.at(-1)!.val_loss!,
          accuracy: history.at(-1)!.val_accuracy!,
        }
      : await evaluate(test);
  await save("model", { epochs: history.length });
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
    stoppedEarly: false,
    files,
  };
}
