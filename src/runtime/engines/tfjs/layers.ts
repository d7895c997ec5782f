// The IR's layers, activations and initializers in TensorFlow.js terms. Used by the tfjs engine
// (model.ts builds tf.layers from these configs) and by the tfjs target (which prints them as
// source), so both build the same model.
import type { IRLayer, IRRef, IRValue } from "../../../compiler/ir.js";

export type Args = Record<string, IRValue | IRRef>;

export function isRef(v: unknown): v is IRRef {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as IRRef).kind === "string" && "args" in (v as object);
}

/** The first of `names` present in args (the catalog's spelling wins; aliases tolerate variants). */
export function arg(args: Args | Record<string, unknown>, names: string[]): unknown {
  for (const n of names) if (args[n] !== undefined) return args[n];
  return undefined;
}

export function numArg(args: Args | Record<string, unknown>, names: string[], fallback: number): number {
  const v = arg(args, names);
  if (typeof v === "number") return v;
  if (Array.isArray(v) && typeof v[0] === "number") return v[0];
  return fallback;
}

export function boolArg(args: Args | Record<string, unknown>, names: string[], fallback: boolean): boolean {
  const v = arg(args, names);
  return typeof v === "boolean" ? v : fallback;
}

export function pairArg(args: Args | Record<string, unknown>, names: string[], fallback: [number, number] | null): [number, number] | null {
  const v = arg(args, names);
  if (typeof v === "number") return [v, v];
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "number") return [v[0], v[1]];
  return fallback;
}

/** Activation names in the catalog -> tfjs activation identifiers. */
export const TFJS_ACTIVATIONS: Record<string, string> = {
  linear: "linear",
  relu: "relu",
  relu6: "relu6",
  sigmoid: "sigmoid",
  hard_sigmoid: "hardSigmoid",
  tanh: "tanh",
  softmax: "softmax",
  softplus: "softplus",
  softsign: "softsign",
  elu: "elu",
  selu: "selu",
  swish: "swish",
  silu: "swish",
  mish: "mish",
  gelu: "gelu",
};

/**
 * Whether tfjs can apply this activation as a layer's `activation` string. leaky_relu (any
 * alpha) and elu with alpha != 1 cannot: they become their own tfjs layer after it.
 */
export function isPlainActivation(act: IRRef): boolean {
  if (act.kind === "elu") return numArg(act.args, ["alpha"], 1) === 1;
  return TFJS_ACTIVATIONS[act.kind] !== undefined;
}

/** Kinds of layers that only apply an activation (the layer kind is the activation name). */
export function activationOfLayer(layer: IRLayer): IRRef | null {
  if (layer.kind === "activation") {
    const a = layer.args.activation;
    if (isRef(a)) return a;
    if (typeof a === "string") return { kind: a, args: {} };
    return null;
  }
  if (TFJS_ACTIVATIONS[layer.kind] !== undefined) return { kind: layer.kind, args: layer.args as Record<string, IRValue> };
  return null;
}

/** An activation argument of a layer (IRRef, name string or null) as an IRRef, or null for linear. */
export function activationRef(v: unknown): IRRef | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v === "linear" ? null : { kind: v, args: {} };
  if (isRef(v)) return v.kind === "linear" ? null : v;
  return null;
}

/** leaky_relu's slope (Keras's LeakyReLU default 0.3; the catalog fills its own default). */
export function leakyAlpha(args: Record<string, unknown>): number {
  return numArg(args, ["alpha", "negative_slope", "slope"], 0.3);
}

/** tfjs initializer config ({className, config}) for an IR initializer. */
export function tfjsInitializer(init: IRRef, seed?: number): { className: string; config: Record<string, unknown> } {
  const a = init.args as Record<string, unknown>;
  const s = seed === undefined ? {} : { seed };
  switch (init.kind) {
    case "zeros":
      return { className: "Zeros", config: {} };
    case "ones":
      return { className: "Ones", config: {} };
    case "constant":
      return { className: "Constant", config: { value: numArg(a, ["value", "constant"], 0) } };
    case "random_normal":
      return { className: "RandomNormal", config: { mean: numArg(a, ["mean"], 0), stddev: numArg(a, ["stddev", "std"], 0.05), ...s } };
    case "random_uniform":
      return {
        className: "RandomUniform",
        config: { minval: numArg(a, ["minval", "min"], -0.05), maxval: numArg(a, ["maxval", "max"], 0.05), ...s },
      };
    case "truncated_normal":
      return { className: "TruncatedNormal", config: { mean: numArg(a, ["mean"], 0), stddev: numArg(a, ["stddev", "std"], 0.05), ...s } };
    case "glorot_normal":
      return { className: "GlorotNormal", config: { ...s } };
    case "glorot_uniform":
      return { className: "GlorotUniform", config: { ...s } };
    case "he_normal":
      return { className: "HeNormal", config: { ...s } };
    case "he_uniform":
      return { className: "HeUniform", config: { ...s } };
    case "lecun_normal":
      return { className: "LeCunNormal", config: { ...s } };
    case "lecun_uniform":
      return { className: "LeCunUniform", config: { ...s } };
    default:
      throw new Error(`the tfjs engine has no initializer "${init.kind}"`);
  }
}

/** The tf.initializers factory name and its argument for an IR initializer (for generated code). */
export function tfjsInitializerCall(init: IRRef, seed?: number): { fn: string; args: Record<string, unknown> } {
  const { className, config } = tfjsInitializer(init, seed);
  const fn =
    className === "LeCunNormal"
      ? "leCunNormal"
      : className === "LeCunUniform"
        ? "leCunUniform"
        : className[0]!.toLowerCase() + className.slice(1);
  return { fn, args: config };
}

/** L1/L2 factors of an IR regularizer ({kind: "l2", args: {l2: 1e-4}}, l1, l1_l2). */
export function regularizerFactors(reg: IRRef | null | undefined): { l1: number; l2: number } {
  if (!reg) return { l1: 0, l2: 0 };
  const a = reg.args as Record<string, unknown>;
  switch (reg.kind) {
    case "l1":
      return { l1: numArg(a, ["l1", "factor", "value", "l"], 0.01), l2: 0 };
    case "l2":
      return { l1: 0, l2: numArg(a, ["l2", "factor", "value", "l"], 0.01) };
    case "l1_l2":
    case "l1l2":
      return { l1: numArg(a, ["l1"], 0.01), l2: numArg(a, ["l2"], 0.01) };
    default:
      throw new Error(`the tfjs engine has no regularizer "${reg.kind}"`);
  }
}

/** Padding as tfjs spells it. */
export function paddingArg(args: Record<string, unknown>): "same" | "valid" {
  const p = arg(args, ["padding"]);
  return p === "same" ? "same" : "valid";
}
