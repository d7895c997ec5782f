// The activations of the standalone target, one entry per catalog activation (a kind without one
// fails the typecheck), with every form the target computes it in:
//   forward, backward   the CPU program's loop body: the value as an expression of `z` (the
//                       pre-activation), and dL/dz as an expression of `z`, `a` (the activation's
//                       output) and `g` (dL/da)
//   kernel              the kernel runtime's functions doing the same over a whole buffer (in
//                       WebAssembly SIMD in simd mode), and the numbers they take after the buffers
//   wgsl                the same expressions in WGSL, for the GPU path (kernels/webgpu/); absent
//                       where the GPU path lacks the activation
// Softmax works on rows of the last axis (`rows`): its loops are written out in layers.ts and its
// WGSL kernels are kernels/webgpu/'s softmaxRows. Keras definitions and defaults.
import type { ActivationKind } from "../../catalog/kinds.js";
import { wgslFloat } from "./kernels/webgpu/wgsl.js";

type Args = Record<string, number>;

export interface ElementwiseActivation {
  rows?: false;
  forward: (args: Args) => string;
  backward: (args: Args) => string;
  /**
   * The kernel runtime's functions computing `forward` (a = f(z)) and `backward` (dz = f'(z) g,
   * assigned, not accumulated) over count values, called as (z, a, ...numbers, count) and
   * (z, g, dz, ...numbers, count).
   */
  kernel?: { forward?: string; backward?: string; numbers: (args: Args) => number[] };
  /** WGSL expressions of z (forward) and of z, a and g (backward), constants baked in. */
  wgsl?: { forward: (args: Args) => string; backward: (args: Args) => string };
}

/** An activation over rows of the last axis (softmax). */
export interface RowActivation {
  rows: true;
}

export type ActivationCode = ElementwiseActivation | RowActivation;

/** Functions the expressions call, each emitted once into a program that calls it. */
export const HELPERS: Record<string, string> = {
  sigmoid: `/** The logistic function 1 / (1 + e^-z). */
function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}`,
  softplus: `/** log(1 + e^z), computed without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}`,
};

const f32 = (x: number | undefined): string => wgslFloat(x as number);

export const ACTIVATIONS: { [K in ActivationKind]: ActivationCode } = {
  linear: { forward: () => "z", backward: () => "g" },
  relu: {
    forward: () => "z > 0 ? z : 0",
    backward: () => "z > 0 ? g : 0",
    kernel: { backward: "reluBackward", numbers: () => [] },
    wgsl: { forward: () => "select(0.0, z, z > 0.0)", backward: () => "select(0.0, g, z > 0.0)" },
  },
  sigmoid: {
    forward: () => "sigmoid(z)",
    backward: () => "g * a * (1 - a)",
    kernel: { forward: "sigmoid", numbers: () => [] },
    wgsl: { forward: () => "1.0 / (1.0 + exp(-z))", backward: () => "g * a * (1.0 - a)" },
  },
  tanh: {
    forward: () => "Math.tanh(z)",
    backward: () => "g * (1 - a * a)",
    wgsl: { forward: () => "tanh(z)", backward: () => "g * (1.0 - a * a)" },
  },
  softmax: { rows: true },
  elu: {
    forward: (p) => `z > 0 ? z : ${p.alpha} * Math.expm1(z)`,
    backward: (p) => `z > 0 ? g : g * (a + ${p.alpha})`,
    wgsl: {
      forward: (p) => `select(${f32(p.alpha)} * (exp(z) - 1.0), z, z > 0.0)`,
      backward: (p) => `select(g * (a + ${f32(p.alpha)}), g, z > 0.0)`,
    },
  },
  leaky_relu: {
    forward: (p) => `z > 0 ? z : ${p.alpha} * z`,
    backward: (p) => `z > 0 ? g : ${p.alpha} * g`,
    kernel: { forward: "piecewiseLinear", backward: "piecewiseLinearBackward", numbers: (p) => [p.alpha!] },
    wgsl: {
      forward: (p) => `select(${f32(p.alpha)} * z, z, z > 0.0)`,
      backward: (p) => `select(${f32(p.alpha)} * g, g, z > 0.0)`,
    },
  },
  softplus: {
    forward: () => "softplus(z)",
    backward: () => "g * sigmoid(z)",
    wgsl: { forward: () => "select(log(1.0 + exp(z)), z + log(1.0 + exp(-z)), z > 0.0)", backward: () => "g / (1.0 + exp(-z))" },
  },
};

/** The elementwise form of an activation, or undefined for one over rows (softmax). */
export function elementwise(kind: ActivationKind): ElementwiseActivation | undefined {
  const code = ACTIVATIONS[kind];
  return code.rows ? undefined : code;
}

/** An activation's numeric arguments (alpha), for the code templates. */
export function numArgs(args: Record<string, unknown>): Args {
  const out: Args = {};
  for (const [k, v] of Object.entries(args)) if (typeof v === "number") out[k] = v;
  return out;
}
