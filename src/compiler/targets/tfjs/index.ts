// The tfjs target: IR -> a readable, prettier-formatted TypeScript program that builds the model
// with tf.layers (same layer and weight names as `nnc run --engine tfjs`), starts from the same
// initial weights (nnc's seeded initializers, copied in from src/runtime/random.ts), reads MNIST,
// shuffles and augments exactly as nnc does (src/runtime/data/*.ts, copied in), and trains with
// the same settings: tfjs's optimizers and model.trainOnBatch, plus nnc's schedules and callbacks
// (src/runtime/training/callbacks.ts, copied in). What differs from `nnc run --engine tfjs`, on
// purpose, so the program stays idiomatic tfjs: dropout masks come from tfjs's own random
// stream, and Adam/Adamax use tfjs's update (epsilon added to the bias-corrected sqrt(v)).
//
// The program imports only the chosen tfjs package and node:* modules.
import prettier from "prettier";
import type { IR, IRLayer, IRRef, IRTraining } from "../../ir.js";
import { embedRuntime, renderImports, type ModuleImport } from "../standalone/embed.js";
import { TFJS_FACTORY, kerasLayers, tfjsArgs, type KerasLayer } from "../keras.js";
import type { LossKind, OptimizerKind } from "../../catalog/kinds.js";

export interface TfjsTargetOptions {
  /** The tfjs package the program imports. */
  package?: "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node" | "@tensorflow/tfjs";
  /** The command that runs the written program (`node model.js`), for its header and --help; default `npx tsx <name>.ts`. */
  command?: string;
}

import { comment as lineComment, commentText, lit, programCommand } from "../code.js";
const num = (v: number): string => (Number.isInteger(v) || Math.abs(v) >= 1e-3 ? String(v) : v.toExponential());
const ident = (id: string): string => id.replace(/[^A-Za-z0-9_$]/g, "_").replace(/^(\d)/, "_$1");

function comment(layer: IRLayer, file: string): string {
  return lineComment(`${layer.source.text}   (${file}:${layer.source.line})`);
}

/** Keras config fields that tf.layers fills by itself the same way: left out of the printed call. */
const IMPLIED: Record<string, unknown> = { trainable: true, dtype: "float32", dataFormat: "channels_last", dilationRate: [1, 1], useBias: true };

/** A value of a tf.layers argument as source: initializers and regularizers as tf calls. */
function valueSource(v: unknown): string {
  if (v !== null && typeof v === "object" && !Array.isArray(v) && "className" in v) {
    const { className, config } = v as { className: string; config: Record<string, unknown> };
    const ns = className === "L1L2" ? "regularizers" : "initializers";
    const fn = className === "L1L2" ? "l1l2" : className[0]!.toLowerCase() + className.slice(1);
    return `tf.${ns}.${fn}(${fn === "zeros" || fn === "ones" ? "" : argsSource(config)})`;
  }
  if (typeof v === "number") return num(v);
  return lit(v);
}

function argsSource(args: Record<string, unknown>): string {
  const parts = Object.entries(args)
    .filter(([k, v]) => !(k in IMPLIED) || JSON.stringify(IMPLIED[k]) !== JSON.stringify(v))
    .map(([k, v]) => `${k}: ${valueSource(v)}`);
  return `{ ${parts.join(", ")} }`;
}

/** One Keras layer as a tf.layers call (ELU with alpha != 1 through the program's own ELU class). */
function kerasLayerSource(k: KerasLayer): string {
  const args = argsSource(tfjsArgs(k.config));
  if (k.className === "ELU" && k.config.alpha !== 1) return `new ELU(${args})`;
  return `tf.layers.${TFJS_FACTORY[k.className]}(${args})`;
}

