// The PyTorch engine (`nnc run FILE --engine pytorch [--nproc N] [--gpu]`): generates the model's
// Python program (src/compiler/targets/pytorch), writes nnc's seeded initial weights as
// safetensors (the same weights the other engines start from), and runs the program with the
// system's Python and PyTorch: one process, or N local ranks that it starts itself with the
// environment torchrun would give them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, a
// free MASTER_PORT), so that it also works where Debian's torchrun needs extra flags. Rank 0
// reports progress as `@nnc {json}` lines; after training, the weights come back as safetensors
// and are written as the TensorFlow.js model every engine writes (model/model.json + weights.bin),
// so `nnc predict` and tfjs's loader use a PyTorch-trained model.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import type { IR, IRModel } from "../../compiler/ir.js";
import { kerasTopology } from "../../compiler/targets/keras.js";
import { generatePytorch } from "../../compiler/targets/pytorch/index.js";
import type { Engine, EpochLogs, RunOptions, TrainHooks, TrainResult } from "../engine.js";
import { findMnist, loadMnist, writeFileAtomic } from "../data/mnist.js";
import { initialWeights } from "../random.js";
import { readSafetensors, safetensorsBytes } from "../safetensors.js";
import { TensorBoardWriter } from "../tensorboard.js";

/** The Python that runs the program: $NNC_PYTHON, else /usr/bin/python3 (Debian's, where python3-torch installs). */
export function pythonCommand(): string {
  return process.env.NNC_PYTHON || "/usr/bin/python3";
}

/** Why PyTorch cannot run here (a sentence naming what is missing), or null with the torch version. */
export function checkPytorch(python = pythonCommand()): { ok: true; version: string; cuda: boolean } | { ok: false; message: string } {
  const r = spawnSync(python, ["-c", "import sys, torch; print(torch.__version__, int(torch.cuda.is_available()))"], { encoding: "utf8", timeout: 120_000 });
  const how = "set $NNC_PYTHON to a Python that has PyTorch, or install it (Debian: apt-get install python3-torch; elsewhere: pip install torch)";
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      message: code === "ENOENT" ? `the pytorch engine needs Python, and ${python} does not exist; ${how}` : `the pytorch engine cannot start ${python}: ${r.error.message}; ${how}`,
    };
  }
  if (r.status !== 0) {
    const last = (r.stderr || "").trim().split("\n").pop() ?? "";
    if (/No module named ['"]?torch/.test(r.stderr)) return { ok: false, message: `the pytorch engine needs PyTorch, and ${python} cannot import torch (${last}); ${how}` };
    return { ok: false, message: `the pytorch engine: ${python} failed to import torch (${last}); ${how}` };
  }
  const [version, cuda] = r.stdout.trim().split(/\s+/);
  return { ok: true, version: version ?? "?", cuda: cuda === "1" };
}

/** A TCP port free on 127.0.0.1 just now (the ranks' rendezvous). */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Writes `dir/model.json` + `dir/weights.bin` (TensorFlow.js layers format) from weights in model.json's names, atomically. */
export function saveTfjsModel(dir: string, ir: IR, model: IRModel, weights: Map<string, Float32Array>, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  const specs = model.layers.flatMap((l) => l.weights);
  const total = specs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  const bytes = new Float32Array(total);
  let offset = 0;
  for (const w of specs) {
    const values = weights.get(w.name);
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (!values || values.length !== size) throw new Error(`the trained weights have ${values ? `${values.length} values` : "nothing"} for ${w.name}; the model needs ${size}`);
    bytes.set(values, offset);
    offset += size;
  }
  writeFileAtomic(join(dir, "weights.bin"), new Uint8Array(bytes.buffer));
  const modelJson = {
    format: "layers-model",
    generatedBy: `nnc ${ir.nncVersion}`,
    convertedBy: null,
    modelTopology: kerasTopology(model),
    weightsManifest: [{ paths: ["weights.bin"], weights: specs.map((w) => ({ name: w.name, shape: w.shape, dtype: "float32" })) }],
    userDefinedMetadata: { sourceSha256: ir.source.sha256, sourceFile: ir.source.file, nncVersion: ir.nncVersion, engine: "pytorch", ...extra },
  };
  writeFileAtomic(join(dir, "model.json"), JSON.stringify(modelJson, null, 2));
}

/** nnc's seeded initial weights (src/runtime/random.ts, the same in every engine) as safetensors bytes. */
export function initialSafetensors(model: IRModel, seed: number): Uint8Array {
  const init = initialWeights(model, seed);
  const shapes = new Map(model.layers.flatMap((l) => l.weights.map((w) => [w.name, w.shape] as const)));
  return safetensorsBytes([...init].map(([name, data]) => ({ name, shape: shapes.get(name)!, dtype: "float32" as const, data })), { seed: String(seed) });
}

export interface PytorchEngineOptions {
  /** Local ranks to start (1: one process, no process group). */
  nproc: number;
  /** --gpu: the ranks must run on CUDA devices (nccl); else the program picks CUDA when it sees one. */
  gpu: boolean;
}

interface PythonResult {
  backend: string;
  world: number;
  history: EpochLogs[];
  trainSamples: number;
  testLoss: number;
  testAccuracy: number;
  testMetrics: Record<string, number>;
  seconds: number;
  samplesPerSecond: number;
  stoppedEarly: boolean;
  files: string[];
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error("training aborted"), { name: "AbortError" });
}

