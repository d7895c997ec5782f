import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { transformSync } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { emitKernelRuntime, type KernelRuntimeOptions } from "../../src/compiler/targets/standalone/kernels/index.js";
import { MAX_KERNEL_THREADS } from "../../src/compiler/targets/standalone/threads.js";
import { kernelSource, loadKernels, naiveGemm, type KernelRuntime } from "./load.js";

const CONFIGS: (KernelRuntimeOptions & { label?: string })[] = [
  { mode: "ts", threads: 1 },
  { mode: "ts", threads: 2 },
  { mode: "simd", threads: 1 },
  { mode: "simd", threads: 2 },
  { mode: "simd", threads: 3 },
  // Every path of the wasm kernel: A always packed / always read in place, k unrolled, other tiles.
  { mode: "simd", threads: 1, stridedAMaxN: 0, label: "packed A" },
  { mode: "simd", threads: 1, stridedAMaxN: 1e9, label: "strided A" },
  { mode: "simd", threads: 1, shape: { MR: 4, NR: 8, unrollK: 3 }, label: "unroll 3" },
  { mode: "simd", threads: 1, shape: { MR: 5, NR: 12, unrollK: 2 }, stridedAMaxN: 1e9, label: "5x12 strided unroll 2" },
  { mode: "simd", threads: 1, shape: { MR: 3, NR: 4, unrollK: 1 }, blocking: { KC: 7, MC: 5, NC: 9 }, label: "tiny blocks" },
];

const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [4, 8, 1],
  [3, 1, 9],
  [16, 16, 16],
  [129, 65, 33],
  [33, 257, 300], // several K blocks
  [130, 70, 520],
  [64, 10, 128],
];

// Deterministic pseudo-random fill.
function fill(x: Float32Array, seed: number): void {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < x.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
}

function expectClose(got: Float32Array, want: Float64Array, K: number, label: string): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    // Relative to the magnitude a sum of K products of numbers in [-1, 1] can have.
    const err = Math.abs(got[i]! - want[i]!) / (Math.abs(want[i]!) + Math.sqrt(K) * 1e-2 + 1e-6);
    if (!(err <= worst)) worst = err;
  }
  expect(worst, label).toBeLessThan(1e-4);
}

for (const cfg of CONFIGS) {
  describe(`gemm ${cfg.mode} threads=${cfg.threads}${cfg.label ? ` (${cfg.label})` : ""}`, () => {
    let k: KernelRuntime;
    beforeAll(async () => {
      // Parallel split from 1 flop on, so that the threaded path is exercised by small sizes.
      k = await loadKernels({ ...cfg, parallelMinFlops: 1 });
    });
    afterAll(() => k.shutdownKernels());

    for (const [M, N, K] of SIZES) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          it(`${M}x${N}x${K} transA=${transA} transB=${transB}`, () => {
            // Views at odd offsets inside larger buffers, with sentinels around C.
            const bufA = k.allocF32(M * K + 7);
            const bufB = k.allocF32(K * N + 3);
            const bufC = k.allocF32(M * N + 10);
            const A = bufA.subarray(7);
            const B = bufB.subarray(3);
            const C = bufC.subarray(5, 5 + M * N);
            fill(A, M * 31 + K);
            fill(B, N * 17 + K);
            for (const accumulate of [false, true]) {
              fill(bufC, 99);
              const want = new Float64Array(M * N);
              for (let i = 0; i < M * N; i++) want[i] = C[i]!;
              naiveGemm(transA, transB, M, N, K, A, B, want, accumulate);
              const before = Float32Array.from(bufC);
              k.gemm(transA, transB, M, N, K, A, B, C, accumulate);
              expectClose(C, want, K, `accumulate=${accumulate}`);
              for (let i = 0; i < 5; i++) expect(bufC[i]).toBe(before[i]);
              for (let i = 5 + M * N; i < bufC.length; i++) expect(bufC[i]).toBe(before[i]);
              // Inputs untouched.
              const A2 = new Float32Array(A.length);
              fill(A2, M * 31 + K);
              expect(Array.from(A)).toEqual(Array.from(A2));
            }
          });
        }
      }
    }

    it("works on plain Float32Arrays too", () => {
      const A = new Float32Array(6 * 5), B = new Float32Array(5 * 9), C = new Float32Array(6 * 9);
      fill(A, 1);
      fill(B, 2);
      const want = new Float64Array(6 * 9);
      naiveGemm(false, false, 6, 9, 5, A, B, want, false);
      k.gemm(false, false, 6, 9, 5, A, B, C, false);
      expectClose(C, want, 5, "plain");
    });

    it("K = 0 gives zeros (or leaves C when accumulating)", () => {
      const C = k.allocF32(6);
      C.fill(3);
      k.gemm(false, false, 2, 3, 0, k.allocF32(0), k.allocF32(0), C, true);
      expect(Array.from(C)).toEqual([3, 3, 3, 3, 3, 3]);
      k.gemm(false, false, 2, 3, 0, k.allocF32(0), k.allocF32(0), C, false);
      expect(Array.from(C)).toEqual([0, 0, 0, 0, 0, 0]);
    });

    it("allocF32 gives zeroed, 16-byte aligned, disjoint buffers", () => {
      const a = k.allocF32(5), b = k.allocF32(3);
      expect(Array.from(a)).toEqual([0, 0, 0, 0, 0]);
      a.fill(1);
      expect(Array.from(b)).toEqual([0, 0, 0]);
      if (cfg.mode === "simd" || cfg.threads > 1) {
        expect(a.byteOffset % 16).toBe(0);
        expect(b.byteOffset % 16).toBe(0);
      }
      // A large allocation (grows the memory) leaves earlier views valid.
      const big = k.allocF32(8_000_000);
      big[big.length - 1] = 2;
      a[0] = 7;
      expect(a[0]).toBe(7);
      expect(big[big.length - 1]).toBe(2);
    });
  });
}

