// The standalone engine's WGSL kernels (src/compiler/targets/standalone/kernels/webgpu/) against its
// CPU kernels (the TypeScript loops and the WebAssembly SIMD ones nnc emits), on the software
// WebGPU adapter (NNC_WEBGPU_ADAPTER=software: Mesa's llvmpipe through Dawn). Every kernel the GPU
// side has, on the shapes of the seed models (mlp's dense layers forward and backward) and on
// awkward ones (sizes not multiples of the 16 x 16 tile, one element, a grid over 65,535
// workgroups), im2col/col2im on cnn's convolutions and padded, strided ones, then three whole
// dense training steps composed from them. The layers without a CPU kernel function (pooling,
// batch_norm, dropout, activations) are compared through whole models: every per-feature case in
// test/gpu/standalone-webgpu.test.ts.
//
// Tolerances: gemm sums in another order (tiles of 16, fused multiply-adds) than the CPU loops, so
// each element is compared within 2e-6 of the sum of |a_ik * b_kj| over k (float32 rounding grows
// with that sum; measured: at most 2.8e-7 of it). Elementwise kernels, the bias gradient (rows added
// in the same order), im2col and col2im (contributions added in kernelCol2im's order) must match exactly. Adam: the TypeScript loop computes in float64 and rounds
// on store, the GPU in float32: within 1e-6 relative (measured: 1.9e-7 at most, after 3 steps).
import { beforeAll, describe, expect, it } from "vitest";
import { WebgpuKernels, type GpuTensor } from "../../src/compiler/targets/standalone/kernels/webgpu/runtime.js";
import { openDawn, type DawnDevice } from "../../src/runtime/webgpu/dawn.js";
import { loadKernels, type KernelRuntime } from "../kernels/load.js";

process.env.NNC_WEBGPU_ADAPTER = "software";

