// The tfjs engine's training loop: nnc's own batch loop (not model.fit), so schedules,
// reduce_on_plateau, checkpoint, early_stopping with restore_best, terminate_on_nan, L1/L2
// penalties, Nadam, seeded dropout and augmentation behave exactly as in the standalone
// engine. The decisions come from the shared embeddable modules (src/runtime/training/
// callbacks.ts, src/runtime/random.ts, src/runtime/data/*); this file owns the tensors.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import type { IR, IRLayer, IRLayerOf, IRModel, IRRef, IRTraining } from "../../../compiler/ir.js";
import { CliError } from "../../../cli/errors.js";
import type { EpochLogs, RunOptions, TrainHooks, TrainResult } from "../../engine.js";
import { loadMnist } from "../../data/mnist.js";
import { augmentBatch } from "../../data/augment.js";
import { KerasTensorBoard, type TensorBoardUpdateFreq } from "../../tensorboard.js";
import { Random, hashSeed } from "../../random.js";
import {
  CheckpointDecider,
  EarlyStopping,
  ReduceLROnPlateau,
  scheduledLearningRate,
  shouldTerminateOnNaN,
} from "../../training/callbacks.js";
import type { BackendChoice, Tf } from "./backends.js";
import { regularizerFactors } from "../../../compiler/targets/keras.js";
import { makeLoss, metricSums } from "./losses.js";
import { buildModel, type BuiltModel } from "./model.js";
import { makeOptimizer } from "./optimizers.js";
import { saveModel } from "./save.js";

type Tensor = tfTypes.Tensor;
type Variable = tfTypes.Variable;

/** Examples as flat float32 rows plus labels, as the loop feeds them. */
export interface Dataset {
  x: Float32Array;
  /** Class indices. */
  labels: Uint8Array;
  count: number;
  /** Floats per example (784 for MNIST). */
  size: number;
}

export interface Splits {
  train: Dataset;
  validation: Dataset | null;
  test: Dataset;
}

function slice(d: Dataset, from: number, to: number): Dataset {
  return { x: d.x.subarray(from * d.size, to * d.size), labels: d.labels.subarray(from, to), count: to - from, size: d.size };
}

/**
 * Loads train/validation/test as the IR says. validation_split takes the *last* fraction of the
 * (limited) training set, as Keras's validation_split does; `validation: test` uses the test set.
 */
export async function loadSplits(training: IRTraining, options: RunOptions): Promise<Splits> {
  const data = training.data;
  const load = async (split: "train" | "test", limit?: number): Promise<Dataset> => {
    try {
      const m = await loadMnist({ dataset: data.dataset, split, dataDir: options.dataDir, limit });
      return { x: m.images, labels: m.labels, count: m.count, size: m.rows * m.cols };
    } catch (e) {
      throw new CliError((e as Error).message, 2);
    }
  };
  const fullTrain = await load("train", options.trainLimit);
  const test = await load("test", options.testLimit);
  let train = fullTrain;
  let validation: Dataset | null = null;
  if (data.validation.kind === "split") {
    const splitAt = Math.floor(fullTrain.count * (1 - data.validation.fraction));
    train = slice(fullTrain, 0, splitAt);
    validation = slice(fullTrain, splitAt, fullTrain.count);
  } else if (data.validation.kind === "test") {
    validation = test;
  }
  return { train, validation, test };
}

interface Penalty {
  variable: Variable;
  l1: number;
  l2: number;
}

/** The model plus everything the loop needs to run it: trainable variables, penalties, dropout masks. */
export class Trainer {
  readonly vars: Variable[];
  readonly varNames: string[];
  private readonly penalties: Penalty[];
  /** The one stream every dropout mask draws from, layer by layer, as in the standalone program. */
  private readonly dropoutRng: Random;

