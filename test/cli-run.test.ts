import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.js";
import { runDeps } from "../src/cli/commands/run.js";
import type { IR } from "../src/compiler/ir.js";
import type { CompileResult } from "../src/compiler/index.js";
import { fakeEngine, fakeIR, type FakeCall } from "./runtime/fake-engine.js";

const tmp = mkdtempSync(join(tmpdir(), "nnc-run-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const nnFile = join(tmp, "mlp.nn");
writeFileSync(nnFile, "model mlp {}\n");

class Capture extends Writable {
  text = "";
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const saved = { ...runDeps };
let out: Capture;
let err: Capture;
let commanderErr = "";
let calls: FakeCall[];

function useIR(ir: IR | null, diagnostics: CompileResult["diagnostics"] = []): void {
  runDeps.compileSource = () => ({ ir, diagnostics });
}
function useEngine(behaviour: Parameters<typeof fakeEngine>[1] = {}, reason = "standalone engine: the fake one"): void {
  const engine = fakeEngine(calls, behaviour);
  runDeps.selectEngine = async () => ({ engine, reason });
}
const run = (...args: string[]) => main(["node", "nnc", "run", ...args]);

beforeEach(() => {
  out = new Capture();
  err = new Capture();
  calls = [];
  commanderErr = "";
  runDeps.stdout = out;
  runDeps.stderr = err;
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    commanderErr += chunk.toString();
    return true;
  });
  useIR(fakeIR());
  useEngine();
});
afterEach(() => {
  Object.assign(runDeps, saved);
  vi.restoreAllMocks();
});

describe("nnc run", () => {
  it("trains, writes the run directory and prints --json as the last stdout line", async () => {
    const dir = join(tmp, "run1");
    const code = await run(
      nnFile,
      "--epochs",
      "2",
      "--train-limit",
      "500",
      "--test-limit",
      "100",
      "--seed",
      "7",
      "--data",
      "/data/x",
      "--out",
      dir,
      "--json",
      "--kernels",
      "simd",
    );
    expect(commanderErr).toBe("");
    expect(code).toBe(0);
    const lines = out.text.trim().split("\n");
    const report = JSON.parse(lines[lines.length - 1]);
    expect(report).toMatchObject({
      engine: "standalone",
      backend: "ts",
      epochs: 2,
      trainSamples: 500,
      testLoss: 0.25,
      seconds: 1.5,
      model: "mlp",
    });
    expect(report.testAccuracy).toBeCloseTo(0.9032, 6);
    expect(report.samplesPerSecond).toBeCloseTo(1000 / 1.5, 6);
    expect(report.outDir).toBe(dir);
    expect(report.files).toEqual(
      expect.arrayContaining([
        "model/model.json",
        "history.json",
        "history.csv",
        "curves.svg",
        "curves.png",
        "summary.txt",
        "result.json",
      ]),
    );
    // what the engine was asked
    expect(calls).toHaveLength(1);
    expect(calls[0].options).toMatchObject({
      epochs: 2,
      trainLimit: 500,
      testLimit: 100,
      seed: 7,
      dataDir: "/data/x",
      outDir: dir,
      kernels: "simd",
      backend: "auto",
    });
    expect(calls[0].options.signal).toBeInstanceOf(AbortSignal);
    // the files
    const names = readdirSync(dir).sort();
    expect(names).toEqual([
      "curves.png",
      "curves.svg",
      "events.jsonl",
      "history.csv",
      "history.json",
      "model",
      "result.json",
      "summary.txt",
    ]);
    expect(readFileSync(join(dir, "history.csv"), "utf8")).toBe(
      "epoch,loss,accuracy,val_loss,val_accuracy,lr\n1,1,0.8,1.2,0.532,0.001\n2,0.5,0.81,0.6,0.542,0.001\n",
    );
    const hist = JSON.parse(readFileSync(join(dir, "history.json"), "utf8"));
    expect(hist.history[1]).toEqual({
      epoch: 2,
      loss: 0.5,
      accuracy: 0.81,
      val_loss: 0.6,
      val_accuracy: 0.542,
      lr: 0.001,
    });
    expect(readFileSync(join(dir, "curves.png")).subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    expect(readFileSync(join(dir, "curves.svg"), "utf8")).toMatch(/^<svg[^]*>loss<\/text>[^]*>accuracy<\/text>/);
    expect(readFileSync(join(dir, "summary.txt"), "utf8")).toMatch(/dense_1[^]*Total params: 25,?450/);
    expect(JSON.parse(readFileSync(join(dir, "result.json"), "utf8")).epochs).toBe(2);
    // stderr: the engine's reason, one plain line per epoch (not a TTY)
    // the header: engine, kernels, threads and why, as a statement (not a warning)
    expect(err.text).toMatch(/^engine standalone \(the fake one\) · kernels simd \((default|--kernels simd): WebAssembly SIMD\) · threads \d+ \(/m);
    expect(err.text).toMatch(
      /epoch 1\/2  loss 1\.0000  accuracy 0\.8000  val_loss 1\.2000  val_accuracy 0\.5320  lr 0\.001  \d+\.\ds  ETA/,
    );
    expect(err.text).toMatch(/epoch 2\/2  loss 0\.5000/);
    expect(existsSync(join(dir, "model", "model.json"))).toBe(true);
    expect(readdirSync(dir, { recursive: true }).filter((n) => String(n).includes(".tmp-"))).toEqual([]);
  });

  it("prints a human report without --json and defaults the run directory to runs/<model>-<time>", async () => {
    const cwd = process.cwd();
    const work = join(tmp, "cwd");
    rmSync(work, { recursive: true, force: true });
    (await import("node:fs")).mkdirSync(work);
    process.chdir(work);
    try {
      expect(await run(nnFile, "--quiet")).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    const runs = readdirSync(join(work, "runs"));
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/^mlp-\d{8}-\d{6}$/);
    expect(out.text).toMatch(
      /^test accuracy 90\.32%  test loss 0\.2500\n3 epochs in 1\.5s, 2000 samples\/s, standalone engine \(ts\)\nrun directory: runs\/mlp-\d{8}-\d{6}\n$/,
    );
    expect(calls[0].options.epochs).toBeUndefined();
  });

  it.each([
    [["--epochs", "0"], /--epochs must be a positive integer, not "0"/],
    [["--epochs", "abc"], /--epochs must be a positive integer, not "abc"/],
    [["--epochs", "1.5"], /--epochs must be a positive integer/],
    [["--train-limit", "-3"], /--train-limit must be a positive integer/],
    [["--seed", "-1"], /--seed must be a non-negative integer up to 4294967295/],
    [["--engine", "onnx"], /argument 'onnx' is invalid. Allowed choices are auto, standalone, tfjs, pytorch/],
    [["--nproc", "0"], /--nproc must be a positive integer up to 1024, not "0"/],
    [["--nproc", "2"], /--nproc applies to the pytorch engine only; add --engine pytorch, or drop --nproc/],
    [["--backend", "cuda"], /Allowed choices are auto, cpu, wasm, node, gpu, webgpu/],
    [["--kernels", "avx"], /Allowed choices are ts, simd/],
  ])("rejects bad flags %j with exit 2 and one clear line", async (args, message) => {
    expect(await run(nnFile, ...(args as string[]))).toBe(2);
    expect(commanderErr).toMatch(message as RegExp);
    expect(calls).toHaveLength(0);
  });

  it("exits 2 for a missing file and 1 for a file with errors or no train section", async () => {
    expect(await run(join(tmp, "nope.nn"))).toBe(2);
    expect(commanderErr).toMatch(/nnc: cannot read .*nope\.nn: no such file/);
    useIR(null, [
      {
        severity: "error",
        code: "E201",
        message: "unknown layer `dense2`",
        span: { start: 0, end: 5, line: 1, column: 1, endLine: 1, endColumn: 6 },
      } as never,
    ]);
    expect(await run(nnFile, "--out", join(tmp, "bad"))).toBe(1);
    expect(err.text).toMatch(/mlp\.nn: 1 error; not running/);
    const noTrain = fakeIR();
    noTrain.training = null;
    useIR(noTrain);
    expect(await run(nnFile, "--out", join(tmp, "bad2"))).toBe(1);
    expect(commanderErr).toMatch(/has no train section/);
    expect(calls).toHaveLength(0);
    expect(existsSync(join(tmp, "bad"))).toBe(false);
  });

  it("reports an engine-selection failure (e.g. --gpu without a GPU) and an engine failure without a stack", async () => {
    runDeps.selectEngine = async () => {
      throw new Error(
        "--gpu: no GPU backend is available: install @tensorflow/tfjs-node-gpu (CUDA 11.2, cuDNN 8.1) or the `webgpu` package",
      );
    };
    expect(await run(nnFile, "--gpu", "--out", join(tmp, "gpu"))).toBe(1);
    expect(commanderErr).toBe(
      "nnc: --gpu: no GPU backend is available: install @tensorflow/tfjs-node-gpu (CUDA 11.2, cuDNN 8.1) or the `webgpu` package\n",
    );
    expect(existsSync(join(tmp, "gpu"))).toBe(false);
    useEngine({ fail: "train-images-idx3-ubyte.gz is corrupt or truncated" });
    commanderErr = "";
    expect(await run(nnFile, "--out", join(tmp, "fail"))).toBe(1);
    expect(commanderErr).toBe("nnc: train-images-idx3-ubyte.gz is corrupt or truncated\n");
  });

  it("passes --gpu and --backend to engine selection", async () => {
    let request: unknown;
    const engine = fakeEngine(calls);
    runDeps.selectEngine = async (_ir, req) => {
      request = req;
      return { engine, reason: "tfjs engine on webgpu" };
    };
    expect(
      await run(nnFile, "--gpu", "--backend", "webgpu", "--engine", "tfjs", "--out", join(tmp, "g2"), "--quiet"),
    ).toBe(0);
    expect(request).toEqual({ engine: "tfjs", backend: "webgpu", gpu: true });
  });

  it("on Ctrl-C stops, removes unfinished files, writes the completed epochs' history, curves and result.json, and exits 130", async () => {
    useEngine({ interruptAtEpoch: 1 });
    const dir = join(tmp, "interrupted");
    expect(await run(nnFile, "--out", dir, "--json")).toBe(130);
    expect(err.text).toMatch(/interrupted: stopping after this batch/);
    // this engine leaves no resume/ state, so there is no model of the finished epoch to save
    expect(err.text).toContain(`interrupted after epoch 1 of 3: removed 1 unfinished file; history, curves and result.json are in ${dir}\n`);
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(["curves.png", "curves.svg", "history.csv", "history.json", "result.json", "summary.txt"]));
    expect(readdirSync(join(dir, "model"))).toEqual([]); // the fake engine's unfinished file removed
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
    expect(result).toMatchObject({ epochs: 1, interrupted: { epochsPlanned: 3, model: false }, testAccuracy: null });
    expect(JSON.parse(readFileSync(join(dir, "history.json"), "utf8")).history).toHaveLength(1);
    expect(out.text).toBe("");
    expect(process.listenerCount("SIGINT")).toBe(0);
  });

  it("sweeps: trains each variant on a validation split, prints the table, then trains the best", async () => {
    useIR(fakeIR({ sweepUnits: [64, 256, 128] }));
    const dir = join(tmp, "sweep");
    expect(await run(nnFile, "--out", dir, "--json", "--epochs", "2")).toBe(0);
    expect(calls).toHaveLength(4);
    const widths = calls.map((c) => (c.ir.model.layers[2].args as { units: number }).units);
    expect(widths).toEqual([64, 256, 128, 256]);
    for (const c of calls.slice(0, 3)) {
      expect(c.ir.training!.data.validation).toEqual({ kind: "split", fraction: 0.1 });
      expect(c.ir.sweep).toBeNull();
      expect(c.options.outDir).toContain(join(dir, "sweep"));
    }
    expect(calls[3].ir.training!.data.validation).toEqual({ kind: "test" });
    expect(calls[3].options.outDir).toBe(dir);
    expect(err.text).toContain(
      "#  width  val_accuracy\n-  -----  ------------\n1  64     0.5740\n2  256    0.7660  <- best\n3  128    0.6380",
    );
    const report = JSON.parse(out.text.trim().split("\n").pop()!);
    expect(report.sweep.best).toEqual({ width: 256 });
    expect(report.sweep.variants.map((v: { metric: number }) => Number(v.metric.toFixed(6)))).toEqual([
      0.574, 0.766, 0.638,
    ]);
    expect(report.testAccuracy).toBeCloseTo(0.9256, 6);
    expect(JSON.parse(readFileSync(join(dir, "sweep.json"), "utf8")).best).toEqual({ width: 256 });
    expect(readdirSync(join(dir, "sweep"))).toEqual(["1-width=64", "2-width=256", "3-width=128"]);
  });
});

describe("nnc run with the real compiler and standalone engine (synthetic data)", () => {
  it("trains examples/mlp.nn for one epoch and writes a loadable model", async () => {
    Object.assign(runDeps, { compileSource: saved.compileSource, selectEngine: saved.selectEngine });
    const { writeSyntheticMnist } = await import("./helpers/data.js");
    const { loadModel } = await import("../src/runtime/predict.js");
    const data = writeSyntheticMnist(join(tmp, "synthetic"), { train: 2000, test: 400 });
    const dir = join(tmp, "real-mlp");
    const code = await run(
      "examples/mlp.nn",
      "--engine",
      "standalone",
      "--epochs",
      "1",
      "--data",
      data,
      "--out",
      dir,
      "--json",
    );
    expect(commanderErr + err.text.slice(-2000), "nnc's stderr").not.toMatch(/^nnc: /m);
    expect(code).toBe(0);
    const report = JSON.parse(out.text.trim().split("\n").pop()!);
    expect(report).toMatchObject({ engine: "standalone", epochs: 1, trainSamples: 2000, outDir: dir });
    expect(report.testAccuracy).toBeGreaterThan(0.5);
    for (const f of [
      "model/model.json",
      "model/weights.bin",
      "history.json",
      "history.csv",
      "curves.svg",
      "events.jsonl",
      "curves.png",
      "summary.txt",
      "result.json",
    ]) {
      expect(existsSync(join(dir, f))).toBe(true);
    }
    expect(readFileSync(join(dir, "summary.txt"), "utf8")).toMatch(/Total params: 407,050/);
    const loaded = await loadModel(dir);
    expect(loaded.inputShape).toEqual([28, 28, 1]);
    expect(loaded.classNames).toHaveLength(10);
  });
});

describe("Ctrl-C on a real run (a child process)", () => {
  // Training examples: an epoch long enough that the signal, sent when epoch 1 ends, lands inside
  // epoch 2 (two batches on tfjs's pure-JavaScript backend; eight on the standalone engine, faster).
  it.each([
    ["tfjs engine on the cpu backend", ["--engine", "tfjs", "--backend", "cpu"], 256],
    ["standalone engine", ["--engine", "standalone"], 1024],
  ] as const)("%s: stops at the next batch, exits 130 and leaves no temporary or half-written file", async (label, engineArgs, train) => {
    const { spawn } = await import("node:child_process");
    const { writeSyntheticMnist } = await import("./helpers/data.js");
    const slug = label.split(" ")[0];
    const data = writeSyntheticMnist(join(tmp, `synthetic-int-${slug}`), { train, test: 100 });
    const dir = join(tmp, `real-interrupted-${slug}`);
    const child = spawn(
      process.execPath,
      [
        "bin/nnc.js",
        "run",
        "examples/mlp.nn",
        ...engineArgs,
        "--epochs",
        "200",
        "--data",
        data,
        "--out",
        dir,
        "--quiet",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    let sent = false;
    const exit = await new Promise<number | null>((resolve) => {
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (!sent && /epoch 1\/200/.test(stderr)) {
          sent = true;
          child.kill("SIGINT");
        }
      });
      child.on("exit", (code) => resolve(code));
    });
    expect(sent).toBe(true);
    expect(exit, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted: stopping after this batch/);
    expect(stderr).not.toMatch(/epoch 3\/200/);
    const left = existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]) : [];
    expect(left.filter((f) => /\.tmp-/.test(f))).toEqual([]);
    // the finished epochs' history and result.json; the standalone engine's last finished model too
    const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8"));
    const done = result.epochs as number;
    expect(done).toBeGreaterThanOrEqual(1);
    expect(result.interrupted).toEqual({ epochsPlanned: 200, model: slug === "standalone" });
    expect(stderr).toContain(`interrupted after epoch ${done} of 200`);
    expect(JSON.parse(readFileSync(join(dir, "history.json"), "utf8")).history).toHaveLength(done);
    expect(left.includes(join("model", "weights.bin"))).toBe(slug === "standalone");
    // whatever the checkpoint callback finished writing is whole
    if (left.includes(join("checkpoint", "model.json"))) {
      const manifest = JSON.parse(readFileSync(join(dir, "checkpoint", "model.json"), "utf8"));
      expect(manifest.weightsManifest[0].paths).toEqual(["weights.bin"]);
    }
  }, 120_000);
});
