// nnc's own matrix multiply, GFLOP/s per kernel mode and thread count, on the shapes the seed
// models run (dense layers forward and backward, im2col convolutions).
import { transformSync } from "esbuild";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { emitKernelRuntime, type KernelRuntimeOptions } from "../src/compiler/targets/standalone/kernels/index.js";

export interface KernelRuntime {
  allocF32(n: number): Float32Array;
  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, acc: boolean): void;
  initKernels(): Promise<void>;
  shutdownKernels(): void;
}

export interface GemmShape {
  name: string;
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
}

/** Shapes of the seed models' training steps. */
export const GEMM_SHAPES: GemmShape[] = [
  { name: "mlp fwd 128x784 · 784x512", transA: false, transB: false, M: 128, N: 512, K: 784 },
  { name: "mlp dW1 (784x128)ᵀ · 128x512", transA: true, transB: false, M: 784, N: 512, K: 128 },
  { name: "mlp dX 128x512 · (784x512)ᵀ", transA: false, transB: true, M: 128, N: 784, K: 512 },
  { name: "mlp out 128x512 · 512x10", transA: false, transB: false, M: 128, N: 10, K: 512 },
  { name: "deep 64x1024 · 1024x1024", transA: false, transB: false, M: 64, N: 1024, K: 1024 },
  { name: "twolayer 100x784 · 784x50", transA: false, transB: false, M: 100, N: 50, K: 784 },
  { name: "cnn conv2 im2col 25088x200 · 200x16", transA: false, transB: false, M: 128 * 14 * 14, N: 16, K: 200 },
  { name: "cnn conv2 dW (25088x200)ᵀ · 25088x16", transA: true, transB: false, M: 200, N: 16, K: 128 * 14 * 14 },
  { name: "cnn conv2 dX 25088x16 · (200x16)ᵀ", transA: false, transB: true, M: 128 * 14 * 14, N: 200, K: 16 },
  { name: "cnn conv1 im2col 100352x25 · 25x8", transA: false, transB: false, M: 128 * 28 * 28, N: 8, K: 25 },
  { name: "cnn conv1 dW (100352x25)ᵀ · 100352x8", transA: true, transB: false, M: 25, N: 8, K: 128 * 28 * 28 },
  { name: "square 512", transA: false, transB: false, M: 512, N: 512, K: 512 },
];

let counter = 0;

export async function loadKernelRuntime(opts: KernelRuntimeOptions): Promise<KernelRuntime> {
  const ts = emitKernelRuntime(opts) + "\nexport { allocF32, gemm, initKernels, shutdownKernels };\n";
  const js = transformSync(ts, { loader: "ts", format: "esm", target: "es2022" }).code;
  const dir = mkdtempSync(join(tmpdir(), "nnc-bench-kernels-"));
  const file = join(dir, `k${counter++}.mjs`);
  writeFileSync(file, js);
  const k = (await import(pathToFileURL(file).href)) as KernelRuntime;
  await k.initKernels();
  return k;
}

/** Milliseconds of CPU time used by this process (all threads) so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * GFLOP/s of one shape: best of `reps` timed batches, each at least `minMs` long. With
 * clock "cpu", the time is the process's CPU time rather than wall time: steadier for tuning
 * on a busy machine (single-threaded configurations only).
 */
export function timeGemm(k: KernelRuntime, s: GemmShape, minMs = 150, reps = 3, clock: "wall" | "cpu" = "wall"): number {
  const now = clock === "cpu" ? cpuMs : () => performance.now();
  const A = k.allocF32(s.M * s.K), B = k.allocF32(s.K * s.N), C = k.allocF32(s.M * s.N);
  for (let i = 0; i < A.length; i++) A[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  for (let i = 0; i < B.length; i++) B[i] = ((i * 104729) % 1000) / 1000 - 0.5;
  const flops = 2 * s.M * s.N * s.K;
  // Warm up (tier-up of JS and wasm).
  const warmEnd = performance.now() + Math.min(100, minMs);
  do k.gemm(s.transA, s.transB, s.M, s.N, s.K, A, B, C, false);
  while (performance.now() < warmEnd);
  let best = 0;
  for (let r = 0; r < reps; r++) {
    let n = 0;
    const t0 = now();
    let t1 = t0;
    do {
      k.gemm(s.transA, s.transB, s.M, s.N, s.K, A, B, C, false);
      n++;
      t1 = now();
    } while (t1 - t0 < minMs);
    best = Math.max(best, (flops * n) / ((t1 - t0) / 1000) / 1e9);
  }
  return best;
}

export interface GemmResult {
  mode: string;
  threads: number;
  shape: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  gflops: number;
  /** GFLOP/s per second of CPU time (one-thread configurations only): the idle-machine rate. */
  gflopsCpu?: number;
}

export async function benchGemm(
  configs: KernelRuntimeOptions[],
  shapes: GemmShape[] = GEMM_SHAPES,
  minMs = 150,
  log: (line: string) => void = () => {},
): Promise<GemmResult[]> {
  const out: GemmResult[] = [];
  for (const cfg of configs) {
    const k = await loadKernelRuntime(cfg);
    for (const s of shapes) {
      const slow = cfg.mode === "ts" && s.M * s.N * s.K > 3e7;
      const gflops = timeGemm(k, s, slow ? minMs * 2 : minMs, slow ? 1 : 2);
      const gflopsCpu = cfg.threads === 1 ? timeGemm(k, s, slow ? minMs * 2 : minMs, slow ? 1 : 2, "cpu") : undefined;
      out.push({ mode: cfg.mode, threads: cfg.threads, shape: s.name, M: s.M, N: s.N, K: s.K, transA: s.transA, transB: s.transB, gflops, gflopsCpu });
      log(`  gemm ${cfg.mode}/${cfg.threads}t ${s.name}: ${gflops.toFixed(2)} GFLOP/s${gflopsCpu ? ` (${gflopsCpu.toFixed(2)} per CPU-second)` : ""}`);
    }
    k.shutdownKernels();
  }
  return out;
}

// Direct use: `node --import ./bin/register.mjs bench/gemm.ts [mode] [threads]`
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const mode = (process.argv[2] as "ts" | "simd" | undefined) ?? "simd";
  const threads = Number(process.argv[3] ?? 1);
  await benchGemm([{ mode, threads }], GEMM_SHAPES, 200, console.log);
}
