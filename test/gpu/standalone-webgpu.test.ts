// `nnc run --gpu --engine standalone`: the standalone engine's training step as nnc's own WGSL
// kernels on WebGPU (src/runtime/engines/standalone-webgpu.ts), on the software adapter, against
// the CPU standalone program.
//
// 1. Every per-feature case (test/cases/<folder>/*.nn) the GPU engine covers: the same weights and
//    batch (3 rows) on both, then the forward pass in training mode (the same dropout masks: one
//    stream, reseeded alike), the loss, every weight gradient, the weights after an optimizer step,
//    twice, and a forward pass in inference mode. Every case it does not cover: the engine refuses
//    it before training, naming what it lacks (a name the case's IR uses) and the alternatives.
// 2. Whole runs (mlp, twolayer, cnn; shuffling and dropout on: the GPU engine draws the CPU
//    program's streams): the same loss at each step and the same weights at the end.
// 3. The command line: a run that saves a model tf.loadLayersModel reads, and a refusal.
//
// Tolerances (float32 sums in another order, float32 rather than float64 inside the elementwise
// kernels): probabilities, loss and weights within 1e-4 (relative above 1); gradients within 1e-5
// of the model's largest gradient at the first step (not of each tensor's: the bias of a layer just
// before batch_norm has a gradient that is zero but for rounding; nor of the second step's: a case
// may fit its 3 rows in one step). Each case logs what it measured.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { IR } from "../../src/compiler/ir.js";
import { WebgpuKernels } from "../../src/compiler/targets/standalone/kernels/webgpu/runtime.js";
import type { EpochLogs } from "../../src/runtime/engine.js";
import {
  createStandaloneWebgpuEngine,
  GpuNet,
  lossSums,
  notCoveredMessage,
  webgpuPlan,
} from "../../src/runtime/engines/standalone-webgpu.js";
import { standaloneEngine } from "../../src/runtime/engines/standalone.js";
import { fileLoadHandler } from "../../src/runtime/engines/tfjs/save.js";
import { openDawn } from "../../src/runtime/webgpu/dawn.js";
import { allCases, casesIn, type Case } from "../cases/cases.js";
import { writeSyntheticMnist } from "../helpers/data.js";
import { loadInternals, seeded } from "../standalone/harness.js";
import { dataDir, exampleIr, repoRoot, tempDir } from "../tfjs/helpers.js";

process.env.NNC_WEBGPU_ADAPTER = "software";

let kernels: WebgpuKernels;
beforeAll(async () => {
  kernels = new WebgpuKernels((await openDawn()).device);
}, 60_000);

/** max |a - b| / max(1, |b|). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return d;
}

const maxAbs = (a: ArrayLike<number>) => Array.prototype.reduce.call(a, (m: number, v) => Math.max(m, Math.abs(v as number)), 0) as number;

/** max |a - b| / scale. */
function scaledDiff(a: ArrayLike<number>, b: ArrayLike<number>, scale: number): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d / Math.max(scale, 1e-30);
}

/** The names the case's IR uses (layer kinds and ids, activations, regularizers, training entries). */
function namesIn(ir: IR): string[] {
  const t = ir.training!;
  const names = [t.optimizer.kind, t.loss.kind, ...(t.schedule ? [t.schedule.kind] : []), ...t.callbacks.map((c) => c.kind), "augmentation", "sweep"];
  for (const l of ir.model.layers) {
    names.push(l.kind, l.id, ...l.weights.flatMap((w) => (w.regularizer ? [w.regularizer.kind] : [])));
    const act = (l.args as { activation?: { kind: string } }).activation;
    if (act) names.push(act.kind);
  }
  return names;
}

const N = 3;
const TOLERANCE = 1e-4;
const GRADIENT_TOLERANCE = 1e-5;

describe("the per-feature cases on the GPU engine (software adapter) vs the CPU standalone program", () => {
  for (const c of allCases()) {
    const plan = webgpuPlan(c.ir);
    if (typeof plan === "string") {
      it(`${c.folder}/${c.name}: refused before training, naming what it lacks (${plan})`, async () => {
        expect(namesIn(c.ir).some((name) => new RegExp(`\\b${name}\\b`).test(plan)), `"${plan}" names something the case uses`).toBe(true);
        const refusal = createStandaloneWebgpuEngine().train(c.ir, { outDir: tempDir(), quiet: true }, {});
        await expect(refusal).rejects.toMatchObject({ exitCode: 1, message: notCoveredMessage(plan) });
        expect(notCoveredMessage(plan)).toMatch(/Use --engine tfjs --gpu for this model, or the standalone engine on the CPU \(without --gpu\)\.$/);
      });
      continue;
    }
    it(`${c.folder}/${c.name}: forward, loss, gradients and two optimizer steps match the CPU kernels`, async () => {
      await compareCase(c, plan);
    }, 60_000);
  }
});

