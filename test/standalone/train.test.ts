// End to end: the standalone engine trains examples/mlp.nn for one epoch on 10,000 MNIST examples
// and must reach 90% test accuracy; writes a model tf.loadLayersModel can read back. Where
// ../shared/data/mnist is absent, it says so and trains on synthetic digits instead (which a
// working network separates almost perfectly).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { standaloneEngine } from "../../src/runtime/engines/standalone.js";
import { mnistDir, writeSyntheticMnist } from "../helpers/data.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const work = mkdtempSync(join(tmpdir(), "nnc-standalone-train-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("standalone engine, examples/mlp.nn", () => {
  it("reaches 90% test accuracy after 1 epoch on 10,000 examples, and saves a loadable model", async () => {
    const file = join(root, "examples", "mlp.nn");
    const { ir } = compileSource(readFileSync(file, "utf8"), "examples/mlp.nn");
    expect(ir).not.toBeNull();
    let dataDir = mnistDir();
    let trainLimit = 10000;
    if (dataDir === null) {
      console.log(
        "../shared/data/mnist is absent: training on 2,000 synthetic digits instead",
      );
      dataDir = writeSyntheticMnist(join(work, "data"), {
        train: 2000,
        test: 500,
      });
      trainLimit = 2000;
    }
    const outDir = join(work, "run");
    const epochs: number[] = [];
    const result = await standaloneEngine.train(
      ir!,
      { dataDir, epochs: 1, trainLimit, outDir },
      { onEpochEnd: (e) => epochs.push(e) },
    );
    console.log(
      `standalone mlp: test accuracy ${(result.testAccuracy * 100).toFixed(2)}%, ${result.samplesPerSecond.toFixed(0)} samples/s (${result.backend})`,
    );
    expect(epochs).toEqual([0]);
    expect(result.engine).toBe("standalone");
    expect(result.trainSamples).toBe(trainLimit);
    expect(result.testAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(result.files).toEqual(
      expect.arrayContaining(["model/model.json", "model/weights.bin"]),
    );

    // The saved model loads in TensorFlow.js and predicts what the standalone program measured.
    const json = JSON.parse(
      readFileSync(join(outDir, "model", "model.json"), "utf8"),
    );
    expect(json.userDefinedMetadata).toMatchObject({
      sourceSha256: ir!.source.sha256,
      nncVersion: ir!.nncVersion,
    });
    expect(existsSync(join(outDir, "model", "weights.bin"))).toBe(true);
    await tf.setBackend("cpu");
    const weights = readFileSync(join(outDir, "model", "weights.bin"));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer.slice(
          weights.byteOffset,
          weights.byteOffset + weights.byteLength,
        ),
      }),
    );
    expect(model.weights.map((w) => w.name)).toEqual([
      "dense_1/kernel",
      "dense_1/bias",
      "dense_2/kernel",
      "dense_2/bias",
    ]);
    const x = tf.ones([1, 28, 28, 1]);
    const p = (model.predict(x) as tf.Tensor).dataSync();
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
  });
});
