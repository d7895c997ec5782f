// kernelSparseGemm (the products of a dense layer with its data input, skipping the input's
// zeros) against the double-precision definition, in both kernel modes: ts (gemm itself) and simd
// (WebAssembly csr_rows + sparse_rows, on one thread and split by columns across two).
import { describe, expect, it } from "vitest";
import { KERNEL_MODES, loadKernels, naiveGemm, type KernelRuntime } from "./load.js";

interface Case {
  name: string;
  transA: boolean;
  M: number;
  N: number;
  K: number;
  /** The share of op(A) that is not zero. */
  density: number;
  /** Whether the WebAssembly path lists op(A) (it then runs sparse_rows unless op(A) is mostly non-zero). */
  lists: boolean;
}

const CASES: Case[] = [
  { name: "mlp forward: 128 images x 784 pixels · 784x512", transA: false, M: 128, N: 512, K: 784, density: 0.19, lists: true },
  { name: "mlp kernel gradient: (128x784)ᵀ · 128x512", transA: true, M: 784, N: 512, K: 128, density: 0.19, lists: true },
  { name: "a partial batch of 37, 39 columns (blocks of 16, then 4, then 1)", transA: false, M: 37, N: 39, K: 50, density: 0.2, lists: true },
  { name: "transposed, 13 columns (no whole block)", transA: true, M: 23, N: 13, K: 9, density: 0.3, lists: true },
  { name: "mostly non-zero: gemm runs instead", transA: false, M: 16, N: 48, K: 40, density: 0.9, lists: true },
  { name: "all zeros", transA: false, M: 8, N: 32, K: 20, density: 0, lists: true },
];

/** An image-like operand: runs of zeros, then runs of values (deterministic). */
function sparse(a: Float32Array, density: number, seed: number): Float32Array {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < a.length; ) {
    const on = next() < density;
    const run = 1 + Math.floor(next() * 6);
    for (let r = 0; r < run && i < a.length; r++, i++) a[i] = on ? 0.05 + next() : 0;
  }
  return a;
}

function fill(a: Float32Array, seed: number): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37 + seed) + 0.01 * ((i * 7) % 13);
  return a;
}

function worst(got: ArrayLike<number>, want: Float64Array, terms: number): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i]! - want[i]!) / (Math.abs(want[i]!) + Math.sqrt(terms) * 1e-2 + 1e-6));
  return e;
}

for (const cfg of KERNEL_MODES) {
  describe(`kernelSparseGemm ${cfg.mode}/${cfg.threads}t`, () => {
    for (const c of CASES) {
      it(c.name, async () => {
        const k: KernelRuntime = await loadKernels({ ...cfg, uses: new Set(["kernelSparseGemm", "allocI32"]) });
        try {
          const A = sparse(k.allocF32(c.M * c.K), c.density, c.M + c.K);
          const B = fill(k.allocF32(c.K * c.N), 2);
          const C = k.allocF32(c.M * c.N).fill(7); // garbage that must be overwritten
          const csr = k.allocI32(Math.max(c.M, c.K) + 1 + 2 * c.M * c.K);
          const want = new Float64Array(c.M * c.N);
          naiveGemm(c.transA, false, c.M, c.N, c.K, A, B, want, false);
          k.kernelSparseGemm(c.transA, c.M, c.N, c.K, A, B, C, csr);
          expect(worst(C, want, c.K)).toBeLessThan(1e-5);
          // The WebAssembly path lists op(A) in csr (ptr[0] is an address); the ts mode leaves it as allocated.
          expect(csr[0]! > 0).toBe(cfg.mode === "simd" && c.lists);
          // Again, on the same scratch: nothing of the first call leaks into the second.
          C.fill(-3);
          k.kernelSparseGemm(c.transA, c.M, c.N, c.K, A, B, C, csr);
          expect(worst(C, want, c.K)).toBeLessThan(1e-5);
        } finally {
          k.shutdownKernels();
        }
      });
    }
  });
}

describe("kernelSparseGemm simd: a transposed operand", () => {
  // csr_rows walks a transposed operand's columns in place (one value at a time, a stored row
  // apart): the list must be the one of the transpose stored as such, value for value in the same
  // order, so that the sums (and C) are bit for bit the same.
  for (const [M, K, N] of [
    [784, 128, 512],
    [23, 9, 13],
    [5, 7, 16],
  ] as const) {
    it(`(${K}x${M})ᵀ · ${K}x${N} lists op(A) as the stored ${M}x${K} transpose does`, async () => {
      const k: KernelRuntime = await loadKernels({ mode: "simd", threads: 1, uses: new Set(["kernelSparseGemm", "allocI32"]) });
      try {
        const A = sparse(k.allocF32(K * M), 0.19, M + K); // stored [K x M]; op(A) = Aᵀ
        const At = k.allocF32(M * K);
        for (let r = 0; r < M; r++) for (let c = 0; c < K; c++) At[r * K + c] = A[c * M + r]!;
        const B = fill(k.allocF32(K * N), 3);
        const C1 = k.allocF32(M * N), C2 = k.allocF32(M * N);
        const size = Math.max(M, K) + 1 + 2 * M * K;
        const csr1 = k.allocI32(size), csr2 = k.allocI32(size);
        k.kernelSparseGemm(true, M, N, K, A, B, C1, csr1);
        k.kernelSparseGemm(false, M, N, K, At, B, C2, csr2);
        // row r's (column, value) pairs from the entries' start (after M + 1 ints) + r*K*8 to ptr[r]:
        // the same pairs, in the same order
        const listed = (csr: Int32Array, r: number) => {
          const from = M + 1 + 2 * r * K, to = (csr[r]! - csr.byteOffset) / 4;
          expect(to, `row ${r}'s end`).toBeGreaterThanOrEqual(from);
          return [...csr.subarray(from, to)];
        };
        let entries = 0;
        for (let r = 0; r < M; r++) {
          const pairs = listed(csr2, r);
          expect(listed(csr1, r), `row ${r}`).toEqual(pairs);
          entries += pairs.length / 2;
        }
        expect(entries).toBeGreaterThan(0);
        expect(Buffer.from(C1.buffer, C1.byteOffset, M * N * 4).equals(Buffer.from(C2.buffer, C2.byteOffset, M * N * 4))).toBe(true);
      } finally {
        k.shutdownKernels();
      }
    });
  }
});