function modelSource(ir: IR): string {
  const m = ir.model;
  const file = ir.source.file.split("/").pop()!;
  const lines: string[] = [];
  const names = new Map<string, string>();
  for (const layer of m.layers) {
    const v = ident(layer.id);
    names.set(layer.id, v);
    if (layer.kind === "input") {
      lines.push(`const ${v} = tf.input({ name: ${lit(layer.id)}, shape: ${lit(layer.outputShape)} });`);
      continue;
    }
    const ins = layer.inputs.map((i) => names.get(i)!);
    let x = ins.length === 1 ? ins[0]! : `[${ins.join(", ")}]`;
    const exprs = kerasLayers(layer).map(kerasLayerSource);
    lines.push(comment(layer, file));
    for (const e of exprs) x = `${e}.apply(${x})`;
    lines.push(`const ${v} = ${x} as tf.SymbolicTensor;`);
  }
  const weights = m.layers.flatMap((l) => l.weights.map((w) => ({ name: w.name, shape: w.shape, initializer: w.initializer })));
  return `
/** The model of \`model ${m.name}\`: layer names are nnc's, so weights are named \`<layer>/<role>\`. */
export function buildModel(): tf.LayersModel {
  ${lines.join("\n")}
  return tf.model({ name: ${lit(m.name)}, inputs: ${names.get(m.layers[0]!.id)}, outputs: ${names.get(m.outputs[0]!)} });
}

/** Every weight and the initializer nnc draws it from (Keras layouts). */
const WEIGHTS: WeightedModel = {
  layers: [{ weights: ${JSON.stringify(weights)} }],
};

/** Sets the initial weights nnc starts from for this seed (src/runtime/random.ts, bit-identical). */
export function setInitialWeights(model: tf.LayersModel, seed: number): void {
  const values = initialWeights(WEIGHTS, seed);
  for (const w of model.weights) {
    const t = tf.tensor(values.get(w.originalName)!, w.shape as number[]);
    w.write(t);
    t.dispose();
  }
}
`;
}

function optimizerSource(ref: IRRef<OptimizerKind>): { expr: string; extra: string } {
  const a = ref.args as Record<string, number & boolean>;
  const lr = a.lr;
  const adamArgs = () => `${num(lr)}, ${num(a.beta1)}, ${num(a.beta2)}, ${num(a.epsilon)}`;
  const eps = () => num(a.epsilon);
  switch (ref.kind) {
    case "sgd": {
      const m = a.momentum;
      return {
        expr: m > 0 ? `tf.train.momentum(${num(lr)}, ${num(m)}, ${a.nesterov})` : `tf.train.sgd(${num(lr)})`,
        extra: "",
      };
    }
    case "adam":
      return { expr: `tf.train.adam(${adamArgs()})`, extra: "" };
    case "adamax":
      return { expr: `tf.train.adamax(${adamArgs()})`, extra: "" };
    case "rmsprop":
      return {
        expr: `tf.train.rmsprop(${num(lr)}, ${num(a.rho)}, ${num(a.momentum)}, ${eps()}, ${a.centered})`,
        extra: "",
      };
    case "adagrad":
      return { expr: `tf.train.adagrad(${num(lr)}, ${num(a.initial_accumulator_value)})`, extra: "" };
    case "adadelta":
      return { expr: `tf.train.adadelta(${num(lr)}, ${num(a.rho)}, ${eps()})`, extra: "" };
    case "nadam":
      return { expr: `new Nadam(${adamArgs()})`, extra: NADAM };
    case "adamw":
      return { expr: `new AdamW(${adamArgs()}, ${num(a.weight_decay)})`, extra: ADAMW };
    default: {
      const missing: never = ref.kind; // a catalog optimizer this target cannot print fails the typecheck
      throw new Error(`internal: the tfjs target has no optimizer "${String(missing)}"`);
    }
  }
}

/** Whether the model needs ELU with alpha != 1, which tfjs's ELU layer refuses. */
function usesEluAlpha(ir: IR): boolean {
  return ir.model.layers.some((l) => kerasLayers(l).some((k) => k.className === "ELU" && k.config.alpha !== 1));
}

const ELU_CLASS = `
/** ELU with any alpha (tfjs's own ELU layer accepts only alpha 1); saved as Keras's "ELU". */
class ELU extends tf.layers.Layer {
  static className = "ELU";
  readonly alpha: number;

  constructor(args: { name?: string; alpha: number }) {
    super(args);
    this.alpha = args.alpha;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    // relu(x) + alpha * (exp(min(x, 0)) - 1)
    return tf.tidy(() => tf.add(tf.relu(x), tf.mul(this.alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1))));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}
tf.serialization.registerClass(ELU);
`;

