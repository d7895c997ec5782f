// The tfjs engine's training run: accuracy on MNIST, the saved model, and nnc's callbacks.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { IR, IRRef } from "../../src/compiler/ir.js";
import type { EpochLogs } from "../../src/runtime/engine.js";
import { initBackend } from "../../src/runtime/engines/tfjs/backends.js";
import { createTfjsEngine, loadTfjsProgram } from "../../src/runtime/engines/tfjs/index.js";
import { fileLoadHandler } from "../../src/runtime/engines/tfjs/save.js";
import { loadMnist } from "../../src/runtime/data/mnist.js";
import { dataDir, exampleIr, tempDir } from "./helpers.js";

async function cpuEngine(ir: IR) {
  return createTfjsEngine({ choice: await initBackend(ir, "cpu") });
}

/** The wasm backend: what `--backend auto` picks where tfjs-node is not installed (and about 10x the cpu backend's speed on mlp). */
async function wasmEngine(ir: IR) {
  return createTfjsEngine({ choice: await initBackend(ir, "wasm") });
}

describe("tfjs engine", () => {
  // The cpu backend trains the same steps (test/tfjs/parity.test.ts: mlp's loss over 10 steps on
  // cpu matches the standalone engine's), at about a tenth of the speed.
  it("mlp, wasm backend, 1 epoch on 5000 examples: >= 85% test accuracy; the saved model loads and classifies as well", async () => {
    const ir = exampleIr("mlp");
    const { dir, real } = dataDir({ train: 5000, test: 1000 });
    const out = tempDir();
    const engine = await wasmEngine(ir);
    const logs: string[] = [];
    const epochs: EpochLogs[] = [];
    const result = await engine.train(
      ir,
      { dataDir: dir, epochs: 1, trainLimit: 5000, outDir: out },
      { log: (m) => void logs.push(m), onEpochEnd: (_e, l) => void epochs.push(l) },
    );
    console.log(
      `mlp tfjs wasm: ${real ? "MNIST" : "synthetic"} test accuracy ${result.testAccuracy}, ${result.samplesPerSecond.toFixed(0)} samples/s, ${result.seconds.toFixed(1)} s`,
    );
    expect(result.engine).toBe("tfjs");
    expect(result.backend).toBe("wasm");
    expect(result.epochs).toBe(1);
    expect(result.trainSamples).toBe(5000);
    expect(result.testAccuracy).toBeGreaterThanOrEqual(real ? 0.85 : 0.9);
    expect(epochs[0]!.val_loss).toBeCloseTo(result.testLoss, 6); // validation: test
    // checkpoint(save_best_only) saved the first (best) epoch, and the final model is in model/.
    expect(logs.some((l) => /checkpoint: val_loss improved/.test(l))).toBe(true);
    expect(result.files).toEqual(
      expect.arrayContaining(["model/model.json", "model/weights.bin", "checkpoint/model.json", "checkpoint/weights.bin"]),
    );
    const json = JSON.parse(readFileSync(join(out, "model/model.json"), "utf8"));
    expect(json.format).toBe("layers-model");
    expect(json.userDefinedMetadata).toMatchObject({ sourceSha256: ir.source.sha256, nncVersion: ir.nncVersion });
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name).sort()).toEqual([
      "dense_1/bias",
      "dense_1/kernel",
      "dense_2/bias",
      "dense_2/kernel",
    ]);
    expect(readdirSync(join(out, "model")).sort()).toEqual(["model.json", "weights.bin"]); // no temporary files left
    // The saved model (tfjs layers format) loads with tf.loadLayersModel and classifies as well.
    const tf = await import("@tensorflow/tfjs");
    const loaded = await tf.loadLayersModel(fileLoadHandler(join(out, "model")));
    const test = await loadMnist({ dataset: "mnist", split: "test", dataDir: dir, limit: 1000 });
    const p = loaded.predict(tf.tensor(test.images, [test.count, 28, 28, 1])) as import("@tensorflow/tfjs").Tensor;
    const predicted = p.argMax(-1).dataSync();
    let right = 0;
    for (let i = 0; i < test.count; i++) if (predicted[i] === test.labels[i]) right++;
    expect(right / test.count).toBeGreaterThanOrEqual(real ? 0.85 : 0.9);
  }, 400_000);

  // A small model on small data for the callbacks: quick on the cpu backend.
  function tiny(callbacks: IRRef[], extra: Partial<NonNullable<IR["training"]>> = {}): IR {
    const ir: IR = JSON.parse(JSON.stringify(exampleIr("twolayer")));
    ir.training = { ...ir.training!, callbacks, epochs: 4, batchSize: 50, ...extra };
    return ir;
  }
  const small = { trainLimit: 200, testLimit: 100 };

  it("reduce_on_plateau, early_stopping with restore_best, csv_logger, tensorboard, an L2 penalty", async () => {
    const ir = tiny(
      [
        {
          kind: "reduce_on_plateau",
          args: { monitor: "val_loss", factor: 0.5, patience: 0, min_delta: 10, cooldown: 0, min_lr: 0, mode: "min" },
        },
        { kind: "early_stopping", args: { monitor: "val_accuracy", patience: 2, min_delta: 10, mode: "max", restore_best: true } },
        { kind: "csv_logger", args: { path: "log.csv", separator: ",", append: false } },
        { kind: "tensorboard", args: { dir: "logs", update_freq: "batch" } },
      ],
      { optimizer: { kind: "sgd", args: { lr: 0.1, momentum: 0, nesterov: false } } },
    );
    ir.model.layers[2]!.weights[0]!.regularizer = { kind: "l2", args: { l2: 0.01 } };
    const out = tempDir();
    const logs: string[] = [];
    const r = await (await cpuEngine(ir)).train(ir, { dataDir: dataDir().dir, ...small, outDir: out }, { log: (m) => void logs.push(m) });
    // min_delta 10: only the first epoch "improves" (on infinity); from epoch 2 on the lr halves at
    // every epoch end (patience 0), and early stopping (patience 2) stops after epoch 3.
    expect(r.history.map((h) => h.lr)).toEqual([0.1, 0.1, 0.05]);
    expect(logs).toContain("reduce_on_plateau: val_loss has not improved for 0 epochs; lr 0.1 -> 0.05");
    expect(r.stoppedEarly).toBe(true);
    expect(r.epochs).toBe(3);
    expect(logs.some((l) => l.startsWith("early_stopping:") && l.includes("restoring the weights of epoch 1"))).toBe(true);
    // Restored to epoch 1's weights: the test loss is epoch 1's val_loss (validation is the test set).
    expect(r.testLoss).toBeCloseTo(r.history[0]!.val_loss!, 5);
    const csv = readFileSync(join(out, "log.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("epoch,loss,accuracy,val_loss,val_accuracy,lr");
    expect(csv).toHaveLength(4);
    // TensorBoard as Keras lays it out: logs/train/ and logs/validation/, one event file each
    expect(readdirSync(join(out, "logs")).sort()).toEqual(["train", "validation"]);
    for (const run of ["train", "validation"]) {
      expect(readdirSync(join(out, "logs", run)).every((f) => f.startsWith("events.out.tfevents."))).toBe(true);
    }
    expect(r.files.filter((f) => f.startsWith("logs/")).map((f) => f.split("/")[1]).sort()).toEqual(["train", "validation"]);
    const trainEvents = readFileSync(join(out, "logs", "train", readdirSync(join(out, "logs", "train"))[0]!)).toString("latin1");
    for (const tag of ["epoch_loss", "epoch_learning_rate", "batch_loss", "batch_accuracy", "batch_learning_rate"]) expect(trainEvents).toContain(tag);
    const validationEvents = readFileSync(join(out, "logs", "validation", readdirSync(join(out, "logs", "validation"))[0]!)).toString("latin1");
    expect(validationEvents).toContain("epoch_accuracy");
    expect(validationEvents).not.toContain("val_");
    expect(r.files).toEqual(expect.arrayContaining(["log.csv", "model/model.json"]));
  }, 120_000);

  it("the L2 penalty is part of the loss (Keras: l2 * sum(w^2))", async () => {
    const base = tiny([], { epochs: 1 });
    const withL2: IR = JSON.parse(JSON.stringify(base));
    withL2.model.layers[2]!.weights[0]!.regularizer = { kind: "l2", args: { l2: 1 } };
    const first = async (ir: IR) => {
      let loss = NaN;
      await (
        await cpuEngine(ir)
      ).train(
        ir,
        { dataDir: dataDir().dir, trainLimit: 50, testLimit: 50, outDir: tempDir() },
        { onBatchEnd: (s, l) => void (s === 0 && (loss = l.loss)) },
      );
      return loss;
    };
    // N(0, 0.01²) kernel of 784x50: sum(w²) ≈ 39200 * 1e-4 = 3.92
    const diff = (await first(withL2)) - (await first(base));
    expect(diff).toBeGreaterThan(3.5);
    expect(diff).toBeLessThan(4.4);
  }, 120_000);

  it("terminate_on_nan stops at the first NaN loss", async () => {
    const ir = tiny([{ kind: "terminate_on_nan", args: {} }]);
    // An output kernel of 1e38 everywhere: the logits overflow to infinity, and softmax's inf - inf is a NaN loss at once.
    ir.model.layers[3]!.weights[0]!.initializer = { kind: "constant", args: { value: 1e38 } };
    const logs: string[] = [];
    const out = tempDir();
    // It stops; and the model, whose weights are NaN, is not saved (issue 12: never a model with NaN weights).
    await expect(
      (await cpuEngine(ir)).train(ir, { dataDir: dataDir().dir, ...small, outDir: out }, { log: (m) => void logs.push(m) }),
    ).rejects.toThrow(/not saving the model in .*model: \d+ of its \d+ weights are NaN or infinite \(training diverged\)/);
    expect(logs.some((l) => l.startsWith("terminate_on_nan: batch 1 of epoch 1 has loss NaN"))).toBe(true);
    expect(existsSync(join(out, "model"))).toBe(false);
  }, 120_000);

  it("stops at the next batch when aborted, and writes no model", async () => {
    const ir = tiny([]);
    const controller = new AbortController();
    const out = tempDir();
    const p = (await cpuEngine(ir)).train(
      ir,
      { dataDir: dataDir().dir, ...small, outDir: out, signal: controller.signal },
      { onBatchEnd: () => controller.abort() },
    );
    await expect(p).rejects.toThrow();
    expect(existsSync(join(out, "model"))).toBe(false);
  }, 60_000);

  it("augmentation runs (deep.nn's augment settings on a tiny model)", async () => {
    const ir = tiny([], { epochs: 1, data: { ...exampleIr("deep").training!.data } });
    const r = await (await cpuEngine(ir)).train(ir, { dataDir: dataDir().dir, ...small, outDir: tempDir() }, {});
    expect(Number.isFinite(r.history[0]!.loss)).toBe(true);
  }, 60_000);
});

