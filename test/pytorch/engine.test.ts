// The pytorch engine in-process (as `nnc run --engine pytorch` calls it) on a file that uses the
// callbacks, metrics and settings the parity tests do not reach: reduce_on_plateau, early_stopping
// with restore_best, checkpoint, csv_logger, tensorboard (written by nnc from rank 0's epoch logs),
// terminate_on_nan, every metric, validation_split, steps_per_epoch; with progress relayed to the
// hooks. Synthetic idx files, the real Python and PyTorch.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import type { EpochLogs, TrainResult } from "../../src/runtime/engine.js";
import { createPytorchEngine } from "../../src/runtime/engines/pytorch.js";
import { writeSyntheticMnist } from "../helpers/data.js";
import { featureIRs } from "../standalone/ir-builder.js";

const SOURCE = `model feat {
  input image(28, 28, 1)
  conv2d(4, kernel: 3, padding: same)
  batch_norm
  prelu
  max_pool(2)
  flatten
  dense(10, activation: softmax)
}

train feat {
  data      mnist(validation_split: 0.25)
  loss      categorical_crossentropy(label_smoothing: 0.1)
  optimizer rmsprop(lr: 0.01, momentum: 0.5, centered: true)
  callbacks [
    reduce_on_plateau(monitor: val_loss, factor: 0.5, patience: 1, min_delta: 10),
    early_stopping(monitor: val_loss, patience: 2, min_delta: 10, restore_best: true),
    checkpoint(monitor: val_accuracy, save_best_only: true, path: "best"),
    csv_logger(path: "logs/train.csv", separator: ";"),
    tensorboard(dir: "tb"),
    terminate_on_nan
  ]
  metrics   [accuracy, precision, recall, mse, mae]
  epochs    6
  batch     16
  steps_per_epoch 4
  seed      3
}
`;

const root = mkdtempSync(join(tmpdir(), "nnc-pt-engine-"));
const out = join(root, "run");
let result: TrainResult;
const logs: string[] = [];
const epochs: EpochLogs[] = [];
let begin: { epochs: number; stepsPerEpoch: number; trainSamples: number; validationSamples: number } | undefined;
let batches = 0;

beforeAll(async () => {
  const { ir, diagnostics } = compileSource(SOURCE, "feat.nn");
  if (!ir) throw new Error(diagnostics.map((d) => `${d.code} ${d.message}`).join("\n"));
  const data = writeSyntheticMnist(join(root, "data"), { train: 80, test: 30 });
  result = await createPytorchEngine({ nproc: 1, gpu: false }).train(
    ir,
    { outDir: out, dataDir: data },
    {
      onTrainBegin: (info) => (begin = info),
      onBatchEnd: () => batches++,
      onEpochEnd: (_e, l) => epochs.push(l),
      log: (m) => logs.push(m),
    },
  );
}, 150_000);

