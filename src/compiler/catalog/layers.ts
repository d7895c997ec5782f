// Layers: shape rule, weights (Keras layouts), FLOPs per sample.
// FLOPs: a multiply-add counts 2 (dense, conv2d); element-wise layers count one per element
// (activations, pooling window reads, add), batch_norm two per element; reshapes count 0.
import type { CatalogEntry, LayerEntry, ShapeError, WeightSpec } from "./types.js";
import { activations } from "./functions.js";
import { bool, int, num, obj, oneOf, pair, ref, list, none, type Schema } from "./schema.js";

const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);
const fmt = (s: number[]): string => `[${s.join(", ")}]`;

function rankError(layer: string, want: number, got: number[], hint?: string): ShapeError {
  const what = want === 1 ? "a vector (rank 1)" : want === 3 ? "an image tensor [height, width, channels] (rank 3)" : `rank ${want}`;
  return { error: `\`${layer}\` expects ${what}; got ${fmt(got)} (rank ${got.length})`, hint, code: "E401" };
}

function flattenHint(shape: number[]): string | undefined {
  return shape.length > 1 ? `insert \`flatten\` before this layer (it would give [${prod(shape)}])` : undefined;
}

function convOut(size: number, k: number, s: number, padding: string): number {
  return padding === "same" ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1;
}

function spatial(layer: string, inp: number[], k: [number, number], s: [number, number], padding: string, channels: number): number[] | ShapeError {
  const h = convOut(inp[0], k[0], s[0], padding);
  const w = convOut(inp[1], k[1], s[1], padding);
  if (h < 1 || w < 1) {
    return {
      error: `\`${layer}\` window ${k[0]}x${k[1]} does not fit in the ${inp[0]}x${inp[1]} input with padding valid`,
      hint: "use `padding: same` or a smaller window",
      code: "E403",
    };
  }
  return [h, w, channels];
}

const asPair = (v: unknown): [number, number] => v as [number, number];

/** A layer entry: names its kind N and reads its argument type A off its schema. */
function layer<N extends string, A>(
  e: Omit<LayerEntry<N, A>, "category" | "aliases" | "positional" | "traits"> & Partial<Pick<LayerEntry<N, A>, "aliases" | "positional" | "traits">>,
): LayerEntry<N, A> {
  return { category: "layer", aliases: {}, positional: [], traits: {}, ...e };
}

const noWeights = (): WeightSpec[] => [];
const identityShape = (inputs: number[][]): number[] => inputs[0];
const perElement = (_i: number[][], out: number[]): number => prod(out);

export const input = layer({
  name: "input", doc: "The model's input: one example's shape, without the batch dimension.",
  schema: obj({ shape: list({ type: "integer", minimum: 1 }, undefined, 1) }, ["shape"]),
  positional: ["shape"],
  arity: "one",
  shape: (_inputs, args) => args.shape as number[],
  weights: noWeights,
  flops: () => 0,
});

export const dense = layer({
  name: "dense", keras: ["Dense", "Linear"], doc: "Fully connected layer: output = activation(input · kernel + bias).",
  schema: obj(
    {
      units: int(undefined, 1),
      activation: ref("activation", "linear"),
      use_bias: bool(true),
      kernel_initializer: ref("initializer", "glorot_uniform"),
      bias_initializer: ref("initializer", "zeros"),
      kernel_regularizer: ref("regularizer", null),
      bias_regularizer: ref("regularizer", null),
    },
    ["units"],
  ),
  positional: ["units", "activation"],
  aliases: { init: "kernel_initializer", bias_init: "bias_initializer", regularizer: "kernel_regularizer", bias_reg: "bias_regularizer" },
  arity: "one",
  traits: { takesActivation: true },
  shape(inputs, args) {
    const inp = inputs[0];
    if (inp.length !== 1) return rankError("dense", 1, inp, flattenHint(inp));
    return [args.units as number];
  },
  weights(inputs, args) {
    const w: WeightSpec[] = [
      { role: "kernel", shape: [inputs[0][0], args.units as number], initializer: { arg: "kernel_initializer" }, regularizer: { arg: "kernel_regularizer" }, trainable: true },
    ];
    if (args.use_bias) w.push({ role: "bias", shape: [args.units as number], initializer: { arg: "bias_initializer" }, regularizer: { arg: "bias_regularizer" }, trainable: true });
    return w;
  },
  flops: (inputs, out) => 2 * inputs[0][0] * out[0],
});

