import { describe, expect, it } from "vitest";
import { KERNEL_MODES, loadKernels } from "./load.js";

// Keras's Adam, in double precision, as the reference.
function reference(value: number[], grad: number[], m: number[], v: number[], lrT: number, b1: number, b2: number, eps: number): void {
  for (let i = 0; i < value.length; i++) {
    m[i] = b1 * m[i]! + (1 - b1) * grad[i]!;
    v[i] = b2 * v[i]! + (1 - b2) * grad[i]! * grad[i]!;
    value[i] = value[i]! - (lrT * m[i]!) / (Math.sqrt(v[i]!) + eps);
  }
}

for (const cfg of KERNEL_MODES) {
  describe(`adamUpdate ${cfg.mode} threads=${cfg.threads}`, () => {
    // 70001: above KERNEL_PARALLEL_MIN_VALUES, so with two threads the update is split into parts
    for (const n of [1, 3, 4, 7, 1029, 70001]) {
      it(`n=${n}, three steps, views and plain arrays`, async () => {
        const k = await loadKernels(cfg);
        for (const plain of [false, true]) {
          const mk = (len: number) => (plain ? new Float32Array(len) : k.allocF32(len + 1).subarray(1));
          const value = mk(n), grad = mk(n), m = mk(n), v = mk(n);
          const rv: number[] = [], rg: number[] = [], rm: number[] = [], rvv: number[] = [];
          for (let i = 0; i < n; i++) {
            value[i] = Math.sin(i + 1);
            rv.push(value[i]!);
            rm.push(0);
            rvv.push(0);
          }
          for (let t = 1; t <= 3; t++) {
            for (let i = 0; i < n; i++) {
              grad[i] = Math.cos(i * t + 0.5) * 0.1;
              rg[i] = grad[i]!;
            }
            const lrT = (1e-3 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
            k.adamUpdate(value, grad, m, v, lrT, 0.9, 0.999, 1e-7);
            reference(rv, rg, rm, rvv, lrT, 0.9, 0.999, 1e-7);
          }
          // every value within tolerance; the first one that is not, named (one expect per array:
          // 70001 expects per array take seconds)
          const firstOff = (got: Float32Array, want: number[], abs: number): string | null => {
            for (let i = 0; i < n; i++) {
              if (!(Math.abs(got[i]! - want[i]!) < abs + 1e-5 * Math.abs(want[i]!))) return `[${i}]: ${got[i]} vs ${want[i]}`;
            }
            return null;
          };
          expect(firstOff(value, rv, 1e-6), "value").toBeNull();
          expect(firstOff(m, rm, 1e-7), "m").toBeNull();
          expect(firstOff(v, rvv, 1e-9), "v").toBeNull();
        }
        k.shutdownKernels();
      });
    }
  });
}

for (const cfg of [
  { mode: "ts", threads: 1 },
  { mode: "simd", threads: 2 },
] as const) {
  describe(`sgdUpdate ${cfg.mode} threads=${cfg.threads}`, () => {
    it("value -= lr * grad, on views and plain arrays, every length mod 4", async () => {
      const k = await loadKernels(cfg);
      for (const plain of [false, true]) {
        for (const n of [1, 2, 3, 4, 5, 1027]) {
          const mk = (len: number) => (plain ? new Float32Array(len) : k.allocF32(len + 2).subarray(2));
          const value = mk(n), grad = mk(n);
          const want: number[] = [];
          for (let i = 0; i < n; i++) {
            value[i] = Math.sin(i);
            grad[i] = Math.cos(i * 3);
            want.push(Math.fround(Math.fround(Math.sin(i)) - 0.1 * Math.fround(Math.cos(i * 3))));
          }
          k.sgdUpdate(value, grad, 0.1);
          for (let i = 0; i < n; i++) expect(Math.abs(value[i]! - want[i]!)).toBeLessThan(1e-6);
        }
      }
      k.shutdownKernels();
    });
  });
}

describe("adamUpdate split across two threads", () => {
  it("gives the one-thread result bit for bit (every value is updated by one part, in the same float32 steps)", async () => {
    const one = await loadKernels({ mode: "simd", threads: 1 });
    const two = await loadKernels({ mode: "simd", threads: 2 });
    const n = 200_003;
    const state = [one, two].map((k) => {
      const value = k.allocF32(n), grad = k.allocF32(n), m = k.allocF32(n), v = k.allocF32(n);
      for (let i = 0; i < n; i++) value[i] = Math.sin(i + 1);
      return { k, value, grad, m, v };
    });
    for (let t = 1; t <= 3; t++) {
      const lrT = (1e-3 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      for (const s of state) {
        for (let i = 0; i < n; i++) s.grad[i] = Math.cos(i * t + 0.5) * 0.1;
        s.k.adamUpdate(s.value, s.grad, s.m, s.v, lrT, 0.9, 0.999, 1e-7);
      }
    }
    const [a, b] = state as [(typeof state)[0], (typeof state)[0]];
    expect(Buffer.from(b.value.buffer, b.value.byteOffset, n * 4).equals(Buffer.from(a.value.buffer, a.value.byteOffset, n * 4))).toBe(true);
    expect(Buffer.from(b.m.buffer, b.m.byteOffset, n * 4).equals(Buffer.from(a.m.buffer, a.m.byteOffset, n * 4))).toBe(true);
    expect(Buffer.from(b.v.buffer, b.v.byteOffset, n * 4).equals(Buffer.from(a.v.buffer, a.v.byteOffset, n * 4))).toBe(true);
    one.shutdownKernels();
    two.shutdownKernels();
  });
});

describe("after adam's split, the next job is a matrix product again", () => {
  it("a runtime with no other kind of job (no convolution, no sparse product): gemm after a split adam gives the one-thread product", async () => {
    const uses = new Set(["adamUpdate"] as const);
    const one = await loadKernels({ mode: "simd", threads: 1, uses });
    const two = await loadKernels({ mode: "simd", threads: 2, uses });
    const n = 100_000, M = 1024, N = 1024, K = 1024; // 2 GFLOP in 16 parts: long enough that the worker claims some
    const out = [one, two].map((k) => {
      const value = k.allocF32(n), grad = k.allocF32(n).fill(0.1), m = k.allocF32(n), v = k.allocF32(n);
      k.adamUpdate(value, grad, m, v, 1e-3, 0.9, 0.999, 1e-7);
      const A = k.allocF32(M * K), B = k.allocF32(K * N), C = k.allocF32(M * N);
      for (let i = 0; i < A.length; i++) A[i] = Math.sin(i);
      for (let i = 0; i < B.length; i++) B[i] = Math.cos(i);
      k.gemm(false, false, M, N, K, A, B, C, false);
      return C;
    });
    let worst = 0;
    for (let i = 0; i < M * N; i++) worst = Math.max(worst, Math.abs(out[0]![i]! - out[1]![i]!));
    expect(worst).toBeLessThan(1e-3);
    one.shutdownKernels();
    two.shutdownKernels();
  });
});
