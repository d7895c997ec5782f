// The IR: the contract between the front end and every back end.
// Plain JSON, fully resolved: every default filled in, every shape known, every name resolved
// to a catalog entry. Described by src/compiler/ir.schema.json (checked with ajv in tests).
// Printed by `nnc compile FILE --emit ir`.

import type { Ref } from "./catalog/schema.js";
import type { ActivationKind, CallbackKind, InitializerKind, RegularizerKind, LayerArgs, LayerKind, LossKind, MetricKind, OptimizerKind, ScheduleKind } from "./catalog/kinds.js";
import { lookup } from "./catalog/index.js";

export type { LayerKind } from "./catalog/kinds.js";

/** A resolved reference to a catalog entry with all its arguments, e.g. {kind: "l2", args: {l2: 1e-4}}. */
export type IRRef<K extends string = string> = Ref<K>;

export type IRValue = number | string | boolean | null | IRValue[] | { [key: string]: IRValue };

/** Where a layer came from in the .nn source (for comments in generated code and for diagnostics). */
export interface IRSource {
  line: number;
  column: number;
  /** The trimmed text of that source line. */
  text: string;
  /**
   * For a layer made inside a block or a loop: the expansions it came out of, outermost first
   * (absent for a layer written directly in the model body).
   */
  via?: IRExpansion[];
}

/**
 * One level of expansion: a block call (the line of the call, its arguments as written values),
 * or one pass of a `for` (the loop variable's value) or of a `repeat`; `pass` counts from 1.
 */
export type IRExpansion =
  | { kind: "block"; name: string; line: number; args: Record<string, string> }
  | { kind: "for"; line: number; variable: string; value: string; pass: number; passes: number }
  | { kind: "repeat"; line: number; pass: number; passes: number };

/** "1st", "2nd", "3rd", "11th", ... */
function ordinal(k: number): string {
  const tens = k % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : (["th", "st", "nd", "rd"][k % 10] ?? "th");
  return `${k}${suffix}`;
}

/**
 * Where a layer came from, in words, for comments in generated code: its line's text with the
 * block parameters and loop variables it uses shown with their values, then the expansions,
 * innermost first, e.g. `dense(units = 1024) (line 4): hidden (line 14), 1st pass of the for at line 13`.
 */