export const conv2d = layer({
  name: "conv2d", keras: ["Conv2D", "Convolution2D", "Conv2d"], doc: "2-D convolution over [height, width, channels] images (NHWC, kernel [kh, kw, in, out]).",
  schema: obj(
    {
      filters: int(undefined, 1),
      kernel_size: pair(null),
      strides: pair([1, 1]),
      padding: oneOf(["valid", "same"], "valid"),
      activation: ref("activation", "linear"),
      use_bias: bool(true),
      kernel_initializer: ref("initializer", "glorot_uniform"),
      bias_initializer: ref("initializer", "zeros"),
      kernel_regularizer: ref("regularizer", null),
      bias_regularizer: ref("regularizer", null),
    },
    ["filters", "kernel_size"],
  ),
  positional: ["filters", "kernel_size", "strides", "padding"],
  aliases: { kernel: "kernel_size", stride: "strides", init: "kernel_initializer", bias_init: "bias_initializer", regularizer: "kernel_regularizer", bias_reg: "bias_regularizer" },
  arity: "one",
  traits: { takesActivation: true },
  shape(inputs, args) {
    const inp = inputs[0];
    if (inp.length !== 3) {
      return rankError("conv2d", 3, inp, inp.length === 1 ? "insert `reshape([h, w, c])` before this layer, or give the model `input image(h, w, c)`" : undefined);
    }
    return spatial("conv2d", inp, asPair(args.kernel_size), asPair(args.strides), args.padding as string, args.filters as number);
  },
  weights(inputs, args) {
    const k = asPair(args.kernel_size);
    const f = args.filters as number;
    const w: WeightSpec[] = [
      { role: "kernel", shape: [k[0], k[1], inputs[0][2], f], initializer: { arg: "kernel_initializer" }, regularizer: { arg: "kernel_regularizer" }, trainable: true },
    ];
    if (args.use_bias) w.push({ role: "bias", shape: [f], initializer: { arg: "bias_initializer" }, regularizer: { arg: "bias_regularizer" }, trainable: true });
    return w;
  },
  flops(inputs, out, args) {
    const k = asPair(args.kernel_size);
    return 2 * k[0] * k[1] * inputs[0][2] * out[0] * out[1] * out[2];
  },
});

function pool<N extends string>(name: N, doc: string, keras: string[]) {
  return layer({
    name,
    doc,
    keras,
    schema: obj({ pool_size: pair([2, 2]), strides: pair(null), padding: oneOf(["valid", "same"], "valid") }),
    positional: ["pool_size", "strides", "padding"],
    aliases: { pool: "pool_size", size: "pool_size", stride: "strides" },
    resolve(args) {
      if (args.strides === null || args.strides === undefined) args.strides = [...asPair(args.pool_size)];
      return args;
    },
    arity: "one",
    shape(inputs, args) {
      const inp = inputs[0];
      if (inp.length !== 3) return rankError(name, 3, inp);
      return spatial(name, inp, args.pool_size, args.strides, args.padding, inp[2]);
    },
    weights: noWeights,
    flops(_inputs, out, args) {
      const k = args.pool_size;
      return k[0] * k[1] * prod(out);
    },
  });
}

export const max_pool = pool("max_pool", "2-D max pooling: the largest value of each window (strides default to the pool size).", ["MaxPooling2D", "MaxPool2D", "MaxPool2d", "max_pooling2d"]);
export const avg_pool = pool("avg_pool", "2-D average pooling: the mean of each window (strides default to the pool size).", ["AveragePooling2D", "AvgPool2D", "AvgPool2d", "average_pooling2d"]);

function globalPool<N extends string>(name: N, doc: string, keras: string[]) {
  return layer({
    name,
    doc,
    keras,
    schema: none,
    arity: "one",
    shape(inputs) {
      const inp = inputs[0];
      if (inp.length !== 3) return rankError(name, 3, inp);
      return [inp[2]];
    },
    weights: noWeights,
    flops: (inputs) => prod(inputs[0]),
  });
}