const ADAMW = `
/** AdamW (Keras's update rule: decoupled weight decay, then Adam), which TensorFlow.js does not provide. */
class AdamW extends tf.Optimizer {
  static className = "AdamW";
  private step = 0;
  private readonly slots = new Map<string, [tf.Variable, tf.Variable]>();

  constructor(
    public learningRate: number,
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly epsilon: number,
    private readonly weightDecay: number,
  ) {
    super();
  }

  applyGradients(gradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const list = Array.isArray(gradients) ? gradients : Object.entries(gradients).map(([name, tensor]) => ({ name, tensor }));
    this.step++;
    const t = this.step;
    // Keras: alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); w -= alpha * m / (sqrt(v) + eps)
    const alpha = (this.learningRate * Math.sqrt(1 - Math.pow(this.beta2, t))) / (1 - Math.pow(this.beta1, t));
    tf.tidy(() => {
      for (const { name, tensor: g } of list) {
        const w = tf.engine().registeredVariables[name]!;
        let s = this.slots.get(name);
        if (!s) {
          s = [tf.variable(tf.zerosLike(w), false), tf.variable(tf.zerosLike(w), false)];
          this.slots.set(name, s);
        }
        const [m, v] = s;
        w.assign(w.sub(w.mul(this.learningRate * this.weightDecay))); // decoupled weight decay
        m.assign(m.add(g.sub(m).mul(1 - this.beta1)));
        v.assign(v.add(g.square().sub(v).mul(1 - this.beta2)));
        w.assign(w.sub(m.mul(alpha).div(v.sqrt().add(this.epsilon))));
      }
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay };
  }
}
`;

const NADAM = `
/** Nadam (Keras 3's update rule), which TensorFlow.js does not provide. */
class Nadam extends tf.Optimizer {
  static className = "Nadam";
  private step = 0;
  private uProduct = 1;
  private readonly slots = new Map<string, [tf.Variable, tf.Variable]>();

  constructor(
    public learningRate: number,
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly epsilon: number,
  ) {
    super();
  }

  applyGradients(gradients: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const list = Array.isArray(gradients) ? gradients : Object.entries(gradients).map(([name, tensor]) => ({ name, tensor }));
    this.step++;
    const t = this.step;
    const uT = this.beta1 * (1 - 0.5 * Math.pow(0.96, 0.004 * t));
    const uT1 = this.beta1 * (1 - 0.5 * Math.pow(0.96, 0.004 * (t + 1)));
    const uProductT = this.uProduct * uT;
    this.uProduct = uProductT;
    const uProductT1 = uProductT * uT1;
    const beta2Power = Math.pow(this.beta2, t);
    tf.tidy(() => {
      for (const { name, tensor: g } of list) {
        const v = tf.engine().registeredVariables[name]!;
        let s = this.slots.get(name);
        if (!s) {
          s = [tf.variable(tf.zerosLike(v), false), tf.variable(tf.zerosLike(v), false)];
          this.slots.set(name, s);
        }
        const [m, u] = s;
        m.assign(m.add(g.sub(m).mul(1 - this.beta1)));
        u.assign(u.add(g.square().sub(u).mul(1 - this.beta2)));
        const mHat = m.mul(uT1 / (1 - uProductT1)).add(g.mul((1 - uT) / (1 - uProductT)));
        const vHat = u.div(1 - beta2Power);
        v.assign(v.sub(mHat.mul(this.learningRate).div(vHat.sqrt().add(this.epsilon))));
      }
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
`;