async function compareCase(c: Case, plan: Exclude<ReturnType<typeof webgpuPlan>, string>): Promise<void> {
  const ir = c.ir;
  const C = plan.classes;
  const m = await loadInternals(ir);
  m.initializeWeights(11);
  const initial = new Map(Object.entries(m.weights).map(([name, w]) => [name, Float32Array.from(w)]));
  const net = new GpuNet(plan, kernels, N, initial);
  // A fixed batch: pixels in [0, 1], one-hot labels.
  const r = seeded(5);
  for (let i = 0; i < N * plan.inputSize; i++) m.input[i] = r();
  m.target.fill(0);
  const labels = Array.from({ length: N }, () => Math.floor(r() * C));
  labels.forEach((y, b) => (m.target[b * C + y] = 1));
  kernels.write(net.x, m.input.subarray(0, N * plan.inputSize));
  net.setLabels((b) => labels[b]!, N);
  const fromLogits = ir.training!.loss.args.from_logits === true;
  const lr = plan.optimizer.lr;
  const measured = { output: 0, loss: 0, gradient: 0, weights: 0, inference: 0 };
  let scale = 0;
  for (let step = 0; step < 2; step++) {
    m.reseed?.(123 + step);
    net.reseed(123 + step);
    m.forward(N, true);
    net.forward(N, true);
    const cpuLoss = m.computeLoss(N) + (m.regularizationPenalty?.() ?? 0);
    const predictions = await net.predictions(N);
    const gpuOut = fromLogits ? await net.logits(N) : predictions;
    measured.output = Math.max(measured.output, relDiff(gpuOut, m.output.subarray(0, N * C)));
    const gpuLoss = lossSums(plan, predictions, (b) => labels[b]!, N)[0] / N + (await net.penalty());
    measured.loss = Math.max(measured.loss, Math.abs(gpuLoss - cpuLoss) / Math.max(1, Math.abs(cpuLoss)));
    m.backward(N);
    m.addRegularizationGradients?.();
    net.backward(N);
    // The first step's: a case can fit its 3 rows in one step, leaving gradients of rounding noise.
    if (step === 0) scale = Math.max(...Object.values(m.grads).map(maxAbs));
    for (const name of net.params.keys()) measured.gradient = Math.max(measured.gradient, scaledDiff(await net.gradient(name), m.grads[name]!, scale));
    m.applyGradients(lr);
    net.update(lr);
    // Every weight: the trainable ones and the state training moves (batch_norm's moving statistics).
    for (const name of Object.keys(m.weights)) measured.weights = Math.max(measured.weights, relDiff(await net.weight(name), m.weights[name]!));
  }
  expect([...net.params.keys()].sort()).toEqual(Object.keys(m.grads).sort());
  m.forward(N, false);
  net.forward(N, false);
  const inference = fromLogits ? await net.logits(N) : await net.predictions(N);
  measured.inference = relDiff(inference, m.output.subarray(0, N * C));
  console.log(
    `${c.folder}/${c.name}: |gpu - cpu| output ${measured.output.toExponential(1)}, loss ${measured.loss.toExponential(1)}, ` +
      `gradients ${measured.gradient.toExponential(1)} (of the largest), weights after 2 steps ${measured.weights.toExponential(1)}, inference ${measured.inference.toExponential(1)}`,
  );
  for (const [what, v] of Object.entries(measured)) expect(v, what).toBeLessThan(what === "gradient" ? GRADIENT_TOLERANCE : TOLERANCE);
  // The step did something: the weights moved.
  const name = [...net.params.keys()][0]!;
  expect(relDiff(await net.weight(name), initial.get(name)!)).toBeGreaterThan(1e-6);
}

const STEPS = 6;
const BATCH = 32;

function shortRun(ir: IR): IR {
  const copy: IR = JSON.parse(JSON.stringify(ir));
  copy.training!.data.validation = { kind: "test" };
  copy.training!.callbacks = [];
  copy.training!.batchSize = BATCH;
  copy.training!.epochs = 1;
  return copy;
}

function weights(dir: string): Float32Array {
  return new Float32Array(readFileSync(join(dir, "model", "weights.bin")).buffer.slice(0));
}

