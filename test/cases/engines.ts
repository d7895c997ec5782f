// Shared by the per-feature case tests (gradients, forward, training .test.ts here):
//   gradients   the standalone target's backward pass against central finite differences;
//   forward     the standalone forward pass against the Keras model tfjs builds from nnc's topology;
//   training    both engines train the case (two steps) from the same seeded weights on the same
//               data, and end with the same weights (1e-4 relative);
//   round trip  the model each engine saved, loaded back with tf.loadLayersModel, predicts a fixed
//               batch as the standalone forward pass does with those weights (1e-5).
// What is compared, and to what tolerance, is listed in test/cases/README.md.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll } from "vitest";
import type { IR } from "../../src/compiler/ir.js";
import { registerNncLayers } from "../../src/runtime/engines/tfjs/model.js";
import { fileLoadHandler } from "../../src/runtime/engines/tfjs/save.js";
import { writeSyntheticMnist } from "../helpers/data.js";
import { loadInternals, seeded, type Internals } from "../standalone/harness.js";

export const N = 3;
export const work = mkdtempSync(join(tmpdir(), "nnc-cases-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
export let data = "";
beforeAll(async () => {
  await tf.setBackend("cpu");
  registerNncLayers(tf);
  data = writeSyntheticMnist(join(work, "data"), { train: 64, test: 16 });
});

export const classesOf = (ir: IR) => ir.training!.data.classes;
export const hasStochastic = (ir: IR) => ir.model.layers.some((l) => l.kind === "dropout");

/** A fixed batch: inputs in [0, scale] (like pixels), one-hot labels (the program's layout for every loss). */
export function fill(m: Internals, ir: IR, n: number, seed = 5, scale = 1): Float32Array {
  const r = seeded(seed);
  const size = 28 * 28;
  for (let i = 0; i < n * size; i++) m.input[i] = r() * scale;
  const classes = classesOf(ir);
  m.target.fill(0);
  for (let b = 0; b < n; b++) m.target[b * classes + Math.floor(r() * classes)] = 1;
  return m.input.slice(0, n * size);
}

export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return d;
}

export async function standaloneForward(ir: IR, weights: Record<string, Float32Array> | null): Promise<{ out: Float32Array; x: Float32Array; m: Internals }> {
  const m = await loadInternals(ir);
  m.initializeWeights(11);
  if (weights) for (const [name, w] of Object.entries(weights)) m.weights[name]!.set(w);
  const x = fill(m, ir, N);
  m.forward(N, false);
  return { out: m.output.slice(0, N * classesOf(ir)), x, m };
}

export async function loadSaved(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileLoadHandler(dir));
}

export function weightsOf(model: tf.LayersModel): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const w of model.weights) out[w.originalName] = w.read().dataSync() as Float32Array;
  return out;
}

