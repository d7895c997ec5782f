// The tfjs engine on WebGPU (Dawn, the `webgpu` package) matches the cpu backend, on the software
// adapter every machine can have (NNC_WEBGPU_ADAPTER=software: Mesa's llvmpipe through Dawn's
// OpenGL ES backend; .ci/run lists the Debian packages). The same code path
// runs on a real GPU's Vulkan adapter; `npm run gpu-check` times it there.
//
// Made deterministic as in test/tfjs/parity.test.ts: same initial weights (random.ts, seed 42),
// no shuffling, dropout 0, the same batches. Compared:
//   forward   the untrained model's outputs on one batch, within 1e-4 (absolute, on softmax
//             probabilities);
//   training  the loss reported after each of 5 Adam steps and val_loss after them (the weights
//             after the 5th update), within 1e-3 relative.
// Both sides compute in float32 and sum in different orders (WebGPU's tiled matmul/conv shaders
// vs tfjs-cpu's loops): about 1e-7 relative per operation, amplified a little by Adam's division
// by sqrt(v). A wrong gradient or kernel shows up far above 1e-3 within five steps.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import type { IR } from "../../src/compiler/ir.js";
import type { EpochLogs } from "../../src/runtime/engine.js";
import { initBackend, type BackendChoice } from "../../src/runtime/engines/tfjs/backends.js";
import { buildModel } from "../../src/runtime/engines/tfjs/model.js";
import { loadTfjsProgram } from "../../src/runtime/engines/tfjs/index.js";
import { fileLoadHandler } from "../../src/runtime/engines/tfjs/save.js";
import { dataDir, exampleIr, repoRoot, tempDir } from "../tfjs/helpers.js";

process.env.NNC_WEBGPU_ADAPTER = "software";

const STEPS = 5;
const BATCH = 32;

function fixture(name: string): IR {
  const file = `test/gpu/fixtures/${name}.nn`;
  const { ir, diagnostics } = compileSource(readFileSync(`${repoRoot}/${file}`, "utf8"), file);
  if (!ir) throw new Error(`${file}: ${JSON.stringify(diagnostics)}`);
  return ir;
}

function deterministic(ir: IR): IR {
  const copy: IR = JSON.parse(JSON.stringify(ir));
  for (const l of copy.model.layers) if (l.kind === "dropout") l.args.rate = 0;
  copy.training!.data.shuffle = false;
  copy.training!.data.validation = { kind: "test" };
  copy.training!.data.augment = null;
  copy.training!.callbacks = [];
  copy.training!.batchSize = BATCH;
  copy.training!.epochs = 1;
  return copy;
}

/** A batch of inputs in [0, 1] with some structure (a smooth pattern, not noise). */
function inputs(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.5 + 0.5 * Math.sin(i * 0.37) * Math.cos(i * 0.011);
  return x;
}

async function forward(choice: BackendChoice, ir: IR): Promise<Float32Array> {
  await choice.tf.setBackend(choice.backend);
  const built = await buildModel(choice.tf, ir.model, 42);
  const shape = [BATCH, ...ir.model.layers[0]!.outputShape];
  const x = choice.tf.tensor(inputs(shape), shape);
  const y = built.model.predict(x) as import("@tensorflow/tfjs").Tensor;
  const out = (await y.data()) as Float32Array;
  choice.tf.dispose([x, y]);
  built.model.dispose();
  return out;
}

async function train(choice: BackendChoice, ir: IR, data: string): Promise<{ steps: number[]; logs: EpochLogs; weights: Float32Array[] }> {
  await choice.tf.setBackend(choice.backend);
  const steps: number[] = [];
  let logs: EpochLogs = {};
  const outDir = tempDir();
  const program = await loadTfjsProgram(ir, choice);
  await program.train(
    {
      dataDir: data,
      trainLimit: STEPS * BATCH,
      testLimit: 64,
      epochs: 1,
      seed: 42,
      outDir,
      quiet: true,
    },
    {
      onBatchEnd: (_s, l) => {
        // Each step really ran on the backend under test.
        expect(choice.tf.getBackend()).toBe(choice.backend);
        steps.push(l.loss);
      },
      onEpochEnd: (_e, l) => void (logs = l),
    },
  );
  // The weights it saved (the program disposes its model when train() returns).
  const saved = await choice.tf.loadLayersModel(fileLoadHandler(join(outDir, "model")));
  const weights = await Promise.all(saved.getWeights().map(async (w) => (await w.data()) as Float32Array));
  saved.dispose();
  return { steps, logs, weights };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-6, Math.abs(b));

describe("tfjs engine on WebGPU (software adapter) vs the cpu backend", () => {
  let webgpu: BackendChoice;
  let cpu: BackendChoice;
  beforeAll(async () => {
    webgpu = await initBackend(exampleIr("mlp"), "webgpu");
    cpu = await initBackend(exampleIr("mlp"), "cpu");
  });

  it("runs on the adapter it says, and says it is software", () => {
    expect(webgpu.backend).toBe("webgpu");
    expect(webgpu.reason).toMatch(/^--backend webgpu: Dawn on .*software, not a GPU\)$/);
    console.log(webgpu.reason);
  });

  for (const [name, ir] of [
    ["mlp", () => deterministic(exampleIr("mlp"))],
    ["small_cnn", () => deterministic(fixture("small_cnn"))],
  ] as const) {
    it(`${name}: same forward pass (1e-4) and same loss over ${STEPS} Adam steps (1e-3 relative)`, async () => {
      const model = ir();
      const [g, c] = [await forward(webgpu, model), await forward(cpu, model)];
      expect(g.length).toBe(BATCH * 10);
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - c[i]!));
      expect(worst).toBeLessThan(1e-4);

      const { dir } = dataDir();
      const a = await train(webgpu, model, dir);
      const b = await train(cpu, model, dir);
      expect(a.steps).toHaveLength(STEPS);
      expect(b.steps).toHaveLength(STEPS);
      const worstStep = Math.max(...a.steps.map((x, i) => rel(x, b.steps[i]!)));
      const worstVal = rel(a.logs.val_loss!, b.logs.val_loss!);
      let weightDiff = 0;
      a.weights.forEach((w, i) => w.forEach((v, j) => (weightDiff = Math.max(weightDiff, Math.abs(v - b.weights[i]![j]!)))));
      console.log(
        `${name}: forward max |webgpu - cpu| ${worst.toExponential(2)}; loss per step webgpu ${a.steps.map((x) => x.toFixed(6)).join(" ")}` +
          ` cpu ${b.steps.map((x) => x.toFixed(6)).join(" ")}; worst relative ${worstStep.toExponential(2)}; val_loss ${a.logs.val_loss} vs ${b.logs.val_loss} (${worstVal.toExponential(2)}); weights after them: max |webgpu - cpu| ${weightDiff.toExponential(2)}`,
      );
      for (let i = 0; i < STEPS; i++) expect(rel(a.steps[i]!, b.steps[i]!)).toBeLessThan(1e-3);
      expect(worstVal).toBeLessThan(1e-3);
      // The losses moved: these are real training steps, not a frozen model compared with itself.
      expect(Math.abs(a.logs.val_loss! - a.steps[0]!)).toBeGreaterThan(1e-3);
    }, 120_000);
  }
});