  constructor(
    readonly tf: Tf,
    readonly built: BuiltModel,
    readonly training: IRTraining,
    readonly seed: number,
  ) {
    const byName = new Map(built.model.weights.map((w) => [w.originalName, w]));
    const irWeights = built.ir.layers.flatMap((l) => l.weights);
    this.vars = [];
    this.varNames = [];
    this.penalties = [];
    for (const w of irWeights) {
      const lv = byName.get(w.name)!;
      const v = lv.read() as Variable;
      if (w.trainable) {
        this.vars.push(v);
        this.varNames.push(w.name);
      }
      const { l1, l2 } = regularizerFactors(w.regularizer);
      if (l1 > 0 || l2 > 0) this.penalties.push({ variable: v, l1, l2 });
    }
    this.dropoutRng = new Random(hashSeed(seed, "dropout"));
  }

  /** L1/L2 penalty of the current weights (Keras: l1 * sum|w| + l2 * sum w², no 1/2). */
  penalty(): tfTypes.Scalar | null {
    if (this.penalties.length === 0) return null;
    const tf = this.tf;
    return tf.tidy(() => {
      let total = tf.scalar(0);
      for (const p of this.penalties) {
        // |w| as w * sign(w): its gradient is sign(w), 0 at w = 0 as in TensorFlow, PyTorch and the
        // standalone program (tfjs's abs() has gradient -1 at 0, which moves zero-initialized biases)
        if (p.l1 > 0) total = total.add(p.variable.mul(p.variable.sign()).sum().mul(p.l1));
        if (p.l2 > 0) total = total.add(p.variable.square().sum().mul(p.l2));
      }
      return total as tfTypes.Scalar;
    });
  }

  /** Dropout mask from the seeded dropout stream: 0 with probability rate, else 1/(1-rate). */
  private dropoutMask(layer: IRLayerOf<"dropout">, batch: number): Tensor {
    const rate = layer.args.rate;
    const shape = [batch, ...layer.outputShape];
    const n = shape.reduce((a, b) => a * b, 1);
    const rng = this.dropoutRng;
    const keep = 1 / (1 - rate);
    const m = new Float32Array(n);
    for (let i = 0; i < n; i++) m[i] = rng.next() < rate ? 0 : keep;
    return this.tf.tensor(m, shape);
  }

  /**
   * Batch normalization in training mode without gamma or beta. tfjs's BatchNormalization reads
   * both unconditionally when training (it crashes on `center: false` / `scale: false`), so the
   * same computation is written here: batch moments over every axis but the last, the moving
   * averages updated as tfjs does (moving -= (moving - batch) * (1 - momentum)).
   */
  private batchNormTraining(bn: tfTypes.layers.Layer, x: Tensor, args: IRLayerOf<"batch_norm">["args"]): Tensor {
    const tf = this.tf;
    const weight = (role: string) => bn.weights.find((w) => w.originalName.endsWith(`/${role}`));
    const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
    let y = x.sub(mean).mul(tf.rsqrt(variance.add(args.epsilon)));
    if (args.scale) y = y.mul(weight("gamma")!.read());
    if (args.center) y = y.add(weight("beta")!.read());
    for (const [role, batch] of [["moving_mean", mean], ["moving_variance", variance]] as const) {
      const v = weight(role)!;
      tf.tidy(() => {
        const old = v.read();
        v.write(old.sub(old.sub(batch).mul(1 - args.momentum)));
      });
    }
    return y;
  }

  /** The forward pass, layer by layer (training: batch statistics in batch_norm, seeded dropout). */
  forward(x: Tensor, training: boolean): Tensor {
    const values = new Map<string, Tensor>();
    const ir = this.built.ir;
    for (const layer of ir.layers) {
      if (layer.kind === "input") {
        values.set(layer.id, x);
        continue;
      }
      const ins = layer.inputs.map((i) => values.get(i)!);
      let y: Tensor;
      if (layer.kind === "dropout") {
        const rate = layer.args.rate;
        y = training && rate > 0 ? ins[0]!.mul(this.dropoutMask(layer, x.shape[0]!)) : ins[0]!;
      } else if (layer.kind === "batch_norm" && training && !(layer.args.center && layer.args.scale)) {
        y = this.batchNormTraining(this.built.chains.get(layer.id)![0]!, ins[0]!, layer.args);
      } else {
        let t: Tensor | Tensor[] = ins.length === 1 ? ins[0]! : ins;
        for (const l of this.built.chains.get(layer.id)!) t = l.apply(t, { training }) as Tensor;
        y = t as Tensor;
      }
      values.set(layer.id, y);
    }
    return values.get(ir.outputs[0]!)!;
  }
}