export const global_avg_pool = globalPool("global_avg_pool", "Global average pooling: the mean of each channel over height and width, [h, w, c] -> [c].", ["GlobalAveragePooling2D", "GlobalAvgPool2D", "AdaptiveAvgPool2d"]);
export const global_max_pool = globalPool("global_max_pool", "Global max pooling: the largest value of each channel over height and width, [h, w, c] -> [c].", ["GlobalMaxPooling2D", "GlobalMaxPool2D", "AdaptiveMaxPool2d"]);

export const flatten = layer({
  name: "flatten", keras: ["Flatten"], doc: "Flattens [h, w, c] (or any shape) into one vector, row-major as Keras does.",
  schema: none,
  arity: "one",
  traits: { view: true },
  shape: (inputs) => [prod(inputs[0])],
  weights: noWeights,
  flops: () => 0,
});

export const reshape = layer({
  name: "reshape", keras: ["Reshape", "View"], doc: "Reshapes to target_shape (one entry may be -1: inferred); the element count must match.",
  schema: obj({ target_shape: list({ type: "integer", minimum: -1, not: { const: 0 } }, undefined, 1) }, ["target_shape"]),
  positional: ["target_shape"],
  aliases: { shape: "target_shape" },
  arity: "one",
  traits: { view: true },
  shape(inputs, args) {
    const target = [...(args.target_shape as number[])];
    const n = prod(inputs[0]);
    const unknown = target.filter((d) => d === -1).length;
    if (unknown > 1) return { error: "`reshape` allows at most one -1 in its target shape", code: "E406" };
    const known = prod(target.filter((d) => d !== -1));
    if (unknown === 1) {
      if (n % known !== 0) return { error: `\`reshape\` cannot reshape ${fmt(inputs[0])} (${n} values) into ${fmt(target)}`, code: "E406" };
      target[target.indexOf(-1)] = n / known;
    } else if (known !== n) {
      return { error: `\`reshape\` cannot reshape ${fmt(inputs[0])} (${n} values) into ${fmt(target)} (${known} values)`, code: "E406" };
    }
    return target;
  },
  weights: noWeights,
  flops: () => 0,
});

export const dropout = layer({
  name: "dropout", keras: ["Dropout"], doc: "Sets a random fraction `rate` of its inputs to 0 during training (scaling the rest by 1/(1-rate)).",
  schema: obj({ rate: num(undefined, { min: 0, exMax: 1 }) }, ["rate"]),
  positional: ["rate"],
  arity: "one",
  traits: { stochastic: true },
  shape: identityShape,
  weights: noWeights,
  flops: () => 0,
});

export const batch_norm = layer({
  name: "batch_norm", keras: ["BatchNormalization", "BatchNorm1d", "BatchNorm2d", "batch_normalization"], doc: "Batch normalization over the last axis (gamma, beta trainable; moving mean/variance not).",
  schema: obj({
    momentum: num(0.99, { min: 0, max: 1 }),
    epsilon: num(0.001, { exMin: 0 }),
    center: bool(true),
    scale: bool(true),
  }),
  positional: [],
  arity: "one",
  traits: { stateful: true },
  shape: identityShape,
  weights(inputs, args) {
    const c = inputs[0][inputs[0].length - 1];
    const w: WeightSpec[] = [];
    if (args.scale) w.push({ role: "gamma", shape: [c], initializer: { fixed: "ones" }, regularizer: null, trainable: true });
    if (args.center) w.push({ role: "beta", shape: [c], initializer: { fixed: "zeros" }, regularizer: null, trainable: true });
    w.push({ role: "moving_mean", shape: [c], initializer: { fixed: "zeros" }, regularizer: null, trainable: false });
    w.push({ role: "moving_variance", shape: [c], initializer: { fixed: "ones" }, regularizer: null, trainable: false });
    return w;
  },
  flops: (_i, out) => 2 * prod(out),
});

/** The activations that are also layers (`relu` on a line of its own): their entries in functions.ts carry `layer`, that layer's doc. */
type LayerActivation = Extract<(typeof activations)[number], { layer: string }>;
/** The layer entry of such an activation, typed by its name and arguments. */
type ActivationLayerEntry<E> = E extends CatalogEntry<infer N, infer A> ? LayerEntry<N, A> : never;

