// DistributedDataParallel for real, on the CPU: the generated program run as 2 ranks (gloo,
// 127.0.0.1) must end with identical weights on both ranks, equal to a 1-process run with the same
// global batch to 1e-5, after 14 steps (the last batch of each epoch smaller and split unevenly).
// Then `nnc run --engine pytorch --nproc 2` end to end: the run directory holds a tfjs model that
// TensorFlow.js loads and whose test accuracy is the one the PyTorch run reported.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import type { IR } from "../../src/compiler/ir.js";
import { generatePytorch } from "../../src/compiler/targets/pytorch/index.js";
import { fileLoadHandler } from "../../src/runtime/engines/tfjs/save.js";
import { initialSafetensors } from "../../src/runtime/engines/pytorch.js";
import { readSafetensors } from "../../src/runtime/safetensors.js";
import { syntheticDigits, writeSyntheticMnist } from "../helpers/data.js";
import { HERE, PYTHON } from "./python.js";

const SOURCE = `model small {
  input image(28, 28, 1)
  conv2d(4, kernel: 3, strides: 2, padding: same, activation: relu)
  max_pool(2)
  flatten
  dense(16, activation: relu)
  dense(10, activation: softmax)
}

train small {
  data      mnist
  loss      categorical_crossentropy
  optimizer adam(lr: 0.01)
  metrics   [accuracy]
  epochs    2
  batch     16
  seed      5
}
`;

const root = mkdtempSync(join(tmpdir(), "nnc-pt-ddp-"));
const data = writeSyntheticMnist(join(root, "data"), { train: 100, test: 40 });
const repo = resolve(HERE, "..", "..");

function compile(): IR {
  const { ir, diagnostics } = compileSource(SOURCE, "small.nn");
  if (!ir) throw new Error(diagnostics.map((d) => d.message).join("\n"));
  return ir;
}

async function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** Runs the program as `world` ranks; resolves with each rank's exit code and output. */
async function ranks(script: string, args: string[], world: number): Promise<{ code: number | null; output: string }[]> {
  const port = await freePort();
  return Promise.all(
    Array.from({ length: world }, (_, rank) => {
      const env = { ...process.env, OMP_NUM_THREADS: "1" };
      if (world > 1) Object.assign(env, { RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(world), MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) });
      return new Promise<{ code: number | null; output: string }>((done) => {
        const child = spawn(PYTHON, [script, ...args], { env, stdio: ["ignore", "pipe", "pipe"], timeout: 150_000 });
        let output = "";
        child.stdout.on("data", (c) => (output += c));
        child.stderr.on("data", (c) => (output += c));
        child.on("close", (code) => done({ code, output }));
      });
    }),
  );
}

const weightsIn = (path: string) => new Map(readSafetensors(readFileSync(path)).weights.map((w) => [w.name, w.data as Float32Array]));

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe("DistributedDataParallel on the CPU (gloo)", () => {
  const ir = compile();
  const script = join(root, "small.py");
  const init = join(root, "init.safetensors");
  let one: { code: number | null; output: string }[];
  let two: { code: number | null; output: string }[];

  beforeAll(async () => {
    writeFileSync(script, generatePytorch(ir, { sourceText: SOURCE }));
    writeFileSync(init, initialSafetensors(ir.model, 5));
    const common = ["--data", data, "--init", init, "--device", "cpu", "--quiet"];
    // one after the other: two ranks and a lone process on 2 shared cores
    one = await ranks(script, [...common, "--out", join(root, "one")], 1);
    two = await ranks(script, [...common, "--out", join(root, "two"), "--save-every-rank"], 2);
  }, 200_000);

  it("both runs finish", () => {
    for (const r of [...one, ...two]) expect(r.code, r.output).toBe(0);
  });

  it("both ranks end with identical weights, equal to the 1-process run's to 1e-5", () => {
    const single = weightsIn(join(root, "one", "weights.safetensors"));
    const rank0 = weightsIn(join(root, "two", "weights.rank0.safetensors"));
    const rank1 = weightsIn(join(root, "two", "weights.rank1.safetensors"));
    const initial = weightsIn(init);
    expect([...rank0.keys()].sort()).toEqual([...single.keys()].sort());
    for (const [name, w] of single) {
      expect(maxDiff(rank0.get(name)!, rank1.get(name)!), `${name}: rank 0 vs rank 1`).toBe(0);
      expect(maxDiff(rank0.get(name)!, w), `${name}: 2 ranks vs 1 process`).toBeLessThan(1e-5);
      expect(maxDiff(w, initial.get(name)!), `${name} trained`).toBeGreaterThan(1e-3);
    }
    // rank 0's final save is the same weights
    const saved = weightsIn(join(root, "two", "weights.safetensors"));
    for (const [name, w] of saved) expect(maxDiff(w, rank0.get(name)!)).toBe(0);
  });

  it("the logged metrics are reduced over the ranks: the same history as one process", () => {
    const a = JSON.parse(readFileSync(join(root, "one", "result.json"), "utf8"));
    const b = JSON.parse(readFileSync(join(root, "two", "result.json"), "utf8"));
    expect(b.world).toBe(2);
    expect(b.rankDivergence).toBe(0);
    expect(b.history).toHaveLength(2);
    for (let e = 0; e < 2; e++) {
      expect(b.history[e].loss).toBeCloseTo(a.history[e].loss, 5);
      expect(b.history[e].accuracy).toBeCloseTo(a.history[e].accuracy, 6);
    }
    expect(b.testLoss).toBeCloseTo(a.testLoss, 5);
    expect(b.testAccuracy).toBe(a.testAccuracy);
    expect(a.trainSamples).toBe(100);
  });
});