function lossSource(ref: IRRef<LossKind>, classes: number): string {
  const a = ref.args as Record<string, number & boolean>;
  const fromLogits = a.from_logits === true;
  const smoothing = a.label_smoothing ?? 0;
  switch (ref.kind) {
    case "categorical_crossentropy":
      if (fromLogits || smoothing > 0) {
        return `(y: tf.Tensor, p: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, ${fromLogits ? "p" : "p.clipByValue(1e-7, 1 - 1e-7).log()"}, undefined, ${num(smoothing)})`;
      }
      return `"categoricalCrossentropy"`;
    case "sparse_categorical_crossentropy":
      if (fromLogits)
        return `(y: tf.Tensor, p: tf.Tensor) => tf.losses.softmaxCrossEntropy(tf.oneHot(y.reshape([-1]).toInt(), ${classes}), p)`;
      return `"sparseCategoricalCrossentropy"`;
    case "binary_crossentropy":
      if (fromLogits || smoothing > 0) {
        return `(y: tf.Tensor, p: tf.Tensor) => tf.losses.sigmoidCrossEntropy(y, ${fromLogits ? "p" : "p.clipByValue(1e-7, 1 - 1e-7).div(tf.sub(1, p.clipByValue(1e-7, 1 - 1e-7))).log()"}, undefined, ${num(smoothing)})`;
      }
      return `"binaryCrossentropy"`;
    case "mse":
      return `"meanSquaredError"`;
    case "mae":
      return `"meanAbsoluteError"`;
    case "huber":
      return `(y: tf.Tensor, p: tf.Tensor) => tf.losses.huberLoss(y, p, undefined, ${num(a.delta)})`;
    default: {
      const missing: never = ref.kind;
      throw new Error(`internal: the tfjs target has no loss "${String(missing)}"`);
    }
  }
}

/** Callback configs as literals, in the shape callbacks.ts's classes take. */
function callbackArgs(ref: IRRef): string {
  const keys: Record<string, string[]> = {
    reduce_on_plateau: ["monitor", "factor", "patience", "min_delta", "cooldown", "min_lr", "mode"],
    early_stopping: ["monitor", "patience", "min_delta", "mode", "restore_best"],
    checkpoint: ["monitor", "save_best_only", "mode"],
  };
  const a = ref.args as Record<string, unknown>;
  return lit(Object.fromEntries((keys[ref.kind] ?? Object.keys(a)).map((k) => [k, a[k]])));
}