/** Batch tensors for `indices` of a dataset. */
function batchTensors(
  tf: Tf,
  d: Dataset,
  indices: ArrayLike<number>,
  from: number,
  to: number,
  exampleShape: number[],
  labels: "onehot" | "sparse",
  classes: number,
  augment?: (x: Float32Array, n: number) => void,
): { x: Tensor; y: Tensor } {
  const n = to - from;
  const xs = new Float32Array(n * d.size);
  const ys = new Float32Array(labels === "sparse" ? n : n * classes);
  for (let i = 0; i < n; i++) {
    const k = indices[from + i]!;
    xs.set(d.x.subarray(k * d.size, (k + 1) * d.size), i * d.size);
    if (labels === "sparse") ys[i] = d.labels[k]!;
    else ys[i * classes + d.labels[k]!] = 1;
  }
  if (augment) augment(xs, n);
  return { x: tf.tensor(xs, [n, ...exampleShape]), y: labels === "sparse" ? tf.tensor(ys, [n, 1]) : tf.tensor(ys, [n, classes]) };
}

function identity(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** Loss (with penalties, as Keras reports it) and metrics of a dataset in inference mode. */
export async function evaluate(
  trainer: Trainer,
  d: Dataset,
  batchSize = 500,
  progress?: (done: number, total: number) => void,
): Promise<Record<string, number>> {
  const { tf, training } = trainer;
  const classes = training.data.classes;
  const lossFn = makeLoss(tf, training.loss, classes);
  const idx = identity(d.count);
  let lossSum = 0;
  const sums: Record<string, [number, number]> = {};
  for (let from = 0; from < d.count; from += batchSize) {
    const to = Math.min(d.count, from + batchSize);
    const { x, y } = batchTensors(tf, d, idx, from, to, training.data.exampleShape, training.labels, classes);
    const out = tf.tidy(() => trainer.forward(x, false));
    const l = lossFn(y, out);
    lossSum += (await l.data())[0]! * (to - from);
    for (const [m, [s, c]] of Object.entries(await metricSums(tf, training.metrics, training.labels, classes, y, out, training.loss.kind === "binary_crossentropy"))) {
      const acc = (sums[m] ??= [0, 0]);
      acc[0] += s;
      acc[1] += c;
    }
    tf.dispose([x, y, out, l]);
    progress?.(to, d.count);
  }
  const pen = trainer.penalty();
  const penalty = pen ? (await pen.data())[0]! : 0;
  pen?.dispose();
  const logs: Record<string, number> = { loss: lossSum / Math.max(1, d.count) + penalty };
  for (const [m, [s, c]] of Object.entries(sums)) logs[m] = c > 0 ? s / c : 0;
  return logs;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error("training aborted"), { name: "AbortError" });
}

/** Model metadata stored in model.json's userDefinedMetadata. */
function metadata(ir: IR, backend: string, extra: Record<string, unknown> = {}) {
  return { sourceSha256: ir.source.sha256, sourceFile: ir.source.file, nncVersion: ir.nncVersion, engine: "tfjs", backend, ...extra };
}

export interface TrainDeps {
  /** Overrides for tests: a model already built, data already loaded. */
  splits?: Splits;
  /** Stop after this many optimizer steps in total (parity tests). */
  maxSteps?: number;
  /** Skip the test evaluation and saving (parity tests). */
  noSave?: boolean;
}

