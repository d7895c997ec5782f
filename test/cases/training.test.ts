// Per-feature cases: both engines train every case (two steps) from the same seeded weights on
// the same data and end with the same weights (1e-4 relative); the model each engine saved,
// loaded back with tf.loadLayersModel, predicts a fixed batch as the standalone forward pass does
// with those weights (1e-5). What is compared is listed in test/cases/README.md.
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { standaloneEngine } from "../../src/runtime/engines/standalone.js";
import { initBackend } from "../../src/runtime/engines/tfjs/backends.js";
import { createTfjsEngine } from "../../src/runtime/engines/tfjs/index.js";
import { loadInternals } from "../standalone/harness.js";
import { N, allCases, relDiff, standaloneForward, type Case } from "./cases.js";
import { data, loadSaved, weightsOf, work } from "./engines.js";

describe("both engines train every case to the same weights; saved models round-trip", () => {
  const run = async (c: Case, engine: "standalone" | "tfjs") => {
    const outDir = join(work, `${c.folder}-${c.name}-${engine}`);
    const e = engine === "standalone" ? standaloneEngine : createTfjsEngine({ choice: await initBackend(c.ir, "cpu") });
    const result = await e.train(c.ir, { dataDir: data, outDir, kernels: "ts", quiet: true }, {});
    return { result, model: await loadSaved(join(outDir, "model")) };
  };
  for (const c of allCases()) {
    it(`${c.folder}/${c.name}`, async () => {
      const a = await run(c, "standalone");
      const b = await run(c, "tfjs");
      for (const r of [a.result, b.result]) {
        expect(Number.isFinite(r.testLoss)).toBe(true);
        for (const logs of r.history) for (const [k, v] of Object.entries(logs)) expect(Number.isFinite(v), k).toBe(true);
      }
      const wa = weightsOf(a.model);
      const wb = weightsOf(b.model);
      expect(Object.keys(wa).sort()).toEqual(Object.keys(wb).sort());
      for (const name of Object.keys(wa)) expect(relDiff(wa[name]!, wb[name]!), name).toBeLessThan(1e-4);
      expect(a.result.testLoss).toBeCloseTo(b.result.testLoss, 3);
      // Every logged metric (loss, accuracy or binary accuracy, precision, ..., val_*, lr) and every test metric.
      expect(b.result.history.length).toBe(a.result.history.length);
      a.result.history.forEach((logs, e) => {
        expect(Object.keys(b.result.history[e]!).sort()).toEqual(Object.keys(logs).sort());
        for (const [k, v] of Object.entries(logs)) expect(Math.abs(v - b.result.history[e]![k]!), `epoch ${e + 1} ${k}`).toBeLessThan(1e-3 * Math.max(1, Math.abs(v)));
      });
      for (const [k, v] of Object.entries(a.result.testMetrics)) expect(Math.abs(v - b.result.testMetrics[k]!), `test ${k}`).toBeLessThan(1e-3);
      // Round trip: each saved model predicts as the standalone forward pass with its weights.
      // (one program, loaded once, given each model's weights in turn)
      const program = await loadInternals(c.ir);
      for (const saved of [a.model, b.model]) {
        const { out, x } = await standaloneForward(c.ir, weightsOf(saved), program);
        const theirs = (saved.predict(tf.tensor(x, [N, 28, 28, 1])) as tf.Tensor).dataSync();
        expect(relDiff(out, theirs)).toBeLessThan(1e-5);
      }
    });
  }
});