function trainSource(ir: IR, t: IRTraining): { code: string; embeds: Record<string, string[]>; extra: string } {
  const embeds: Record<string, string[]> = { "random.ts": ["Random", "hashSeed"], "data/mnist.ts": ["loadMnist", "writeFileAtomic"] };
  const addEmbed = (mod: string, name: string) => (embeds[mod] ??= []).push(name);
  const opt = optimizerSource(t.optimizer);
  const schedule = t.schedule;
  const callbacks = t.callbacks;
  const plateau = callbacks.filter((c) => c.kind === "reduce_on_plateau");
  const stopping = callbacks.filter((c) => c.kind === "early_stopping");
  const checkpoints = callbacks.filter((c) => c.kind === "checkpoint");
  const csv = callbacks.filter((c) => c.kind === "csv_logger");
  const nan = callbacks.some((c) => c.kind === "terminate_on_nan");
  const tensorboard = callbacks.filter((c) => c.kind === "tensorboard");
  const changesLr = schedule !== null || plateau.length > 0;
  if (schedule) addEmbed("training/callbacks.ts", "scheduledLearningRate");
  if (plateau.length) addEmbed("training/callbacks.ts", "ReduceLROnPlateau");
  if (stopping.length) addEmbed("training/callbacks.ts", "EarlyStopping");
  if (checkpoints.length) addEmbed("training/callbacks.ts", "CheckpointDecider");
  if (nan) addEmbed("training/callbacks.ts", "shouldTerminateOnNaN");
  if (t.data.augment) addEmbed("data/augment.ts", "augmentBatch");
  if (tensorboard.length) addEmbed("tensorboard.ts", "KerasTensorBoard");
  embeds["random.ts"]!.push("initialWeights", "WeightedModel");

  const metricNames = ["loss", ...t.metrics];
  // The learning rate of the last step (for TensorBoard's learning_rate).
  const baseLr = num(t.optimizer.args.lr as number);
  const lrNow = schedule ? `scheduledLearningRate(SCHEDULE, ${baseLr}, Math.max(0, step - 1)) * (lr / ${baseLr})` : changesLr ? "lr" : baseLr;
  const sparse = t.labels === "sparse";
  const [h, w, c] = t.data.exampleShape.length === 3 ? t.data.exampleShape : [28, 28, 1];
  const validation = t.data.validation;
  const code = `
/** The training settings of \`train ${ir.model.name}\` (command-line flags override some). */
export interface Settings {
  seed: number;
  epochs: number;
  /** Keep only the first N training / test examples. */
  trainLimit?: number;
  testLimit?: number;
  /** Where the MNIST idx files are (else $NNC_DATA, the cache, ../shared/data, then download). */
  data?: string;
  /** The run directory: the trained model goes to \`\${outDir}/model/\`. */
  outDir: string;
}

export const SETTINGS: Settings = { seed: ${t.seed}, epochs: ${t.epochs}, outDir: ${lit(`runs/${ir.model.name}-tfjs`)} };
const BATCH_SIZE = ${t.batchSize};
const CLASSES = ${t.data.classes};
const INPUT_SHAPE = ${lit(t.data.exampleShape)};
const METRICS = ${lit(t.metrics)};
${schedule ? `const SCHEDULE = ${lit(schedule)};` : ""}
${t.data.augment ? `const AUGMENT: AugmentConfig = ${lit(t.data.augment)};` : ""}

interface Examples {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** One batch: the examples order[from..to) as tensors${t.data.augment ? ", augmented" : ""}. */
function batch(d: Examples, order: ArrayLike<number>, from: number, to: number${t.data.augment ? ", rng?: () => number" : ""}): { x: tf.Tensor; y: tf.Tensor } {
  const n = to - from;
  const size = ${h! * w! * c!};
  ${t.data.augment ? "let" : "const"} xs = new Float32Array(n * size);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = order[from + i]!;
    xs.set(d.images.subarray(k * size, (k + 1) * size), i * size);
    labels[i] = d.labels[k]!;
  }
  ${
    t.data.augment
      ? `if (rng) {
    const out = new Float32Array(xs.length);
    augmentBatch(xs, out, n, ${h}, ${w}, AUGMENT, rng, ${c});
    xs = out;
  }`
      : ""
  }
  const x = tf.tensor(xs, [n, ...INPUT_SHAPE]);
  const y = ${sparse ? "tf.tensor(Float32Array.from(labels), [n, 1])" : `tf.oneHot(tf.tensor1d(labels, "int32"), CLASSES, 1, 0, "float32")`};
  return { x, y };
}

/** Loss${t.metrics.length ? " and metrics" : ""} of a data set, in inference mode. */
async function evaluate(model: tf.LayersModel, d: Examples): Promise<Record<string, number>> {
  const order = Array.from({ length: d.count }, (_, i) => i);
  const { x, y } = batch(d, order, 0, d.count);
  const results = model.evaluate(x, y, { batchSize: 500 });
  const values = await Promise.all((Array.isArray(results) ? results : [results]).map((r) => r.data()));
  tf.dispose([x, y, results]);
  return Object.fromEntries(${lit(metricNames)}.map((name, i) => [name, values[i]![0]!]));
}

/** Saves the model in TensorFlow.js layers format (model.json + weights.bin), each file written atomically. */
async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      mkdirSync(dir, { recursive: true });
      const weights = Buffer.from(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
      writeFileAtomic(join(dir, "weights.bin"), weights);
      const json = {
        format: "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
        userDefinedMetadata: { sourceFile: ${lit(ir.source.file)}, sourceSha256: ${lit(ir.source.sha256)}, nncVersion: ${lit(ir.nncVersion)} },
      };
      writeFileAtomic(join(dir, "model.json"), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: weights.byteLength } };
    }),
  );
}
${
  changesLr
    ? `
/** tfjs optimizers read \`learningRate\` at every step; SGD and momentum keep it as a tensor. */
function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (o.setLearningRate) o.setLearningRate(lr);
  else o.learningRate = lr;
}
`
    : ""
}
/** Trains the model as \`nnc run ${commentText(ir.source.file)} --engine tfjs\` does; returns the test ${t.metrics.length ? "loss and metrics" : "loss"}. */
export async function train(settings: Settings = SETTINGS): Promise<Record<string, number>> {
  const dataset = ${lit(t.data.dataset)};
  const all = await loadMnist({ dataset, split: "train", dataDir: settings.data, limit: settings.trainLimit });
  const test = await loadMnist({ dataset, split: "test", dataDir: settings.data, limit: settings.testLimit });
  ${
    validation.kind === "split"
      ? `// validation_split: the last ${validation.fraction} of the training examples, as Keras takes them.
  const splitAt = Math.floor(all.count * (1 - ${validation.fraction}));
  const size = all.rows * all.cols;
  const trainSet: Examples = { images: all.images.subarray(0, splitAt * size), labels: all.labels.subarray(0, splitAt), count: splitAt };
  const validationSet: Examples | null = { images: all.images.subarray(splitAt * size), labels: all.labels.subarray(splitAt), count: all.count - splitAt };`
      : validation.kind === "test"
        ? `const trainSet: Examples = all;
  const validationSet: Examples | null = test;`
        : `const trainSet: Examples = all;
  const validationSet: Examples | null = null;`
  }

  const model = buildModel();
  setInitialWeights(model, settings.seed);
  const optimizer = ${opt.expr};
  model.compile({ optimizer, loss: ${lossSource(t.loss, t.data.classes)}, metrics: METRICS });
  ${plateau.map((p, i) => `const plateau${i} = new ReduceLROnPlateau(${callbackArgs(p)});`).join("\n")}
  ${stopping.map((p, i) => `const stopping${i} = new EarlyStopping(${callbackArgs(p)});`).join("\n")}
  ${checkpoints.map((p, i) => `const checkpoint${i} = new CheckpointDecider(${callbackArgs(p)});`).join("\n")}
  ${stopping.some((s) => (s.args as Record<string, unknown>).restore_best) ? "let best: tf.Tensor[] | null = null;" : ""}
  ${tensorboard.length ? `const board = new KerasTensorBoard(join(settings.outDir, ${lit((tensorboard[0]!.args as Record<string, unknown>).dir ?? "logs")}), ${lit((tensorboard[0]!.args as Record<string, unknown>).update_freq ?? "epoch")});` : ""}
  ${csv.map((p, i) => `const csv${i} = join(settings.outDir, ${lit((p.args as Record<string, unknown>).path ?? "log.csv")});`).join("\n")}

  const n = trainSet.count;
  const steps = ${t.stepsPerEpoch ?? "Math.ceil(n / BATCH_SIZE)"};
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const shuffleRng = new Random(hashSeed(settings.seed, "shuffle"));
  ${t.data.augment ? `const augmentRng = new Random(hashSeed(settings.seed, "augment"));` : ""}
  ${changesLr ? `let lr = ${num(t.optimizer.args.lr as number)}; // reduce_on_plateau's rate` : ""}
  let cursor = n;
  ${schedule ? "let step = 0; // optimizer steps taken, for the schedule" : ""}
  training: for (let epoch = 0; epoch < settings.epochs; epoch++) {
    const started = Date.now();
    const sums: Record<string, number> = {};
    let seen = 0;
    for (let b = 0; b < steps; b++) {
      if (cursor >= n) {
        ${t.data.shuffle ? "shuffleRng.shuffle(order);" : ""}
        cursor = 0;
      }
      const to = Math.min(n, cursor + BATCH_SIZE);
      const { x, y } = batch(trainSet, order, cursor, to${t.data.augment ? ", () => augmentRng.next()" : ""});
      ${
        changesLr
          ? schedule
            ? `setLearningRate(optimizer, scheduledLearningRate(SCHEDULE, ${num(t.optimizer.args.lr as number)}, step) * (lr / ${num(t.optimizer.args.lr as number)}));`
            : "setLearningRate(optimizer, lr);"
          : ""
      }
      const result = await model.trainOnBatch(x, y);
      const values = Array.isArray(result) ? result : [result];
      tf.dispose([x, y]);
      ${lit(metricNames)}.forEach((name, i) => (sums[name] = (sums[name] ?? 0) + values[i]! * (to - cursor)));
      seen += to - cursor;
      cursor = to;
      ${schedule ? "step++;" : ""}
      ${tensorboard.length ? `board.batch(Object.fromEntries(Object.entries(sums).map(([name, sum]) => [name, sum / seen])), ${lrNow});` : ""}
      ${
        nan
          ? `if (shouldTerminateOnNaN(values[0]!)) {
        console.log(\`terminate_on_nan: batch \${b + 1} of epoch \${epoch + 1} has loss \${values[0]}; stopping\`);
        break training;
      }`
          : ""
      }
    }
    const logs: Record<string, number> = {};
    for (const [name, sum] of Object.entries(sums)) logs[name] = sum / seen;
    if (validationSet) for (const [name, value] of Object.entries(await evaluate(model, validationSet))) logs[\`val_\${name}\`] = value;
    console.log(
      \`epoch \${epoch + 1}/\${settings.epochs}: \` +
        Object.entries(logs).map(([k, v]) => \`\${k} \${v.toFixed(4)}\`).join(", ") +
        \` (\${((Date.now() - started) / 1000).toFixed(1)} s)\`,
    );
    ${tensorboard.length ? `board.epoch(epoch, { ...logs, lr: ${lrNow} });` : ""}
    ${plateau
      .map(
        (_, i) => `{
      const r = plateau${i}.onEpochEnd(logs, lr);
      if (r.message) console.log(r.message);
      lr = r.lr;
    }`,
      )
      .join("\n")}
    ${checkpoints
      .map(
        (p, i) => `{
      const r = checkpoint${i}.onEpochEnd(logs);
      if (r.save) {
        if (r.message) console.log(r.message);
        await saveModel(model, join(settings.outDir, ${lit((p.args as Record<string, unknown>).path ?? "checkpoint")}));
      }
    }`,
      )
      .join("\n")}
    ${csv
      .map(
        (p, i) => `{
      const sep = ${lit((p.args as Record<string, unknown>).separator ?? ",")};
      mkdirSync(dirname(csv${i}), { recursive: true });
      if (epoch === 0${(p.args as Record<string, unknown>).append ? ` && !existsSync(csv${i})` : ""}) writeFileSync(csv${i}, ["epoch", ...Object.keys(logs)].join(sep) + "\\n");
      appendFileSync(csv${i}, [epoch, ...Object.values(logs)].join(sep) + "\\n");
    }`,
      )
      .join("\n")}
    ${stopping
      .map((s, i) => {
        const restore = Boolean((s.args as Record<string, unknown>).restore_best);
        return `{
      const d = stopping${i}.onEpochEnd(epoch, logs);
      ${
        restore
          ? `if (d.snapshot) {
        if (best) tf.dispose(best);
        best = model.getWeights().map((w) => w.clone());
      }`
          : ""
      }
      if (d.stop) {
        if (d.message) console.log(d.message);
        ${restore ? "if (d.restore && best) model.setWeights(best);" : ""}
        break training;
      }
    }`;
      })
      .join("\n")}
  }

  ${tensorboard.length ? "board.close();" : ""}
  const result = await evaluate(model, test);
  console.log("test: " + Object.entries(result).map(([k, v]) => \`\${k} \${v.toFixed(4)}\`).join(", "));
  await saveModel(model, join(settings.outDir, "model"));
  return result;
}
`;
  return { code, embeds, extra: opt.extra };
}

const MAIN = (usage: string) => `
/** \`--name value\` from the command line. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The command line: \`${usage}\`. */
async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(${lit(`usage: ${usage}`)});
    return;
  }
  const limit = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  await train({
    seed: Number(flag("--seed") ?? SETTINGS.seed),
    epochs: Number(flag("--epochs") ?? SETTINGS.epochs),
    trainLimit: limit(flag("--train-limit")),
    testLimit: limit(flag("--test-limit")),
    data: flag("--data"),
    outDir: flag("--out") ?? SETTINGS.outDir,
  });
}

// Last in the file, so that every class and constant above is initialised before it runs.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
`;

/** Sweeps: `nnc run` trains every variant and then the best; this program trains one. */
function sweepNote(ir: IR): string {
  if (!ir.sweep) return "";
  const params = commentText(ir.sweep.parameters.map((p) => `${p.name} in ${JSON.stringify(p.values)}`).join(", "));
  const first = commentText(
    Object.entries(ir.sweep.variants[0]!.values)
      .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
      .join(", "),
  );
  return (
    `\n//\n// The file sweeps ${params}: \`nnc run\` trains each variant, picks the best on\n` +
    `// ${ir.sweep.monitor} and trains it; this program trains one variant, ${first}.`
  );
}

export async function generateTfjs(ir: IR, options: TfjsTargetOptions = {}): Promise<string> {
  const pkg = options.package ?? "@tensorflow/tfjs";
  if (!ir.training) throw new Error(`${ir.source.file} has no train section: the tfjs target emits a training program`);
  const t = ir.training;
  const { code: trainCode, embeds, extra } = trainSource(ir, t);
  if (t.data.augment) (embeds["data/augment.ts"] ??= []).push("AugmentConfig");
  const pieces: { label: string; code: string; imports: ModuleImport[] }[] = [];
  for (const [mod, names] of Object.entries(embeds)) {
    const e = embedRuntime(mod, names);
    pieces.push({ label: `src/runtime/${mod}`, code: e.code, imports: e.imports });
  }
  const own: ModuleImport[] = [
    {
      from: "node:fs",
      named: new Map(
        ["mkdirSync", ...(t.callbacks.some((c) => c.kind === "csv_logger") ? ["appendFileSync", "existsSync", "writeFileSync"] : [])].map(
          (n) => [n, n],
        ),
      ),
      namespace: null,
      defaultName: null,
    },
    {
      from: "node:path",
      named: new Map(["join", ...(t.callbacks.some((c) => c.kind === "csv_logger") ? ["dirname"] : [])].map((n) => [n, n])),
      namespace: null,
      defaultName: null,
    },
    { from: "node:url", named: new Map([["pathToFileURL", "pathToFileURL"]]), namespace: null, defaultName: null },
  ];
  const file = commentText(ir.source.file);
  const hasDropout = ir.model.layers.some((l) => l.kind === "dropout");
  const differences = [
    ...(hasDropout ? ["dropout masks come from TensorFlow.js's own random stream"] : []),
    t.optimizer.kind === "nadam"
      ? "Nadam (absent from tfjs) is written below as a tf.Optimizer"
      : `the ${t.optimizer.kind} update is tfjs's own (tf.train)`,
  ];
  const usage = `${commentText(programCommand(ir.source.file, options.command))} [--data DIR] [--epochs N] [--train-limit N] [--test-limit N] [--seed N] [--out DIR]`;
  const header = `// ${ir.model.name}: TensorFlow.js training program for \`model ${ir.model.name}\` of ${file},
// generated by nnc ${ir.nncVersion} (\`nnc compile ${file} --target tfjs\`; source sha256 ${ir.source.sha256.slice(0, 12)}).
//
// It builds the same model as \`nnc run ${file} --engine tfjs\` (same layer and weight names),
// starts from the same initial weights, reads${t.data.augment ? ", shuffles and augments" : " and shuffles"} the data in the same order
// and trains with the same settings. But ${differences.join(";\n// and ")};
// so its losses follow \`nnc run\`'s closely, not bit for bit.
//
// Run: ${usage}
// It needs ${pkg}${pkg === "@tensorflow/tfjs-node-gpu" ? " (Linux x64, an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1)" : ""}.${sweepNote(ir)}`;
  const program = [
    header,
    `import * as tf from ${lit(pkg)};`,
    renderImports([...own, ...pieces.flatMap((p) => p.imports)]),
    usesEluAlpha(ir) ? ELU_CLASS : "",
    modelSource(ir),
    extra,
    trainCode,
    `// ${"-".repeat(60)} copied from nnc's runtime (shared with \`nnc run\`)`,
    ...pieces.map((p) => `// ---- ${p.label}\n\n${p.code}`),
    MAIN(usage),
  ].join("\n\n");
  return prettier.format(program, { parser: "typescript", printWidth: 110 });
}
