// The feature programs (every optimizer, schedule, callback, metric and loss option no example
// uses) train for two short epochs on synthetic digits: finite losses, the logs and files each
// feature promises.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadStandaloneProgram } from "../../src/runtime/engines/standalone.js";
import { writeSyntheticMnist } from "../helpers/data.js";
import { featureIRs } from "./ir-builder.js";

const work = mkdtempSync(join(tmpdir(), "nnc-standalone-features-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const data = writeSyntheticMnist(join(work, "data"), { train: 96, test: 40 });

describe("feature programs train", () => {
  featureIRs().forEach((ir, i) => {
    it(`${i}: ${ir.training!.optimizer.kind}, ${ir.training!.loss.kind}, ${ir.training!.callbacks.map((c) => c.kind).join(", ") || "no callbacks"}`, async () => {
      const program = await loadStandaloneProgram(ir, { mode: i % 2 ? "simd" : "ts", threads: 1 });
      const outDir = join(work, `run-${i}`);
      const messages: string[] = [];
      const result = await program.train({ dataDir: data, outDir, epochs: 2, seed: 3 }, { log: (m) => messages.push(m) });
      expect(result.history.length).toBeGreaterThanOrEqual(1);
      for (const logs of result.history) for (const [k, v] of Object.entries(logs)) expect(Number.isFinite(v), k).toBe(true);
      expect(Number.isFinite(result.testLoss)).toBe(true);
      expect(existsSync(join(outDir, "model", "model.json"))).toBe(true);
      const kinds = ir.training!.callbacks.map((c) => c.kind);
      if (i === 0) {
        // stepsPerEpoch 5 of batch 4; precision/recall/mse/mae logged; csv with ";"
        expect(Object.keys(result.history[0]!)).toEqual(["loss", "accuracy", "precision", "recall", "mse", "mae", "lr"]);
        const csv = readFileSync(join(outDir, "log.csv"), "utf8").trim().split("\n");
        expect(csv[0]).toBe("epoch;loss;accuracy;precision;recall;mse;mae;lr");
        expect(csv.length).toBe(1 + result.history.length);
        expect(result.trainSamples).toBe(96);
      }
      if (kinds.includes("checkpoint")) expect(existsSync(join(outDir, "ckpt", "weights.bin"))).toBe(true);
      if (kinds.includes("tensorboard")) {
        // Keras's layout: tb/train/ (epoch_* and, with update_freq: batch, batch_* tags), tb/validation/
        const runs = readdirSync(join(outDir, "tb")).sort();
        expect(runs[0]).toBe("train");
        const [file] = readdirSync(join(outDir, "tb", "train"));
        const text = readFileSync(join(outDir, "tb", "train", file!)).toString("latin1");
        for (const tag of ["epoch_loss", "epoch_learning_rate", "batch_loss", "batch_learning_rate"]) expect(text).toContain(tag);
        if (ir.training!.data.validation.kind !== "none") expect(runs).toEqual(["train", "validation"]);
      }
      // Keras's validation_split: the first int(count * (1 - fraction)) examples train.
      if (ir.training!.data.validation.kind === "split") expect(result.trainSamples).toBe(Math.floor(96 * 0.9));
    });
  });
});

describe("reproducibility", () => {
  it("the same seed gives the same run, bit for bit; another seed another", async () => {
    const ir = featureIRs()[1]!; // dropout-free but with batch norm, augmentation and a split
    const runs: number[][] = [];
    for (const seed of [5, 5, 6]) {
      const program = await loadStandaloneProgram(ir, { mode: "ts", threads: 1 });
      const r = await program.train({ dataDir: data, outDir: join(work, `seed-${seed}-${runs.length}`), epochs: 2, seed }, {});
      runs.push(r.history.flatMap((h) => Object.values(h)));
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).not.toEqual(runs[0]);
  });
});
