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
import {
  TFJS_ACTIVATIONS,
  activationOfLayer,
  activationRef,
  arg,
  boolArg,
  isPlainActivation,
  leakyAlpha,
  numArg,
  pairArg,
  paddingArg,
  regularizerFactors,
  tfjsInitializerCall,
} from "../../../runtime/engines/tfjs/layers.js";

export interface TfjsTargetOptions {
  /** The tfjs package the program imports. */
  package?: "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node" | "@tensorflow/tfjs";
}

const lit = (v: unknown): string => JSON.stringify(v);
const num = (v: number): string => (Number.isInteger(v) || Math.abs(v) >= 1e-3 ? String(v) : v.toExponential());
const ident = (id: string): string => id.replace(/[^A-Za-z0-9_$]/g, "_").replace(/^(\d)/, "_$1");

function comment(layer: IRLayer, file: string): string {
  return `// ${layer.source.text}   (${file}:${layer.source.line})`;
}

function initializerExpr(ref: unknown): string | null {
  if (ref === null || ref === undefined || typeof ref !== "object") return null;
  const { fn, args } = tfjsInitializerCall(ref as IRRef);
  return fn === "zeros" || fn === "ones" ? `tf.initializers.${fn}()` : `tf.initializers.${fn}(${objLit(args)})`;
}

function regularizerExpr(ref: unknown): string | null {
  if (ref === null || ref === undefined || typeof ref !== "object") return null;
  const { l1, l2 } = regularizerFactors(ref as IRRef);
  if (l1 > 0 && l2 > 0) return `tf.regularizers.l1l2({ l1: ${num(l1)}, l2: ${num(l2)} })`;
  if (l1 > 0) return `tf.regularizers.l1({ l1: ${num(l1)} })`;
  if (l2 > 0) return `tf.regularizers.l2({ l2: ${num(l2)} })`;
  return null;
}

