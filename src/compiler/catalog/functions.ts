// Activations, initializers and regularizers: the values of a layer's `activation:`, `init:`
// and `regularizer:` arguments. In the IR each becomes an IRRef {kind, args} with defaults filled.
import type { CatalogEntry } from "./types.js";
import { none, num, obj, type Schema } from "./schema.js";

/** How Keras and PyTorch spell these entries (see CatalogEntry.keras). */
const KERAS: Record<string, string[]> = {
  relu: ["ReLU"],
  sigmoid: ["Sigmoid"],
  tanh: ["Tanh"],
  softmax: ["Softmax"],
  elu: ["ELU"],
  leaky_relu: ["LeakyReLU"],
  softplus: ["Softplus"],
  glorot_uniform: ["GlorotUniform", "xavier_uniform"],
  glorot_normal: ["GlorotNormal", "xavier_normal"],
  he_normal: ["HeNormal", "kaiming_normal"],
  he_uniform: ["HeUniform", "kaiming_uniform"],
  lecun_normal: ["LecunNormal", "LeCunNormal"],
  lecun_uniform: ["LecunUniform", "LeCunUniform"],
  random_normal: ["RandomNormal", "normal"],
  random_uniform: ["RandomUniform", "uniform"],
  truncated_normal: ["TruncatedNormal", "trunc_normal"],
  zeros: ["Zeros"],
  ones: ["Ones"],
  constant: ["Constant"],
  l1: ["L1"],
  l2: ["L2"],
  l1l2: ["L1L2"],
};

function entry<N extends string, A = Record<never, never>>(
  category: CatalogEntry["category"],
  name: N,
  doc: string,
  schema: Schema<A> = none as Schema<A>,
  positional: string[] = [],
  extra: Partial<Pick<CatalogEntry, "aliases" | "names" | "resolve" | "deepAlternatives" | "example">> = {},
): CatalogEntry<N, A> {
  return { name, category, doc, schema, positional, aliases: {}, keras: KERAS[name], ...extra };
}

// ------------------------------------------------------------------ activations
/** An activation that is also a layer of the same name (an activation layer), documented by `layerDoc`. */
function withLayer<E extends CatalogEntry<string, unknown>>(e: E, layerDoc: string): E & { layer: string } {
  return { ...e, layer: layerDoc };
}

export const activations = [
  entry("activation", "linear", "Identity: f(x) = x (no activation).", none, [], { names: ["none"] }),
  withLayer(entry("activation", "relu", "Rectified linear unit: max(x, 0).", none, [], { example: "relu" }), "Activation layer: max(x, 0)."),
  withLayer(entry("activation", "sigmoid", "Logistic function 1 / (1 + exp(-x)), in (0, 1).", none, [], { deepAlternatives: ["relu", "leaky_relu"] }), "Activation layer: 1 / (1 + exp(-x))."),
  withLayer(entry("activation", "tanh", "Hyperbolic tangent, in (-1, 1)."), "Activation layer: hyperbolic tangent."),
  withLayer(entry("activation", "softmax", "exp(x) / sum(exp(x)) over the last axis: a probability distribution."), "Activation layer: exp(x) / sum(exp(x)) over the last axis."),
  withLayer(entry("activation", "elu", "x if x > 0 else alpha * (exp(x) - 1).", obj({ alpha: num(1.0) }), ["alpha"]), "Activation layer: x if x > 0 else alpha * (exp(x) - 1)."),
  withLayer(
    entry("activation", "leaky_relu", "x if x > 0 else alpha * x (Keras default alpha 0.3).", obj({ alpha: num(0.3, { min: 0 }) }), ["alpha"]),
    "Activation layer: x if x > 0 else alpha * x (Keras default alpha 0.3).",
  ),
  entry("activation", "softplus", "log(1 + exp(x)), a smooth relu."),
] as const;

// ------------------------------------------------------------------ initializers
// Keras defaults. fan_in / fan_out: dense [in, out]; conv2d kh*kw*in / kh*kw*out.
export const initializers = [
  entry("initializer", "zeros", "All zeros.", none, [], { names: ["zero"] }),
  entry("initializer", "ones", "All ones.", none, [], { names: ["one"] }),
  entry("initializer", "constant", "Every weight set to `value`.", obj({ value: num(0) }), ["value"]),
  entry("initializer", "random_normal", "Normal distribution N(mean, stddev²).", obj({ mean: num(0), stddev: num(0.05, { min: 0 }) }), ["mean", "stddev"], { aliases: { std: "stddev" } }),
  entry("initializer", "random_uniform", "Uniform distribution on [minval, maxval].", obj({ minval: num(-0.05), maxval: num(0.05) }), ["minval", "maxval"], { aliases: { min: "minval", max: "maxval" } }),
  entry("initializer", "truncated_normal", "Normal N(mean, stddev²) redrawn beyond two standard deviations.", obj({ mean: num(0), stddev: num(0.05, { min: 0 }) }), ["mean", "stddev"], { aliases: { std: "stddev" } }),
  entry("initializer", "glorot_normal", "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)) (Xavier normal)."),
  entry("initializer", "glorot_uniform", "Uniform on ±sqrt(6 / (fan_in + fan_out)) (Xavier uniform; the Keras default)."),
  entry("initializer", "he_normal", "Truncated normal with stddev sqrt(2 / fan_in) (for relu layers).", none, [], { example: "he_normal" }),
  entry("initializer", "he_uniform", "Uniform on ±sqrt(6 / fan_in)."),
  entry("initializer", "lecun_normal", "Truncated normal with stddev sqrt(1 / fan_in)."),
  entry("initializer", "lecun_uniform", "Uniform on ±sqrt(3 / fan_in)."),
] as const;

// ------------------------------------------------------------------ regularizers
// Penalties added to the loss: l1 * sum(|w|), l2 * sum(w²) (Keras semantics, no 1/2 factor).
export const regularizers = [
  entry("regularizer", "l1", "Adds l1 * sum(|w|) to the loss.", obj({ l1: num(0.01, { min: 0 }) }), ["l1"]),
  entry("regularizer", "l2", "Adds l2 * sum(w²) to the loss.", obj({ l2: num(0.01, { min: 0 }) }), ["l2"], { example: "l2(1e-4)" }),
  entry("regularizer", "l1l2", "Adds l1 * sum(|w|) + l2 * sum(w²) to the loss.", obj({ l1: num(0.01, { min: 0 }), l2: num(0.01, { min: 0 }) }), ["l1", "l2"], { names: ["l1_l2"] }),
] as const;