describe("simd and ts agree", () => {
  it("on a seed-model sized product", async () => {
    const ts = await loadKernels({ mode: "ts", threads: 1 });
    const simd = await loadKernels({ mode: "simd", threads: 2 });
    const [M, N, K] = [128, 100, 784];
    const A = new Float32Array(M * K), B = new Float32Array(K * N);
    fill(A, 5);
    fill(B, 6);
    const a1 = ts.allocF32(M * K), b1 = ts.allocF32(K * N), c1 = ts.allocF32(M * N);
    const a2 = simd.allocF32(M * K), b2 = simd.allocF32(K * N), c2 = simd.allocF32(M * N);
    a1.set(A); a2.set(A); b1.set(B); b2.set(B);
    ts.gemm(false, false, M, N, K, a1, b1, c1, false);
    simd.gemm(false, false, M, N, K, a2, b2, c2, false);
    const want = new Float64Array(M * N);
    naiveGemm(false, false, M, N, K, A, B, want, false);
    expectClose(c1, want, K, "ts");
    expectClose(c2, want, K, "simd");
    simd.shutdownKernels();
  });
});

describe("threaded gemm under a stream of jobs", () => {
  for (const mode of ["ts", "simd"] as const) {
    it(`${mode}: 400 accumulating products of varying splits give exact sums`, async () => {
      const k = await loadKernels({ mode, threads: 3, parallelMinFlops: 1 });
      const shapes: [number, number, number][] = [
        [1, 9, 3],
        [40, 8, 5],
        [5, 70, 6],
        [33, 33, 2],
        [2, 1, 7],
      ];
      const bufs = shapes.map(([M, N, K]) => {
        const A = k.allocF32(M * K), B = k.allocF32(K * N), C = k.allocF32(M * N);
        fill(A, M + N);
        fill(B, K + 3);
        return { A, B, C };
      });
      for (let it = 0; it < 400; it++) {
        const s = it % shapes.length;
        const [M, N, K] = shapes[s]!;
        k.gemm(false, false, M, N, K, bufs[s]!.A, bufs[s]!.B, bufs[s]!.C, it >= shapes.length);
      }
      for (let s = 0; s < shapes.length; s++) {
        const [M, N, K] = shapes[s]!;
        const want = new Float64Array(M * N);
        naiveGemm(false, false, M, N, K, bufs[s]!.A, bufs[s]!.B, want, false);
        for (let i = 0; i < want.length; i++) want[i]! *= 80;
        expectClose(bufs[s]!.C, want, K * 80, `shape ${s}`);
      }
      k.shutdownKernels();
    });
  }
});

// A job's parts are claimed through one integer, the part's index in its low bits (KERNEL_PART_BITS)
// and the job's generation above: with 8 parts a thread, 33 threads cut a product into up to 264
// parts, past what 8 bits held (the 257th claim ran into the generation and the main thread waited
// for the rest forever: hence a child process, with a timeout). Past MAX_KERNEL_THREADS, the
// runtime is refused.
const HERE = dirname(fileURLToPath(import.meta.url));
const REGISTER = join(HERE, "../../bin/register.mjs");

describe("a job of more than 256 parts", () => {
  it("33 threads, a product in 264 parts: every part runs, the sums are right", () => {
    const out = execFileSync(process.execPath, ["--import", REGISTER, join(HERE, "many-parts.child.ts")], { encoding: "utf8", timeout: 30_000 });
    expect(out.trim()).toBe("ok");
  });
  it(`more than ${MAX_KERNEL_THREADS} threads: refused, naming the limit`, () => {
    expect(() => emitKernelRuntime({ mode: "simd", threads: MAX_KERNEL_THREADS + 1 })).toThrow(`at most ${MAX_KERNEL_THREADS} threads`);
  });
});

