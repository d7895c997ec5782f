// The tfjs side of the per-feature case tests (forward, training .test.ts here; the fixed batch and
// the standalone forward pass are in cases.ts):
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
import { registerNncLayers } from "../../src/runtime/engines/tfjs/model.js";
import { fileLoadHandler } from "../../src/runtime/engines/tfjs/save.js";
import { writeSyntheticMnist } from "../helpers/data.js";

export const work = mkdtempSync(join(tmpdir(), "nnc-cases-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
export let data = "";
beforeAll(async () => {
  await tf.setBackend("cpu");
  registerNncLayers(tf);
  data = writeSyntheticMnist(join(work, "data"), { train: 64, test: 16 });
});

export async function loadSaved(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileLoadHandler(dir));
}

export function weightsOf(model: tf.LayersModel): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const w of model.weights) out[w.originalName] = w.read().dataSync() as Float32Array;
  return out;
}