export function createPytorchEngine(engineOptions: PytorchEngineOptions): Engine {
  return {
    name: "pytorch",
    async train(ir: IR, options: RunOptions, hooks: TrainHooks): Promise<TrainResult> {
      const t = ir.training;
      if (t === null) throw new Error(`${ir.source.file} has no train section`);
      // tensorboard: nnc writes the event files from the epoch logs rank 0 reports
      const program = generatePytorch(ir, { hostWritesTensorboard: true });
      const tbCallback = t.callbacks.find((c) => c.kind === "tensorboard");
      const outDir = resolve(options.outDir);
      mkdirSync(outDir, { recursive: true });
      const script = join(outDir, "model.py");
      writeFileAtomic(script, program);
      const files = ["model.py"];

      // data: without --data or $NNC_DATA, nnc finds the idx files (downloading them into its
      // cache when they are nowhere: the Python program does not download) and tells the program
      // where: it looks only in --data, $NNC_DATA and the cache, not in nnc's other places
      // (../shared/data).
      let dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
      if (dataDir === undefined && !process.env.NNC_DATA) {
        for (const split of ["train", "test"] as const) await loadMnist({ dataset: t.data.dataset, split, limit: 1 });
        dataDir = findMnist({ dataset: t.data.dataset, split: "train" }) ?? undefined;
      }

      const tmp = mkdtempSync(join(tmpdir(), "nnc-pytorch-"));
      const children: ChildProcess[] = [];
      let tensorboard: TensorBoardWriter | null = null;
      try {
        const seed = options.seed ?? t.seed;
        const initPath = join(tmp, "initial.safetensors");
        writeFileAtomic(initPath, initialSafetensors(ir.model, seed));
        const args = [script, "--out", outDir, "--init", initPath, "--events", "--seed", String(seed)];
        if (dataDir !== undefined) args.push("--data", dataDir);
        if (options.epochs !== undefined) args.push("--epochs", String(options.epochs));
        if (options.trainLimit !== undefined) args.push("--train-limit", String(options.trainLimit));
        if (options.testLimit !== undefined) args.push("--test-limit", String(options.testLimit));
        if (engineOptions.gpu) args.push("--device", "cuda");

        if (tbCallback) tensorboard = new TensorBoardWriter(join(outDir, String((tbCallback.args as { dir: string }).dir)));
        const nproc = engineOptions.nproc;
        const port = nproc > 1 ? await freePort() : 0;
        const threads = String(Math.max(1, Math.floor(availableParallelism() / nproc)));
        const python = pythonCommand();
        const tails: string[] = Array.from({ length: nproc }, () => "");
        const exits: Promise<{ rank: number; code: number | null; signal: NodeJS.Signals | null }>[] = [];
        let stdoutBuffer = "";
        const onLine = (line: string): void => {
          if (!line.startsWith("@nnc ")) {
            if (line.trim()) hooks.log?.(line);
            return;
          }
          let e: Record<string, unknown>;
          try {
            e = JSON.parse(line.slice(5));
          } catch {
            return;
          }
          if (e.event === "begin") {
            hooks.onTrainBegin?.({
              epochs: e.epochs as number,
              stepsPerEpoch: e.stepsPerEpoch as number,
              trainSamples: e.trainSamples as number,
              validationSamples: e.validationSamples as number,
            });
          } else if (e.event === "batch") hooks.onBatchEnd?.(e.step as number, { loss: e.loss as number, accuracy: e.accuracy as number });
          else if (e.event === "epoch") {
            const logs = e.logs as EpochLogs;
            hooks.onEpochEnd?.(e.epoch as number, logs);
            // tensorboard: this epoch's scalars, tagged as Keras does (epoch_loss, epoch_accuracy, ...)
            tensorboard?.scalars(e.epoch as number, Object.fromEntries(Object.entries(logs).map(([k, v]) => [`epoch_${k}`, v])));
          }
          else if (e.event === "log") hooks.log?.(String(e.message));
        };
        for (let rank = 0; rank < nproc; rank++) {
          const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: "1" };
          if (nproc > 1) {
            Object.assign(env, {
              RANK: String(rank),
              LOCAL_RANK: String(rank),
              WORLD_SIZE: String(nproc),
              LOCAL_WORLD_SIZE: String(nproc),
              GROUP_RANK: "0",
              MASTER_ADDR: "127.0.0.1",
              MASTER_PORT: String(port),
            });
            if (!process.env.OMP_NUM_THREADS) env.OMP_NUM_THREADS = threads;
          }
          const child = spawn(python, args, { env, stdio: ["ignore", "pipe", "pipe"] });
          children.push(child);
          child.stderr!.setEncoding("utf8");
          child.stderr!.on("data", (chunk: string) => {
            tails[rank] = (tails[rank] + chunk).slice(-4000);
          });
          child.stdout!.setEncoding("utf8");
          child.stdout!.on("data", (chunk: string) => {
            if (rank !== 0) return;
            stdoutBuffer += chunk;
            let nl: number;
            while ((nl = stdoutBuffer.indexOf("\n")) >= 0) {
              onLine(stdoutBuffer.slice(0, nl));
              stdoutBuffer = stdoutBuffer.slice(nl + 1);
            }
          });
          exits.push(
            new Promise((resolveExit) => {
              child.on("error", (err) => {
                tails[rank] += `\n${err.message}`;
                resolveExit({ rank, code: 127, signal: null });
              });
              child.on("close", (code, signal) => resolveExit({ rank, code, signal }));
            }),
          );
        }
        const killAll = (): void => {
          for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
        };
        const onAbort = (): void => killAll();
        options.signal?.addEventListener("abort", onAbort);
        // the first rank to fail takes the others down (they would wait in a collective forever)
        let failed: { rank: number; code: number | null; signal: NodeJS.Signals | null } | null = null;
        await Promise.all(
          exits.map((p) =>
            p.then((r) => {
              if ((r.code !== 0 || r.signal !== null) && failed === null) {
                failed = r;
                killAll();
              }
            }),
          ),
        );
        options.signal?.removeEventListener("abort", onAbort);
        if (stdoutBuffer) onLine(stdoutBuffer);
        if (options.signal?.aborted) throw abortError(options.signal);
        if (failed !== null) {
          const f = failed as { rank: number; code: number | null; signal: NodeJS.Signals | null };
          const tail = tails[f.rank]!.trim().split("\n").slice(-12).join("\n");
          throw new Error(
            `the PyTorch program ${nproc > 1 ? `(rank ${f.rank} of ${nproc}) ` : ""}failed (${f.signal ? `signal ${f.signal}` : `exit ${f.code}`}); it is ${script}${tail ? `:\n${tail}` : ""}`,
          );
        }

        if (tensorboard) {
          tensorboard.close();
          files.push(relative(outDir, tensorboard.path));
        }
        const result = JSON.parse(readFileSync(join(outDir, "result.json"), "utf8")) as PythonResult;
        const trained = readSafetensors(readFileSync(join(outDir, "weights.safetensors")));
        const weights = new Map(trained.weights.map((w) => [w.name, w.data as Float32Array]));
        const backend = `${result.backend}${result.world > 1 ? ` x${result.world} (DDP, ${result.backend === "cuda" ? "nccl" : "gloo"})` : ""}`;
        saveTfjsModel(join(outDir, "model"), ir, ir.model, weights, { backend });
        files.push(...result.files.filter((f) => f !== "result.json"), join("model", "model.json"), join("model", "weights.bin"));
        // checkpoints: safetensors from the program, a tfjs model beside each
        for (const f of result.files) {
          if (!f.endsWith("weights.safetensors") || f === "weights.safetensors") continue;
          const dir = join(outDir, f, "..");
          if (!existsSync(join(outDir, f))) continue;
          const ck = readSafetensors(readFileSync(join(outDir, f)));
          saveTfjsModel(dir, ir, ir.model, new Map(ck.weights.map((w) => [w.name, w.data as Float32Array])), { backend });
          const rel = f.slice(0, -"weights.safetensors".length);
          files.push(`${rel}model.json`, `${rel}weights.bin`);
        }
        return {
          engine: "pytorch",
          backend,
          history: result.history,
          epochs: result.history.length,
          trainSamples: result.trainSamples,
          testLoss: result.testLoss,
          testAccuracy: result.testAccuracy,
          testMetrics: result.testMetrics,
          seconds: result.seconds,
          samplesPerSecond: result.samplesPerSecond,
          stoppedEarly: result.stoppedEarly,
          files: [...new Set(files)],
        };
      } finally {
        tensorboard?.close();
        for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  };
}