/** The simd runtime on two threads with a fault planted in the source: `from` (which must be there) becomes `to`. */
async function loadPlanted(from: string, to: string): Promise<KernelRuntime> {
  const source = kernelSource({ mode: "simd", threads: 2, parallelMinFlops: 1 });
  expect(source).toContain(from);
  const file = join(mkdtempSync(join(tmpdir(), "nnc-kernels-")), "planted.mjs");
  writeFileSync(file, transformSync(source.replace(from, to), { loader: "ts", format: "esm", target: "es2022" }).code);
  const k = (await import(pathToFileURL(file).href)) as KernelRuntime;
  await k.initKernels();
  return k;
}

// A part that throws on a worker (a fault planted in the workers' copy of gemmRange, for their
// first part, so that the main thread's own parts and the workers' later ones run as usual): the product throws an error naming the job and the
// worker's error, once every part is over; the process does not end with the worker's unhandled
// "error" event (it did), and the pool serves the next job.
describe("a worker's failing part", () => {
  it("throws the worker's error, names the job, and leaves the process and the pool alive", async () => {
    // (the worker's first part only: its next parts are its own again)
    const k = await loadPlanted("gemmRange(exportsOfWasm, scratch.ap", '(globalThis.planted ? gemmRange : ((globalThis.planted = true), () => { throw new Error(\\"planted\\"); }))(exportsOfWasm, scratch.ap');
    try {
      // large enough that the worker wakes while the main thread is still on its first parts
      const [M, N, K] = [512, 512, 512];
      const A = k.allocF32(M * K), B = k.allocF32(K * N), C = k.allocF32(M * N);
      fill(A, 1);
      fill(B, 2);
      // (until the worker has started and claimed a part: a few rounds, a few seconds at most)
      let message = "";
      for (let round = 0; round < 200 && message === ""; round++) {
        try {
          k.gemm(false, false, M, N, K, A, B, C, false);
        } catch (err) {
          message = (err as Error).message;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(message).toBe("nnc kernels: a worker thread failed in a matrix product: Error: planted");
      // the worker is still there and serves the next jobs: their products, split across both threads, are right
      for (let round = 0; round < 20; round++) k.gemm(false, false, M, N, K, A, B, C, false);
      const want = new Float64Array(M * N);
      naiveGemm(false, false, M, N, K, A, B, want, false);
      expectClose(C, want, K, "512 x 512 x 512, after the failure");
      await new Promise((resolve) => setTimeout(resolve, 100)); // where a worker's "error" event would come
    } finally {
      k.shutdownKernels();
    }
  });
});

describe("a worker that cannot start", () => {
  it("is said once on stderr, and the other threads (the main one) do its share: the products are right", async () => {
    const said: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void said.push(args.join(" ")));
    const k = await loadPlanted("const tid = workerData.tid;", 'throw new Error(\\"cannot start\\");');
    try {
      for (let round = 0; round < 250 && said.length === 0; round++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(said).toEqual(["nnc kernels: worker thread 1 stopped (cannot start); the other threads take its share"]);
      const [M, N, K] = [64, 48, 40];
      const A = k.allocF32(M * K), B = k.allocF32(K * N), C = k.allocF32(M * N);
      fill(A, 3);
      fill(B, 4);
      k.gemm(false, false, M, N, K, A, B, C, false);
      const want = new Float64Array(M * N);
      naiveGemm(false, false, M, N, K, A, B, want, false);
      expectClose(C, want, K, "64 x 48 x 40, on the main thread alone");
    } finally {
      spy.mockRestore();
      k.shutdownKernels();
    }
  });
});

describe("relaxed-SIMD multiply-add in the simd gemm", () => {
  const product = (k: KernelRuntime) => {
    const [M, N, K] = [37, 29, 301];
    const A = k.allocF32(M * K), B = k.allocF32(K * N), C = k.allocF32(M * N);
    fill(A, 11);
    fill(B, 12);
    k.gemm(false, false, M, N, K, A, B, C, false);
    const want = new Float64Array(M * N);
    naiveGemm(false, false, M, N, K, A, B, want, false);
    return { got: Float32Array.from(C), want, K };
  };

  it("is used where the runtime compiles relaxed SIMD (Node 20 behind a V8 flag the runtime sets, Node 22 on)", async () => {
    const k = await loadKernels({ mode: "simd", threads: 2, parallelMinFlops: 1 });
    expect(k.kernelState?.fma).toBe(true);
    const { got, want, K } = product(k);
    expectClose(got, want, K, "fma");
    k.shutdownKernels();
  });

  it("NNC_FMA=0 compiles the plain kernels instead, with the same products to rounding", async () => {
    const before = process.env.NNC_FMA;
    process.env.NNC_FMA = "0";
    try {
      const k = await loadKernels({ mode: "simd", threads: 2, parallelMinFlops: 1 });
      expect(k.kernelState?.fma).toBe(false);
      const plain = product(k);
      expectClose(plain.got, plain.want, plain.K, "plain");
      k.shutdownKernels();
    } finally {
      if (before === undefined) delete process.env.NNC_FMA;
      else process.env.NNC_FMA = before;
    }
  });
});