describe("the pytorch engine runs the train section's callbacks", () => {
  it("relays progress: the run's shape, batches and epochs", () => {
    expect(begin).toEqual({ epochs: 6, stepsPerEpoch: 4, trainSamples: 60, validationSamples: 20 });
    expect(batches).toBeGreaterThan(0);
    expect(epochs).toEqual(result.history);
  });

  it("reduce_on_plateau halves the rate after one epoch without improvement; early_stopping stops after two and restores", () => {
    expect(result.epochs).toBe(3);
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.map((h) => h.lr)).toEqual([0.01, 0.01, 0.005]);
    expect(logs.join("\n")).toMatch(/reduce_on_plateau: val_loss has not improved for 1 epochs; lr 0\.01 -> 0\.005/);
    expect(logs.join("\n")).toMatch(/early_stopping: val_loss has not improved for 2 epochs \(best .* at epoch 1\); stopping, restoring the weights of epoch 1/);
  });

  it("logs every metric, on training and validation data", () => {
    expect(Object.keys(result.history[0]!).sort()).toEqual(
      ["loss", "accuracy", "precision", "recall", "mse", "mae", "val_loss", "val_accuracy", "val_precision", "val_recall", "val_mse", "val_mae", "lr"].sort(),
    );
    for (const h of result.history) for (const v of Object.values(h)) expect(Number.isFinite(v)).toBe(true);
    expect(Object.keys(result.testMetrics).sort()).toEqual(["accuracy", "mae", "mse", "precision", "recall"]);
  });

  it("writes the csv log, the checkpoint (as safetensors and tfjs) and the TensorBoard events", () => {
    const csv = readFileSync(join(out, "logs", "train.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("epoch;loss;accuracy;precision;recall;mse;mae;val_loss;val_accuracy;val_precision;val_recall;val_mse;val_mae;lr");
    expect(csv).toHaveLength(4);
    expect(existsSync(join(out, "best", "weights.safetensors"))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "best", "model.json"), "utf8")).weightsManifest[0].weights.map((w: { name: string }) => w.name)).toContain("prelu_1/alpha");
    const events = readdirSync(join(out, "tb"));
    expect(events).toHaveLength(1);
    expect(readFileSync(join(out, "tb", events[0]!)).includes(Buffer.from("epoch_val_loss"))).toBe(true);
    expect(result.files).toEqual(expect.arrayContaining(["model.py", "weights.safetensors", "logs/train.csv", "best/weights.safetensors", "best/model.json", `tb/${events[0]}`, "model/model.json"]));
  });

  it("saves the model with batch norm's moving statistics, trained", () => {
    const manifest = JSON.parse(readFileSync(join(out, "model", "model.json"), "utf8"));
    const names = manifest.weightsManifest[0].weights.map((w: { name: string }) => w.name);
    expect(names).toEqual(expect.arrayContaining(["batch_norm_1/moving_mean", "batch_norm_1/moving_variance", "conv2d_1/kernel"]));
    const bytes = readFileSync(join(out, "model", "weights.bin"));
    expect(bytes.byteLength).toBe(4 * manifest.weightsManifest[0].weights.reduce((n: number, w: { shape: number[] }) => n + w.shape.reduce((a, b) => a * b, 1), 0));
  });
});

describe("the pytorch engine trains the feature models of the standalone tests", () => {
  // binary cross-entropy with every metric, sgd + Nesterov, exponential_decay (staircase);
  // sparse labels from logits on Fashion-MNIST-named data, augmentation, piecewise_constant,
  // rmsprop centered, checkpoint every epoch; adagrad with huber and inverse_time_decay, on
  // uncompressed idx files
  const irs = featureIRs().slice(0, 3);
  for (const [i, ir] of irs.entries()) {
    it(`feature model ${i + 1}: ${ir.training!.loss.kind}, ${ir.training!.optimizer.kind}`, async () => {
      const dir = join(root, `feature-${i}`);
      const data = writeSyntheticMnist(join(root, `feature-data-${i}`), { train: 48, test: 16 });
      if (i === 2) {
        // the idx files uncompressed, as the original MNIST site's users often keep them
        for (const f of readdirSync(data)) {
          writeFileSync(join(data, f.replace(/\.gz$/, "")), gunzipSync(readFileSync(join(data, f))));
          rmSync(join(data, f));
        }
      }
      const r = await createPytorchEngine({ nproc: 1, gpu: false }).train(ir, { outDir: dir, dataDir: data, epochs: 2, trainLimit: 48 }, {});
      expect(r.epochs).toBeGreaterThan(0);
      expect(Number.isFinite(r.testLoss)).toBe(true);
      for (const m of ir.training!.metrics) expect(Number.isFinite(r.testMetrics[m]), m).toBe(true);
      expect(existsSync(join(dir, "model", "model.json"))).toBe(true);
      const lrs = r.history.map((h) => h.lr);
      if (ir.training!.schedule) expect(lrs.every((lr) => lr! > 0)).toBe(true);
    }, 120_000);
  }
});