describe("tfjs engine internals", () => {
  it("batch_norm trains with batch statistics and updates its moving averages; no tensors leak per step or after the run", async () => {
    const ir: IR = JSON.parse(JSON.stringify(exampleIr("regularized")));
    ir.training = { ...ir.training!, callbacks: [], epochs: 2, batchSize: 32 };
    const choice = await initBackend(ir, "wasm");
    const counts: number[] = [];
    const out = tempDir();
    const before = choice.tf.memory().numTensors;
    const program = await loadTfjsProgram(ir, choice);
    const r = await program.train(
      { dataDir: dataDir().dir, trainLimit: 128, testLimit: 64, outDir: out },
      { onBatchEnd: () => void counts.push(choice.tf.memory().numTensors) },
    );
    expect(r.history).toHaveLength(2);
    const saved = await choice.tf.loadLayersModel(fileLoadHandler(join(out, "model")));
    const mean = saved.weights.find((w) => w.originalName === "batch_norm_1/moving_mean")!;
    expect(Math.max(...Array.from(mean.read().dataSync()).map(Math.abs))).toBeGreaterThan(0);
    saved.dispose();
    // After the first step (optimizer slots created), the tensor count stays flat.
    expect(new Set(counts.slice(1, 4)).size).toBe(1);
    expect(counts.at(-1)).toBe(counts[1]);
    // train() frees the model and the optimizer's state: a sweep trains many in one process.
    expect(choice.tf.memory().numTensors).toBe(before);
  }, 120_000);
});

