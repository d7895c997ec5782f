// One training-throughput measurement, in its own process (so that peak RSS is its own):
//   node --import ./bin/register.mjs bench/train-one.ts --model mlp --engine standalone --kernels simd [--steps 100] [--seconds 15]
//   node --import ./bin/register.mjs bench/train-one.ts --model cnn --engine tfjs --backend wasm
//   ... --model deep --file /tmp/deep.nn   (a .nn file other than examples/<model>.nn)
// Trains the example for at most --steps batches (or until --seconds of steady-state time have
// passed), timing the steps after a warm-up (--warmup steps and --warmup-seconds of training) from
// the engine's per-batch hook; the gaps at epoch ends (validation, shuffling) are not counted.
// Prints one line `BENCH_RESULT {json}`.
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

export interface TrainBenchResult {
  model: string;
  engine: string;
  variant: string;
  ok: boolean;
  error?: string;
  batch?: number;
  stepsTimed?: number;
  samplesPerSecond?: number;
  /** Samples per second of CPU time of the whole process (all threads): the rate without other load, for one thread. */
  samplesPerCpuSecond?: number;
  loadAverage?: number;
  secondsPerEpoch?: number;
  epochSamples?: number;
  peakRssMB?: number;
  rssAfterWarmupMB?: number;
  rssEndMB?: number;
  heapAfterWarmupMB?: number;
  heapEndMB?: number;
  finalLoss?: number;
}

async function loadEngine(engine: string): Promise<{ train: (...a: any[]) => Promise<any> }> {
  if (engine === "standalone") {
    const mod = (await import(join(root, "src/runtime/engines/standalone.ts"))) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      if (v && typeof v === "object" && typeof (v as { train?: unknown }).train === "function") return v as never;
    }
    for (const [k, v] of Object.entries(mod)) {
      if (typeof v === "function" && /^create/.test(k)) return (v as () => never)();
    }
    throw new Error("src/runtime/engines/standalone.ts exports no engine");
  }
  const mod = (await import(join(root, "src/runtime/engines/tfjs/index.ts"))) as {
    createTfjsEngine: (c?: object) => { train: (...a: any[]) => Promise<any> };
  };
  return mod.createTfjsEngine();
}

async function main(): Promise<void> {
  const model = arg("model", "mlp")!;
  const engineName = arg("engine", "standalone")!;
  const kernels = arg("kernels");
  const backend = arg("backend");
  const maxSteps = Number(arg("steps", "100"));
  const maxSeconds = Number(arg("seconds", "15"));
  const variant = engineName === "standalone" ? `standalone/${kernels ?? "default"}` : `tfjs/${backend ?? "auto"}`;
  const result: TrainBenchResult = { model, engine: engineName, variant, ok: false };
  const outDir = mkdtempSync(join(tmpdir(), "nnc-bench-run-"));
  try {
    const { compileSource } = (await import(join(root, "src/compiler/index.ts"))) as typeof import("../src/compiler/index.js");
    const file = arg("file") ?? join(root, "examples", `${model}.nn`);
    const { ir, diagnostics } = compileSource(readFileSync(file, "utf8"), file);
    if (!ir || !ir.training) throw new Error(`${model}.nn does not compile: ${JSON.stringify(diagnostics.slice(0, 2))}`);
    const batch = ir.training.batchSize;
    const validation = ir.training.data.validation;
    const epochSamples = Math.round(60000 * (validation.kind === "split" ? 1 - validation.fraction : 1));
    const engine = await loadEngine(engineName);
    // Warm-up: at least `warmup` steps and `warmup-seconds` of training, so that the timed steps
    // are the steady state a whole epoch runs in (V8 optimises the hot loops after a while).
    const warmup = Number(arg("warmup", String(Math.max(3, Math.min(10, Math.floor(maxSteps / 10))))));
    const warmupMs = Number(arg("warmup-seconds", "0")) * 1000;
    const times: number[] = [];
    /** Index in `times` of the last warm-up step (-1 until warm-up ends). */
    let warm = -1;
    /** Timed steps and their seconds, leaving out the gaps at epoch ends (validation, shuffling). */
    let timedSteps = 0;
    let timedMs = 0;
    let rssAfterWarmup = 0, heapAfterWarmup = 0, lastLoss = NaN;
    let cpuAtWarmup = 0, cpuAtEnd = 0;
    const cpuSeconds = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    const controller = new AbortController();
    const dataDir = [process.env.NNC_DATA, join(root, "..", "shared", "data", "mnist"), "/work/shared/data/mnist"].find(
      (d) => d && existsSync(join(d, "train-images-idx3-ubyte.gz")),
    );
    const trainFraction = validation.kind === "split" ? 1 - validation.fraction : 1;
    // With a timed warm-up: whole epochs of the full training set, as many as the warm-up and the
    // timed steps need (the run is aborted when done); else one epoch of just enough examples.
    const trainLimit = warmupMs > 0 ? 60000 : Math.min(60000, Math.ceil(((warmup + maxSteps + 1) * batch) / trainFraction) + batch);
    const epochs = warmupMs > 0 ? 1000 : 1;
    await engine
      .train(
        ir,
        { epochs, trainLimit, testLimit: 256, outDir, kernels, backend, quiet: true, dataDir, signal: controller.signal },
        {
          onBatchEnd(step: number, logs: { loss: number }) {
            const now = performance.now();
            times.push(now);
            lastLoss = logs.loss;
            cpuAtEnd = cpuSeconds();
            if (warm < 0) {
              if (times.length >= warmup && now - times[0]! >= warmupMs) {
                warm = times.length - 1;
                cpuAtWarmup = cpuAtEnd;
                const m = process.memoryUsage();
                rssAfterWarmup = m.rss;
                heapAfterWarmup = m.heapUsed;
              }
              return;
            }
            if (step > 0) {
              timedSteps++;
              timedMs += now - times[times.length - 2]!;
            }
            if (timedSteps >= maxSteps || now - times[warm]! > maxSeconds * 1000) {
              if (!controller.signal.aborted) controller.abort();
            }
          },
        },
      )
      .catch((e: unknown) => {
        if (!controller.signal.aborted) throw e;
      });
    if (warm < 0 || timedSteps === 0) throw new Error(`only ${times.length} steps ran`);
    const steps = timedSteps;
    const seconds = timedMs / 1000;
    const m = process.memoryUsage();
    Object.assign(result, {
      ok: true,
      batch,
      stepsTimed: steps,
      samplesPerSecond: (steps * batch) / seconds,
      samplesPerCpuSecond: (steps * batch) / (cpuAtEnd - cpuAtWarmup),
      loadAverage: loadavg()[0],
      epochSamples,
      secondsPerEpoch: epochSamples / ((steps * batch) / seconds),
      peakRssMB: process.resourceUsage().maxRSS / 1024,
      rssAfterWarmupMB: rssAfterWarmup / 2 ** 20,
      rssEndMB: m.rss / 2 ** 20,
      heapAfterWarmupMB: heapAfterWarmup / 2 ** 20,
      heapEndMB: m.heapUsed / 2 ** 20,
      finalLoss: lastLoss,
    });
  } catch (e) {
    result.error = (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 300);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

await main();