/** Deterministic values in [-1, 1) (a small LCG), so a failure reproduces. */
function data(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

let dawn: DawnDevice;
let gpu: WebgpuKernels;
let ts: KernelRuntime;
let simd: KernelRuntime;

beforeAll(async () => {
  dawn = await openDawn();
  gpu = new WebgpuKernels(dawn.device);
  ts = await loadKernels({ mode: "ts", threads: 1 });
  simd = await loadKernels({ mode: "simd", threads: 1 });
}, 60_000);

/** Bit-for-bit equality, with the first difference named (vitest's toEqual is slow on big arrays). */
function expectSame(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  let diff = -1;
  for (let i = 0; i < a.length; i++)
    if (!Object.is(a[i], b[i])) {
      diff = i;
      break;
    }
  expect(diff < 0 ? "same" : `${what}[${diff}]: gpu ${a[diff]} vs cpu ${b[diff]}`).toBe("same");
}

function cpuArray(k: KernelRuntime, src: Float32Array): Float32Array {
  const a = k.allocF32(src.length);
  a.set(src);
  return a;
}

/** Sum over k of |op(A)[r, k] * op(B)[k, c]|, for each (r, c): the scale of float32 rounding. */
function absProducts(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array): Float64Array {
  const out = new Float64Array(M * N);
  for (let r = 0; r < M; r++)
    for (let k = 0; k < K; k++) {
      const a = Math.abs(transA ? A[k * M + r]! : A[r * K + k]!);
      for (let c = 0; c < N; c++) out[r * N + c] += a * Math.abs(transB ? B[c * K + k]! : B[k * N + c]!);
    }
  return out;
}

describe("WGSL gemm vs the CPU gemm (ts and simd)", () => {
  const cases: [boolean, boolean, number, number, number][] = [
    [false, false, 1, 1, 1],
    [false, false, 17, 33, 9],
    [true, false, 31, 5, 47],
    [false, true, 3, 65, 18],
    [true, true, 20, 20, 20],
    [false, false, 128, 512, 784], // mlp dense_1 forward: x · W1
    [true, false, 784, 512, 128], //  dW1 = xᵀ · dz1
    [false, true, 128, 512, 10], //   da1 = dz2 · W2ᵀ
    [false, false, 128, 10, 512], //  dense_2 forward
  ];
  for (const [transA, transB, M, N, K] of cases) {
    for (const accumulate of M === 17 || M === 128 ? [false, true] : [false]) {
      it(`${transA ? "Aᵀ" : "A"}·${transB ? "Bᵀ" : "B"} [${M} x ${K}]·[${K} x ${N}]${accumulate ? " += " : ""}`, async () => {
        const A = data(M * K, M * 7 + K);
        const B = data(K * N, N * 13 + K);
        const C0 = data(M * N, 99);
        const tA = gpu.tensor(A);
        const tB = gpu.tensor(B);
        const tC = gpu.tensor(C0);
        gpu.gemm(transA, transB, M, N, K, tA, tB, tC, accumulate);
        const g = await gpu.read(tC);
        const scale = absProducts(transA, transB, M, N, K, A, B);
        for (const [name, k] of [
          ["ts", ts],
          ["simd", simd],
        ] as const) {
          const c = cpuArray(k, C0);
          k.gemm(transA, transB, M, N, K, cpuArray(k, A), cpuArray(k, B), c, accumulate);
          let worst = 0;
          for (let i = 0; i < M * N; i++)
            worst = Math.max(worst, Math.abs(g[i]! - c[i]!) / (scale[i]! + (accumulate ? Math.abs(C0[i]!) : 0) + 1e-30));
          console.log(
            `gemm ${+transA}${+transB} ${M}x${N}x${K}${accumulate ? " +=" : ""} vs ${name}: worst |gpu - cpu| / sum|a*b| = ${worst.toExponential(2)}`,
          );
          expect(worst, `${name}: worst |gpu - cpu| / sum|a*b|`).toBeLessThan(2e-6);
        }
        // The product is really there (not zeros, not C left alone).
        expect(g.some((v, i) => Math.abs(v - (accumulate ? C0[i]! : 0)) > 1e-3)).toBe(true);
      }, 60_000);
    }
  }
});

describe("WGSL elementwise kernels vs the CPU ones (exact)", () => {
  for (const [rows, cols] of [
    [128, 512],
    [3, 7],
    [1, 1],
  ] as const) {
    it(`bias + relu, bias add, relu backward, bias gradient over [${rows} x ${cols}]`, async () => {
      const n = rows * cols;
      const z0 = data(n, 5);
      const bias = data(cols, 6);
      const g = data(n, 7);
      for (const k of [ts, simd]) {
        // bias + relu
        const [gz, ga] = [gpu.tensor(z0), gpu.tensor(n)];
        gpu.kernelBiasRelu(gz, ga, gpu.tensor(bias), rows, cols);
        const [cz, ca] = [cpuArray(k, z0), k.allocF32(n)];
        k.kernelBiasRelu(cz, ca, cpuArray(k, bias), rows, cols);
        expectSame(await gpu.read(gz), cz, "gz");
        expectSame(await gpu.read(ga), ca, "ga");
        // bias add
        const gz2 = gpu.tensor(z0);
        gpu.kernelBiasAdd(gz2, gpu.tensor(bias), rows, cols);
        const cz2 = cpuArray(k, z0);
        k.kernelBiasAdd(cz2, cpuArray(k, bias), rows, cols);
        expectSame(await gpu.read(gz2), cz2, "gz2");
        // relu backward
        const gdz = gpu.tensor(n);
        gpu.kernelReluBackward(gpu.tensor(z0), gpu.tensor(g), gdz, n);
        const cdz = k.allocF32(n);
        k.kernelReluBackward(cpuArray(k, z0), cpuArray(k, g), cdz, n);
        expectSame(await gpu.read(gdz), cdz, "gdz");
        // bias gradient: column sums, rows in order
        const gdb = gpu.tensor(cols);
        gpu.kernelBiasGrad(gpu.tensor(g), gdb, rows, cols);
        const cdb = k.allocF32(cols);
        k.kernelBiasGrad(cpuArray(k, g), cdb, rows, cols);
        expectSame(await gpu.read(gdb), cdb, "gdb");
      }
    }, 60_000);
  }

  it("relu backward over 4,200,000 items: a 2-D grid of workgroups (more than 65,535 of 64)", async () => {
    const n = 4_200_000;
    const z = data(n, 11);
    const g = data(n, 12);
    const out = gpu.tensor(n);
    gpu.kernelReluBackward(gpu.tensor(z), gpu.tensor(g), out, n);
    const c = ts.allocF32(n);
    ts.kernelReluBackward(z, g, c, n);
    const r = await gpu.read(out);
    expectSame(r, c, "dz");
  }, 60_000);
});

describe("WGSL im2col and col2im vs the CPU ones (exact)", () => {
  // [n, H, W, C, KH, KW, SH, SW, padding]: cnn's two convolutions (5x5 same), valid 3x3, same with
  // stride 2 and an even kernel (uneven padding), a 1x1 image.
  const shapes: [number, number, number, number, number, number, number, number, "same" | "valid"][] = [
    [4, 28, 28, 1, 5, 5, 1, 1, "same"],
    [2, 14, 14, 8, 5, 5, 1, 1, "same"],
    [3, 9, 7, 2, 3, 3, 1, 1, "valid"],
    [2, 11, 10, 3, 4, 4, 2, 2, "same"],
    [1, 1, 1, 1, 1, 1, 1, 1, "valid"],
  ];
  for (const [n, H, W, C, KH, KW, SH, SW, padding] of shapes) {
    it(`${KH}x${KW} stride ${SH}x${SW} ${padding} over [${n} x ${H} x ${W} x ${C}]`, async () => {
      const OH = padding === "same" ? Math.ceil(H / SH) : Math.floor((H - KH) / SH) + 1;
      const OW = padding === "same" ? Math.ceil(W / SW) : Math.floor((W - KW) / SW) + 1;
      const padTop = Math.floor(Math.max((OH - 1) * SH + KH - H, 0) / 2);
      const padLeft = Math.floor(Math.max((OW - 1) * SW + KW - W, 0) / 2);
      const shape = { n, H, W, C, KH, KW, SH, SW, OH, OW, padTop, padLeft };
      const args = [n, H, W, C, KH, KW, SH, SW, OH, OW, padTop, padLeft] as const;
      const x = data(n * H * W * C, H * 31 + C);
      const patches = n * OH * OW * KH * KW * C;
      const dcols = data(patches, KH * 17 + W);
      const gCols = gpu.tensor(patches);
      gpu.kernelIm2col(gpu.tensor(x), gCols, shape);
      const gDx = gpu.tensor(x.length);
      gpu.kernelCol2im(gpu.tensor(dcols), gDx, shape);
      for (const k of [ts, simd]) {
        const cols = k.allocF32(patches);
        k.kernelIm2col(cpuArray(k, x), cols, ...args);
        expectSame(await gpu.read(gCols), cols, "cols");
        const dx = k.allocF32(x.length);
        k.kernelCol2im(cpuArray(k, dcols), dx, ...args);
        expectSame(await gpu.read(gDx), dx, "dx");
      }
    }, 60_000);
  }
});

describe("WGSL optimizer updates vs the CPU ones", () => {
  for (const n of [401_408, 10, 1]) {
    it(`adam, 3 steps with a changing rate, over ${n}; sgd`, async () => {
      const value = data(n, 21).map((x) => x * 0.1);
      const grads = [data(n, 22), data(n, 23), data(n, 24)].map((g) => g.map((x) => x * 0.01));
      const [gv, gm, gvv] = [gpu.tensor(value), gpu.tensor(n), gpu.tensor(n)];
      const gg = grads.map((g) => gpu.tensor(g));
      const [cv, cm, cvv] = [cpuArray(ts, value), ts.allocF32(n), ts.allocF32(n)];
      for (let t = 1; t <= 3; t++) {
        const lrT = (1e-3 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
        gpu.adamUpdate(gv, gg[t - 1]!, gm, gvv, lrT, 0.9, 0.999, 1e-7);
        ts.adamUpdate(cv, cpuArray(ts, grads[t - 1]!), cm, cvv, lrT, 0.9, 0.999, 1e-7);
      }
      const close = (a: Float32Array, b: Float32Array) => {
        let worst = 0;
        let scale = 0;
        for (let i = 0; i < n; i++) {
          worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
          scale = Math.max(scale, Math.abs(b[i]!));
        }
        return worst / scale;
      };
      const moved = await gpu.read(gv);
      console.log(
        `adam over ${n}, 3 steps: relative |gpu - cpu| m ${close(await gpu.read(gm), cm).toExponential(2)}, v ${close(await gpu.read(gvv), cvv).toExponential(2)}, value ${close(moved, cv).toExponential(2)}`,
      );
      expect(close(await gpu.read(gm), cm)).toBeLessThan(1e-6);
      expect(close(await gpu.read(gvv), cvv)).toBeLessThan(1e-6);
      expect(close(moved, cv)).toBeLessThan(1e-6);
      expect(moved.some((x, i) => x !== value[i])).toBe(true);

      const gs = gpu.tensor(value);
      gpu.sgdUpdate(gs, gg[0]!, 0.05);
      const cs = cpuArray(ts, value);
      ts.sgdUpdate(cs, grads[0]!, 0.05);
      expect(close(await gpu.read(gs), cs)).toBeLessThan(1e-6);
    }, 60_000);
  }
});

describe("three dense training steps composed from the WGSL kernels match the CPU kernels", () => {
  it("mlp's shapes (784 -> 512 relu -> 10, batch 128, Adam): weights after 3 steps within 1e-5", async () => {
    const [Bt, I, H, O] = [128, 784, 512, 10];
    const x = data(Bt * I, 31).map((v) => (v + 1) / 2);
    const labels = Array.from({ length: Bt }, (_, i) => (i * 7) % O);
    const init = {
      W1: data(I * H, 32).map((v) => v * 0.05),
      b1: new Float32Array(H),
      W2: data(H * O, 33).map((v) => v * 0.1),
      b2: new Float32Array(O),
    };

    /** Softmax + cross-entropy gradient of the batch mean, on the CPU (both sides use this). */
    const lossGrad = (z2: Float32Array): { dz: Float32Array; loss: number } => {
      const dz = new Float32Array(Bt * O);
      let loss = 0;
      for (let r = 0; r < Bt; r++) {
        let max = -Infinity;
        for (let j = 0; j < O; j++) max = Math.max(max, z2[r * O + j]!);
        let sum = 0;
        for (let j = 0; j < O; j++) sum += Math.exp(z2[r * O + j]! - max);
        for (let j = 0; j < O; j++) {
          const p = Math.exp(z2[r * O + j]! - max) / sum;
          dz[r * O + j] = (p - (j === labels[r] ? 1 : 0)) / Bt;
          if (j === labels[r]) loss -= Math.log(p) / Bt;
        }
      }
      return { dz, loss };
    };

    // The same sequence of kernel calls on each side; `T` is GpuTensor or Float32Array.
    interface Side<T> {
      t(x: number | Float32Array): T;
      read(x: T): Promise<Float32Array>;
      k: {
        gemm(ta: boolean, tb: boolean, M: number, N: number, K: number, A: T, B: T, C: T, acc: boolean): void;
        kernelBiasRelu(z: T, a: T, b: T, r: number, c: number): void;
        kernelBiasAdd(z: T, b: T, r: number, c: number): void;
        kernelReluBackward(z: T, g: T, dz: T, n: number): void;
        kernelBiasGrad(dz: T, db: T, r: number, c: number): void;
        adamUpdate(v: T, g: T, m: T, vv: T, lrT: number, b1: number, b2: number, e: number): void;
      };
    }
    async function train<T>(s: Side<T>): Promise<{ weights: Float32Array[]; losses: number[] }> {
      const p = {
        W1: s.t(init.W1),
        b1: s.t(init.b1),
        W2: s.t(init.W2),
        b2: s.t(init.b2),
      };
      const names = ["W1", "b1", "W2", "b2"] as const;
      const sizes = { W1: I * H, b1: H, W2: H * O, b2: O };
      const grad = Object.fromEntries(names.map((n) => [n, s.t(sizes[n])])) as Record<(typeof names)[number], T>;
      const m = Object.fromEntries(names.map((n) => [n, s.t(sizes[n])])) as Record<(typeof names)[number], T>;
      const v = Object.fromEntries(names.map((n) => [n, s.t(sizes[n])])) as Record<(typeof names)[number], T>;
      const [tx, z1, a1, z2, dz1, da1] = [s.t(x), s.t(Bt * H), s.t(Bt * H), s.t(Bt * O), s.t(Bt * H), s.t(Bt * H)];
      const losses: number[] = [];
      for (let step = 1; step <= 3; step++) {
        s.k.gemm(false, false, Bt, H, I, tx, p.W1, z1, false);
        s.k.kernelBiasRelu(z1, a1, p.b1, Bt, H);
        s.k.gemm(false, false, Bt, O, H, a1, p.W2, z2, false);
        s.k.kernelBiasAdd(z2, p.b2, Bt, O);
        const { dz, loss } = lossGrad(await s.read(z2));
        losses.push(loss);
        const dz2 = s.t(dz);
        s.k.gemm(true, false, H, O, Bt, a1, dz2, grad.W2, false);
        s.k.kernelBiasGrad(dz2, grad.b2, Bt, O);
        s.k.gemm(false, true, Bt, H, O, dz2, p.W2, da1, false);
        s.k.kernelReluBackward(z1, da1, dz1, Bt * H);
        s.k.gemm(true, false, I, H, Bt, tx, dz1, grad.W1, false);
        s.k.kernelBiasGrad(dz1, grad.b1, Bt, H);
        const lrT = (1e-3 * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step);
        for (const n of names) s.k.adamUpdate(p[n], grad[n], m[n], v[n], lrT, 0.9, 0.999, 1e-7);
      }
      return {
        weights: await Promise.all(names.map((n) => s.read(p[n]))),
        losses,
      };
    }

    const onGpu = await train<GpuTensor>({
      t: (x) => gpu.tensor(x),
      read: (x) => gpu.read(x),
      k: gpu,
    });
    const onCpu = await train<Float32Array>({
      t: (x) => (typeof x === "number" ? ts.allocF32(x) : cpuArray(ts, x)),
      read: async (x) => x.slice(),
      k: ts,
    });
    onGpu.weights.forEach((w, i) => {
      const c = onCpu.weights[i]!;
      let worst = 0;
      for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j]! - c[j]!));
      expect(worst, `parameter ${i}`).toBeLessThan(1e-5);
    });
    onGpu.losses.forEach((l, i) => expect(Math.abs(l - onCpu.losses[i]!) / onCpu.losses[i]!).toBeLessThan(1e-5));
    expect(onGpu.losses[2]!).toBeLessThan(onGpu.losses[0]!); // it learns
    console.log(
      `dense steps: losses gpu ${onGpu.losses.map((l) => l.toFixed(6)).join(" ")} cpu ${onCpu.losses.map((l) => l.toFixed(6)).join(" ")}; pipelines compiled: ${gpu.compiled}`,
    );
  }, 120_000);
});