/** An activation layer: the activation's name, Keras spellings, schema and positional parameters, applied to its input. */
function activationLayer(a: LayerActivation): ActivationLayerEntry<LayerActivation> {
  return layer({
    name: a.name,
    doc: a.layer,
    keras: a.keras,
    schema: a.schema as Schema<unknown>,
    positional: a.positional,
    arity: "one",
    traits: { activation: a.name },
    shape: identityShape,
    weights: noWeights,
    flops: perElement,
  }) as ActivationLayerEntry<LayerActivation>;
}

/** The activation layers, one per activation whose catalog entry has a `layer` doc, in the activations' order. */
export const activationLayers = activations.filter((a): a is LayerActivation => "layer" in a && a.layer !== undefined).map(activationLayer);

/**
 * One value for every activation layer, for a target's table of layer kinds (`{...eachActivationLayer(emitter), dense, ...}`):
 * the activation layers share one implementation, which applies the layer's activation.
 */
export function eachActivationLayer<V>(value: V): Record<LayerActivation["name"], V> {
  return Object.fromEntries(activationLayers.map((l) => [l.name, value])) as Record<LayerActivation["name"], V>;
}

export const prelu = layer({
  name: "prelu", keras: ["PReLU"], doc: "Parametric ReLU: x if x > 0 else alpha * x, with one learned alpha per input element.",
  schema: obj({ alpha_initializer: ref("initializer", "zeros"), alpha_regularizer: ref("regularizer", null) }),
  positional: [],
  aliases: { init: "alpha_initializer", regularizer: "alpha_regularizer" },
  arity: "one",
  shape: identityShape,
  weights: (inputs) => [{ role: "alpha", shape: [...inputs[0]], initializer: { arg: "alpha_initializer" }, regularizer: { arg: "alpha_regularizer" }, trainable: true }],
  flops: (_i, out) => 2 * prod(out),
});

export const add = layer({
  name: "add", keras: ["Add"], doc: "Element-wise sum of two or more tensors of the same shape: `add(a, b)`.",
  schema: none,
  arity: "many",
  shape(inputs) {
    const first = inputs[0];
    for (const s of inputs.slice(1)) {
      if (s.length !== first.length || s.some((d, i) => d !== first[i])) {
        return { error: `\`add\` needs inputs of the same shape; got ${inputs.map(fmt).join(" and ")}`, code: "E404" };
      }
    }
    return [...first];
  },
  weights: noWeights,
  flops: (inputs, out) => (inputs.length - 1) * prod(out),
});

export const concat = layer({
  name: "concat", keras: ["Concatenate", "concatenate", "cat"], doc: "Joins two or more tensors along an axis: `concat(a, b)` (the last), `concat(a, b, axis: 0)`. Axes count without the batch dimension (0 is height for images); negative axes count from the end.",
  schema: obj({ axis: int(-1) }),
  positional: [],
  arity: "many",
  shape(inputs, args) {
    const rank = inputs[0].length;
    if (inputs.some((s) => s.length !== rank)) {
      return { error: `\`concat\` needs inputs of the same rank; got ${inputs.map(fmt).join(" and ")}`, code: "E405" };
    }
    let axis = args.axis as number;
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) {
      return {
        error: `\`concat\` axis ${args.axis} is out of range for inputs of rank ${rank} (${inputs.map(fmt).join(" and ")})`,
        hint: `nnc counts axes without the batch dimension: use 0 to ${rank - 1} (or -${rank} to -1)${args.axis === rank ? `; Keras's axis ${rank} is nnc's ${rank - 1}` : ""}`,
        code: "E405",
      };
    }
    for (const s of inputs.slice(1)) {
      if (s.some((d, i) => i !== axis && d !== inputs[0][i])) {
        return { error: `\`concat\` needs inputs that agree on every axis but ${axis}; got ${inputs.map(fmt).join(" and ")}`, code: "E405" };
      }
    }
    const out = [...inputs[0]];
    out[axis] = inputs.reduce((a, s) => a + s[axis], 0);
    return out;
  },
  weights: noWeights,
  flops: () => 0,
});

/** Every layer kind, in the order the reference lists them. `LayerKind` is read off this list. */
export const layers = [
  input, dense, conv2d, max_pool, avg_pool, global_avg_pool, global_max_pool, flatten, reshape, dropout, batch_norm,
  ...activationLayers, prelu, add, concat,
] as const;
