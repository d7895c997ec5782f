// A fake IR and a fake Engine for testing `nnc run` without the checker or the real engines.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { IR, IRModel } from "../../src/compiler/ir.js";
import type { Engine, RunOptions, TrainHooks, TrainResult } from "../../src/runtime/engine.js";

export function fakeModel(name: string, units = 32): IRModel {
  const src = { line: 1, column: 1, text: "" };
  const layers = [
    {
      id: "input_1",
      kind: "input",
      inputs: [],
      args: {},
      inputShapes: [],
      outputShape: [28, 28, 1],
      weights: [],
      params: 0,
      flops: 0,
      source: src,
    },
    {
      id: "flatten_1",
      kind: "flatten",
      inputs: ["input_1"],
      args: {},
      inputShapes: [[28, 28, 1]],
      outputShape: [784],
      weights: [],
      params: 0,
      flops: 0,
      source: src,
    },
    {
      id: "dense_1",
      kind: "dense",
      inputs: ["flatten_1"],
      args: { units },
      inputShapes: [[784]],
      outputShape: [units],
      weights: [],
      params: 784 * units + units,
      flops: 2 * 784 * units,
      source: src,
    },
    {
      id: "dense_2",
      kind: "dense",
      inputs: ["dense_1"],
      args: { units: 10 },
      inputShapes: [[units]],
      outputShape: [10],
      weights: [],
      params: units * 10 + 10,
      flops: 2 * units * 10,
      source: src,
    },
  ];
  const total = layers.reduce((a, l) => a + l.params, 0);
  return {
    name,
    inputShape: [28, 28, 1],
    layers,
    outputs: ["dense_2"],
    params: { total, trainable: total, nonTrainable: 0 },
    flops: 0,
  };
}

export function fakeIR(opts: { name?: string; sweepUnits?: number[]; validation?: "test" | "split" } = {}): IR {
  const name = opts.name ?? "mlp";
  const ir: IR = {
    irVersion: 1,
    nncVersion: "0.1.0",
    source: { file: `${name}.nn`, sha256: "0".repeat(64) },
    model: fakeModel(name, opts.sweepUnits?.[0] ?? 32),
    training: {
      data: {
        dataset: "mnist",
        classes: 10,
        exampleShape: [28, 28, 1],
        validation: opts.validation === "split" ? { kind: "split", fraction: 0.2 } : { kind: "test" },
        augment: null,
        shuffle: true,
      },
      labels: "onehot",
      loss: { kind: "categorical_crossentropy", args: {} },
      optimizer: { kind: "adam", args: { lr: 0.001 } },
      schedule: null,
      callbacks: [],
      metrics: ["accuracy"],
      epochs: 3,
      batchSize: 32,
      stepsPerEpoch: null,
      seed: 42,
    },
    sweep: null,
  };
  if (opts.sweepUnits) {
    ir.sweep = {
      monitor: "val_accuracy",
      mode: "max",
      parameters: [{ name: "width", values: opts.sweepUnits }],
      variants: opts.sweepUnits.map((u) => ({ values: { width: u }, model: fakeModel(name, u) })),
    };
  }
  return ir;
}

export interface FakeCall {
  ir: IR;
  options: RunOptions;
}

/**
 * Trains nothing: reports `epochs` epochs of 4 steps whose val_accuracy grows with the first dense
 * layer's units (so a sweep prefers wider), and writes model/model.json atomically.
 */
export function fakeEngine(calls: FakeCall[], behaviour: { interruptAtEpoch?: number; fail?: string } = {}): Engine {
  return {
    name: "standalone",
    async train(ir: IR, options: RunOptions, hooks: TrainHooks): Promise<TrainResult> {
      calls.push({ ir, options });
      if (behaviour.fail) throw new Error(behaviour.fail);
      const epochs = options.epochs ?? ir.training!.epochs;
      const units = Number((ir.model.layers[2].args as { units: number }).units);
      const trainSamples = options.trainLimit ?? 1000;
      hooks.onTrainBegin?.({ epochs, stepsPerEpoch: 4, trainSamples, validationSamples: 200 });
      const history: Record<string, number>[] = [];
      for (let e = 0; e < epochs; e++) {
        for (let s = 0; s < 4; s++) {
          if (options.signal?.aborted) break;
          hooks.onBatchEnd?.(e * 4 + s, { loss: 1 / (e + 1), accuracy: 0.5 });
          if (behaviour.interruptAtEpoch === e && s === 1) {
            // a half-written file of the kind an engine makes while saving
            mkdirSync(join(options.outDir, "model"), { recursive: true });
            writeFileSync(join(options.outDir, "model", `weights.bin.tmp-${process.pid}-abc123`), "partial");
            process.emit("SIGINT");
          }
        }
        if (options.signal?.aborted) break;
        const logs = {
          loss: 1 / (e + 1),
          accuracy: 0.8 + e * 0.01,
          val_loss: 1.2 / (e + 1),
          val_accuracy: 0.5 + units / 1000 + e * 0.01,
          lr: 0.001,
        };
        history.push(logs);
        hooks.onEpochEnd?.(e, logs);
      }
      if (!options.signal?.aborted) {
        mkdirSync(join(options.outDir, "model"), { recursive: true });
        writeFileSync(join(options.outDir, "model", "model.json"), "{}");
      }
      hooks.log?.("fake engine: done");
      return {
        engine: "standalone",
        backend: "ts",
        history,
        epochs: history.length,
        trainSamples,
        testLoss: 0.25,
        testAccuracy: 0.9 + units / 10000,
        testMetrics: { accuracy: 0.9 + units / 10000 },
        seconds: 1.5,
        samplesPerSecond: (trainSamples * history.length) / 1.5,
        stoppedEarly: false,
        files: ["model/model.json"],
      };
    },
  };
}