describe("whole runs on WebGPU (software adapter) vs the CPU standalone engine", () => {
  // mlp: relu, dropout, Adam; twolayer: sigmoid, plain SGD; cnn: conv2d (same), max_pool, dropout, Adam.
  // Shuffled, with dropout: both engines draw the same streams.
  for (const name of ["mlp", "twolayer", "cnn"]) {
    it(`${name}: the same loss at each of ${STEPS} steps and the same weights as the CPU standalone engine`, async () => {
      const ir = shortRun(exampleIr(name));
      const { dir } = dataDir();
      const run = async (engine: typeof standaloneEngine) => {
        const steps: number[] = [];
        let logs: EpochLogs = {};
        const out = tempDir();
        const result = await engine.train(
          ir,
          { dataDir: dir, trainLimit: STEPS * BATCH, testLimit: 100, epochs: 1, seed: 42, outDir: out, quiet: true, kernels: "ts" },
          {
            onBatchEnd: (_s, l) => void steps.push(l.loss),
            onEpochEnd: (_e, l) => void (logs = l),
          },
        );
        return { steps, logs, result, w: weights(out) };
      };
      const gpu = await run(createStandaloneWebgpuEngine());
      const cpu = await run(standaloneEngine);
      expect(gpu.result).toMatchObject({ engine: "standalone", backend: "webgpu", trainSamples: STEPS * BATCH });
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
      expect(Math.abs(gpu.result.testAccuracy - cpu.result.testAccuracy)).toBeLessThan(0.02);
      expect(gpu.w.length).toBe(cpu.w.length);
      expect(worstWeight).toBeLessThan(1e-4);
      expect(gpu.logs.val_loss!).toBeLessThan(gpu.steps[0]!); // it learned
    }, 180_000);
  }
});

describe("whole runs of the training loop's per-feature cases (losses, schedules, callbacks) vs the CPU engine", () => {
  // The cases' own runs (2 epochs of 2 steps of 8 on synthetic data): the loss at each step, each
  // epoch's logs (learning rate, accuracy as the loss defines it), the files the callbacks wrote,
  // whether it stopped early, and the saved weights, as the CPU engine's.
  for (const c of casesIn("losses", "schedules", "callbacks").filter((x) => typeof webgpuPlan(x.ir) !== "string")) {
    it(`${c.folder}/${c.name}: the same losses, learning rates and weights as the CPU engine`, async () => {
      const data = writeSyntheticMnist(join(tempDir(), "data"), { train: 64, test: 16 });
      const run = async (engine: typeof standaloneEngine) => {
        const steps: number[] = [];
        const epochs: EpochLogs[] = [];
        const out = tempDir();
        const result = await engine.train(
          c.ir,
          { dataDir: data, epochs: 2, seed: 7, outDir: out, quiet: true, kernels: "ts" },
          { onBatchEnd: (_s, l) => void steps.push(l.loss), onEpochEnd: (_e, l) => void epochs.push({ ...l }) },
        );
        // (an event file's name has the time it was opened in it)
        const files = result.files.map((f) => f.replace(/tfevents\.\d+\./, "tfevents.TIME.")).sort();
        return { steps, epochs, files, stoppedEarly: result.stoppedEarly, w: weights(out) };
      };
      const gpu = await run(createStandaloneWebgpuEngine());
      const cpu = await run(standaloneEngine);
      console.log(`${c.folder}/${c.name}: lr by epoch webgpu ${gpu.epochs.map((e) => e.lr).join(" ")} cpu ${cpu.epochs.map((e) => e.lr).join(" ")}`);
      expect(gpu.steps.length).toBe(cpu.steps.length);
      expect(relDiff(gpu.steps, cpu.steps)).toBeLessThan(1e-4);
      expect(gpu.epochs.map((e) => e.lr)).toEqual(cpu.epochs.map((e) => e.lr));
      // every epoch's logs (loss, accuracy: binary accuracy for the binary cross-entropy, validation), the same keys
      expect(gpu.epochs.map((e) => Object.keys(e))).toEqual(cpu.epochs.map((e) => Object.keys(e)));
      expect(relDiff(gpu.epochs.flatMap((e) => Object.values(e)), cpu.epochs.flatMap((e) => Object.values(e)))).toBeLessThan(1e-4);
      // the CPU program also writes resume/ (the GPU engine cannot resume: --resume with --gpu is refused)
      expect(gpu.files).toEqual(cpu.files.filter((f) => !f.startsWith("resume/")));
      expect(gpu.epochs.length).toBe(cpu.epochs.length);
      expect(gpu.stoppedEarly).toBe(cpu.stoppedEarly);
      expect(relDiff(gpu.w, cpu.w)).toBeLessThan(1e-4);
    }, 60_000);
  }
});