function objLit(o: Record<string, unknown>): string {
  const parts = Object.entries(o)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}: ${typeof v === "string" && v.startsWith("tf.") ? v : typeof v === "number" ? num(v) : lit(v)}`);
  return `{ ${parts.join(", ")} }`;
}

/** Config entries with initializer/regularizer expressions (printed as code, not strings). */
function cfg(entries: [string, string | null][]): string {
  return `{ ${entries
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ")} }`;
}

/** The tf.layers call(s) for one IR layer: [expression applied to the input, separate activation?]. */
function layerExprs(layer: IRLayer): string[] {
  const a = layer.args as Record<string, unknown>;
  const name = lit(layer.id);
  const withAct = (build: (activation: string) => string): string[] => {
    const act = activationRef(a.activation);
    if (act === null) return [build('"linear"')];
    if (isPlainActivation(act)) return [build(lit(TFJS_ACTIVATIONS[act.kind]))];
    return [build('"linear"'), activationExpr(`${layer.id}_activation`, act)];
  };
  switch (layer.kind) {
    case "dense":
      return withAct(
        (activation) =>
          `tf.layers.dense(${cfg([
            ["name", name],
            ["units", String(numArg(a, ["units"], layer.outputShape.at(-1)!))],
            ["activation", activation],
            ["useBias", boolArg(a, ["use_bias"], true) ? null : "false"],
            ["kernelInitializer", initializerExpr(arg(a, ["kernel_initializer"]))],
            ["biasInitializer", initializerExpr(arg(a, ["bias_initializer"]))],
            ["kernelRegularizer", regularizerExpr(arg(a, ["kernel_regularizer"]))],
            ["biasRegularizer", regularizerExpr(arg(a, ["bias_regularizer"]))],
          ])})`,
      );
    case "conv2d": {
      const kernel = layer.weights.find((w) => w.role === "kernel")!;
      const strides = pairArg(a, ["strides"], [1, 1])!;
      return withAct(
        (activation) =>
          `tf.layers.conv2d(${cfg([
            ["name", name],
            ["filters", String(kernel.shape[3])],
            ["kernelSize", lit([kernel.shape[0], kernel.shape[1]])],
            ["strides", strides[0] === 1 && strides[1] === 1 ? null : lit(strides)],
            ["padding", lit(paddingArg(a))],
            ["activation", activation],
            ["useBias", boolArg(a, ["use_bias"], true) ? null : "false"],
            ["kernelInitializer", initializerExpr(arg(a, ["kernel_initializer"]))],
            ["biasInitializer", initializerExpr(arg(a, ["bias_initializer"]))],
            ["kernelRegularizer", regularizerExpr(arg(a, ["kernel_regularizer"]))],
            ["biasRegularizer", regularizerExpr(arg(a, ["bias_regularizer"]))],
          ])})`,
      );
    }
    case "max_pool":
    case "avg_pool": {
      const pool = pairArg(a, ["pool_size"], [2, 2])!;
      const strides = pairArg(a, ["strides"], pool)!;
      const fn = layer.kind === "max_pool" ? "maxPooling2d" : "averagePooling2d";
      return [
        `tf.layers.${fn}(${cfg([
          ["name", name],
          ["poolSize", lit(pool)],
          ["strides", lit(strides)],
          ["padding", lit(paddingArg(a))],
        ])})`,
      ];
    }
    case "flatten":
      return [`tf.layers.flatten({ name: ${name} })`];
    case "reshape":
      return [`tf.layers.reshape({ name: ${name}, targetShape: ${lit(layer.outputShape)} })`];
    case "dropout":
      return [`tf.layers.dropout({ name: ${name}, rate: ${num(numArg(a, ["rate"], 0.5))} })`];
    case "batch_norm":
      return [
        `tf.layers.batchNormalization(${cfg([
          ["name", name],
          ["momentum", num(numArg(a, ["momentum"], 0.99))],
          ["epsilon", num(numArg(a, ["epsilon"], 1e-3))],
          ["center", boolArg(a, ["center"], true) ? null : "false"],
          ["scale", boolArg(a, ["scale"], true) ? null : "false"],
        ])})`,
      ];
    case "leaky_relu":
      return [`tf.layers.leakyReLU({ name: ${name}, alpha: ${num(leakyAlpha(a))} })`];
    case "prelu":
      return [
        `tf.layers.prelu(${cfg([
          ["name", name],
          ["alphaInitializer", initializerExpr(arg(a, ["alpha_initializer"]))],
          ["alphaRegularizer", regularizerExpr(arg(a, ["alpha_regularizer"]))],
        ])})`,
      ];
    case "add":
      return [`tf.layers.add({ name: ${name} })`];
    case "concat":
      return [`tf.layers.concatenate({ name: ${name}, axis: ${numArg(a, ["axis"], -1)} })`];
    default: {
      const act = activationOfLayer(layer);
      if (act) return [activationExpr(layer.id, act)];
      throw new Error(`the tfjs target cannot emit layer kind "${layer.kind}" (${layer.id})`);
    }
  }
}

function activationExpr(name: string, act: IRRef): string {
  if (act.kind === "leaky_relu") return `tf.layers.leakyReLU({ name: ${lit(name)}, alpha: ${num(leakyAlpha(act.args))} })`;
  if (act.kind === "elu") {
    const alpha = numArg(act.args, ["alpha"], 1);
    return alpha === 1 ? `tf.layers.elu({ name: ${lit(name)} })` : `new ELU({ name: ${lit(name)}, alpha: ${num(alpha)} })`;
  }
  const tfName = TFJS_ACTIVATIONS[act.kind];
  if (!tfName) throw new Error(`the tfjs target has no activation "${act.kind}"`);
  return `tf.layers.activation({ name: ${lit(name)}, activation: ${lit(tfName)} })`;
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
    const exprs = layerExprs(layer);
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

function optimizerSource(ref: IRRef): { expr: string; extra: string } {
  const a = ref.args as Record<string, unknown>;
  const lr = numArg(a, ["lr"], ref.kind === "sgd" ? 0.01 : 0.001);
  const b1 = num(numArg(a, ["beta1"], 0.9));
  const b2 = num(numArg(a, ["beta2"], 0.999));
  const eps = num(numArg(a, ["epsilon"], 1e-7));
  switch (ref.kind) {
    case "sgd": {
      const m = numArg(a, ["momentum"], 0);
      return {
        expr: m > 0 ? `tf.train.momentum(${num(lr)}, ${num(m)}, ${boolArg(a, ["nesterov"], false)})` : `tf.train.sgd(${num(lr)})`,
        extra: "",
      };
    }
    case "adam":
      return { expr: `tf.train.adam(${num(lr)}, ${b1}, ${b2}, ${eps})`, extra: "" };
    case "adamax":
      return { expr: `tf.train.adamax(${num(lr)}, ${b1}, ${b2}, ${eps})`, extra: "" };
    case "rmsprop":
      return {
        expr: `tf.train.rmsprop(${num(lr)}, ${num(numArg(a, ["rho"], 0.9))}, ${num(numArg(a, ["momentum"], 0))}, ${eps}, ${boolArg(a, ["centered"], false)})`,
        extra: "",
      };
    case "adagrad":
      return { expr: `tf.train.adagrad(${num(lr)}, ${num(numArg(a, ["initial_accumulator_value"], 0.1))})`, extra: "" };
    case "adadelta":
      return { expr: `tf.train.adadelta(${num(lr)}, ${num(numArg(a, ["rho"], 0.95))}, ${eps})`, extra: "" };
    case "nadam":
      return { expr: `new Nadam(${num(lr)}, ${b1}, ${b2}, ${eps})`, extra: NADAM };
    default:
      throw new Error(`the tfjs target has no optimizer "${ref.kind}"`);
  }
}

/** Whether the model needs ELU with alpha != 1, which tfjs's ELU layer refuses. */
function usesEluAlpha(ir: IR): boolean {
  const isEluAlpha = (v: unknown) => {
    const r = activationRef(v);
    return r !== null && r.kind === "elu" && numArg(r.args, ["alpha"], 1) !== 1;
  };
  return ir.model.layers.some((l) => (l.kind === "elu" && numArg(l.args, ["alpha"], 1) !== 1) || isEluAlpha(l.args.activation));
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

function lossSource(ref: IRRef, classes: number): string {
  const a = ref.args as Record<string, unknown>;
  const fromLogits = boolArg(a, ["from_logits"], false);
  const smoothing = numArg(a, ["label_smoothing"], 0);
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
      return `(y: tf.Tensor, p: tf.Tensor) => tf.losses.huberLoss(y, p, undefined, ${num(numArg(a, ["delta"], 1))})`;
    default:
      throw new Error(`the tfjs target has no loss "${ref.kind}"`);
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
  let schedule = t.schedule;
  const callbacks = [...t.callbacks];
  if (schedule && schedule.kind === "reduce_on_plateau") {
    callbacks.unshift(schedule);
    schedule = null;
  }
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
  const baseLr = num(numArg(t.optimizer.args, ["lr"], 0.001));
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
/** Trains the model as \`nnc run ${ir.source.file} --engine tfjs\` does; returns the test ${t.metrics.length ? "loss and metrics" : "loss"}. */
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
  ${changesLr ? `let lr = ${num(numArg(t.optimizer.args, ["lr"], 0.001))}; // reduce_on_plateau's rate` : ""}
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
            ? `setLearningRate(optimizer, scheduledLearningRate(SCHEDULE, ${num(numArg(t.optimizer.args, ["lr"], 0.001))}, step) * (lr / ${num(numArg(t.optimizer.args, ["lr"], 0.001))}));`
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

const MAIN = `
/** \`--name value\` from the command line. */
function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
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
`;

/** Sweeps: `nnc run` trains every variant and then the best; this program trains one. */
function sweepNote(ir: IR): string {
  if (!ir.sweep) return "";
  const params = ir.sweep.parameters.map((p) => `${p.name} in ${JSON.stringify(p.values)}`).join(", ");
  const first = Object.entries(ir.sweep.variants[0]!.values)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
    .join(", ");
  return (
    `\n//\n// The file sweeps ${params}: \`nnc run\` trains each variant, picks the best on\n` +
    `// ${ir.sweep.monitor} and trains it; this program trains one variant, ${first}.`
  );
}

export async function generateTfjs(ir: IR, options: TfjsTargetOptions = {}): Promise<string> {
  const pkg = options.package ?? "@tensorflow/tfjs-node-gpu";
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
  const file = ir.source.file;
  const hasDropout = ir.model.layers.some((l) => l.kind === "dropout");
  const differences = [
    ...(hasDropout ? ["dropout masks come from TensorFlow.js's own random stream"] : []),
    t.optimizer.kind === "nadam"
      ? "Nadam (absent from tfjs) is written below as a tf.Optimizer"
      : `the ${t.optimizer.kind} update is tfjs's own (tf.train)`,
  ];
  const header = `// ${ir.model.name}: TensorFlow.js training program for \`model ${ir.model.name}\` of ${file},
// generated by nnc ${ir.nncVersion} (\`nnc compile ${file} --target tfjs\`; source sha256 ${ir.source.sha256.slice(0, 12)}).
//
// It builds the same model as \`nnc run ${file} --engine tfjs\` (same layer and weight names),
// starts from the same initial weights, reads${t.data.augment ? ", shuffles and augments" : " and shuffles"} the data in the same order
// and trains with the same settings. But ${differences.join(";\n// and ")};
// so its losses follow \`nnc run\`'s closely, not bit for bit.
//
// Run: npx tsx ${file.split("/").pop()!.replace(/\.nn$/, ".ts")} [--data DIR] [--epochs N] [--train-limit N] [--test-limit N] [--seed N] [--out DIR]
// It needs ${pkg}${pkg === "@tensorflow/tfjs-node-gpu" ? " (Linux x64, an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1)" : ""}.${sweepNote(ir)}`;
  const program = [
    header,
    `import * as tf from ${lit(pkg)};`,
    renderImports([...own, ...pieces.flatMap((p) => p.imports)]),
    usesEluAlpha(ir) ? ELU_CLASS : "",
    modelSource(ir),
    extra,
    trainCode,
    MAIN,
    `// ${"-".repeat(60)} copied from nnc's runtime (shared with \`nnc run\`)`,
    ...pieces.map((p) => `// ---- ${p.label}\n\n${p.code}`),
  ].join("\n\n");
  return prettier.format(program, { parser: "typescript", printWidth: 110 });
}