describe("tfjs engine: every optimizer, loss and schedule runs", () => {
  const ref = (kind: string, args: Record<string, unknown> = {}): IRRef => ({ kind, args: args as IRRef["args"] });
  const cases: [string, Partial<NonNullable<IR["training"]>>][] = [
    [
      "nadam + exponential_decay",
      {
        optimizer: ref("nadam", { lr: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }),
        schedule: ref("exponential_decay", { decay_steps: 2, decay_rate: 0.5, staircase: true }),
      },
    ],
    [
      "sparse labels + sgd nesterov + piecewise_constant",
      {
        labels: "sparse",
        loss: ref("sparse_categorical_crossentropy", { from_logits: false }),
        optimizer: ref("sgd", { lr: 0.1, momentum: 0.9, nesterov: true }),
        schedule: ref("piecewise_constant", { boundaries: [1], values: [0.1, 0.01] }),
      },
    ],
    [
      "label smoothing + centered rmsprop + inverse_time_decay",
      {
        loss: ref("categorical_crossentropy", { from_logits: false, label_smoothing: 0.1 }),
        optimizer: ref("rmsprop", { lr: 0.001, rho: 0.9, momentum: 0.5, epsilon: 1e-7, centered: true }),
        schedule: ref("inverse_time_decay", { decay_steps: 1, decay_rate: 1, staircase: false }),
      },
    ],
    [
      "huber + adadelta + mse/mae/precision/recall metrics",
      {
        loss: ref("huber", { delta: 1 }),
        optimizer: ref("adadelta", { lr: 1, rho: 0.95, epsilon: 1e-7 }),
        metrics: ["accuracy", "mse", "mae", "precision", "recall"],
      },
    ],
    [
      "binary_crossentropy + adamax",
      {
        loss: ref("binary_crossentropy", { from_logits: false, label_smoothing: 0 }),
        optimizer: ref("adamax", { lr: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }),
      },
    ],
    [
      "mae + adagrad, validation split",
      { loss: ref("mae"), optimizer: ref("adagrad", { lr: 0.01, initial_accumulator_value: 0.1, epsilon: 1e-7 }) },
    ],
  ];
  for (const [label, t] of cases) {
    it(
      label,
      async () => {
        const ir: IR = JSON.parse(JSON.stringify(exampleIr("twolayer")));
        ir.training = { ...ir.training!, ...t, epochs: 2, batchSize: 25, callbacks: [] };
        if (label.includes("validation split")) ir.training.data.validation = { kind: "split", fraction: 0.2 };
        const engine = createTfjsEngine({ choice: await initBackend(ir, "wasm") });
        const r = await engine.train(ir, { dataDir: dataDir().dir, trainLimit: 100, testLimit: 50, outDir: tempDir() }, {});
        expect(r.history).toHaveLength(2);
        for (const h of r.history) for (const [k, v] of Object.entries(h)) expect(Number.isFinite(v), `${k} = ${v}`).toBe(true);
        if (t.schedule?.kind === "piecewise_constant") expect(r.history.map((h) => h.lr)).toEqual([0.01, 0.01]);
        if (t.metrics) expect(Object.keys(r.testMetrics).sort()).toEqual(["accuracy", "mae", "mse", "precision", "recall"]);
        expect(Number.isFinite(r.testLoss)).toBe(true);
      },
      60_000,
    );
  }
});