describe("nnc run --engine pytorch --nproc 2", () => {
  it("writes a run directory whose tfjs model TensorFlow.js loads, with the run's test accuracy", async () => {
    const file = join(root, "small.nn");
    writeFileSync(file, SOURCE);
    const out = join(root, "run");
    const r = spawnSync(process.execPath, [join(repo, "bin", "nnc.js"), "run", file, "--engine", "pytorch", "--nproc", "2", "--data", data, "--out", out, "--json", "--epochs", "1"], {
      encoding: "utf8",
      timeout: 150_000,
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/pytorch engine \(--engine pytorch\): PyTorch .* 2 local ranks with DistributedDataParallel/);
    const report = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(report.engine).toBe("pytorch");
    expect(report.backend).toMatch(/x2 \(DDP, gloo\)/);
    expect(report.files).toEqual(expect.arrayContaining(["model.py", "weights.safetensors", "model/model.json", "model/weights.bin", "history.json", "curves.png", "result.json"]));
    const history = JSON.parse(readFileSync(join(out, "history.json"), "utf8"));
    expect(history.epochs).toBe(1);
    expect(history.columns).toEqual(["epoch", "loss", "accuracy", "lr"]);

    // the tfjs model: tfjs's own loader, the test set, the accuracy PyTorch reported
    await tf.setBackend("cpu");
    const model = await tf.loadLayersModel(fileLoadHandler(join(out, "model")));
    const test = syntheticDigits(40, 1 + 1000);
    const x = tf.tensor(Float32Array.from(test.pixels, (p) => p / 255), [40, 28, 28, 1]);
    const predicted = (model.predict(x) as tf.Tensor).argMax(-1).dataSync();
    let hits = 0;
    for (let i = 0; i < 40; i++) if (predicted[i] === test.labels[i]) hits++;
    expect(hits / 40).toBeCloseTo(report.testAccuracy, 6);
  }, 200_000);
});

describe("nnc run --engine pytorch without --data", () => {
  it("trains on the files nnc finds in ../shared/data, a place the Python program does not search itself", () => {
    // a working folder whose ../shared/data/mnist holds the files, an empty cache, no $NNC_DATA
    const place = mkdtempSync(join(tmpdir(), "nnc-pt-data-"));
    writeSyntheticMnist(join(place, "shared", "data", "mnist"), { train: 64, test: 32 });
    const work = join(place, "work");
    mkdirSync(work);
    const file = join(work, "small.nn");
    writeFileSync(file, SOURCE);
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: "1", XDG_CACHE_HOME: join(place, "empty-cache") };
    delete env.NNC_DATA;
    const r = spawnSync(process.execPath, [join(repo, "bin", "nnc.js"), "run", "small.nn", "--engine", "pytorch", "--nproc", "2", "--out", "run", "--json", "--epochs", "1"], {
      cwd: work,
      encoding: "utf8",
      timeout: 150_000,
      env,
    });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(report.trainSamples).toBe(64);
  }, 200_000);
});
