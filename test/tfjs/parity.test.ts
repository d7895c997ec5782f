// Parity: from the same initial weights (random.ts, seed 42) and the same batches, the tfjs
// engine and the standalone engine give the same losses over 10 training steps of mlp and cnn.
//
// Made deterministic on both sides: no shuffling (the engines' shuffle streams are their own),
// dropout rate 0 (the masks come from different streams), 10 steps = one epoch of 10 batches,
// then val_loss on the first test examples measures the weights after the 10th update.
//
// What is compared: onBatchEnd's loss (the epoch's running mean, as Keras reports it) after each
// of the 10 steps, and val_loss after them (the weights after the 10th update).
//
// Tolerance 1e-4 relative: both engines compute in float32 but sum in different orders (tfjs's
// matmul/conv kernels vs the standalone engine's), about 1e-7 relative per operation; Adam's
// division by sqrt(v) + 1e-7 can amplify that for weights whose gradients are near zero, and ten
// steps compound it. Measured: ~1e-8 relative for mlp at batch 32 (val_loss 1.17390966 vs
// 1.17390965), up to 3e-5 for allkinds, whose batch_norm gradient (tfjs autodiff vs a closed
// form) amplifies float32 rounding through the small variances after concat/reshape; without
// batch_norm it is ~2e-6. Any
// real difference (epsilon placement, bias correction, loss scaling, a missing penalty) shows up
// at 1e-3 or more within ten steps, so 1e-4 separates noise from bugs.
import { describe, expect, it } from "vitest";
import type { IR } from "../../src/compiler/ir.js";
import type { EpochLogs, TrainResult } from "../../src/runtime/engine.js";
import { standaloneEngine } from "../../src/runtime/engines/standalone.js";
import { initBackend } from "../../src/runtime/engines/tfjs/backends.js";
import { createTfjsEngine } from "../../src/runtime/engines/tfjs/index.js";
import { dataDir, exampleIr, fixtureIr, tempDir } from "./helpers.js";

const STEPS = 10;

function deterministic(ir: IR, batch: number): IR {
  const copy: IR = JSON.parse(JSON.stringify(ir));
  for (const l of copy.model.layers) if (l.kind === "dropout") l.args.rate = 0;
  copy.training!.data.shuffle = false;
  copy.training!.data.validation = { kind: "test" };
  copy.training!.data.augment = null;
  copy.training!.callbacks = [];
  copy.training!.batchSize = batch;
  copy.training!.epochs = 1;
  return copy;
}

async function run(
  engine: "tfjs" | "standalone",
  ir: IR,
  data: string,
  backend = "cpu",
): Promise<{ steps: number[]; result: TrainResult; logs: EpochLogs }> {
  const steps: number[] = [];
  let logs: EpochLogs = {};
  const options = {
    dataDir: data,
    trainLimit: STEPS * ir.training!.batchSize,
    testLimit: 100,
    epochs: 1,
    seed: 42,
    outDir: tempDir(),
    quiet: true,
    kernels: "ts",
  };
  const hooks = {
    onBatchEnd: (_s: number, l: { loss: number }) => void steps.push(l.loss),
    onEpochEnd: (_e: number, l: EpochLogs) => void (logs = l),
  };
  const e = engine === "tfjs" ? createTfjsEngine({ choice: await initBackend(ir, backend) }) : standaloneEngine;
  const result = await e.train(ir, options, hooks);
  return { steps, result, logs };
}

function expectClose(a: number, b: number, rel: number): void {
  expect(Math.abs(a - b) / Math.max(1e-6, Math.abs(b))).toBeLessThan(rel);
}

describe("parity: tfjs engine vs standalone engine", () => {
  // mlp on the cpu backend (batch 32: a step of 128 there takes 0.8 s); cnn on wasm, with nnc's own
  // Conv2DBackpropFilter (src/runtime/training/tfjs-wasm.ts).
  // allkinds (test/tfjs/fixtures): every layer kind, L1/L2/L1L2 penalties, Nadam, validation_split.
  for (const [name, batch, backend] of [
    ["mlp", 32, "cpu"],
    ["cnn", 32, "wasm"],
    ["allkinds", 16, "wasm"],
  ] as const) {
    it(`${name} (${backend} backend): same loss at each of ${STEPS} steps and after them`, async () => {
      const ir = deterministic(name === "allkinds" ? fixtureIr(name) : exampleIr(name), batch);
      const { dir } = dataDir();
      const tfjs = await run("tfjs", ir, dir, backend);
      const standalone = await run("standalone", ir, dir);
      expect(tfjs.steps).toHaveLength(STEPS);
      expect(standalone.steps).toHaveLength(STEPS);
      console.log(name, "tfjs", tfjs.steps.map((x) => x.toFixed(6)).join(" "), "val", tfjs.logs.val_loss);
      console.log(name, "standalone", standalone.steps.map((x) => x.toFixed(6)).join(" "), "val", standalone.logs.val_loss);
      for (let i = 0; i < STEPS; i++) expectClose(tfjs.steps[i]!, standalone.steps[i]!, 1e-4);
      expectClose(tfjs.logs.val_loss!, standalone.logs.val_loss!, 1e-4);
      // The first step's loss is computed from the initial weights alone.
      expectClose(tfjs.steps[0]!, standalone.steps[0]!, 1e-5);
    }, 300_000);
  }
});