export function describeSource(source: IRSource): string {
  const via = source.via ?? [];
  const values = new Map<string, string>();
  for (const e of via) {
    if (e.kind === "block") for (const [k, v] of Object.entries(e.args)) values.set(k, v);
    else if (e.kind === "for") values.set(e.variable, e.value);
  }
  // A name used as a value (not an argument name `x:`, a call `f(` or an object key) shows its value.
  const text = values.size === 0 ? source.text : source.text.replace(/\b[A-Za-z_][A-Za-z0-9_]*\b(?!\s*[:(])/g, (name) => (values.has(name) ? `${name} = ${values.get(name)}` : name));
  const where = [...via].reverse().map((e) => {
    if (e.kind === "block") return `${e.name} (line ${e.line})`;
    return `${ordinal(e.pass)} pass of the ${e.kind} at line ${e.line}`;
  });
  return `${text} (line ${source.line})${where.length ? `: ${where.join(", ")}` : ""}`;
}

export interface IRWeight {
  /** The TensorFlow.js weight name, `${layer.id}/${role}`, e.g. "dense_1/kernel". */
  name: string;
  role: "kernel" | "bias" | "gamma" | "beta" | "moving_mean" | "moving_variance" | "alpha";
  /** Keras/tfjs layout: dense kernel [in, out]; conv2d kernel [kh, kw, inC, outC]. */
  shape: number[];
  initializer: IRRef<InitializerKind>;
  regularizer: IRRef<RegularizerKind> | null;
  trainable: boolean;
}

/**
 * A layer of kind K, with K's resolved arguments (`IRLayerOf<"dense">["args"]["units"]` is a
 * number). For a union of kinds it is the union of those layers.
 */
export type IRLayerOf<K extends LayerKind> = K extends LayerKind ? IRLayerWith<K> : never;

interface IRLayerWith<K extends LayerKind> {
  /** Unique, deterministic; also the tfjs layer name. `${kind}_${n}` (n counts from 1 per kind) unless the user named it. */
  id: string;
  /** The catalog layer name: "input", "dense", "conv2d", "max_pool", ... */
  kind: K;
  /** Ids of the layers whose outputs feed this one (empty for the input layer). */
  inputs: string[];
  /**
   * Every catalog parameter of the layer, defaults filled. Activations, initializers and
   * regularizers are IRRef (or null); e.g. dense: {units, activation, use_bias, kernel_initializer,
   * bias_initializer, kernel_regularizer, bias_regularizer}.
   */
  args: LayerArgs<K>;
  /** Shapes without the batch dimension. */
  inputShapes: number[][];
  outputShape: number[];
  weights: IRWeight[];
  /** Number of scalar weights (trainable and not). */
  params: number;
  /** Forward multiply-adds counted as 2 FLOPs, per sample. */
  flops: number;
  source: IRSource;
}

/** Any layer: a union discriminated by `kind`, so `switch (layer.kind)` narrows its arguments. */
export type IRLayer = IRLayerOf<LayerKind>;

export interface IRModel {
  name: string;
  /** Shape without the batch dimension, e.g. [28, 28, 1]. */
  inputShape: number[];
  /** Topological order; layers[0] is the input layer (kind "input"). */
  layers: IRLayer[];
  /** Ids of the output layers (exactly one for now). */
  outputs: string[];
  params: { total: number; trainable: number; nonTrainable: number };
  flops: number;
}

export interface IRAugment {
  /** Degrees, uniform in [-rotation, rotation]. */
  rotation: number;
  /** Fractions of the width/height, uniform in [-x, x]. */
  widthShift: number;
  heightShift: number;
  /** Zoom factor uniform in [1 - zoom, 1 + zoom]. */
  zoom: number;
  /** Shear angle in degrees, uniform in [-shear, shear] (Keras semantics). */
  shear: number;
  fill: "nearest" | "constant" | "reflect" | "wrap";
  /** Fill value for fill: constant. */
  cval: number;
}

export interface IRData {
  dataset: "mnist" | "fashion_mnist";
  classes: number;
  /** Shape of one example as the model sees it (matches model.inputShape), e.g. [28, 28, 1] or [784]. */
  exampleShape: number[];
  /** Pixels are scaled to [0, 1]. */
  validation: { kind: "split"; fraction: number } | { kind: "test" } | { kind: "none" };
  augment: IRAugment | null;
  shuffle: boolean;
}

export interface IRTraining {
  data: IRData;
  /** "onehot" for categorical losses/mse/..., "sparse" for sparse_categorical_crossentropy. */
  labels: "onehot" | "sparse";
  loss: IRRef<LossKind>;
  /** The optimizer with Keras's defaults filled, e.g. {kind: "sgd", args: {lr: 0.01, momentum: 0, nesterov: false}}. */
  optimizer: IRRef<OptimizerKind>;
  /** A step-based learning-rate schedule (piecewise_constant, exponential_decay, inverse_time_decay), or null. */
  schedule: IRRef<ScheduleKind> | null;
  /** The callbacks (a per-epoch learning-rate callback written as the `schedule` among them), in source order. */
  callbacks: IRRef<CallbackKind>[];
  /** e.g. ["accuracy"]; the loss is always logged as "loss". */
  metrics: MetricKind[];
  epochs: number;
  batchSize: number;
  /** null: ceil(trainSamples / batchSize). */
  stepsPerEpoch: number | null;
  seed: number;
}

export interface IRSweep {
  /** The metric that picks the winner, e.g. "val_accuracy", and whether larger is better. */
  monitor: string;
  mode: "max" | "min";
  parameters: { name: string; values: IRValue[] }[];
  /** One per combination of parameter values, each checked on its own. */
  variants: { values: Record<string, IRValue>; model: IRModel }[];
}

export interface IR {
  irVersion: 1;
  nncVersion: string;
  source: { file: string; sha256: string };
  /** The model to train (for a sweep: the first variant). */
  model: IRModel;
  /** null when the file has no train section (check/summary still work). */
  training: IRTraining | null;
  sweep: IRSweep | null;
}

const layerMaps = new WeakMap<readonly IRLayer[], Map<string, IRLayer>>();

/** The layer of `model` with id `id`. The id map is built once per layers array (the IR is read-only). */
export function layerById(model: IRModel, id: string): IRLayer | undefined {
  const layers = model.layers;
  // Most lookups walk back from the output: look at the last few layers before building a map.
  for (let i = layers.length - 1; i >= 0 && i >= layers.length - 4; i--) if (layers[i]!.id === id) return layers[i];
  let map = layerMaps.get(layers);
  if (!map || map.size !== model.layers.length) {
    map = new Map();
    for (const l of model.layers) map.set(l.id, l);
    layerMaps.set(model.layers, map);
  }
  return map.get(id);
}

const LINEAR: IRRef<ActivationKind> = Object.freeze({ kind: "linear", args: Object.freeze({}) }) as IRRef<ActivationKind>;

/**
 * The activation a layer applies: the `activation` argument of a layer that takes one (dense,
 * conv2d), an activation layer's own function with its arguments (`elu(0.5)`), else linear.
 */
export function activationOf(layer: IRLayer): IRRef<ActivationKind> {
  const traits = lookup("layer", layer.kind)!.traits;
  if (traits.activation) return { kind: traits.activation as ActivationKind, args: layer.args as Record<string, IRValue> };
  if (traits.takesActivation) return (layer.args as { activation: IRRef<ActivationKind> }).activation;
  return LINEAR;
}

/** Whether a layer passes its input's values through unchanged at inference (flatten, reshape, dropout). */
export function passesValuesThrough(layer: IRLayer): boolean {
  const traits = lookup("layer", layer.kind)!.traits;
  return traits.view === true || traits.stochastic === true;
}
