// Elementwise activations of the standalone target: for each, the forward value as an expression of
// `z` (the pre-activation) and the backward dL/dz as an expression of `z`, `a` (the activation's
// output) and `g` (dL/da). Softmax works on rows of the last axis and is written out in
// layers.ts. Keras definitions and defaults.

export interface ActivationCode {
  forward: (args: Record<string, number>) => string;
  backward: (args: Record<string, number>) => string;
  /** Helper functions the expressions call, emitted once into the program. */
  helpers?: string[];
}

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

export const HELPERS: Record<string, string> = {
  sigmoid: `/** The logistic function 1 / (1 + e^-z). */
function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}`,
  softplus: `/** log(1 + e^z), computed without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}`,
  erf: `/** The error function (Abramowitz-Stegun 7.1.26, |error| < 1.5e-7). */
function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return s * y;
}`,
};

export const ACTIVATIONS: Record<string, ActivationCode> = {
  linear: { forward: () => "z", backward: () => "g" },
  relu: { forward: () => "z > 0 ? z : 0", backward: () => "z > 0 ? g : 0" },
  relu6: { forward: () => "z > 0 ? (z < 6 ? z : 6) : 0", backward: () => "z > 0 && z < 6 ? g : 0" },
  sigmoid: { forward: () => "sigmoid(z)", backward: () => "g * a * (1 - a)", helpers: ["sigmoid"] },
  hard_sigmoid: {
    forward: () => "Math.max(0, Math.min(1, 0.2 * z + 0.5))",
    backward: () => "z > -2.5 && z < 2.5 ? 0.2 * g : 0",
  },
  tanh: { forward: () => "Math.tanh(z)", backward: () => "g * (1 - a * a)" },
  elu: {
    forward: (p) => `z > 0 ? z : ${p.alpha ?? 1} * Math.expm1(z)`,
    backward: (p) => `z > 0 ? g : g * (a + ${p.alpha ?? 1})`,
  },
  selu: {
    forward: () => `z > 0 ? ${SELU_SCALE} * z : ${SELU_SCALE * SELU_ALPHA} * Math.expm1(z)`,
    backward: () => `z > 0 ? ${SELU_SCALE} * g : g * (a + ${SELU_SCALE * SELU_ALPHA})`,
  },
  leaky_relu: {
    forward: (p) => `z > 0 ? z : ${p.alpha ?? 0.3} * z`,
    backward: (p) => `z > 0 ? g : ${p.alpha ?? 0.3} * g`,
  },
  softplus: { forward: () => "softplus(z)", backward: () => "g * sigmoid(z)", helpers: ["softplus", "sigmoid"] },
  softsign: { forward: () => "z / (1 + Math.abs(z))", backward: () => "g / ((1 + Math.abs(z)) * (1 + Math.abs(z)))" },
  swish: {
    forward: () => "z * sigmoid(z)",
    backward: () => "g * (sigmoid(z) + a * (1 - sigmoid(z)))",
    helpers: ["sigmoid"],
  },
  exponential: { forward: () => "Math.exp(z)", backward: () => "g * a" },
  gelu: {
    forward: () => "0.5 * z * (1 + erf(z / Math.SQRT2))",
    backward: () => "g * (0.5 * (1 + erf(z / Math.SQRT2)) + (z * Math.exp(-0.5 * z * z)) / Math.sqrt(2 * Math.PI))",
    helpers: ["erf"],
  },
  mish: {
    forward: () => "z * Math.tanh(softplus(z))",
    backward: () =>
      "g * (Math.tanh(softplus(z)) + z * sigmoid(z) * (1 - Math.tanh(softplus(z)) * Math.tanh(softplus(z))))",
    helpers: ["softplus", "sigmoid"],
  },
};

/** Activations handled specially (row-wise). */
export const ROW_ACTIVATIONS = new Set(["softmax"]);

export function isKnownActivation(kind: string): boolean {
  return kind in ACTIVATIONS || ROW_ACTIVATIONS.has(kind);
}
