// `nnc run --gpu --engine standalone`: the standalone engine's dense training step as nnc's own WGSL
// kernels on WebGPU (src/runtime/engines/standalone-webgpu.ts), on the
// software adapter. Made deterministic as test/tfjs/parity.test.ts does (no shuffling, dropout 0:
// the two engines' random streams differ), it trains on the same batches from the same initial
// weights as the CPU standalone engine, and must report the same losses step by step and end with
// the same weights, within float32 summation-order noise.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import type { IR } from "../../src/compiler/ir.js";
import type { EpochLogs } from "../../src/runtime/engine.js";
import { createStandaloneWebgpuEngine, denseWebgpuPlan } from "../../src/runtime/engines/standalone-webgpu.js";
import { standaloneEngine } from "../../src/runtime/engines/standalone.js";
import { fileLoadHandler } from "../../src/runtime/engines/tfjs/save.js";
import { dataDir, exampleIr, repoRoot, tempDir } from "../tfjs/helpers.js";

process.env.NNC_WEBGPU_ADAPTER = "software";

const STEPS = 8;
const BATCH = 32;

function deterministic(ir: IR): IR {
  const copy: IR = JSON.parse(JSON.stringify(ir));
  for (const l of copy.model.layers) if (l.kind === "dropout") l.args.rate = 0;
  copy.training!.data.shuffle = false;
  copy.training!.data.validation = { kind: "test" };
  copy.training!.callbacks = [];
  copy.training!.batchSize = BATCH;
  copy.training!.epochs = 1;
  return copy;
}

function weights(dir: string): Float32Array {
  return new Float32Array(readFileSync(join(dir, "model", "weights.bin")).buffer.slice(0));
}

describe("standalone engine on WebGPU (software adapter)", () => {
  // mlp: relu, dropout (rate 0 here), Adam; twolayer: sigmoid, plain SGD.
  for (const name of ["mlp", "twolayer"]) {
    it(`${name}: the same loss at each of ${STEPS} steps and the same weights as the CPU standalone engine`, async () => {
      const ir = deterministic(exampleIr(name));
      const { dir } = dataDir();
      const run = async (engine: typeof standaloneEngine) => {
        const steps: number[] = [];
        let logs: EpochLogs = {};
        const out = tempDir();
        const result = await engine.train(
          ir,
          {
            dataDir: dir,
            trainLimit: STEPS * BATCH,
            testLimit: 100,
            epochs: 1,
            seed: 42,
            outDir: out,
            quiet: true,
            kernels: "ts",
          },
          {
            onBatchEnd: (_s, l) => void steps.push(l.loss),
            onEpochEnd: (_e, l) => void (logs = l),
          },
        );
        return { steps, logs, result, w: weights(out) };
      };
      const gpu = await run(createStandaloneWebgpuEngine());
      const cpu = await run(standaloneEngine);
      expect(gpu.result).toMatchObject({
        engine: "standalone",
        backend: "webgpu",
        trainSamples: STEPS * BATCH,
      });
      expect(gpu.steps).toHaveLength(STEPS);
      const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
      const worstStep = Math.max(...gpu.steps.map((x, i) => rel(x, cpu.steps[i]!)));
      let worstWeight = 0;
      for (let i = 0; i < gpu.w.length; i++) worstWeight = Math.max(worstWeight, Math.abs(gpu.w[i]! - cpu.w[i]!));
      console.log(
        `standalone ${name}, ${STEPS} steps: losses webgpu ${gpu.steps.map((x) => x.toFixed(6)).join(" ")} cpu ${cpu.steps.map((x) => x.toFixed(6)).join(" ")}; ` +
          `worst relative ${worstStep.toExponential(2)}; val_loss ${gpu.logs.val_loss} vs ${cpu.logs.val_loss}; weights max |webgpu - cpu| ${worstWeight.toExponential(2)}`,
      );
      expect(worstStep).toBeLessThan(1e-4);
      expect(rel(gpu.logs.val_loss!, cpu.logs.val_loss!)).toBeLessThan(1e-4);
      expect(rel(gpu.result.testAccuracy, cpu.result.testAccuracy)).toBeLessThan(0.02);
      expect(gpu.w.length).toBe(cpu.w.length);
      expect(worstWeight).toBeLessThan(1e-4);
      expect(gpu.logs.val_loss!).toBeLessThan(gpu.steps[0]!); // it learned
    }, 180_000);
  }

  it("nnc run examples/mlp.nn --gpu --engine standalone: trains, saves a model tf.loadLayersModel reads", async () => {
    const out = join(tempDir(), "run");
    const r = spawnSync(
      process.execPath,
      [
        "bin/nnc.js",
        "run",
        "examples/mlp.nn",
        "--gpu",
        "--engine",
        "standalone",
        "--epochs",
        "1",
        "--train-limit",
        "512",
        "--test-limit",
        "200",
        "--data",
        dataDir().dir,
        "--json",
        "--out",
        out,
      ],
      {
        cwd: repoRoot,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, NNC_WEBGPU_ADAPTER: "software" },
      },
    );
    expect(r.stderr).toMatch(/standalone engine on WebGPU \(--engine standalone --gpu\): nnc's WGSL kernels on .*software, not a GPU/);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(report).toMatchObject({
      engine: "standalone",
      backend: "webgpu",
      epochs: 1,
      trainSamples: 512,
    });
    expect(report.testAccuracy).toBeGreaterThan(0.5);
    expect(report.files).toEqual(expect.arrayContaining(["model/model.json", "model/weights.bin", "checkpoint/model.json"]));
    await tf.setBackend("cpu");
    const model = await tf.loadLayersModel(fileLoadHandler(join(out, "model")));
    const y = model.predict(tf.zeros([1, 28, 28, 1])) as tf.Tensor;
    expect(y.shape).toEqual([1, 10]);
    expect((await y.sum().data())[0]).toBeCloseTo(1, 5);
  }, 150_000);

  it("a model outside what it covers: exit 1 naming the layer and the other GPU path, no stack trace", () => {
    expect(denseWebgpuPlan(exampleIr("cnn"))).toBe("the conv2d layer conv2d_1");
    expect(denseWebgpuPlan(exampleIr("mlp"))).toMatchObject({
      classes: 10,
      optimizer: { kind: "adam" },
    });
    const r = spawnSync(
      process.execPath,
      ["bin/nnc.js", "run", "examples/cnn.nn", "--gpu", "--engine", "standalone", "--out", join(tempDir(), "run")],
      {
        cwd: repoRoot,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, NNC_WEBGPU_ADAPTER: "software" },
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^nnc: --gpu --engine standalone covers dense networks only \(.*\); this model has the conv2d layer conv2d_1\. Use --engine tfjs --gpu for it\.\n$/,
    );
  }, 60_000);
});
