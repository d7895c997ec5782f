// Loads the kernel runtime that nnc emits, the way the generated program would contain it:
// transpiled by esbuild and imported from a temporary .mjs file.
import { transformSync } from "esbuild";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { emitKernelRuntime, type KernelRuntimeOptions } from "../../src/compiler/targets/standalone/kernels/index.js";

export interface KernelRuntime {
  allocF32(n: number): Float32Array;
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    B: Float32Array,
    C: Float32Array,
    accumulate: boolean,
  ): void;
  adamUpdate(value: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, lrT: number, beta1: number, beta2: number, epsilon: number): void;
  kernelIm2col(x: Float32Array, cols: Float32Array, n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
  kernelCol2im(cols: Float32Array, dx: Float32Array, n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
  sgdUpdate(value: Float32Array, grad: Float32Array, lr: number): void;
  kernelBiasRelu(z: Float32Array, a: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  kernelBiasAdd(z: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  kernelReluBackward(z: Float32Array, g: Float32Array, dz: Float32Array, count: number): void;
  kernelMul(a: Float32Array, b: Float32Array, out: Float32Array, count: number): void;
  kernelBiasGrad(dz: Float32Array, db: Float32Array, rows: number, cols: number): void;
  kernelPiecewiseLinear(z: Float32Array, a: Float32Array, slope: number, count: number): void;
  kernelPiecewiseLinearBackward(z: Float32Array, g: Float32Array, dz: Float32Array, slope: number, count: number): void;
  kernelSigmoid(z: Float32Array, a: Float32Array, count: number): void;
  kernelBytesToFloats(src: Uint8Array, srcAt: number, dst: Float32Array, dstAt: number, n: number): void;
  kernelBytes(x: Uint8Array): Uint8Array;
  allocI32(n: number): Int32Array;
  kernelMaxPool(x: Float32Array, out: Float32Array, arg: Int32Array, n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
  kernelMaxPoolBackward(g: Float32Array, arg: Int32Array, dx: Float32Array, count: number): void;
  kernelMaxPoolReluBackward(g: Float32Array, arg: Int32Array, pooled: Float32Array, dz: Float32Array, db: Float32Array | null, n: number, h: number, w: number, c: number, ph: number, pw: number, oh: number, ow: number): void;
  kernelAvgPool(x: Float32Array, out: Float32Array, n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
  kernelAvgPoolBackward(g: Float32Array, dx: Float32Array, n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
  kernelConv2dForward(x: Float32Array, xpad: Float32Array, koff: Int32Array, kernel: Float32Array, z: Float32Array, n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number, f: number, bias?: Float32Array | null, relu?: boolean): void;
  kernelConv2dFilterGrad(xpad: Float32Array, koff: Int32Array, dz: Float32Array, dkernel: Float32Array, n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number, f: number, dzShare?: number): void;
  kernelConv2dInputGrad(dz: Float32Array, dzpad: Float32Array, dkoff: Int32Array, wflip: Float32Array, kernel: Float32Array, dx: Float32Array, accumulate: boolean, n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number, f: number, dzShare?: number): void;
  kernelDropout(x: Float32Array, out: Float32Array, mask: Float32Array, count: number, rate: number, scale: number, rng: { next(): number; advance(count: number): number }): void;
  kernelSparseGemm(transA: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, csr: Int32Array): void;
  initKernels(): Promise<void>;
  shutdownKernels(): void;
  /** The index of a convolution's shape among those conv_fwd has specialised bodies for, or -1 (simd with convShapes). */
  kernelConvShape?(c: number, kh: number, kw: number, sh: number, sw: number, hp: number, wp: number, oh: number, ow: number, f: number): number;
  /** The shared-memory runtimes' state (simd, or threads > 1). */
  kernelState?: { fma?: boolean; sparseGradients?: number };
}

/** The kernel modes most kernel tests run in: the plain loops, and WebAssembly on one and two threads. */
export const KERNEL_MODES = [
  { mode: "ts", threads: 1 },
  { mode: "simd", threads: 1 },
  { mode: "simd", threads: 2 },
] as const;

let counter = 0;

export function kernelSource(opts: KernelRuntimeOptions): string {
  const ts = emitKernelRuntime(opts);
  // kernelState exists in the shared-memory runtimes (simd, or threads > 1), not in plain ts on one thread.
  const state = (/\bconst kernelState\b/.test(ts) ? ", kernelState" : "") + (/\bfunction kernelConvShape\b/.test(ts) ? ", kernelConvShape" : "");
  return ts + `\nexport { allocF32, gemm, adamUpdate, sgdUpdate, kernelIm2col, kernelCol2im, kernelBiasRelu, kernelBiasAdd, kernelReluBackward, kernelMul, kernelBiasGrad, kernelPiecewiseLinear, kernelPiecewiseLinearBackward, kernelSigmoid, kernelBytesToFloats, kernelBytes, allocI32, kernelMaxPool, kernelMaxPoolBackward, kernelMaxPoolReluBackward, kernelAvgPool, kernelAvgPoolBackward, kernelConv2dForward, kernelConv2dFilterGrad, kernelConv2dInputGrad, kernelSparseGemm, kernelDropout, kernelChannelMoments, kernelChannelNormalize, kernelChannelNormalizeBackward, initKernels, shutdownKernels${state} };\n`;
}

export async function loadKernels(opts: KernelRuntimeOptions): Promise<KernelRuntime> {
  const ts = kernelSource(opts);
  const js = transformSync(ts, { loader: "ts", format: "esm", target: "es2022" }).code;
  const dir = mkdtempSync(join(tmpdir(), "nnc-kernels-"));
  const file = join(dir, `kernels-${opts.mode}-${opts.threads}-${counter++}.mjs`);
  writeFileSync(file, js);
  const mod = (await import(pathToFileURL(file).href)) as KernelRuntime;
  await mod.initKernels();
  return mod;
}

/** Reference: double-precision triple loop. */
export function naiveGemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  C: Float64Array,
  accumulate: boolean,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (transA ? A[k * M + i]! : A[i * K + k]!) * (transB ? B[j * K + k]! : B[k * N + j]!);
      C[i * N + j] = accumulate ? C[i * N + j]! + s : s;
    }
  }
}
