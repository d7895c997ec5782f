// Time the parts of one standalone training step (forward, loss, backward, optimizer) and the
// heap it allocates, using the program's test internals:
//   node --import ./bin/register.mjs bench/step-profile.ts [model=mlp] [kernels=simd] [threads=1] [steps=50]
import { readFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface StepProfile {
  model: string;
  mode: string;
  threads: number;
  batch: number;
  steps: number;
  msPerStep: { forward: number; loss: number; backward: number; optimizer: number; total: number };
  samplesPerSecond: number;
  /** CPU time of the process (all threads) per step, and the samples per CPU-second it gives. */
  cpuMsPerStep: number;
  samplesPerCpuSecond: number;
  /**
   * Bytes of heap growth over `steps` steps without a GC in between (0: the step allocates
   * nothing): the least of the timed window and two more (V8 finishing an optimisation in the
   * middle of one window allocates, once).
   */
  heapGrowthBytes: number;
  gcDuringSteps: number;
}

interface Internals {
  input: Float32Array;
  target: Float32Array | Int32Array;
  initializeWeights(seed: number): void;
  forward(n: number, training: boolean): void;
  backward(n: number): void;
  computeLoss(n: number): number;
  applyGradients(lr: number): void;
  initKernels(): Promise<void>;
  shutdownKernels(): void;
}

export async function profileStep(model: string, mode: "ts" | "simd", threads: number, steps: number): Promise<StepProfile> {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const { compileSource } = await import("../src/compiler/index.js");
  const { loadStandaloneProgram } = await import("../src/runtime/engines/standalone.js");
  const file = join(root, "examples", `${model}.nn`);
  const { ir } = compileSource(readFileSync(file, "utf8"), file);
  if (!ir?.training) throw new Error(`${model}.nn does not compile`);
  // The generated program, with its test internals (the steps, and the kernels' init and shutdown).
  const t = (await loadStandaloneProgram(ir, { mode, threads, exposeInternals: true })).internals as unknown as Internals;
  await t.initKernels();
  const n = ir.training.batchSize;
  t.initializeWeights(1);
  for (let i = 0; i < t.input.length; i++) t.input[i] = ((i * 7919) % 255) / 255;
  const classes = t.target.length / n;
  for (let r = 0; r < n; r++) {
    if (t.target instanceof Int32Array || classes === 1) t.target[r] = r % 10;
    else t.target[r * classes + (r % classes)] = 1;
  }
  const step = (acc?: number[]) => {
    const t0 = performance.now();
    t.forward(n, true);
    const t1 = performance.now();
    t.computeLoss(n);
    const t2 = performance.now();
    t.backward(n);
    const t3 = performance.now();
    t.applyGradients(1e-3);
    const t4 = performance.now();
    if (acc) {
      acc[0] += t1 - t0;
      acc[1] += t2 - t1;
      acc[2] += t3 - t2;
      acc[3] += t4 - t3;
    }
  };
  // Warm up long enough for tier-up (a few hundred steps: the larger models have dozens of step
  // functions to optimise): compiling optimized code allocates, the steady state does not.
  for (let i = 0; i < Math.max(300, steps); i++) step();
  gc();
  let gcs = 0;
  const { PerformanceObserver } = await import("node:perf_hooks");
  const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  obs.observe({ entryTypes: ["gc"] });
  const acc = [0, 0, 0, 0];
  const cpu0 = process.cpuUsage();
  const heap0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < steps; i++) step(acc);
  const heap1 = process.memoryUsage().heapUsed;
  const cpu = process.cpuUsage(cpu0);
  const cpuMsPerStep = (cpu.user + cpu.system) / 1000 / steps;
  await new Promise((r) => setTimeout(r, 10));
  obs.disconnect();
  let heapGrowth = heap1 - heap0;
  for (let window = 0; window < 2; window++) {
    gc();
    const h0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < steps; i++) step();
    heapGrowth = Math.min(heapGrowth, process.memoryUsage().heapUsed - h0);
  }
  t.shutdownKernels();
  const [forward, loss, backward, optimizer] = acc.map((x) => x / steps) as [number, number, number, number];
  const total = forward + loss + backward + optimizer;
  return {
    model,
    mode,
    threads,
    batch: n,
    steps,
    msPerStep: { forward, loss, backward, optimizer, total },
    samplesPerSecond: (n / total) * 1000,
    cpuMsPerStep,
    samplesPerCpuSecond: (n / cpuMsPerStep) * 1000,
    heapGrowthBytes: heapGrowth,
    gcDuringSteps: gcs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [model = "mlp", mode = "simd", threads = "1", steps = "50"] = process.argv.slice(2);
  const p = await profileStep(model, mode as "ts" | "simd", Number(threads), Number(steps));
  console.log(JSON.stringify(p, null, 1));
  process.exit(0);
}