/** Trains `ir.model` on the backend in `choice`; see Engine.train. */
export async function trainTfjs(
  ir: IR,
  options: RunOptions,
  hooks: TrainHooks,
  choice: BackendChoice,
  deps: TrainDeps = {},
): Promise<TrainResult & { trainer: Trainer; stepLosses: number[] }> {
  const started = performance.now();
  const tf = choice.tf;
  if (!ir.training) throw new CliError(`${ir.source.file} has no train section: nothing to run`, 1);
  const training = ir.training;
  const model: IRModel = ir.model;
  const seed = options.seed ?? training.seed;
  const epochs = options.epochs ?? training.epochs;
  const batchSize = training.batchSize;
  const classes = training.data.classes;
  const log = (m: string) => hooks.log?.(m);
  const signal = options.signal;

  const splits = deps.splits ?? (await loadSplits(training, options));
  const { train, validation, test } = splits;
  if (train.count === 0) throw new CliError("no training examples (check --train-limit and the validation split)", 2);

  const built = await buildModel(tf, model, seed);
  const trainer = new Trainer(tf, built, training, seed);
  const lossFn = makeLoss(tf, training.loss, classes);
  const optimizer = makeOptimizer(tf, training.optimizer);
  const lr0 = optimizer.lr;

  // Callbacks, in source order. reduce_on_plateau may be written as the schedule.
  const schedule = training.schedule;
  const callbackRefs = training.callbacks;
  const cbArgs = (r: IRRef) => r.args as Record<string, unknown>;
  const plateau = callbackRefs.filter((c) => c.kind === "reduce_on_plateau").map((c) => new ReduceLROnPlateau(cbArgs(c) as never));
  const stopping = callbackRefs.filter((c) => c.kind === "early_stopping").map((c) => new EarlyStopping(cbArgs(c) as never));
  const checkpoints = callbackRefs
    .filter((c) => c.kind === "checkpoint")
    .map((c) => ({ decider: new CheckpointDecider(cbArgs(c) as never), path: String(cbArgs(c).path ?? "checkpoint") }));
  const csvLoggers = callbackRefs
    .filter((c) => c.kind === "csv_logger")
    .map((c) => ({
      path: String(cbArgs(c).path ?? "log.csv"),
      sep: String(cbArgs(c).separator ?? ","),
      append: Boolean(cbArgs(c).append),
      header: null as string[] | null,
    }));
  const tensorboards = callbackRefs.filter((c) => c.kind === "tensorboard");
  const terminateOnNaN = callbackRefs.some((c) => c.kind === "terminate_on_nan");
  const tb =
    tensorboards.length > 0
      ? new KerasTensorBoard(
          join(options.outDir, String(cbArgs(tensorboards[0]!).dir ?? "logs")),
          (cbArgs(tensorboards[0]!).update_freq ?? "epoch") as TensorBoardUpdateFreq,
        )
      : null;

  const augment = training.data.augment ? makeAugmenter(training, seed) : undefined;

  const n = train.count;
  const stepsPerEpoch = training.stepsPerEpoch ?? Math.ceil(n / batchSize);
  hooks.onTrainBegin?.({ epochs, stepsPerEpoch, trainSamples: n, validationSamples: validation?.count ?? 0 });

  const files: string[] = [];
  const history: EpochLogs[] = [];
  const stepLosses: number[] = [];
  let lr = lr0; // reduce_on_plateau's current rate (scales the schedule)
  let step = 0;
  let stoppedEarly = false;
  let best: Map<string, Tensor> | null = null;
  let trainSeconds = 0;
  let samplesSeen = 0;
  const shuffleRng = new Random(hashSeed(seed, "shuffle"));
  const order = identity(n);
  let cursor = n; // position in `order`; reshuffle when exhausted
  // With `validation: test`, the last epoch's validation logs are the test logs (same weights).
  let lastValidation: Record<string, number> | null = null;

  try {
    epochLoop: for (let epoch = 0; epoch < epochs; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0;
      let seen = 0;
      const sums: Record<string, [number, number]> = {};
      lastValidation = null;
      for (let b = 0; b < stepsPerEpoch; b++) {
        if (signal?.aborted) throw abortError(signal);
        if (deps.maxSteps !== undefined && step >= deps.maxSteps) break epochLoop;
        if (cursor >= n) {
          if (training.data.shuffle) shuffleRng.shuffle(order);
          cursor = 0;
        }
        const to = Math.min(n, cursor + batchSize);
        const { x, y } = batchTensors(tf, train, order, cursor, to, training.data.exampleShape, training.labels, classes, augment);
        const bs = to - cursor;
        cursor = to;
        const stepLr = scheduledLearningRate(schedule as never, lr0, step) * (lr / lr0);
        let out: Tensor | null = null;
        const { value, grads } = tf.variableGrads(() => {
          const o = trainer.forward(x, true);
          out = tf.keep(o);
          const l = lossFn(y, o);
          const p = trainer.penalty();
          return (p ? l.add(p) : l) as tfTypes.Scalar;
        }, trainer.vars);
        optimizer.apply(
          trainer.vars,
          trainer.vars.map((v) => grads[v.name]!),
          stepLr,
        );
        const loss = (await value.data())[0]!;
        const batchMetrics = await metricSums(tf, training.metrics, training.labels, classes, y, out!, training.loss.kind === "binary_crossentropy");
        tf.dispose([x, y, value, out!, ...Object.values(grads)]);
        seen += bs;
        lossSum += loss * bs;
        stepLosses.push(loss);
        for (const [m, [s, c]] of Object.entries(batchMetrics)) {
          const acc = (sums[m] ??= [0, 0]);
          acc[0] += s;
          acc[1] += c;
        }
        // Keras semantics (and the standalone engine's): the epoch's running means so far.
        const batchLogs: { loss: number; accuracy?: number } = { loss: lossSum / seen };
        if (sums.accuracy) batchLogs.accuracy = sums.accuracy[0] / Math.max(1, sums.accuracy[1]);
        hooks.onBatchEnd?.(step, batchLogs); // 0-based global step
        if (tb) {
          const running: Record<string, number> = { loss: lossSum / seen };
          for (const [m, [s, c]] of Object.entries(sums)) running[m] = s / Math.max(1, c);
          tb.batch(running, stepLr);
        }
        step++;
        if (terminateOnNaN && shouldTerminateOnNaN(loss)) {
          log(`terminate_on_nan: batch ${b + 1} of epoch ${epoch + 1} has loss ${loss}; stopping`);
          stoppedEarly = true;
          trainSeconds += (performance.now() - epochStart) / 1000;
          samplesSeen += seen;
          break epochLoop;
        }
        // Let Ctrl-C handlers and progress output run between batches.
        await new Promise((r) => setImmediate(r));
      }
      trainSeconds += (performance.now() - epochStart) / 1000;
      samplesSeen += seen;

      const logs: EpochLogs = { loss: lossSum / Math.max(1, seen) };
      for (const [m, [s, c]] of Object.entries(sums)) logs[m] = c > 0 ? s / c : 0;
      if (validation && validation.count > 0) {
        lastValidation = await evaluate(trainer, validation, undefined, (done, total) => hooks.onEvaluate?.("validation", done, total));
        for (const [k, v] of Object.entries(lastValidation)) logs[`val_${k}`] = v;
      }
      logs.lr = scheduledLearningRate(schedule as never, lr0, Math.max(0, step - 1)) * (lr / lr0);
      history.push(logs);

      // Callback decisions, then the hook (so a checkpoint message precedes the epoch line's successors).
      for (const p of plateau) {
        const r = p.onEpochEnd(logs, lr);
        if (r.warning) log(r.warning);
        if (r.message) log(r.message);
        lr = r.lr;
      }
      for (const c of checkpoints) {
        const r = c.decider.onEpochEnd(logs);
        if (r.warning) log(r.warning);
        if (r.save) {
          if (r.message) log(r.message);
          const saved = await saveModel(
            built.model,
            join(options.outDir, c.path),
            metadata(ir, choice.backend, { epoch: epoch + 1, ...logs }),
          );
          for (const f of saved) if (!files.includes(`${c.path}/${f}`)) files.push(`${c.path}/${f}`);
        }
      }
      for (const c of csvLoggers) {
        const file = join(options.outDir, c.path);
        const keys = ["epoch", ...Object.keys(logs)];
        mkdirSync(dirname(file), { recursive: true });
        if (c.header === null) {
          c.header = keys;
          if (!(c.append && existsSync(file))) writeFileSync(file, keys.join(c.sep) + "\n");
        }
        appendFileSync(file, c.header.map((k) => (k === "epoch" ? String(epoch) : String(logs[k] ?? ""))).join(c.sep) + "\n");
        if (!files.includes(c.path)) files.push(c.path);
      }
      tb?.epoch(epoch, logs);
      hooks.onEpochEnd?.(epoch, logs);
      let stop = false;
      for (const s of stopping) {
        const d = s.onEpochEnd(epoch, logs);
        if (d.warning) log(d.warning);
        if (d.snapshot) {
          if (best) tf.dispose([...best.values()]);
          best = new Map(trainer.built.model.weights.map((w) => [w.originalName, tf.clone(w.read())]));
        }
        if (d.stop) {
          if (d.message) log(d.message);
          if (d.restore && best) {
            for (const w of trainer.built.model.weights) w.write(best.get(w.originalName)!);
            lastValidation = null;
          }
          stop = true;
        }
      }
      if (stop) {
        stoppedEarly = true;
        break;
      }
    }
  } catch (e) {
    optimizer.dispose();
    if (best) tf.dispose([...best.values()]);
    tb?.close();
    built.model.dispose();
    throw e;
  }
  optimizer.dispose();
  if (best) tf.dispose([...best.values()]);
  tb?.close();
  if (tb) files.push(...tb.paths.map((p) => relative(options.outDir, p)));

  let testLogs: Record<string, number> = { loss: NaN };
  if (!deps.noSave) {
    testLogs = validation === test && lastValidation ? lastValidation : await evaluate(trainer, test, undefined, (done, total) => hooks.onEvaluate?.("test", done, total));
    const saved = await saveModel(built.model, join(options.outDir, "model"), metadata(ir, choice.backend, { epochs: history.length }));
    files.push(...saved.map((f) => `model/${f}`));
  }
  const seconds = (performance.now() - started) / 1000;
  const { loss: testLoss, ...testMetrics } = testLogs;
  return {
    engine: "tfjs",
    backend: choice.backend,
    history,
    epochs: history.length,
    trainSamples: n,
    testLoss: testLoss!,
    testAccuracy: testMetrics.accuracy ?? NaN,
    testMetrics,
    seconds,
    samplesPerSecond: trainSeconds > 0 ? samplesSeen / trainSeconds : 0,
    stoppedEarly,
    files,
    trainer,
    stepLosses,
  };
}

/** Augmentation with src/runtime/data/augment.ts, from the run's own seeded stream. */
function makeAugmenter(training: IRTraining, seed: number): (x: Float32Array, n: number) => void {
  const cfg = training.data.augment!;
  const rng = new Random(hashSeed(seed, "augment"));
  const next = () => rng.next();
  const [h, w, c] = training.data.exampleShape.length === 3 ? training.data.exampleShape : [28, 28, 1];
  let dst = new Float32Array(0);
  return (x, n) => {
    if (dst.length < x.length) dst = new Float32Array(x.length);
    augmentBatch(x, dst, n, h!, w!, cfg, next, c);
    x.set(dst.subarray(0, x.length));
  };
}

