// Loads a generated standalone program with its test internals exposed, and checks gradients.
import type { IR } from "../../src/compiler/ir.js";
import { loadStandaloneProgram } from "../../src/runtime/engines/standalone.js";

export interface Internals {
  weights: Record<string, Float32Array>;
  grads: Record<string, Float32Array>;
  input: Float32Array;
  output: Float32Array;
  target: Float32Array;
  initializeWeights(seed: number): void;
  forward(n: number, training: boolean): void;
  backward(n: number): void;
  computeLoss(n: number): number;
  regularizationPenalty?(): number;
  addRegularizationGradients?(): void;
  applyGradients(lr: number): void;
  reseed?(seed: number): void;
  /** Compiles the WebAssembly kernels and starts the worker threads (train() does it itself). */
  initKernels(): Promise<void>;
  shutdownKernels(): void;
}

export async function loadInternals(ir: IR): Promise<Internals> {
  const mod = await loadStandaloneProgram(ir, {
    mode: "ts",
    threads: 1,
    exposeInternals: true,
  });
  return mod.internals as Internals;
}

/** Deterministic pseudo-random numbers for test inputs. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills the input with values in [-1, 1] and the targets with one-hot labels of n examples. */
export function fillBatch(
  m: Internals,
  n: number,
  inputSize: number,
  classes: number,
  seed = 7,
): void {
  const r = seeded(seed);
  for (let i = 0; i < n * inputSize; i++) m.input[i] = r() * 2 - 1;
  m.target.fill(0);
  for (let b = 0; b < n; b++)
    m.target[b * classes + Math.floor(r() * classes)] = 1;
}

/** The total loss (with penalties) of the current weights, in training mode. */
export function lossAt(m: Internals, n: number, training: boolean): number {
  m.reseed?.(123);
  m.forward(n, training);
  return m.computeLoss(n) + (m.regularizationPenalty?.() ?? 0);
}

/** Analytic gradients (backward + penalties) of the current weights. */
export function analyticGradients(
  m: Internals,
  n: number,
  training: boolean,
): Record<string, Float32Array> {
  m.reseed?.(123);
  m.forward(n, training);
  m.computeLoss(n);
  m.backward(n);
  m.addRegularizationGradients?.();
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(m.grads)) out[k] = Float32Array.from(v);
  return out;
}

/**
 * Compares analytic and central finite-difference gradients on up to `samples` entries of every
 * trainable weight. Returns the worst mismatch (0 when all agree), as a relative error.
 */
export function gradientCheck(
  m: Internals,
  n: number,
  opts: { training?: boolean; samples?: number; eps?: number } = {},
): { worst: number; where: string; checked: number } {
  const training = opts.training ?? true;
  const eps = opts.eps ?? 1e-2;
  const analytic = analyticGradients(m, n, training);
  let worst = 0;
  let where = "";
  let checked = 0;
  const r = seeded(99);
  for (const [name, g] of Object.entries(analytic)) {
    const w = m.weights[name]!;
    const count = Math.min(opts.samples ?? 6, w.length);
    for (let s = 0; s < count; s++) {
      const i = count === w.length ? s : Math.floor(r() * w.length);
      const old = w[i]!;
      w[i] = old + eps;
      const plus = lossAt(m, n, training);
      w[i] = old - eps;
      const minus = lossAt(m, n, training);
      w[i] = old;
      const numeric = (plus - minus) / (2 * eps);
      const err =
        Math.abs(numeric - g[i]!) /
        Math.max(1e-2, Math.abs(numeric), Math.abs(g[i]!));
      checked++;
      if (err > worst) {
        worst = err;
        where = `${name}[${i}]: analytic ${g[i]}, numeric ${numeric}`;
      }
    }
  }
  return { worst, where, checked };
}