describe("nnc run --gpu --engine standalone", () => {
  it("examples/mlp.nn: trains, saves a model tf.loadLayersModel reads", async () => {
    const out = join(tempDir(), "run");
    const r = spawnSync(
      process.execPath,
      ["bin/nnc.js", "run", "examples/mlp.nn", "--gpu", "--engine", "standalone", "--epochs", "1", "--train-limit", "512", "--test-limit", "200", "--data", dataDir().dir, "--json", "--out", out],
      { cwd: repoRoot, encoding: "utf8", timeout: 120_000, env: { ...process.env, NNC_WEBGPU_ADAPTER: "software" } },
    );
    expect(r.stderr).toMatch(/standalone engine on WebGPU \(--engine standalone --gpu\): nnc's WGSL kernels on .*software, not a GPU/);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(report).toMatchObject({ engine: "standalone", backend: "webgpu", epochs: 1, trainSamples: 512 });
    expect(report.testAccuracy).toBeGreaterThan(0.5);
    expect(report.files).toEqual(expect.arrayContaining(["model/model.json", "model/weights.bin", "checkpoint/model.json"]));
    await tf.setBackend("cpu");
    const model = await tf.loadLayersModel(fileLoadHandler(join(out, "model")));
    const y = model.predict(tf.zeros([1, 28, 28, 1])) as tf.Tensor;
    expect(y.shape).toEqual([1, 10]);
    expect((await y.sum().data())[0]).toBeCloseTo(1, 5);
  }, 150_000);

  it("examples/cnn.nn: trains (3 steps), saves a model that tf.loadLayersModel reads and nnc evaluate scores as the GPU did", async () => {
    const out = join(tempDir(), "run");
    const r = spawnSync(
      process.execPath,
      ["bin/nnc.js", "run", "examples/cnn.nn", "--gpu", "--engine", "standalone", "--epochs", "1", "--train-limit", "384", "--test-limit", "100", "--data", dataDir().dir, "--json", "--out", out],
      { cwd: repoRoot, encoding: "utf8", timeout: 150_000, env: { ...process.env, NNC_WEBGPU_ADAPTER: "software" } },
    );
    expect(r.stderr).toMatch(/standalone engine on WebGPU \(--engine standalone --gpu\)/);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(report).toMatchObject({ engine: "standalone", backend: "webgpu", epochs: 1, trainSamples: 307 });
    const [epoch] = JSON.parse(readFileSync(join(out, "history.json"), "utf8")).history;
    expect(epoch.val_loss).toBeLessThan(epoch.loss); // it learned
    await tf.setBackend("cpu");
    const model = await tf.loadLayersModel(fileLoadHandler(join(out, "model")));
    const y = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
    expect(y.shape).toEqual([2, 10]);
    expect((await y.sum().data())[0]).toBeCloseTo(2, 5);
    // The saved model, evaluated on the CPU by nnc evaluate, scores what the GPU reported.
    const e = spawnSync(process.execPath, ["bin/nnc.js", "evaluate", out, "--test-limit", "100", "--data", dataDir().dir, "--json"], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(e.status).toBe(0);
    const evaluated = JSON.parse(e.stdout.trim().split("\n").at(-1)!);
    console.log(
      `nnc run examples/cnn.nn --gpu --engine standalone, 3 steps: loss ${epoch.loss}, val_loss ${epoch.val_loss}; test loss ${report.testLoss} (nnc evaluate: ${evaluated.loss}), accuracy ${report.testAccuracy} (${evaluated.metrics.accuracy})`,
    );
    expect(Math.abs(evaluated.loss - report.testLoss) / report.testLoss).toBeLessThan(1e-4);
    expect(evaluated.metrics.accuracy).toBe(report.testAccuracy);
  }, 180_000);

  it("a model outside what it covers: exit 1 naming the layer and the alternatives, no stack trace", () => {
    expect(webgpuPlan(exampleIr("cnn"))).toMatchObject({ classes: 10, optimizer: { kind: "adam" } });
    const r = spawnSync(
      process.execPath,
      ["bin/nnc.js", "run", "test/cases/layers/concat.nn", "--gpu", "--engine", "standalone", "--out", join(tempDir(), "run")],
      { cwd: repoRoot, encoding: "utf8", timeout: 60_000, env: { ...process.env, NNC_WEBGPU_ADAPTER: "software" } },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^nnc: --gpu --engine standalone does not cover the concat layer \S+ \(only a chain of layers is covered, no merges\); it covers .*conv2d.*\. Use --engine tfjs --gpu for this model, or the standalone engine on the CPU \(without --gpu\)\.\n$/,
    );
  }, 60_000);
});
