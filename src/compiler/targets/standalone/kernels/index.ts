// Compute kernels of the standalone engine (owner: kernels / issue 5).
//
// emitKernelRuntime(opts) returns TypeScript SOURCE TEXT that the standalone generator pastes
// into the generated program. Once there, it defines (module-local, not exported):
//
//   allocF32(n: number): Float32Array
//       Every float buffer of the program (weights, grads, activations, optimizer state) is
//       allocated through it, once, at setup; the buffers are zero-filled. In "simd" mode, and
//       in "ts" mode with threads > 1, they are carved out of one shared WebAssembly.Memory,
//       16-byte aligned, so that the wasm kernels and the worker threads can see them.
//   gemm(transA, transB, M, N, K, A, B, C, accumulate): void
//       Row-major C[M x N] = (or += when accumulate) op(A)[M x K] · op(B)[K x N], where op(X) is X
//       or its transpose (transA: A is stored [K x M]; transB: B is stored [N x K]). A, B, C may
//       be subarray views of allocF32 buffers (plain Float32Arrays work too, on a slower path).
//       C must not overlap A or B. Large products are split across `threads` threads.
//   adamUpdate(value, grad, m, v, lrT, beta1, beta2, epsilon): void
//       One Adam step over a parameter, in place, Keras's equations: m = beta1*m + (1-beta1)*g;
//       v = beta2*v + (1-beta2)*g*g; value -= lrT * m / (sqrt(v) + epsilon), with lrT the
//       bias-corrected rate lr*sqrt(1-beta2^t)/(1-beta1^t). The four arrays have the same length.
//       In simd mode a WebAssembly SIMD loop (f32 arithmetic; the ts loop computes in f64 and
//       rounds m, v, value to f32 as it stores them).
//   sgdUpdate(value, grad, lr): void
//       value -= lr * grad over a whole parameter (plain SGD); WebAssembly SIMD in simd mode.
//   kernelIm2col(x, cols, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft): void
//       im2col over an NHWC batch x[n, h, w, c]: row (b, oy, ox) of cols[n*oh*ow, kh*kw*c] holds
//       the kh x kw x c window at (oy*sh - padTop, ox*sw - padLeft), zeros outside the image.
//   kernelCol2im(cols, dx, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft): void
//       its adjoint: adds each row of cols back onto its window of dx (dx is not cleared first).
//       Same signatures as the generator's own im2col/col2im helpers; wasm SIMD in simd mode.
//   kernelBiasRelu(z, a, bias, rows, cols) / kernelBiasAdd(z, bias, rows, cols): z[r, j] += bias[j]
//       (and a = z > 0 ? z : 0); kernelReluBackward(z, g, dz, count): dz = z > 0 ? g : 0;
//       kernelMul(a, b, out, count): out = a * b (dropout's gradient);
//       kernelBiasGrad(dz, db, rows, cols): db[j] = column sums of dz;
//       kernelPiecewiseLinear(z, a, slope, count): a = z > 0 ? z : slope * z, and
//       kernelPiecewiseLinearBackward(z, g, dz, slope, count): dz = z > 0 ? g : slope * g;
//       kernelSigmoid(z, a, count): a = 1 / (1 + e^-z) (in simd mode e^x is a polynomial in
//       float32, within 3e-7 of the ts loop's Math.exp).
//       In simd mode WebAssembly four floats at a time (the bias kernels: any width, the rest of a
//       row one by one; the others: when the count is a multiple of 4) (same
//       numbers as the ts loops; the piecewise-linear kernels multiply by slope in float32: within 1 ulp).
//   kernelBytesToFloats(src, srcAt, dst, dstAt, n): dst[dstAt + i] = src[srcAt + i] / 255 (pixel
//       bytes to [0, 1]), and kernelBytes(x): where it reads from, a copy of x in kernelMemory in
//       simd mode (WebAssembly converts 16 bytes at a time, dividing in float32: the same floats
//       as the ts loop), x itself otherwise.
//   kernelMaxPool(x, out, arg, n, h, w, c, ph, pw, sh, sw, oh, ow, padTop, padLeft): max pooling
//       over an NHWC batch (windows at (oy*sh - padTop, ox*sw - padLeft), positions outside the
//       image left out), arg = the index in x of each maximum (the first on ties);
//       kernelMaxPoolBackward(g, arg, dx, count): dx[arg[i]] += g[i];
//       kernelMaxPoolReluBackward(g, arg, pooled, dz, db, n, h, w, c, ph, pw, oh, ow): for windows
//       side by side that cover the image (stride = pool size, no padding) over a relu layer's
//       output, that layer's dz in one pass: dz = 0 but dz[arg[i]] = pooled[i] > 0 ? g[i] : 0
//       (relu's gradient, as z > 0 exactly where the maximum is), and db (when not null) its
//       column sums, window by window;
//       kernelAvgPool(x, out, n, h, w, ...) / kernelAvgPoolBackward(g, dx, n, h, w, ...): the mean
//       of each window (padding excluded) and its adjoint (adds onto dx). WebAssembly in simd mode,
//       the same floats as the TypeScript loops (the averages in f64, as JavaScript computes them).
//   kernelConv2dForward(x, xpad, koff, kernel, z, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop,
//       padLeft, f[, bias, relu]) (with a bias, added, then relu when asked, as each sum is
//       stored: conv_fwd's epilogue), kernelConv2dFilterGrad(xpad, koff, dz, dkernel, ...same geometry[, dzShare]),
//       kernelConv2dInputGrad(dz, dzpad, dkoff, wflip, kernel, dx, accumulate, ...same geometry[, dzShare]):
//       the direct convolution (no patch matrix): x is copied into xpad with a zero border, and
//       each output's window is read in place through koff (a byte offset per kernel tap); the
//       kernel gradient reads the xpad and koff the forward pass left; the input gradient (stride
//       1) convolves dz, zero-bordered in dzpad, with the kernel turned around (wflip). In simd
//       mode WebAssembly (conv_fwd, conv_dw, pad_copy: f a multiple of 8; for the input gradient
//       c too), split across the threads as gemm splits its products; the TypeScript loops
//       otherwise (sums in f64). The generator calls them only in simd mode (conv2dDirect). With
//       opts.convShapes, conv_fwd has a body specialised to each listed shape (KERNEL_CONV_SHAPES,
//       found by kernelConvShape), the general loops serving any other. Where dz is mostly zeros
//       (kernelConvSparse), the kernel and input gradients come from its non-zero values alone
//       (conv_sparse_dw, conv_sparse_dx, also specialised per shape); dzShare (simd mode), a bound
//       on dz's share of non-zero values known when compiling (a max pool after the layer: one
//       value a window), spares counting them where it decides alone.
//   kernelSparseGemm(transA, M, N, K, A, B, C, csr): C[M x N] = op(A) · B (B [K x N] row-major),
//       skipping the zeros of op(A): WebAssembly lists op(A)'s non-zero values row by row into the
//       int scratch csr (csr_rows; M + 1 + 2*M*K ints) and sums only the rows of B they multiply
//       (sparse_rows), split across the threads by columns. For a layer whose input is the data
//       (MNIST: about 19% of the pixels are not zero). When more than a third of op(A) is not zero,
//       or before initKernels, it is gemm. The generator calls it only in simd mode.
//   kernelDropout(x, out, mask, count, rate, scale, rng): dropout in training, mask = 0 where rng's
//       next draw is below rate, else scale; out = x * mask. In simd mode WebAssembly draws four
//       at a time from rng's state (rng.advance(count): mulberry32 is a counter), the same numbers.
//   kernelChannelMoments(x, rows, c, mean, sq), kernelChannelNormalize(x, mean, invStd, gamma,
//       beta, xhat, out, rows, c), kernelChannelNormalizeBackward(g, xhat, gamma, invStd, dgamma,
//       dbeta, dx, rows, c, accumulate): per channel of a [rows x c] batch, the mean and sum of
//       squared deviations; xhat = (x - mean) * invStd, out = gamma * xhat + beta; and its
//       gradients (dx only when dx is not null). WebAssembly four channels at a time in simd mode
//       when c is a multiple of 4 (float32 arithmetic; the loops compute each value in float64).
//   allocI32(n: number): Int32Array   a zero-filled int buffer (the argmax of max pooling), in
//       kernelMemory in the shared-memory modes, so that the WebAssembly kernels can write it.
//   (adamUpdate, sgdUpdate, kernelIm2col, kernelCol2im and the others above are emitted only when
//   options.uses names them: the generator passes the ones the model calls, so a program holds
//   no dead code.)
//   async function initKernels(): Promise<void>   compile the wasm, start the workers; call once
//                                                 before training (gemm works before it too, on
//                                                 the main thread, in TypeScript)
//   function shutdownKernels(): void              stop the workers; call once at the end
//
// Module-level names used by the emitted code (avoid them in the rest of the program):
// allocF32, gemm, initKernels, shutdownKernels, and everything starting with `kernel` or `gemm`
// (kernelMemory, kernelState, gemmTile, gemmRange, GEMM_*, ...).

import { MAX_KERNEL_THREADS } from "../threads.js";
import { buildGemmWasm, CONV_MR, DEFAULT_SHAPE, SPARSE_NC, type ConvShape, type GemmWasmShape } from "./gemm-wasm.js";

export { directConvShapes, type ConvGeometry, type ConvShape } from "./gemm-wasm.js";

export type KernelMode = "ts" | "simd";

export interface KernelRuntimeOptions {
  mode: KernelMode;
  threads: number;
  /** Minimum 2*M*N*K (flops) for a gemm to be split across threads. */
  parallelMinFlops?: number;
  /** Minimum flops of one part of a split product (default 4,000,000; up to 8 parts per thread). */
  partMinFlops?: number;
  /** Register tile of the wasm kernel (tuning). */
  shape?: GemmWasmShape;
  /** Cache blocking of the wasm kernel (tuning): K, M and N block sizes. */
  blocking?: { KC: number; MC: number; NC: number };
  /** Up to this many columns of C (twice as many when A is not transposed), the wasm kernel reads A in place instead of packing it. */
  stridedAMaxN?: number;
  /** The optional functions the program calls (default: all of KERNEL_FUNCTIONS); the rest are left out. */
  uses?: ReadonlySet<KernelFunction>;
  /** The shapes of the direct convolutions the program runs (forward, and input gradient as a convolution): conv_fwd gets a body specialised to each. */
  convShapes?: readonly ConvShape[];
}

export const DEFAULT_STRIDED_A_MAX_N = 8;

export const DEFAULT_BLOCKING = { KC: 256, MC: 128, NC: 1024 };
export const DEFAULT_PARALLEL_MIN_FLOPS = 2_000_000;
export const DEFAULT_PART_MIN_FLOPS = 4_000_000;

/** The elementwise kernels around a layer's product (bias, relu, one-slope piecewise-linear and their gradients). */
const ELEMENTWISE_NAMES = ["kernelBiasRelu", "kernelBiasAdd", "kernelReluBackward", "kernelMul", "kernelBiasGrad", "kernelPiecewiseLinear", "kernelPiecewiseLinearBackward", "kernelSigmoid", "kernelBytesToFloats"] as const;

/** Pooling over windows of an NHWC batch, forward and backward. */
const POOL_NAMES = ["kernelMaxPool", "kernelMaxPoolBackward", "kernelMaxPoolReluBackward", "kernelAvgPool", "kernelAvgPoolBackward"] as const;

/** Per-channel statistics of a [rows x channels] batch, the normalisation by them, and its gradients. */
const CHANNEL_NAMES = ["kernelChannelMoments", "kernelChannelNormalize", "kernelChannelNormalizeBackward"] as const;

/** The runtime's functions besides allocF32, gemm, initKernels and shutdownKernels, each emitted only when used. */
/** The direct convolution's kernels (kernelConv2dForward, kernelConv2dFilterGrad, kernelConv2dInputGrad). */
const CONV_NAMES = ["kernelConv2dForward", "kernelConv2dFilterGrad", "kernelConv2dInputGrad"] as const;

export const KERNEL_FUNCTIONS = ["adamUpdate", "sgdUpdate", "kernelIm2col", "kernelCol2im", ...ELEMENTWISE_NAMES, ...POOL_NAMES, ...CONV_NAMES, "kernelSparseGemm", "kernelDropout", ...CHANNEL_NAMES, "allocI32"] as const;
export type KernelFunction = (typeof KERNEL_FUNCTIONS)[number];

/** The width of NEXT's part field (KERNEL_PART_BITS): 8 parts a thread, up to MAX_KERNEL_THREADS threads. */
const PART_BITS = 10;

export function emitKernelRuntime(opts: KernelRuntimeOptions): string {
  const threads = Math.max(1, Math.floor(opts.threads));
  if (threads > MAX_KERNEL_THREADS) throw new Error(`kernels: at most ${MAX_KERNEL_THREADS} threads, not ${threads}`);
  const uses: ReadonlySet<KernelFunction> = opts.uses ?? new Set(KERNEL_FUNCTIONS);
  if (opts.mode === "ts" && threads === 1) return TS_HEADER + GEMM_TILE + tsSingleThread(uses);
  return emitSharedRuntime(opts.mode, threads, opts, uses);
}

/** kernelBytes() in simd mode: the bytes copied where the WebAssembly kernelBytesToFloats reads them. */
const KERNEL_BYTES_COPY = `
/**
 * A copy of data bytes (a data set's pixels) in the kernels' memory, where the WebAssembly
 * kernelBytesToFloats can read them. Made once per data set, before training.
 */
function kernelBytes(x: Uint8Array): Uint8Array {
  const at = kernelAllocBytes(x.length); // may grow the memory: read .buffer after it
  const copy = new Uint8Array(kernelMemory.buffer, at, x.length);
  copy.set(x);
  return copy;
}
`;

/** kernelBytes() where the kernels read bytes where they are. */
const KERNEL_BYTES_AS_IS = `
/** Where kernelBytesToFloats reads data bytes from: here, the array itself. */
function kernelBytes(x: Uint8Array): Uint8Array {
  return x;
}
`;

const TS_HEADER = `
// ---------------------------------------------------------------------------------------------
// Kernels: plain TypeScript, one thread.
// ---------------------------------------------------------------------------------------------
`;

/**
 * The TypeScript matrix multiply over a block of C. Self-contained (no outside names), because
 * in threaded modes its text is also handed to the worker threads.
 */
const GEMM_TILE = `
/**
 * C[i0..i1, j0..j1] = (or += when accumulate) op(A) * op(B) for that block of C, reading
 * op(A)[i, k] = A[aOff + i * ars + k * acs] and op(B)[k, j] = B[bOff + k * brs + j * bcs], so
 * that one loop nest serves every transposition. C is row-major with N columns from cOff.
 * Blocks of 4 x 4 outputs are accumulated in 16 local variables (registers): each step along k
 * loads 4 values of A and 4 of B and does 16 multiply-adds.
 */
function gemmTile(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  aOff: number,
  B: Float32Array,
  bOff: number,
  C: Float32Array,
  cOff: number,
  accumulate: boolean,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
): void {
  const ars = transA ? 1 : K;
  const acs = transA ? M : 1;
  const brs = transB ? 1 : N;
  const bcs = transB ? K : 1;
  // Unless accumulating, the block starts at 0: every sum below is then added to C.
  if (!accumulate) for (let r = i0; r < i1; r++) C.fill(0, cOff + r * N + j0, cOff + r * N + j1);
  // The rows and columns of whole 4 x 4 blocks.
  const i4 = i0 + ((i1 - i0) & ~3);
  const j4 = j0 + ((j1 - j0) & ~3);
  for (let i = i0; i < i4; i += 4) {
    for (let j = j0; j < j4; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let pa = aOff + i * ars;
      let pb = bOff + j * bcs;
      for (let k = 0; k < K; k++) {
        const a0 = A[pa], a1 = A[pa + ars], a2 = A[pa + 2 * ars], a3 = A[pa + 3 * ars];
        const b0 = B[pb], b1 = B[pb + bcs], b2 = B[pb + 2 * bcs], b3 = B[pb + 3 * bcs];
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        pa += acs;
        pb += brs;
      }
      const r0 = cOff + i * N + j, r1 = r0 + N, r2 = r1 + N, r3 = r2 + N;
      C[r0] += c00; C[r0 + 1] += c01; C[r0 + 2] += c02; C[r0 + 3] += c03;
      C[r1] += c10; C[r1 + 1] += c11; C[r1 + 2] += c12; C[r1 + 3] += c13;
      C[r2] += c20; C[r2 + 1] += c21; C[r2 + 2] += c22; C[r2 + 3] += c23;
      C[r3] += c30; C[r3 + 1] += c31; C[r3 + 2] += c32; C[r3 + 3] += c33;
    }
  }
  // The edges, fewer than 4 columns (of those rows) or rows left: one dot product per output.
  for (let i = i0; i < i1; i++) {
    for (let j = i < i4 ? j4 : j0; j < j1; j++) {
      let sum = 0;
      let pa = aOff + i * ars;
      let pb = bOff + j * bcs;
      for (let k = 0; k < K; k++) {
        sum += A[pa] * B[pb];
        pa += acs;
        pb += brs;
      }
      C[cOff + i * N + j] += sum;
    }
  }
}
`;

const ADAM_TS = `
/**
 * One Adam step over a parameter, in place (Keras's equations): m = beta1*m + (1-beta1)*g;
 * v = beta2*v + (1-beta2)*g*g; value -= lrT * m / (sqrt(v) + epsilon).
 */
function adamUpdateTs(
  value: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  lrT: number,
  beta1: number,
  beta2: number,
  epsilon: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    m[i] = beta1 * m[i] + c1 * g;
    v[i] = beta2 * v[i] + c2 * g * g;
    value[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + epsilon);
  }
}
`;

const SGD_TS = `
/** Plain SGD over one parameter, in place: value -= lr * grad. */
function sgdUpdateTs(value: Float32Array, grad: Float32Array, lr: number): void {
  const n = value.length;
  for (let i = 0; i < n; i++) value[i] -= lr * grad[i];
}
`;

const IM2COL_TS = `
/**
 * im2col over an NHWC batch: row (b, oy, ox) of cols holds the kh x kw x c window at
 * (oy*sh - padTop, ox*sw - padLeft), zeros outside the image. Each row of a window is one
 * contiguous run of x, so it is copied in one loop.
 */
function kernelIm2colTs(
  x: Float32Array,
  cols: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
  padTop: number,
  padLeft: number,
): void {
  const row = kw * c;
  let p = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - padLeft;
        const kx0 = Math.max(0, -x0), kx1 = Math.min(kw, w - x0);
        for (let ky = 0; ky < kh; ky++) {
          const y = oy * sh - padTop + ky;
          if (y < 0 || y >= h || kx1 <= kx0) {
            cols.fill(0, p, p + row);
          } else {
            const start = p + kx0 * c, end = p + kx1 * c;
            cols.fill(0, p, start);
            let src = ((b * h + y) * w + x0 + kx0) * c;
            for (let q = start; q < end; q++) cols[q] = x[src++];
            cols.fill(0, end, p + row);
          }
          p += row;
        }
      }
    }
  }
}

`;

const COL2IM_TS = `
/** col2im, the adjoint of im2col: adds each row of cols back onto its window of dx. */
function kernelCol2imTs(
  cols: Float32Array,
  dx: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
  padTop: number,
  padLeft: number,
): void {
  const row = kw * c;
  let p = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - padLeft;
        const kx0 = Math.max(0, -x0), kx1 = Math.min(kw, w - x0);
        for (let ky = 0; ky < kh; ky++) {
          const y = oy * sh - padTop + ky;
          if (y >= 0 && y < h && kx1 > kx0) {
            let dst = ((b * h + y) * w + x0 + kx0) * c;
            const end = p + kx1 * c;
            for (let q = p + kx0 * c; q < end; q++) dx[dst++] += cols[q];
          }
          p += row;
        }
      }
    }
  }
}
`;

/** The elementwise kernels in TypeScript (the WebAssembly ones do the same four floats at a time). */
const ELEMENTWISE_TS: Record<(typeof ELEMENTWISE_NAMES)[number], string> = {
  kernelBytesToFloats: `
/**
 * Pixel bytes to [0, 1]: dst[dstAt + i] = src[srcAt + i] / 255, over n values. For every byte v,
 * v * (1 / 255) rounds to the same float32 as v / 255.
 */
function kernelBytesToFloatsTs(src: Uint8Array, srcAt: number, dst: Float32Array, dstAt: number, n: number): void {
  const scale = 1 / 255;
  for (let i = 0; i < n; i++) dst[dstAt + i] = src[srcAt + i]! * scale;
}
`,
  kernelPiecewiseLinear: `
/** Piecewise linear, slope 1 above zero: a = z > 0 ? z : slope * z, over count values. */
function kernelPiecewiseLinearTs(z: Float32Array, a: Float32Array, slope: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const v = z[i];
    a[i] = v > 0 ? v : slope * v;
  }
}
`,
  kernelPiecewiseLinearBackward: `
/** Piecewise linear's backward: dz = z > 0 ? g : slope * g, over count values. */
function kernelPiecewiseLinearBackwardTs(z: Float32Array, g: Float32Array, dz: Float32Array, slope: number, count: number): void {
  for (let i = 0; i < count; i++) dz[i] = z[i] > 0 ? g[i] : slope * g[i];
}
`,
  kernelSigmoid: `
/** The logistic function, a = 1 / (1 + e^-z), over count values. */
function kernelSigmoidTs(z: Float32Array, a: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) a[i] = 1 / (1 + Math.exp(-z[i]));
}
`,
  kernelBiasRelu: `
/** z[r, j] += bias[j]; a[r, j] = z > 0 ? z : 0, over rows x cols. */
function kernelBiasReluTs(z: Float32Array, a: Float32Array, bias: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) {
      const v = z[o + j] + bias[j];
      z[o + j] = v;
      a[o + j] = v > 0 ? v : 0;
    }
  }
}
`,
  kernelBiasAdd: `
/** z[r, j] += bias[j], over rows x cols. */
function kernelBiasAddTs(z: Float32Array, bias: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) z[o + j] += bias[j];
  }
}
`,
  kernelReluBackward: `
/** relu backward: dz = z > 0 ? g : 0, over count values. */
function kernelReluBackwardTs(z: Float32Array, g: Float32Array, dz: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) dz[i] = z[i] > 0 ? g[i] : 0;
}
`,
  kernelMul: `
/** out = a * b, over count values (dropout's gradient: g times the mask). */
function kernelMulTs(a: Float32Array, b: Float32Array, out: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) out[i] = a[i] * b[i];
}
`,
  kernelBiasGrad: `
/** db[j] = sum over rows r of dz[r, j] (the bias gradient). */
function kernelBiasGradTs(dz: Float32Array, db: Float32Array, rows: number, cols: number): void {
  db.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j = 0; j < cols; j++) db[j] += dz[o + j];
  }
}
`,
};

/** The pooling kernels in TypeScript (the WebAssembly ones compute the same floats). */
const POOL_TS: Record<(typeof POOL_NAMES)[number], string> = {
  kernelMaxPool: `
/**
 * Max pooling over an NHWC batch x[n, h, w, c] -> out[n, oh, ow, c]: each output is the largest
 * value of its ph x pw window at (oy*sh - padTop, ox*sw - padLeft), positions outside the image
 * left out; arg gets the index in x it came from (the first one, in window order, on ties).
 */
function kernelMaxPoolTs(
  x: Float32Array,
  out: Float32Array,
  arg: Int32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  ph: number,
  pw: number,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
  padTop: number,
  padLeft: number,
): void {
  const rowStride = w * c; // from one row of the image to the next
  if (ph === 2 && pw === 2 && sh === 2 && sw === 2 && padTop === 0 && padLeft === 0 && 2 * oh <= h && 2 * ow <= w) {
    // The common case, 2x2 windows side by side inside the image: the window's four positions are
    // fixed offsets from its top-left one, and the maximum stays in a local variable.
    let o = 0;
    for (let b = 0; b < n; b++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++, o += c) {
          const first = ((b * h + 2 * oy) * w + 2 * ox) * c;
          for (let ch = 0; ch < c; ch++) {
            const i = first + ch;
            let at = i;
            let best = x[i];
            if (x[i + c] > best) {
              best = x[i + c];
              at = i + c;
            }
            if (x[i + rowStride] > best) {
              best = x[i + rowStride];
              at = i + rowStride;
            }
            if (x[i + rowStride + c] > best) {
              best = x[i + rowStride + c];
              at = i + rowStride + c;
            }
            out[o + ch] = best;
            arg[o + ch] = at;
          }
        }
      }
    }
    return;
  }
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - padTop;
      const yStart = Math.max(y0, 0), yEnd = Math.min(y0 + ph, h);
      for (let ox = 0; ox < ow; ox++, o += c) {
        const x0 = ox * sw - padLeft;
        const xStart = Math.max(x0, 0), xEnd = Math.min(x0 + pw, w);
        // the window's first position in the image
        const first = ((b * h + yStart) * w + xStart) * c;
        for (let ch = 0; ch < c; ch++) {
          // the running maximum starts there
          let at = first + ch;
          let best = x[at];
          for (let y = yStart, row = at; y < yEnd; y++, row += rowStride) {
            for (let xx = xStart, i = row; xx < xEnd; xx++, i += c) {
              if (x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          }
          out[o + ch] = best;
          arg[o + ch] = at;
        }
      }
    }
  }
}
`,
  kernelMaxPoolBackward: `
/** Max pooling backward: dx[arg[i]] += g[i], each window's gradient to where its maximum was. */
function kernelMaxPoolBackwardTs(g: Float32Array, arg: Int32Array, dx: Float32Array, count: number): void {
  for (let i = 0; i < count; i++) dx[arg[i]] += g[i];
}
`,
  kernelMaxPoolReluBackward: `
/**
 * Max pooling backward through the relu before it, for windows side by side that cover the image
 * (stride = pool size, no padding): the relu layer's dz = 0 but at each window's maximum, where it
 * is g if the maximum (pooled) is > 0 (there z > 0: relu's gradient); db (when not null) = the
 * column sums of dz, added window by window.
 */
function kernelMaxPoolReluBackwardTs(
  g: Float32Array,
  arg: Int32Array,
  pooled: Float32Array,
  dz: Float32Array,
  db: Float32Array | null,
  n: number,
  h: number,
  w: number,
  c: number,
  ph: number,
  pw: number,
  oh: number,
  ow: number,
): void {
  dz.fill(0, 0, n * h * w * c);
  if (db) db.fill(0, 0, c);
  for (let i = 0; i < n * oh * ow * c; i++) {
    const v = pooled[i] > 0 ? g[i] : 0;
    dz[arg[i]] = v;
    if (db) db[i % c] += v;
  }
}
`,
  kernelAvgPool: `
/**
 * Average pooling over an NHWC batch x[n, h, w, c] -> out[n, oh, ow, c]: the mean of each ph x pw
 * window at (oy*sh - padTop, ox*sw - padLeft) over its positions inside the image (padding is
 * excluded from the average).
 */
function kernelAvgPoolTs(
  x: Float32Array,
  out: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  ph: number,
  pw: number,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
  padTop: number,
  padLeft: number,
): void {
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - padTop;
      const yStart = Math.max(y0, 0), yEnd = Math.min(y0 + ph, h);
      for (let ox = 0; ox < ow; ox++, o += c) {
        const x0 = ox * sw - padLeft;
        const xStart = Math.max(x0, 0), xEnd = Math.min(x0 + pw, w);
        const count = (yEnd - yStart) * (xEnd - xStart);
        for (let ch = 0; ch < c; ch++) {
          let sum = 0;
          for (let y = yStart; y < yEnd; y++) {
            for (let xx = xStart; xx < xEnd; xx++) sum += x[((b * h + y) * w + xx) * c + ch];
          }
          out[o + ch] = sum / count;
        }
      }
    }
  }
}
`,
  kernelAvgPoolBackward: `
/** Average pooling backward: each window spreads its gradient evenly over its positions (adds onto dx). */
function kernelAvgPoolBackwardTs(
  g: Float32Array,
  dx: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  ph: number,
  pw: number,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
  padTop: number,
  padLeft: number,
): void {
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - padTop;
      const yStart = Math.max(y0, 0), yEnd = Math.min(y0 + ph, h);
      for (let ox = 0; ox < ow; ox++, o += c) {
        const x0 = ox * sw - padLeft;
        const xStart = Math.max(x0, 0), xEnd = Math.min(x0 + pw, w);
        const count = (yEnd - yStart) * (xEnd - xStart);
        for (let ch = 0; ch < c; ch++) {
          const share = g[o + ch] / count;
          for (let y = yStart; y < yEnd; y++) {
            for (let xx = xStart; xx < xEnd; xx++) dx[((b * h + y) * w + xx) * c + ch] += share;
          }
        }
      }
    }
  }
}
`,
};

const WINDOW_PARAMS = "n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number";
const WINDOW_ARGS = "n, h, w, c, ph, pw, sh, sw, oh, ow, padTop, padLeft";

/** kernelShared(a) for each buffer a WebAssembly kernel reads or writes: the conditions of kernelEntry's `when`. */
const sharedAll = (...names: string[]): string[] => names.map((a) => `kernelShared(${a})`);

/**
 * A kernel's entry point, `name`: in simd mode the WebAssembly `call` where it can run (`when`: its
 * buffers in the kernels' memory, and whatever else it needs), with `split`, split across the
 * threads from a size (the call below it, `split.code` from it on); else, and in ts mode, the
 * TypeScript loop `${name}Ts(args)`. simdNote ends the doc in simd mode.
 */
function kernelEntry(
  simd: boolean,
  k: { name: string; doc: string; simdNote: string; params: string; args: string; call: string; when: string[]; split?: { size: string; min: string; code: string } },
): string {
  return `
/** ${k.doc}${simd ? k.simdNote : ""}. */
function ${k.name}(${k.params}): void {
  ${simd ? `const wasm = kernelState.wasm;
  if (wasm !== null && ${k.when.join(" && ")}) {
    ${k.split ? `if (kernelState.workers.length === 0 || ${k.split.size} < ${k.split.min}) ` : ""}${k.call};${k.split ? `
    else {
      ${k.split.code}
    }` : ""}
    return;
  }` : ""}
  ${k.name}Ts(${k.args});
}
`;
}

/** The pooling kernels' entry points: in simd mode WebAssembly on kernelMemory's buffers, else (or for other arrays) the TypeScript loops. */
function poolWrappers(simd: boolean, poolJobs: boolean, uses: ReadonlySet<KernelFunction>): string {
  // split: max pooling and its gradient into relu across the threads by images, from KERNEL_PARALLEL_MIN_VALUES input values
  const wrap = (name: (typeof POOL_NAMES)[number], doc: string, params: string, args: string, call: string, when: string[], split?: string) =>
    uses.has(name)
      ? kernelEntry(simd, {
          name,
          doc,
          simdNote: ` (WebAssembly on allocF32/allocI32 buffers${split && poolJobs ? ", split across the threads by images" : ""})`,
          params,
          args,
          call: `wasm.${call}`,
          when,
          split: split && poolJobs ? { size: "n * h * w * c", min: "KERNEL_PARALLEL_MIN_VALUES", code: split } : undefined,
        })
      : "";
  return [
    wrap("kernelMaxPool", "Max pooling: out = each window's maximum, arg = where it was (see kernelMaxPoolTs)",
      `x: Float32Array, out: Float32Array, arg: Int32Array, ${WINDOW_PARAMS}`, `x, out, arg, ${WINDOW_ARGS}`,
      `max_pool(x.byteOffset, out.byteOffset, arg.byteOffset, ${WINDOW_ARGS}, 0)`, sharedAll("x", "out", "arg"),
      `// split by images (kernelJobPart, kind 8)
      kernelJobArgs(x.byteOffset, out.byteOffset, arg.byteOffset, ${WINDOW_ARGS});
      kernelSplitJob(wasm, 8, n, 1, 0);`),
    wrap("kernelMaxPoolBackward", "Max pooling backward: dx[arg[i]] += g[i]",
      "g: Float32Array, arg: Int32Array, dx: Float32Array, count: number", "g, arg, dx, count",
      "max_pool_backward(g.byteOffset, arg.byteOffset, dx.byteOffset, count)", sharedAll("g", "arg", "dx")),
    wrap("kernelMaxPoolReluBackward", "Max pooling backward into the relu layer before it: its dz and bias gradient in one pass (see kernelMaxPoolReluBackwardTs)",
      "g: Float32Array, arg: Int32Array, pooled: Float32Array, dz: Float32Array, db: Float32Array | null, n: number, h: number, w: number, c: number, ph: number, pw: number, oh: number, ow: number",
      "g, arg, pooled, dz, db, n, h, w, c, ph, pw, oh, ow",
      "max_pool_relu_backward(g.byteOffset, arg.byteOffset, pooled.byteOffset, dz.byteOffset, db === null ? 0 : db.byteOffset, db === null ? 0 : 1, n, h, w, c, ph, pw, oh, ow, 0)",
      [...sharedAll("g", "arg", "pooled", "dz"), "(db === null || kernelShared(db)) && c % 4 === 0"],
      `// dz split by images (kernelJobPart, kind 9); then db on its own, the same floats
      kernelJobArgs(g.byteOffset, arg.byteOffset, pooled.byteOffset, dz.byteOffset, n, h, w, c, ph, pw, oh, ow);
      kernelSplitJob(wasm, 9, n, 1, 0);
      if (db !== null) wasm.relu_pool_bias_grad(g.byteOffset, pooled.byteOffset, db.byteOffset, n * oh * ow * c, c);`),
    wrap("kernelAvgPool", "Average pooling, padding excluded (see kernelAvgPoolTs)",
      `x: Float32Array, out: Float32Array, ${WINDOW_PARAMS}`, `x, out, ${WINDOW_ARGS}`,
      `avg_pool(x.byteOffset, out.byteOffset, ${WINDOW_ARGS})`, sharedAll("x", "out")),
    wrap("kernelAvgPoolBackward", "Average pooling backward: adds g / count onto each window of dx",
      `g: Float32Array, dx: Float32Array, ${WINDOW_PARAMS}`, `g, dx, ${WINDOW_ARGS}`,
      `avg_pool_backward(g.byteOffset, dx.byteOffset, ${WINDOW_ARGS})`, sharedAll("g", "dx")),
  ].join("");
}

/** The elementwise kernels' entry points (ELEMENTWISE_NAMES): WebAssembly SIMD in simd mode where it can run, else the TypeScript loops. */
function elementwiseWrappers(simd: boolean, uses: ReadonlySet<KernelFunction>): string {
  const COLUMNS = " (WebAssembly SIMD on allocF32 buffers, four columns at a time)";
  const BY_FOUR = " (WebAssembly SIMD on allocF32 buffers when count is a multiple of 4)";
  const BY_FOUR_F32 = " (WebAssembly SIMD, in float32, on allocF32 buffers when count is a multiple of 4)";
  const entries: Record<(typeof ELEMENTWISE_NAMES)[number], Omit<Parameters<typeof kernelEntry>[1], "name">> = {
    kernelBiasRelu: {
      doc: "z[r, j] += bias[j]; a[r, j] = z > 0 ? z : 0, over rows x cols", simdNote: COLUMNS,
      params: "z: Float32Array, a: Float32Array, bias: Float32Array, rows: number, cols: number", args: "z, a, bias, rows, cols",
      call: "wasm.bias_relu(z.byteOffset, a.byteOffset, bias.byteOffset, rows, cols)", when: sharedAll("z", "a", "bias"),
    },
    kernelBiasAdd: {
      doc: "z[r, j] += bias[j], over rows x cols", simdNote: COLUMNS,
      params: "z: Float32Array, bias: Float32Array, rows: number, cols: number", args: "z, bias, rows, cols",
      call: "wasm.bias_add(z.byteOffset, bias.byteOffset, rows, cols)", when: sharedAll("z", "bias"),
    },
    kernelReluBackward: {
      doc: "relu backward: dz = z > 0 ? g : 0, over count values", simdNote: BY_FOUR,
      params: "z: Float32Array, g: Float32Array, dz: Float32Array, count: number", args: "z, g, dz, count",
      call: "wasm.relu_backward(z.byteOffset, g.byteOffset, dz.byteOffset, count)", when: ["count % 4 === 0", ...sharedAll("z", "g", "dz")],
    },
    kernelMul: {
      doc: "out = a * b, over count values", simdNote: BY_FOUR,
      params: "a: Float32Array, b: Float32Array, out: Float32Array, count: number", args: "a, b, out, count",
      call: "wasm.mul(a.byteOffset, b.byteOffset, out.byteOffset, count)", when: ["count % 4 === 0", ...sharedAll("a", "b", "out")],
    },
    kernelBiasGrad: {
      doc: "db[j] = sum over rows r of dz[r, j]", simdNote: COLUMNS,
      params: "dz: Float32Array, db: Float32Array, rows: number, cols: number", args: "dz, db, rows, cols",
      call: "wasm.bias_grad(dz.byteOffset, db.byteOffset, rows, cols)", when: sharedAll("dz", "db"),
    },
    kernelPiecewiseLinear: {
      doc: "Piecewise linear, slope 1 above zero: a = z > 0 ? z : slope * z, over count values", simdNote: BY_FOUR_F32,
      params: "z: Float32Array, a: Float32Array, slope: number, count: number", args: "z, a, slope, count",
      call: "kernelFloatArgs[0] = slope;\n    wasm.piecewise_linear(z.byteOffset, a.byteOffset, count, kernelFloatArgs.byteOffset)", when: ["count % 4 === 0", ...sharedAll("z", "a")],
    },
    kernelPiecewiseLinearBackward: {
      doc: "Piecewise linear's backward: dz = z > 0 ? g : slope * g, over count values", simdNote: BY_FOUR_F32,
      params: "z: Float32Array, g: Float32Array, dz: Float32Array, slope: number, count: number", args: "z, g, dz, slope, count",
      call: "kernelFloatArgs[0] = slope;\n    wasm.piecewise_linear_backward(z.byteOffset, g.byteOffset, dz.byteOffset, count, kernelFloatArgs.byteOffset)",
      when: ["count % 4 === 0", ...sharedAll("z", "g", "dz")],
    },
    kernelSigmoid: {
      doc: "The logistic function, a = 1 / (1 + e^-z), over count values",
      simdNote: " (WebAssembly SIMD on allocF32 buffers when count is a multiple of 4, e^x a polynomial in float32: within 3e-7 of Math.exp's)",
      params: "z: Float32Array, a: Float32Array, count: number", args: "z, a, count",
      call: "wasm.sigmoid(z.byteOffset, a.byteOffset, count)", when: ["count % 4 === 0", ...sharedAll("z", "a")],
    },
    kernelBytesToFloats: {
      doc: "Pixel bytes to [0, 1]: dst[dstAt + i] = src[srcAt + i] / 255, over n values", simdNote: " (WebAssembly SIMD when both are in the kernels' memory: see kernelBytes)",
      params: "src: Uint8Array, srcAt: number, dst: Float32Array, dstAt: number, n: number", args: "src, srcAt, dst, dstAt, n",
      call: "wasm.bytes_to_floats(src.byteOffset + srcAt, dst.byteOffset + dstAt * 4, n)", when: sharedAll("src", "dst"),
    },
  };
  return ELEMENTWISE_NAMES.filter((k) => uses.has(k))
    .map((name) => kernelEntry(simd, { name, ...entries[name] }) + (name === "kernelBytesToFloats" ? (simd ? KERNEL_BYTES_COPY : KERNEL_BYTES_AS_IS) : ""))
    .join("");
}

const CONV_GEO_PARAMS = "n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number, f: number";
const CONV_GEO_ARGS = "n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft, f";

/**
 * The direct convolution, in TypeScript (the reference loops) and, in simd mode, the wrappers
 * that run it as WebAssembly (conv_fwd, conv_dw, pad_copy in gemm-wasm.ts) on allocF32 buffers.
 * The input is first copied into a zero-bordered buffer (xpad, [n, hp, wp, c]) so that every
 * window is in bounds; koff lists, per kernel tap (ky, kx, ch) in the kernel's order, the byte
 * offset of that tap from the window's corner in xpad. No patch matrix is written.
 */
function convKernels(simd: boolean, copyJobs: boolean, uses: ReadonlySet<KernelFunction>, shapes: readonly ConvShape[] = []): string {
  if (!CONV_NAMES.some((k) => uses.has(k))) return "";
  /** In simd mode: the WebAssembly path when cond holds, then return (`declare`: the function's first, which reads kernelState.wasm). */
  const wasmIf = (cond: string, body: string, declare = true) =>
    simd
      ? `${declare ? "const wasm = kernelState.wasm;\n  " : ""}if (wasm !== null && ${cond}) {
    ${body}
    return;
  }
  `
      : "";
  const shared = (names: string[]) => names.map((a) => `kernelShared(${a})`).join(" && ");
  const fwd = uses.has("kernelConv2dForward"), dw = uses.has("kernelConv2dFilterGrad"), dx = uses.has("kernelConv2dInputGrad");
  const threaded = simd
    ? `${fwd || dx ? `
/**
 * conv_fwd over rows [0, rows) of out (see kernelConv2dForward), with the body specialised to
 * shape number spec of KERNEL_CONV_SHAPES (-1: the general loops) and, by mode, the sums stored (0),
 * added onto out (1), plus the bias at byte address bias (2), then relu (3), split across the threads when
 * the product is large enough (the rule of gemm: GEMM_PARALLEL_MIN_FLOPS): by whole output rows
 * of ow positions for a specialised body, else by register tiles.
 */
function kernelConvForwardRows(wasm: GemmKernelExports, spec: number, x: number, koff: number, w: number, out: number, rows: number, f: number, taps: number, oh: number, ow: number, img: number, row: number, col: number, mode: number, bias: number): void {
  const flops = 2 * rows * taps * f;
  if (kernelState.workers.length === 0 || flops < GEMM_PARALLEL_MIN_FLOPS) {
    wasm.conv_fwd(spec, x, koff, w, out, 0, rows, f, taps, oh, ow, img, row, col, mode, bias);
    return;
  }
  kernelJobArgs(x, koff, w, out, f, taps, oh, ow, img, row, col, mode, spec + 1, bias);
  kernelSplitJob(wasm, 1, rows, spec >= 0 ? ow : KERNEL_CONV_MR, flops);
}
` : ""}${copyJobs && (fwd || dx) ? `
/**
 * pad_copy (kind 10: an input into its zero border) or crop_copy (kind 11: the input gradient out
 * of it, added onto dst where accumulate is 1), split across the threads by images from
 * KERNEL_PARALLEL_MIN_VALUES values.
 */
function kernelBorderCopy(wasm: GemmKernelExports, kind: 10 | 11, src: number, dst: number, n: number, h: number, w: number, c: number, hp: number, wp: number, top: number, left: number, accumulate = 0): void {
  if (kernelState.workers.length === 0 || n * h * w * c < KERNEL_PARALLEL_MIN_VALUES) {
    if (kind === 10) wasm.pad_copy(src, dst, n, h, w, c, hp, wp, top, left);
    else wasm.crop_copy(src, dst, n, h, w, c, hp, wp, top, left, accumulate);
    return;
  }
  kernelJobArgs(src, dst, n, h, w, c, hp, wp, top, left, accumulate);
  kernelSplitJob(wasm, kind, n, 1, 0);
}
` : ""}
`
    : "";
  return `${threaded}
${fwd || dw || dx ? `/** The padded extent the direct convolution reads along one axis: the image at pad, and every window. */
function kernelConvPadded(size: number, k: number, stride: number, out: number, pad: number): number {
  return Math.max(pad + size, (out - 1) * stride + k);
}
` : ""}
${simd && (fwd || dx) ? `/**
 * The convolutions of this program, [c, kh, kw, sh, sw, hp, wp, oh, ow, f] each (the padded input,
 * the window, the strides, the output): conv_fwd has a body specialised to each, whose sizes are
 * constants of its code (spec = the index here).
 */
const KERNEL_CONV_SHAPES: readonly (readonly number[])[] = [
${shapes.map((t) => `  [${[t.c, t.kh, t.kw, t.sh, t.sw, t.hp, t.wp, t.oh, t.ow, t.f].join(", ")}],`).join("\n")}
];

/**
 * Where dz has at most this share of values not zero, the kernel and input gradients are formed
 * from those values alone (conv_sparse_dw, conv_sparse_dx): behind relu and max pooling, dz is
 * mostly zeros (max pooling's gradient reaches one value of each window, relu leaves most of
 * those: cnn's conv2 has 13% not zero at the first steps, 22.5% after). Each value then costs kh
 * rows of kw * c floats, four at a time: only where a row is at least 16 floats
 * (KERNEL_CONV_SPARSE_ROW_MIN) is that cheaper than the dense loops (at 14% not zero, cnn's conv2:
 * kernel gradient 8.3 -> 5.7 ms, input gradient 12.3 -> 5.9; its conv1, 5 floats a row: 2.5 ->
 * 5.1, slower, and a tie with the specialised bodies).
 */
const KERNEL_CONV_SPARSE_MAX = 0.2;

/**
 * The same with bodies specialised to the convolution's shape (conv_sparse_*_shape_<i>: every row
 * written out, at constant offsets): on cnn's conv2 (bench/conv.ts's sparse rows) 2.5 to 3.6x the
 * dense loops from 14 to 30% not zero, 1.3x at 40%.
 */
const KERNEL_CONV_SPARSE_MAX_SHAPED = 0.4;

/** count_nonzero's answer. */
const kernelConvCount = new Int32Array(kernelMemory.buffer, kernelAllocBytes(4), 1);

/** Floats in a row of a window (kw * c) from which the sparse gradients pay (see KERNEL_CONV_SPARSE_MAX). */
const KERNEL_CONV_SPARSE_ROW_MIN = 16;

/**
 * Whether the gradients of a convolution with rows of rowFloats (kw * c) come from dz[0..count)'s
 * non-zero values: rows long enough, and dz sparse enough. share bounds dz's share of non-zero
 * values from what the program knows when it is compiled (a max pool after the layer writes dz:
 * one value a window, 1 / (ph * pw)); where that bound is sparse enough, dz is not counted
 * (kernelConvCount then holds the bound's count). Counts each use (kernelState.sparseGradients).
 */
function kernelConvSparse(wasm: GemmKernelExports, dz: Float32Array, count: number, rowFloats: number, spec: number, share: number): boolean {
  if (rowFloats < KERNEL_CONV_SPARSE_ROW_MIN) return false;
  const most = count * (spec >= 0 ? KERNEL_CONV_SPARSE_MAX_SHAPED : KERNEL_CONV_SPARSE_MAX);
  if (count * share <= most) kernelConvCount[0] = Math.ceil(count * share);
  else wasm.count_nonzero(dz.byteOffset, count, kernelConvCount.byteOffset);
  const sparse = kernelConvCount[0]! <= most;
  if (sparse) kernelState.sparseGradients++;
  return sparse;
}

/**
 * Runs conv_sparse_dw (kind 5) or conv_sparse_dx (kind 6) over a batch's dz, whose non-zero values
 * kernelConvSparse has just counted (or bounded): on this thread alone below GEMM_PARALLEL_MIN_FLOPS (2 * kh *
 * kwc flops a value), else split across the threads by kernelSplitJob, conv_sparse_dw by output
 * channels (each part owns its rows of the transposed kernel gradient mat) and conv_sparse_dx by
 * images (each part owns its images of the padded input gradient win, which it zeroes first).
 * Nothing is summed afterwards: every float is the one thread's.
 */
function kernelConvSparseRun(wasm: GemmKernelExports, kind: 5 | 6, spec: number, win: number, dz: number, mat: number, n: number, oh: number, ow: number, f: number, kh: number, kwc: number, imgBytes: number, rowBytes: number, colBytes: number, winRowBytes: number): void {
  const flops = 2 * kernelConvCount[0]! * kh * kwc;
  if (kernelState.workers.length === 0 || flops < GEMM_PARALLEL_MIN_FLOPS) {
    if (kind === 6) wasm.zero(win, n * imgBytes);
    (kind === 5 ? wasm.conv_sparse_dw : wasm.conv_sparse_dx)(spec, win, dz, mat, n, oh, ow, f, kh, kwc, imgBytes, rowBytes, colBytes, winRowBytes, 0, f);
    return;
  }
  kernelJobArgs(spec + 1, win, dz, mat, n, oh, ow, f, kh, kwc, imgBytes, rowBytes, colBytes, winRowBytes);
  kernelSplitJob(wasm, kind, kind === 5 ? f : n, 1, flops);
}

/** The sparse gradients' scratch (a transposed kernel gradient, a padded input gradient), grown once to the largest need: the step allocates nothing after. */
let kernelConvScratch: Float32Array = new Float32Array(0);
function kernelConvScratchOf(size: number): Float32Array {
  if (kernelConvScratch.length < size) kernelConvScratch = allocF32(size);
  return kernelConvScratch;
}

/** The index in KERNEL_CONV_SHAPES of this convolution, or -1 (then conv_fwd runs its general loops). */
function kernelConvShape(c: number, kh: number, kw: number, sh: number, sw: number, hp: number, wp: number, oh: number, ow: number, f: number): number {
  for (let i = 0; i < KERNEL_CONV_SHAPES.length; i++) {
    const t = KERNEL_CONV_SHAPES[i]!;
    if (t[0] === c && t[1] === kh && t[2] === kw && t[3] === sh && t[4] === sw && t[5] === hp && t[6] === wp && t[7] === oh && t[8] === ow && t[9] === f) return i;
  }
  return -1;
}
` : ""}
${fwd || dx ? `/** Copies each [h, w, c] image of src into the [hp, wp, c] image of dst at (top, left); dst's border stays zero. */
function kernelPadCopyTs(src: Float32Array, dst: Float32Array, n: number, h: number, w: number, c: number, hp: number, wp: number, top: number, left: number): void {
  const row = w * c;
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      let s = (b * h + y) * row;
      const d = ((b * hp + y + top) * wp + left) * c;
      for (let i = 0; i < row; i++) dst[d + i] = src[s++];
    }
  }
}
` : ""}
${fwd || dx ? `/** koff[(ky*kw + kx)*c + ch] = the byte offset of tap (ky, kx, ch) from a window's corner in an image of width wp. */
function kernelConvOffsets(koff: Int32Array, kh: number, kw: number, c: number, wp: number): void {
  let t = 0;
  for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) for (let ch = 0; ch < c; ch++) koff[t++] = ((ky * wp + kx) * c + ch) * 4;
}
` : ""}
${fwd || dx ? `/**
 * out[(b, oy, ox), j] (=|+=) sum over taps t of xpad[corner(b, oy, ox) + koff[t]] * kernel[t, j]:
 * the convolution of the padded batch, with f output channels, in plain loops (sums in f64).
 */
function kernelConvPaddedTs(xpad: Float32Array, koff: Int32Array, kernel: Float32Array, out: Float32Array, accumulate: boolean, n: number, hp: number, wp: number, c: number, taps: number, sh: number, sw: number, oh: number, ow: number, f: number): void {
  const acc = kernelConvSums(f);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const corner = ((b * hp + oy * sh) * wp + ox * sw) * c;
        acc.fill(0, 0, f);
        for (let t = 0; t < taps; t++) {
          const v = xpad[corner + (koff[t] >> 2)];
          const k = t * f;
          for (let j = 0; j < f; j++) acc[j] += v * kernel[k + j];
        }
        for (let j = 0; j < f; j++) out[o + j] = accumulate ? out[o + j] + acc[j] : acc[j];
        o += f;
      }
    }
  }
}
` : ""}
/** The f64 running sums of the TypeScript convolution loops: grown once to the largest need, then reused (the step allocates nothing). */
let kernelConvAcc = new Float64Array(0);
function kernelConvSums(size: number): Float64Array {
  if (kernelConvAcc.length < size) kernelConvAcc = new Float64Array(size);
  return kernelConvAcc;
}

${fwd ? `/**
 * Convolution forward, direct: z[n*oh*ow, f] = x (NHWC, windows at (oy*sh - padTop, ox*sw -
 * padLeft), zeros outside) · kernel [kh, kw, c, f], plus the bias when one is given, then relu
 * (0 where z + bias is not > 0) when asked, each sum finished before it is stored. xpad ([n, hp,
 * wp, c], hp and wp from kernelConvPadded) and koff (kh*kw*c ints) are the layer's scratch;
 * conv_dw reads them after.
 */
function kernelConv2dForward(x: Float32Array, xpad: Float32Array, koff: Int32Array, kernel: Float32Array, z: Float32Array, ${CONV_GEO_PARAMS}, bias: Float32Array | null = null, relu = false): void {
  const hp = kernelConvPadded(h, kh, sh, oh, padTop), wp = kernelConvPadded(w, kw, sw, ow, padLeft);
  kernelConvOffsets(koff, kh, kw, c, wp);
  ${wasmIf(`f % 8 === 0 && ${shared(["x", "xpad", "koff", "kernel", "z"])} && (bias === null || kernelShared(bias))`, `${copyJobs ? "kernelBorderCopy(wasm, 10, " : "wasm.pad_copy("}x.byteOffset, xpad.byteOffset, n, h, w, c, hp, wp, padTop, padLeft);
    const spec = kernelConvShape(c, kh, kw, sh, sw, hp, wp, oh, ow, f);
    const mode = bias === null ? 0 : relu ? 3 : 2;
    kernelConvForwardRows(wasm, spec, xpad.byteOffset, koff.byteOffset, kernel.byteOffset, z.byteOffset, n * oh * ow, f, kh * kw * c, oh, ow, hp * wp * c * 4, sh * wp * c * 4, sw * c * 4, mode, bias === null ? 0 : bias.byteOffset);`)}kernelPadCopyTs(x, xpad, n, h, w, c, hp, wp, padTop, padLeft);
  kernelConvPaddedTs(xpad, koff, kernel, z, false, n, hp, wp, c, kh * kw * c, sh, sw, oh, ow, f);
  if (bias === null) return;
  for (let r = 0; r < n * oh * ow; r++) {
    for (let j = 0; j < f; j++) {
      const v = z[r * f + j] + bias[j];
      z[r * f + j] = relu && !(v > 0) ? 0 : v;
    }
  }
}
` : ""}
${dw ? `/**
 * Convolution kernel gradient, direct: dkernel[t, j] = sum over (b, oy, ox) of the window's tap t
 * times dz[(b, oy, ox), j], reading the padded input and offsets kernelConv2dForward left in xpad
 * and koff (so it runs after the forward pass of the same batch).
 */
function kernelConv2dFilterGrad(xpad: Float32Array, koff: Int32Array, dz: Float32Array, dkernel: Float32Array, ${CONV_GEO_PARAMS}${simd ? ", dzShare = 1" : ""}): void {
  const hp = kernelConvPadded(h, kh, sh, oh, padTop), wp = kernelConvPadded(w, kw, sw, ow, padLeft);
  const taps = kh * kw * c;
  ${simd ? "const spec = kernelConvShape(c, kh, kw, sh, sw, hp, wp, oh, ow, f);\n  " : ""}${wasmIf(`${shared(["xpad", "dz", "dkernel"])} && kernelConvSparse(wasm, dz, n * oh * ow * f, kw * c, spec, dzShare)`, `// from dz's non-zero values: each adds its share onto the kernel gradient, transposed ([f, taps]) in scratch
    const dt = kernelConvScratchOf(taps * f);
    dt.fill(0, 0, taps * f);
    kernelConvSparseRun(wasm, 5, spec, xpad.byteOffset, dz.byteOffset, dt.byteOffset, n, oh, ow, f, kh, kw * c, hp * wp * c * 4, sh * wp * c * 4, sw * c * 4, wp * c * 4);
    for (let t = 0; t < taps; t++) for (let j = 0; j < f; j++) dkernel[t * f + j] = dt[j * taps + t]!;`)}${wasmIf(`f % 8 === 0 && ${shared(["xpad", "koff", "dz", "dkernel"])}`, `dkernel.fill(0, 0, taps * f);
    const x0 = xpad.byteOffset, k0 = koff.byteOffset, g0 = dz.byteOffset, d0 = dkernel.byteOffset, img = hp * wp * c * 4, row = sh * wp * c * 4, col = sw * c * 4;
    const flops = 2 * n * oh * ow * taps * f;
    if (kernelState.workers.length === 0 || flops < GEMM_PARALLEL_MIN_FLOPS) {
      wasm.conv_dw(x0, k0, g0, d0, n, 0, taps, f, oh, ow, img, row, col);
    } else {
      kernelJobArgs(x0, k0, g0, d0, n, f, oh, ow, img, row, col);
      kernelSplitJob(wasm, 2, taps, KERNEL_CONV_MR, flops);
    }`, false)}const acc = kernelConvSums(taps * f);
  acc.fill(0, 0, taps * f);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const corner = ((b * hp + oy * sh) * wp + ox * sw) * c;
        for (let t = 0; t < taps; t++) {
          const v = xpad[corner + (koff[t] >> 2)];
          const k = t * f;
          for (let j = 0; j < f; j++) acc[k + j] += v * dz[o + j];
        }
        o += f;
      }
    }
  }
  for (let i = 0; i < taps * f; i++) dkernel[i] = acc[i];
}
` : ""}
${dx ? `/**
 * Convolution input gradient, direct (stride 1): dx (=|+=) the convolution of dz, zero-padded
 * into dzpad ([n, h + kh - 1, w + kw - 1, f], dz at (kh - 1 - padTop, kw - 1 - padLeft)), with
 * the kernel turned around: wflip[ky, kx, j, ch] = kernel[kh-1-ky, kw-1-kx, ch, j]. dkoff
 * (kh*kw*f ints) and wflip (kh*kw*f*c floats) are scratch.
 */
function kernelConv2dInputGrad(dz: Float32Array, dzpad: Float32Array, dkoff: Int32Array, wflip: Float32Array, kernel: Float32Array, dx: Float32Array, accumulate: boolean, ${CONV_GEO_PARAMS}${simd ? ", dzShare = 1" : ""}): void {
  ${simd ? `// the forward pass's padded extent and shape
  const hp = kernelConvPadded(h, kh, sh, oh, padTop), wp = kernelConvPadded(w, kw, sw, ow, padLeft);
  const spec = kernelConvShape(c, kh, kw, sh, sw, hp, wp, oh, ow, f);
  ` : ""}${wasmIf(`${shared(["dz", "wflip", "dx"])} && kernelConvSparse(wasm, dz, n * oh * ow * f, kw * c, spec, dzShare)`, `// from dz's non-zero values: each adds its window's share onto dx, zero-bordered in scratch
    const taps = kh * kw * c;
    // the kernel transposed, [f, kh, kw, c], in wflip's room
    for (let t = 0; t < taps; t++) for (let j = 0; j < f; j++) wflip[j * taps + t] = kernel[t * f + j]!;
    // (kernelConvSparseRun zeroes it first)
    const dxpad = kernelConvScratchOf(n * hp * wp * c);
    kernelConvSparseRun(wasm, 6, spec, dxpad.byteOffset, dz.byteOffset, wflip.byteOffset, n, oh, ow, f, kh, kw * c, hp * wp * c * 4, sh * wp * c * 4, sw * c * 4, wp * c * 4);
    ${copyJobs ? "kernelBorderCopy(wasm, 11, " : "wasm.crop_copy("}dxpad.byteOffset, dx.byteOffset, n, h, w, c, hp, wp, padTop, padLeft, accumulate ? 1 : 0);`)}const hq = h + kh - 1, wq = w + kw - 1, top = kh - 1 - padTop, left = kw - 1 - padLeft;
  for (let ky = 0; ky < kh; ky++)
    for (let kx = 0; kx < kw; kx++)
      for (let ch = 0; ch < c; ch++) {
        const src = ((ky * kw + kx) * c + ch) * f, dst = (((kh - 1 - ky) * kw + (kw - 1 - kx)) * f) * c + ch;
        for (let j = 0; j < f; j++) wflip[dst + j * c] = kernel[src + j];
      }
  kernelConvOffsets(dkoff, kh, kw, f, wq);
  ${wasmIf(`c % 8 === 0 && ${shared(["dz", "dzpad", "dkoff", "wflip", "dx"])}`, `${copyJobs ? "kernelBorderCopy(wasm, 10, " : "wasm.pad_copy("}dz.byteOffset, dzpad.byteOffset, n, oh, ow, f, hq, wq, top, left);
    // dz convolved with the kernel turned around: a shape of its own
    const flipped = kernelConvShape(f, kh, kw, 1, 1, hq, wq, h, w, c);
    kernelConvForwardRows(wasm, flipped, dzpad.byteOffset, dkoff.byteOffset, wflip.byteOffset, dx.byteOffset, n * h * w, c, kh * kw * f, h, w, hq * wq * f * 4, wq * f * 4, f * 4, accumulate ? 1 : 0, 0);`, false)}void sh;
  void sw;
  kernelPadCopyTs(dz, dzpad, n, oh, ow, f, hq, wq, top, left);
  kernelConvPaddedTs(dzpad, dkoff, wflip, dx, accumulate, n, hq, wq, f, kh * kw * f, 1, 1, h, w, c);
}` : ""}
`;
}

/**
 * The jobs other than matrix products that the WebAssembly kernels split across the threads
 * (direct convolutions, products that skip zeros): one part's runner, which the workers run too,
 * and the split.
 */
function jobKernels(conv: boolean, sparse: boolean, adam: boolean, maxPool: boolean, maxPoolRelu: boolean, convCopy: boolean): string {
  const kinds = [
    conv ? `if (kind === 1) wasm.conv_fwd(job[J + 12] - 1, job[J], job[J + 1], job[J + 2], job[J + 3], job[R], job[R + 1], job[J + 4], job[J + 5], job[J + 6], job[J + 7], job[J + 8], job[J + 9], job[J + 10], job[J + 11], job[J + 13]);
  else if (kind === 2) wasm.conv_dw(job[J], job[J + 1], job[J + 2], job[J + 3], job[J + 4], job[R], job[R + 1], job[J + 5], job[J + 6], job[J + 7], job[J + 8], job[J + 9], job[J + 10]);
  else if (kind === 5) wasm.conv_sparse_dw(job[J] - 1, job[J + 1], job[J + 2], job[J + 3], job[J + 4], job[J + 5], job[J + 6], job[J + 7], job[J + 8], job[J + 9], job[J + 10], job[J + 11], job[J + 12], job[J + 13], job[R], job[R + 1]);
  else if (kind === 6) {
    // images b0 <= b < b1: their windows in win (zeroed first), their values of dz (oh * ow * f floats an image)
    const b0 = job[R], b1 = job[R + 1];
    wasm.zero(job[J + 1] + b0 * job[J + 10], (b1 - b0) * job[J + 10]);
    wasm.conv_sparse_dx(job[J] - 1, job[J + 1] + b0 * job[J + 10], job[J + 2] + b0 * job[J + 5] * job[J + 6] * job[J + 7] * 4, job[J + 3], b1 - b0, job[J + 5], job[J + 6], job[J + 7], job[J + 8], job[J + 9], job[J + 10], job[J + 11], job[J + 12], job[J + 13], 0, job[J + 7]);
  }` : "",
    sparse ? `if (kind === 3) wasm.sparse_rows(job[J], job[J + 1], job[J + 2], job[J + 3], job[J + 4], job[J + 5], 0, panel, job[R], job[R + 1]);
  else if (kind === 7) wasm.csr_rows(job[J], job[J + 1], job[J + 2], job[J + 3], job[J + 4], job[J + 5], job[J + 6], job[R], job[R + 1]);` : "",
    maxPool ? `if (kind === 8) wasm.max_pool(job[J], job[J + 1], job[J + 2], job[R + 1], job[J + 4], job[J + 5], job[J + 6], job[J + 7], job[J + 8], job[J + 9], job[J + 10], job[J + 11], job[J + 12], job[J + 13], job[J + 14], job[R]);` : "",
    maxPoolRelu ? `if (kind === 9) wasm.max_pool_relu_backward(job[J], job[J + 1], job[J + 2], job[J + 3], 0, 0, job[R + 1], job[J + 5], job[J + 6], job[J + 7], job[J + 8], job[J + 9], job[J + 10], job[J + 11], job[R]);` : "",
    convCopy ? `if (kind === 10 || kind === 11) {
    // images b0 <= b < b1 of kernelBorderCopy(src, dst, n, h, w, c, hp, wp, top, left, accumulate): from
    // (pad) or to (crop) [h, w, c] images, to or from [hp, wp, c] ones
    const b0 = job[R], h = job[J + 3], w = job[J + 4], c = job[J + 5], hp = job[J + 6], wp = job[J + 7];
    const image = b0 * h * w * c * 4, padded = b0 * hp * wp * c * 4;
    if (kind === 10) wasm.pad_copy(job[J] + image, job[J + 1] + padded, job[R + 1] - b0, h, w, c, hp, wp, job[J + 8], job[J + 9]);
    else wasm.crop_copy(job[J] + padded, job[J + 1] + image, job[R + 1] - b0, h, w, c, hp, wp, job[J + 8], job[J + 9], job[J + 10]);
  }` : "",
    adam ? `if (kind === 4) wasm.adam(job[J] + 4 * job[R], job[J + 1] + 4 * job[R], job[J + 2] + 4 * job[R], job[J + 3] + 4 * job[R], job[R + 1] - job[R], job[J + 4]);` : "",
  ].filter(Boolean);
  const args = Array.from({ length: 15 }, (_, i) => `a${i}`);
  return `
/** Writes a job's arguments (as many as it has, the rest 0) at KERNEL_CTL_JOB, where kernelJobPart reads them. */
function kernelJobArgs(${args.map((a, i) => (i === 0 ? `${a}: number` : `${a} = 0`)).join(", ")}): void {
  const job = kernelState.job, J = KERNEL_CTL_JOB;
  ${args.map((a, i) => `job[J${i ? ` + ${i}` : ""}] = ${a};`).join("\n  ")}
}

/**
 * Runs one part of a job: its range at job[R], job[R + 1]; the arguments from KERNEL_CTL_JOB;
 * panel: this thread's scratch for sparse_rows.
 */
function kernelJobPart(wasm: GemmKernelExports, job: Uint32Array, kind: number, R: number, panel: number): void {
  const J = KERNEL_CTL_JOB;
  ${kinds.join("\n  else ")}${sparse ? "" : "\n  void panel;"}
}

/**
 * Splits a job into parts of whole units (a register tile's rows, taps or columns; the last part
 * takes what is left of the extent), one per GEMM_PART_MIN_FLOPS of its flops but at least four
 * per thread (KERNEL_MIN_PARTS) and at most eight (KERNEL_MAX_PARTS), and runs them as gemm runs
 * its parts: every thread, this one included, claims parts until none is left. The kinds and
 * what they split:${conv ? `
 * 1: conv_fwd's output rows; 2: conv_dw's kernel taps (every part writes its own rows of the
 * kernel gradient: nothing is summed afterwards); 5: conv_sparse_dw's output channels (its own
 * rows of the transposed kernel gradient); 6: conv_sparse_dx's images${convCopy ? "; 10, 11: pad_copy's\n * and crop_copy's images" : ""}${sparse ? ";" : "."}` : ""}${sparse ? `
 * 3: sparse_rows's columns (every part packs its own blocks of B); 7: csr_rows's rows (each
 * listed in its own room).` : ""}${adam ? `
 * 4: adam's values (a parameter's elements: every part updates its own).` : ""}${maxPool || maxPoolRelu ? `
 * ${[maxPool ? "8: max_pool's images" : "", maxPoolRelu ? "9: max_pool_relu_backward's images (db summed after, on its own)" : ""].filter(Boolean).join("; ")}.` : ""}
 */
function kernelSplitJob(wasm: GemmKernelExports, kind: number, extent: number, unit: number, flops: number): void {
  const job = kernelState.job, ctl = kernelState.ctl;
  const units = Math.ceil(extent / unit);
  const wanted = Math.max(KERNEL_MIN_PARTS, Math.min(KERNEL_MAX_PARTS, Math.floor(flops / GEMM_PART_MIN_FLOPS)));
  const parts = Math.max(1, Math.min(wanted, units));
  const per = Math.ceil(units / parts) * unit;
  for (let t = 0; t < parts; t++) {
    const R = KERNEL_CTL_RANGES + 4 * t;
    job[R] = Math.min(extent, t * per);
    job[R + 1] = Math.min(extent, (t + 1) * per);
  }
  job[KERNEL_CTL_KIND] = kind;
  const gen = kernelOpenJob(parts);
  const panel = kernelState.scratch[0]!.bp;
  // (a part that throws is counted all the same, and the error thrown once every part is done)
  let failure: unknown = null;
  for (;;) {
    const part = kernelClaim(ctl, gen, parts);
    if (part < 0) break;
    try {
      kernelJobPart(wasm, job, kind, KERNEL_CTL_RANGES + 4 * part, panel);
    } catch (err) {
      failure ??= err;
    }
    Atomics.add(ctl, KERNEL_CTL_DONE, 1);
  }
  kernelAwaitJob(failure, parts, kind === 3 || kind === 7 ? "a sparse product" : ${adam ? `kind === 4 ? "an optimizer update" : ` : ""}${maxPool || maxPoolRelu ? `kind === 8 || kind === 9 ? "a pooling" : ` : ""}"a convolution");
}
`;
}

/**
 * kernelSparseGemm: the product that skips the zeros of its left operand (csr_rows and
 * sparse_rows in gemm-wasm.ts), for a layer whose input is the data. In simd mode on allocF32
 * buffers; gemm otherwise.
 */
function sparseKernel(simd: boolean, pool: boolean, uses: ReadonlySet<KernelFunction>): string {
  if (!uses.has("kernelSparseGemm")) return "";
  const panel = pool ? "kernelState.scratch[0]!.bp" : "kernelScratch.bp";
  return `
/**
 * C[M x N] = op(A)[M x K] · B[K x N], skipping the zeros of op(A) (op(A) = A, stored [M x K], or
 * when transA its transpose, A stored [K x M]; B and C row-major)${simd ? `: csr_rows lists the
 * non-zero values of each row of op(A) in csr (M + 1 + 2*M*K ints), then sparse_rows sums, for
 * every row of C, only the rows of B they multiply, column block by column block${pool ? " (split across the threads by columns)" : ""}.
 * A layer's input that is data is mostly zeros (MNIST: about 19% of the pixels are not): its
 * products then cost a fraction of gemm's. When more than a third of op(A) is not zero, gemm is
 * faster and runs instead` : ` (in plain TypeScript, gemm itself)`}.
 */
${simd && pool ? `/** csr_rows over all rows: on this thread below KERNEL_PARALLEL_MIN_VALUES values, else split across the threads by rows (kernelSplitJob, kind 7), in parts of 16. */
function kernelCsrRows(wasm: GemmKernelExports, a: number, rows: number, cols: number, rs: number, cs: number, ptr: number, ent: number): void {
  if (kernelState.workers.length === 0 || rows * cols < KERNEL_PARALLEL_MIN_VALUES) {
    wasm.csr_rows(a, rows, cols, rs, cs, ptr, ent, 0, rows);
    return;
  }
  kernelJobArgs(a, rows, cols, rs, cs, ptr, ent);
  // KERNEL_MIN_PARTS parts: a value costs about a load and a test
  kernelSplitJob(wasm, 7, rows, 16, 0);
}

` : ""}function kernelSparseGemm(transA: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, csr: Int32Array): void {
  ${simd ? `const wasm = kernelState.wasm;
  if (wasm !== null && K * KERNEL_SPARSE_NC * 4 <= GEMM_NC * GEMM_KC * 4 && kernelShared(A) && kernelShared(B) && kernelShared(C) && kernelShared(csr)) {
    const ptr = csr.byteOffset, entries = ptr + (M + 1) * 4;
    ${pool ? `kernelCsrRows(wasm, A.byteOffset, M, K, transA ? 4 : K * 4, transA ? M * 4 : 4, ptr, entries);` : `wasm.csr_rows(A.byteOffset, M, K, transA ? 4 : K * 4, transA ? M * 4 : 4, ptr, entries, 0, M);`}
    // row r's values run from entries + r*K*8 to csr[r]
    let nonZero = 0;
    for (let r = 0; r < M; r++) nonZero += (csr[r] - entries - r * K * 8) / 8;
    if (3 * nonZero <= M * K) {
      ${pool ? `const flops = 2 * nonZero * N;
      if (kernelState.workers.length === 0 || flops < GEMM_PARALLEL_MIN_FLOPS) {
        wasm.sparse_rows(ptr, B.byteOffset, C.byteOffset, M, K, N, 0, ${panel}, 0, N);
      } else {
        kernelJobArgs(ptr, B.byteOffset, C.byteOffset, M, K, N);
        kernelSplitJob(wasm, 3, N, KERNEL_SPARSE_NC, flops);
      }` : `wasm.sparse_rows(ptr, B.byteOffset, C.byteOffset, M, K, N, 0, ${panel}, 0, N);`}
      return;
    }
  }
  ` : ""}gemm(transA, false, M, N, K, A, B, C, false);
}
`;
}

/** kernelDropout: dropout's mask drawn from the program's stream, and the masked values. */
function dropoutKernel(simd: boolean, uses: ReadonlySet<KernelFunction>): string {
  if (!uses.has("kernelDropout")) return "";
  const params = "x: Float32Array, out: Float32Array, mask: Float32Array, count: number, rate: number, scale: number, rng: { next(): number; advance(count: number): number }";
  const loop = (name: string) => `
/**
 * Dropout in training, over count values: mask[i] = 0 where rng's next draw is below rate, else
 * scale; out = x * mask.
 */
function ${name}(${params}): void {
  for (let i = 0; i < count; i++) {
    mask[i] = rng.next() < rate ? 0 : scale;
    out[i] = x[i] * mask[i];
  }
}
`;
  if (!simd) return loop("kernelDropout");
  return `${loop("kernelDropoutTs")}
/** kernelFloatArgs seen as integers: the WebAssembly dropout reads the stream's state and the threshold there, the scale after them. */
const kernelDropoutInts = new Uint32Array(kernelFloatArgs.buffer, kernelFloatArgs.byteOffset, 2);

/** Dropout in training (see kernelDropoutTs); WebAssembly on allocF32 buffers, four draws at a time, the same masks. */
function kernelDropout(${params}): void {
  const wasm = kernelState.wasm;
  const threshold = Math.ceil(rate * 4294967296);
  if (wasm !== null && threshold < 4294967296 && kernelShared(x) && kernelShared(out) && kernelShared(mask)) {
    // mulberry32 adds a constant to its state at every draw: rng.advance(count) gives the state the
    // draws start from, and a draw is below rate exactly when its 32-bit integer is below threshold
    kernelDropoutInts[0] = rng.advance(count);
    kernelDropoutInts[1] = threshold;
    kernelFloatArgs[2] = scale;
    wasm.dropout(x.byteOffset, out.byteOffset, mask.byteOffset, count, kernelFloatArgs.byteOffset);
    return;
  }
  kernelDropoutTs(x, out, mask, count, rate, scale, rng);
}
`;
}

/** kernelChannel*: per-channel moments of a [rows x c] batch, the normalisation by them, and its gradients. */
function channelKernels(simd: boolean, uses: ReadonlySet<KernelFunction>): string {
  if (!CHANNEL_NAMES.some((k) => uses.has(k))) return "";
  const suffix = simd ? "Ts" : "";
  const wasmIf = (name: string, cond: string, call: string, args: string) =>
    simd
      ? `
/** ${name.replace("kernel", "")} (see ${name}Ts); WebAssembly four channels at a time on allocF32 buffers when c is a multiple of 4. */
function ${name}(${args}): void {
  const wasm = kernelState.wasm;
  if (wasm !== null && c % 4 === 0 && ${cond}) {
    ${call}
    return;
  }
  ${name}Ts(${args.split(",").map((a) => a.trim().replace(/:[\s\S]*$/, "")).join(", ")});
}
`
      : "";
  const shared = (names: string[]) => names.map((a) => `kernelShared(${a})`).join(" && ");
  const momentsArgs = "x: Float32Array, rows: number, c: number, mean: Float32Array, sq: Float32Array";
  const normArgs = "x: Float32Array, mean: Float32Array, invStd: Float32Array, gamma: Float32Array, beta: Float32Array, xhat: Float32Array, out: Float32Array, rows: number, c: number";
  const backArgs = "g: Float32Array, xhat: Float32Array, gamma: Float32Array, invStd: Float32Array, dgamma: Float32Array, dbeta: Float32Array, dx: Float32Array | null, rows: number, c: number, accumulate: boolean";
  return `${uses.has("kernelChannelMoments") ? `
/** Per channel of x [rows x c]: mean[j] = the mean of column j, sq[j] = the sum of its squared deviations from it. */
function kernelChannelMoments${suffix}(${momentsArgs}): void {
  mean.fill(0, 0, c);
  sq.fill(0, 0, c);
  for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) mean[j] += x[r * c + j];
  for (let j = 0; j < c; j++) mean[j] /= rows;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < c; j++) {
      const d = x[r * c + j] - mean[j];
      sq[j] += d * d;
    }
  }
}
${wasmIf("kernelChannelMoments", shared(["x", "mean", "sq"]), "wasm.channel_moments(x.byteOffset, rows, c, mean.byteOffset, sq.byteOffset);", momentsArgs)}` : ""}${uses.has("kernelChannelNormalize") ? `
/** Per channel of x [rows x c]: xhat = (x - mean) * invStd, out = gamma * xhat + beta. */
function kernelChannelNormalize${suffix}(${normArgs}): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < c; j++) {
      const i = r * c + j;
      xhat[i] = (x[i] - mean[j]) * invStd[j];
      out[i] = gamma[j] * xhat[i] + beta[j];
    }
  }
}
${wasmIf("kernelChannelNormalize", shared(["x", "mean", "invStd", "gamma", "beta", "xhat", "out"]), "wasm.channel_normalize(x.byteOffset, mean.byteOffset, invStd.byteOffset, gamma.byteOffset, beta.byteOffset, xhat.byteOffset, out.byteOffset, rows, c);", normArgs)}` : ""}${uses.has("kernelChannelNormalizeBackward") ? `
/**
 * The gradients of kernelChannelNormalize, per channel of [rows x c] (g = dL/d(out)):
 * dgamma = sum g * xhat, dbeta = sum g, and, when dx is given, dx (=|+=) gamma * invStd / rows *
 * (rows * g - dbeta - xhat * dgamma).
 */
function kernelChannelNormalizeBackward${suffix}(${backArgs}): void {
  dgamma.fill(0, 0, c);
  dbeta.fill(0, 0, c);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < c; j++) {
      const i = r * c + j;
      dgamma[j] += g[i] * xhat[i];
      dbeta[j] += g[i];
    }
  }
  if (dx === null) return;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < c; j++) {
      const i = r * c + j;
      const v = ((gamma[j] * invStd[j]) / rows) * (rows * g[i] - dbeta[j] - xhat[i] * dgamma[j]);
      dx[i] = accumulate ? dx[i] + v : v;
    }
  }
}
${wasmIf("kernelChannelNormalizeBackward", `${shared(["g", "xhat", "gamma", "invStd", "dgamma", "dbeta"])} && (dx === null || kernelShared(dx))`, "wasm.channel_normalize_backward(g.byteOffset, xhat.byteOffset, gamma.byteOffset, invStd.byteOffset, dgamma.byteOffset, dbeta.byteOffset, dx === null ? 0 : dx.byteOffset, rows, c, accumulate ? 1 : 0);", backArgs)}` : ""}`;
}

function tsSingleThread(uses: ReadonlySet<KernelFunction>): string {
  return `
/** Allocates a zero-filled float buffer. All buffers are allocated once, before training. */
function allocF32(n: number): Float32Array {
  return new Float32Array(n);
}

/**
 * Matrix multiply, row-major: C[M x N] = op(A)[M x K] * op(B)[K x N] (or C += ... when
 * accumulate). op(A) = A, stored [M x K], or, when transA, A stored [K x M] and transposed;
 * likewise op(B) = B stored [K x N] or, when transB, B stored [N x K].
 */
function gemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  accumulate: boolean,
): void {
  if (K === 0) {
    if (!accumulate) C.fill(0, 0, M * N);
    return;
  }
  gemmTile(transA, transB, M, N, K, A, 0, B, 0, C, 0, accumulate, 0, M, 0, N);
}

${uses.has("adamUpdate") ? ADAM_TS.replace("function adamUpdateTs(", "function adamUpdate(") : ""}${uses.has("sgdUpdate") ? SGD_TS.replace("function sgdUpdateTs(", "function sgdUpdate(") : ""}${uses.has("kernelIm2col") ? IM2COL_TS.replace("function kernelIm2colTs(", "function kernelIm2col(") : ""}${uses.has("kernelCol2im") ? COL2IM_TS.replace("function kernelCol2imTs(", "function kernelCol2im(") : ""}${ELEMENTWISE_NAMES.filter((k) => uses.has(k))
    .map((k) => ELEMENTWISE_TS[k].replace(`function ${k}Ts(`, `function ${k}(`))
    .join("")}${uses.has("kernelBytesToFloats") ? KERNEL_BYTES_AS_IS : ""}${POOL_NAMES.filter((k) => uses.has(k))
    .map((k) => POOL_TS[k].replace(`function ${k}Ts(`, `function ${k}(`))
    .join("")}${convKernels(false, false, uses)}${sparseKernel(false, false, uses)}${dropoutKernel(false, uses)}${channelKernels(false, uses)}${uses.has("allocI32") ? `
/** Allocates a zero-filled int buffer (the argmax of max pooling), once, at setup. */
function allocI32(n: number): Int32Array {
  return new Int32Array(n);
}
` : ""}
/** Prepares the kernels (nothing to do for plain TypeScript on one thread). */
async function initKernels(): Promise<void> {}

/** Releases the kernels' resources (nothing to release here). */
function shutdownKernels(): void {}
`;
}

/**
 * The simd runtimes' TypeScript matrix multiply, for what the WebAssembly kernels cannot take
 * (before initKernels, or arrays not from allocF32): one dot product per output, summed along k in
 * the order gemmTile sums (so the same floats), without its register blocking.
 */
const GEMM_FALLBACK = `
/**
 * C[i0..i1, j0..j1] = (or += when accumulate) op(A) * op(B) for that block of C, reading
 * op(A)[i, k] = A[aOff + i * ars + k * acs] and op(B)[k, j] = B[bOff + k * brs + j * bcs], so
 * that one loop nest serves every transposition. C is row-major with N columns from cOff.
 */
function gemmTile(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  aOff: number,
  B: Float32Array,
  bOff: number,
  C: Float32Array,
  cOff: number,
  accumulate: boolean,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
): void {
  const ars = transA ? 1 : K;
  const acs = transA ? M : 1;
  const brs = transB ? 1 : N;
  const bcs = transB ? K : 1;
  for (let i = i0; i < i1; i++) {
    for (let j = j0; j < j1; j++) {
      let sum = 0;
      let pa = aOff + i * ars;
      let pb = bOff + j * bcs;
      for (let k = 0; k < K; k++) {
        sum += A[pa] * B[pb];
        pa += acs;
        pb += brs;
      }
      const at = cOff + i * N + j;
      C[at] = accumulate ? C[at] + sum : sum;
    }
  }
}
`;

/**
 * The blocked driver over the wasm kernels; self-contained so that workers can run it too. With
 * packedA (threads > 1), it can read an op(A) packed once for the whole product (pa).
 */
const gemmRangeWasm = (packedA: boolean): string => `
/**
 * C[i0..i1, j0..j1] (=|+=) op(A) * op(B) with the WebAssembly kernels: cache blocking in the
 * GotoBLAS style. For each block of GEMM_KC steps of k and GEMM_NC columns, op(B) is packed into
 * panels of GEMM_NR columns (scratch bp); for each block of GEMM_MC rows, op(A) is packed into
 * panels of GEMM_MR rows (scratch ap); the kernel then runs the register tile over the panels.
 * When op(B) has few columns, each element of A is used only a few times: the kernel then reads
 * A in place (kernel_strided) rather than paying for packing it.
 * All addresses are byte offsets into kernelMemory.
 */
function gemmRange(
  k: GemmKernelExports,
  ap: number,
  bp: number,
  tile: number,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: number,
  b: number,
  c: number,
  accumulate: boolean,
  i0: number,
  i1: number,
  j0: number,
  j1: number,${packedA ? `
  pa: number,` : ""}
): void {
  const ars = transA ? 4 : K * 4;
  const acs = transA ? M * 4 : 4;
  const brs = transB ? K * 4 : 4;
  const bks = transB ? 4 : N * 4;
  const ldc = N * 4;
  for (let pc = 0; pc < K; pc += GEMM_KC) {
    const kc = Math.min(GEMM_KC, K - pc);
    const acc = accumulate || pc > 0 ? 1 : 0;
    for (let jc = j0; jc < j1; jc += GEMM_NC) {
      const nc = Math.min(GEMM_NC, j1 - jc);
      k.pack_b(b + pc * bks + jc * brs, brs, bks, nc, kc, bp);
      for (let ic = i0; ic < i1; ic += GEMM_MC) {
        const mc = Math.min(GEMM_MC, i1 - ic);
        if (N <= GEMM_STRIDED_A_MAX_N || (!transA && N <= 2 * GEMM_STRIDED_A_MAX_N)) {
          k.kernel_strided(a + ic * ars + pc * acs, ars, acs, bp, c + ic * ldc + jc * 4, ldc, mc, nc, kc, acc, tile);
        }${packedA ? ` else if (pa !== 0) {
          // op(A) packed once for the whole product (gemmPackA): this block's panels
          k.kernel(pa + (pc * gemmPaddedRows(M) + ic * kc) * 4, bp, c + ic * ldc + jc * 4, ldc, mc, nc, kc, acc, tile);
        }` : ""} else {
          k.pack_a(a + ic * ars + pc * acs, ars, acs, mc, kc, ap);
          k.kernel(ap, bp, c + ic * ldc + jc * 4, ldc, mc, nc, kc, acc, tile);
        }
      }
    }
  }
}
${packedA ? `
/** Rows of op(A) rounded up to whole panels of GEMM_MR. */
function gemmPaddedRows(M: number): number {
  return Math.ceil(M / GEMM_MR) * GEMM_MR;
}
` : ""}`;

/** Packing op(A) once for a product whose columns are split across threads. */
const GEMM_PACK_A_WASM = `

/** Whether the product packs op(A) (rather than reading it in place, when op(B) is narrow). */
function gemmPacksA(transA: boolean, N: number): boolean {
  return !(N <= GEMM_STRIDED_A_MAX_N || (!transA && N <= 2 * GEMM_STRIDED_A_MAX_N));
}

/**
 * Packs all of op(A) [M x K] at byte address pa, block by block as gemmRange reads it: the
 * block of rows ic.. of the k block pc.. at floats pc * gemmPaddedRows(M) + ic * kc.
 */
function gemmPackA(k: GemmKernelExports, transA: boolean, M: number, K: number, a: number, pa: number): void {
  const ars = transA ? 4 : K * 4;
  const acs = transA ? M * 4 : 4;
  const rows = gemmPaddedRows(M);
  for (let pc = 0; pc < K; pc += GEMM_KC) {
    const kc = Math.min(GEMM_KC, K - pc);
    for (let ic = 0; ic < M; ic += GEMM_MC) {
      k.pack_a(a + ic * ars + pc * acs, ars, acs, Math.min(GEMM_MC, M - ic), kc, pa + (pc * rows + ic * kc) * 4);
    }
  }
}
`;

/** A top-level function of the emitted text: its doc comment, name, parameter names and body lines. */
const FUNCTION_TEXT = /\n(\/\*\*(?:[^*]|\*(?!\/))*\*\/)\n(?:\/\/[^\n]*\n)*function (\w+)\(([^)]*(?:\([^)]*\)[^)]*)*)\): void \{\n([\s\S]*?)\n\}\n/g;

function paramNames(params: string): string[] {
  return params
    .split(",")
    .map((p) => p.trim().replace(/[?]?:[\s\S]*$/, ""))
    .filter(Boolean);
}

/**
 * One function per kernel: a kernel whose last statement calls its TypeScript fallback with its own
 * parameters (\`kernelBiasAddTs(z, bias, rows, cols);\`, after the WebAssembly fast path) gets the
 * fallback's body in place of the call, and the fallback is not emitted on its own. Where the
 * kernel's comment pointed to the fallback's ("see kernelIm2colTs"), it takes that comment.
 */
export function inlineFallbacks(text: string): string {
  const fallbacks = new Map<string, { doc: string; params: string[]; body: string; whole: string }>();
  for (const m of text.matchAll(FUNCTION_TEXT)) {
    if (m[2]!.endsWith("Ts")) fallbacks.set(m[2]!.slice(0, -2), { doc: m[1]!, params: paramNames(m[3]!), body: m[4]!, whole: m[0] });
  }
  let out = text;
  for (const m of text.matchAll(FUNCTION_TEXT)) {
    const name = m[2]!;
    const fb = fallbacks.get(name);
    if (!fb) continue;
    const params = paramNames(m[3]!);
    const call = `\n  ${name}Ts(${fb.params.join(", ")});`;
    if (!m[4]!.endsWith(call.slice(1)) || params.join() !== fb.params.join()) continue;
    // The fallback is called once, here, and nowhere else (the kernel would otherwise lose its body's only other user).
    if (out.split(`${name}Ts(`).length !== 3) continue;
    const see = new RegExp(`\\s*\\(see ${name}Ts\\)`);
    let doc = m[1]!;
    if (see.test(doc)) {
      const note = doc.replace(/^\/\*\*\s*/, "").replace(/\s*\*\/$/, "").replace(see, "").replace(/^[^;(]*[;(]?\s*/, "").replace(/\)?\.?$/, "");
      doc = note ? fb.doc.replace(/\s*\*\/$/, "").replace(/^\/\*\* (.*)$/, "/**\n * $1") + `\n * ${note[0]!.toUpperCase()}${note.slice(1)}.\n */` : fb.doc;
    }
    const merged = `\n${doc}\nfunction ${name}(${m[3]!}): void {\n${m[4]!.slice(0, -call.length + 1)}${fb.body}\n}\n`;
    out = out.replace(m[0], merged).replace(fb.whole, "\n");
  }
  return out;
}

function emitSharedRuntime(mode: KernelMode, threads: number, opts: KernelRuntimeOptions, uses: ReadonlySet<KernelFunction>): string {
  return inlineFallbacks(emitSharedRuntimeText(mode, threads, opts, uses));
}

function emitSharedRuntimeText(mode: KernelMode, threads: number, opts: KernelRuntimeOptions, uses: ReadonlySet<KernelFunction>): string {
  const shape = opts.shape ?? DEFAULT_SHAPE;
  const blocking = opts.blocking ?? DEFAULT_BLOCKING;
  const { KC, MC, NC } = blocking;
  const { MR, NR } = shape;
  const simd = mode === "simd";
  /** Whether the program runs direct convolutions on the WebAssembly kernels (and their jobs on the workers). */
  const conv = simd && CONV_NAMES.some((k) => uses.has(k));
  /** Whether it runs products that skip zeros (kernelSparseGemm: WebAssembly, jobs split by columns). */
  const sparse = simd && uses.has("kernelSparseGemm");
  // Worker threads (a pool, a control block, products split into parts) only with threads > 1,
  // or with the direct convolutions (their wrappers split jobs across the pool when it has
  // workers); the "ts" mode on one thread is tsSingleThread, so a runtime without a pool is simd.
  const pool = threads > 1 || conv;
  // adam's update split across the threads (job kind 4) for a large parameter
  const adamJobs = simd && threads > 1 && uses.has("adamUpdate");
  // max pooling and its gradient into relu split across the threads by images (job kinds 8, 9)
  const maxPoolJobs = simd && threads > 1 && uses.has("kernelMaxPool");
  const maxPoolReluJobs = simd && threads > 1 && uses.has("kernelMaxPoolReluBackward");
  // jobs other than matrix products (kernelJobPart, kernelSplitJob)
  const jobs = conv || sparse || adamJobs || maxPoolJobs || maxPoolReluJobs;
  // the direct convolution's copies (the input into its zero border, the input gradient out of it)
  // split across the threads by images (job kinds 10, 11)
  const convCopyJobs = conv && threads > 1;
  const minFlops = opts.parallelMinFlops ?? DEFAULT_PARALLEL_MIN_FLOPS;
  const extras = {
    adam: uses.has("adamUpdate"),
    sgd: uses.has("sgdUpdate"),
    im2col: uses.has("kernelIm2col"),
    col2im: uses.has("kernelCol2im"),
    biasRelu: uses.has("kernelBiasRelu"),
    biasAdd: uses.has("kernelBiasAdd"),
    reluBackward: uses.has("kernelReluBackward"),
    mul: uses.has("kernelMul"),
    biasGrad: uses.has("kernelBiasGrad"),
    piecewiseLinear: uses.has("kernelPiecewiseLinear"),
    piecewiseLinearBackward: uses.has("kernelPiecewiseLinearBackward"),
    sigmoid: uses.has("kernelSigmoid"),
    bytesToFloats: uses.has("kernelBytesToFloats"),
    maxPool: uses.has("kernelMaxPool"),
    maxPoolBackward: uses.has("kernelMaxPoolBackward"),
    maxPoolReluBackward: uses.has("kernelMaxPoolReluBackward"),
    avgPool: uses.has("kernelAvgPool"),
    avgPoolBackward: uses.has("kernelAvgPoolBackward"),
    conv: CONV_NAMES.some((k) => uses.has(k)),
    sparse: uses.has("kernelSparseGemm"),
    dropout: uses.has("kernelDropout"),
    channels: CHANNEL_NAMES.some((k) => uses.has(k)),
    convShapes: opts.convShapes,
  };
  // Two builds of the module: with relaxed SIMD's fused multiply-add in the gemm kernel (the
  // shape's fma, on by default), and without, for a runtime that cannot compile relaxed SIMD.
  const wasmBase64 = simd ? Buffer.from(buildGemmWasm(shape, undefined, extras)).toString("base64") : "";
  const plainBase64 = simd && shape.fma ? Buffer.from(buildGemmWasm({ ...shape, fma: false }, undefined, extras)).toString("base64") : "";
  const mcPad = Math.ceil(MC / MR) * MR;
  const ncPad = Math.ceil(NC / NR) * NR;
  const title = simd
    ? `WebAssembly SIMD (f32x4), ${threads} thread${threads > 1 ? "s" : ""}`
    : `plain TypeScript, ${threads} threads`;

  // Constants the worker needs too (inlined into its source).
  // Cache blocking is the wasm driver's (gemmRange); the register tile also sets the split unit.
  const constants = `${simd ? `
const GEMM_KC = ${KC};
const GEMM_MC = ${MC};
const GEMM_NC = ${NC};` : ""}
const GEMM_MR = ${MR};${conv ? `
/** Rows of the direct convolution's register tile: the unit its jobs are split in. */
const KERNEL_CONV_MR = ${CONV_MR};` : ""}${sparse ? `
/** Columns of sparse_rows's blocks (its panel of B holds K x KERNEL_SPARSE_NC floats): the unit its jobs are split in. */
const KERNEL_SPARSE_NC = ${SPARSE_NC};` : ""}${adamJobs ? `
/** adam's floating-point operations per value, for kernelSplitJob's part count. */
const KERNEL_ADAM_FLOPS = 10;` : ""}
const GEMM_NR = ${NR};${simd ? `
const GEMM_STRIDED_A_MAX_N = ${opts.stridedAMaxN ?? DEFAULT_STRIDED_A_MAX_N};` : ""}${pool ? `
/** Layout of the control block shared with the workers (Int32 indices). */
const KERNEL_CTL_GEN = 0; // job generation, bumped by the main thread to start a job
const KERNEL_CTL_STOP = 1; // 1: workers exit
const KERNEL_CTL_NEXT = 2; // (generation << KERNEL_PART_BITS) | next part to claim; claimed with compareExchange
const KERNEL_CTL_DONE = 3; // parts finished
const KERNEL_CTL_PARTS = 4; // parts in the job
const KERNEL_CTL_FAILED = 5; // 1: a worker's part threw (its error follows the control block: KERNEL_ERROR_BYTES)
const KERNEL_CTL_JOB = 16; // transA, transB, M, N, K, a, b, c, accumulate, packed op(A) (0: none)${jobs ? `; or another job's arguments
const KERNEL_CTL_KIND = 31; // 0: a matrix product${conv ? "; 1: conv_fwd, parts of rows; 2: conv_dw, parts of kernel taps; 5: conv_sparse_dw, parts of channels; 6: conv_sparse_dx, parts of images" : ""}${sparse ? "; 3: sparse_rows, parts of columns; 7: csr_rows, parts of rows" : ""}${adamJobs ? "; 4: adam, parts of a parameter's values" : ""}${maxPoolJobs ? "; 8: max_pool, parts of images" : ""}${maxPoolReluJobs ? "; 9: max_pool_relu_backward, parts of images" : ""}${convCopyJobs ? "; 10, 11: pad_copy, crop_copy, parts of images" : ""}` : ""}
const KERNEL_CTL_RANGES = 32; // 4 per part: i0, i1, j0, j1
const KERNEL_MAX_PARTS = ${8 * threads};
/** NEXT's low bits: a part's index (up to KERNEL_MAX_PARTS - 1); the generation above them. */
const KERNEL_PART_BITS = ${PART_BITS};
const KERNEL_CTL_INTS = ${32 + 4 * 8 * threads};
/** After the control block: the first failed part's error, as its length (i32) and UTF-8 text. */
const KERNEL_ERROR_BYTES = 1024;` : ""}
`;

  const workerMain = `
const { workerData } = require("node:worker_threads");
const memory = workerData.memory;
const tid = workerData.tid;
const scratch = workerData.scratch;
const exportsOfWasm = workerData.module ? new WebAssembly.Instance(workerData.module, { env: { mem: memory } }).exports : null;
const ctl = new Int32Array(memory.buffer, workerData.ctlAt, KERNEL_CTL_INTS);
const job = new Uint32Array(memory.buffer, workerData.ctlAt, KERNEL_CTL_INTS);
let heap = new Float32Array(memory.buffer);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, KERNEL_CTL_GEN, seen);
  seen = Atomics.load(ctl, KERNEL_CTL_GEN);
  if (Atomics.load(ctl, KERNEL_CTL_STOP) === 1) break;
  // Claim parts of the current job until none is left (the main thread claims them too).
  const parts = Atomics.load(ctl, KERNEL_CTL_PARTS);
  for (;;) {
    const part = kernelClaim(ctl, seen, parts);
    if (part < 0) break;
    const J = KERNEL_CTL_JOB, R = KERNEL_CTL_RANGES + 4 * part;
    const transA = job[J] === 1, transB = job[J + 1] === 1, accumulate = job[J + 8] === 1;
    const M = job[J + 2], N = job[J + 3], K = job[J + 4], a = job[J + 5], b = job[J + 6], c = job[J + 7];
    try {
      ${
        simd
          ? `${jobs ? "if (job[KERNEL_CTL_KIND] !== 0) kernelJobPart(exportsOfWasm, job, job[KERNEL_CTL_KIND], R, scratch.bp);\n      else " : ""}gemmRange(exportsOfWasm, scratch.ap, scratch.bp, scratch.tile, transA, transB, M, N, K, a, b, c, accumulate, job[R], job[R + 1], job[R + 2], job[R + 3], job[J + 9]);`
          : `if (heap.length * 4 < memory.buffer.byteLength) heap = new Float32Array(memory.buffer);
      gemmTile(transA, transB, M, N, K, heap, a / 4, heap, b / 4, heap, c / 4, accumulate, job[R], job[R + 1], job[R + 2], job[R + 3]);`
      }
    } catch (err) {
      // Never leave the main thread waiting for this part: the first failure writes its error after
      // the control block and flags it (kernelAwaitJob throws it); the part is counted, and the
      // worker goes on to the next.
      if (Atomics.compareExchange(ctl, KERNEL_CTL_FAILED, 0, 1) === 0) {
        const text = new TextEncoder().encode(String((err && err.stack) || err)).subarray(0, KERNEL_ERROR_BYTES - 4);
        const at = workerData.ctlAt + KERNEL_CTL_INTS * 4;
        new Int32Array(memory.buffer, at, 1)[0] = text.length;
        new Uint8Array(memory.buffer, at + 4, text.length).set(text);
      }
      if (Atomics.add(ctl, KERNEL_CTL_DONE, 1) + 1 === parts) Atomics.notify(ctl, KERNEL_CTL_DONE);
      continue;
    }
    if (Atomics.add(ctl, KERNEL_CTL_DONE, 1) + 1 === parts) Atomics.notify(ctl, KERNEL_CTL_DONE);
  }
}
`;

  return `
// ---------------------------------------------------------------------------------------------
// Kernels: ${title}.
// All float buffers live in one shared WebAssembly.Memory (kernelMemory), so that the
// ${[simd ? "WebAssembly kernels" : "", pool ? "worker threads" : ""].filter(Boolean).join(" and the ")} work on them in place, without copies.
// ---------------------------------------------------------------------------------------------
${constants}${pool ? `
const KERNEL_THREADS = ${threads};
/** Products of fewer flops (2*M*N*K) than this run on the main thread alone. */
const GEMM_PARALLEL_MIN_FLOPS = ${minFlops};
/** The least work (flops) of one part of a product split across threads. */
const GEMM_PART_MIN_FLOPS = ${opts.partMinFlops ?? DEFAULT_PART_MIN_FLOPS};${simd && jobs ? `
/** The fewest parts kernelSplitJob cuts a job into: four a thread, so that a thread the OS wakes late leaves its share to the others (with one or two a thread, the first to finish waited for it). */
const KERNEL_MIN_PARTS = ${4 * threads};` : ""}${adamJobs || sparse || maxPoolJobs || maxPoolReluJobs || convCopyJobs ? `
/** Jobs counted in values, not flops (Adam's update, csr_rows, max pooling and its gradient into relu, the convolution's pad and crop copies), split across the threads from this many (below, waking them costs more than it saves). */
const KERNEL_PARALLEL_MIN_VALUES = 65536;` : ""}

/** How evenly units split into at most parts parts: the average part over the largest (1: all equal). */
function gemmEvenness(units: number, parts: number): number {
  const p = Math.min(parts, units);
  return units / (p * Math.ceil(units / p));
}
` : ""}
/** The memory every buffer lives in; shared, so growing it never detaches earlier views. */
const kernelMemory = new WebAssembly.Memory({ initial: 16, maximum: 32768, shared: true });
let kernelHeapTop = 1024; // the first KiB stays unused

/** Reserves \`bytes\` bytes (16-byte aligned) in kernelMemory and returns their byte offset. */
function kernelAllocBytes(bytes: number): number {
  const at = kernelHeapTop;
  kernelHeapTop = Math.ceil((at + bytes) / 16) * 16;
  const missing = kernelHeapTop - kernelMemory.buffer.byteLength;
  if (missing > 0) kernelMemory.grow(Math.ceil(missing / 65536));
  return at;
}

/** Allocates a zero-filled float buffer in kernelMemory. All buffers are allocated once, at setup. */
function allocF32(n: number): Float32Array {
  const at = kernelAllocBytes(n * 4); // may grow the memory: read .buffer after it
  return new Float32Array(kernelMemory.buffer, at, n);
}
${uses.has("allocI32") ? `
/** Allocates a zero-filled int buffer (the argmax of max pooling) in kernelMemory, once, at setup. */
function allocI32(n: number): Int32Array {
  const at = kernelAllocBytes(n * 4); // may grow the memory: read .buffer after it
  return new Int32Array(kernelMemory.buffer, at, n);
}
` : ""}
${simd ? `${CONV_NAMES.some((k) => uses.has(k)) ? `/** The arguments of conv_sparse_dw and conv_sparse_dx, the same for both (see kernelConvSparse). */
type KernelConvSparseCall = (spec: number, win: number, dz: number, mat: number, images: number, oh: number, ow: number, f: number, kh: number, kwc: number, imgBytes: number, rowBytes: number, colBytes: number, winRowBytes: number, j0: number, j1: number) => void;

` : ""}/** The functions of the WebAssembly module (see pack_a, pack_b, kernel in nnc's kernels/gemm-wasm.ts). */
interface GemmKernelExports {
  pack_a(src: number, ps: number, ks: number, n: number, kc: number, dst: number): void;
  pack_b(src: number, ps: number, ks: number, n: number, kc: number, dst: number): void;
  kernel(ap: number, bp: number, c: number, ldc: number, mc: number, nc: number, kc: number, accumulate: number, tile: number): void;
  kernel_strided(a: number, ps: number, ks: number, bp: number, c: number, ldc: number, mc: number, nc: number, kc: number, accumulate: number, tile: number): void;
${uses.has("adamUpdate") ? `  /** args: the byte address of [lrT, beta1, 1 - beta1, beta2, 1 - beta2, epsilon] (f32). */
  adam(value: number, grad: number, m: number, v: number, n: number, args: number): void;
` : ""}${uses.has("sgdUpdate") ? `  /** args: the byte address of [lr] (f32). */
  sgd(value: number, grad: number, n: number, args: number): void;
` : ""}${uses.has("kernelIm2col") ? `  im2col(x: number, cols: number, n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
` : ""}${uses.has("kernelCol2im") ? `  col2im(dx: number, cols: number, n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
` : ""}${uses.has("kernelBiasRelu") ? `  bias_relu(z: number, a: number, bias: number, rows: number, cols: number): void;
` : ""}${uses.has("kernelBiasAdd") ? `  bias_add(z: number, bias: number, rows: number, cols: number): void;
` : ""}${uses.has("kernelReluBackward") ? `  relu_backward(z: number, g: number, dz: number, count: number): void;
` : ""}${uses.has("kernelMul") ? `  mul(a: number, b: number, out: number, count: number): void;
` : ""}${uses.has("kernelBiasGrad") ? `  bias_grad(dz: number, db: number, rows: number, cols: number): void;
` : ""}${uses.has("kernelPiecewiseLinear") ? `  /** args: the byte address of [slope] (f32). */
  piecewise_linear(z: number, a: number, count: number, args: number): void;
` : ""}${uses.has("kernelPiecewiseLinearBackward") ? `  /** args: the byte address of [slope] (f32). */
  piecewise_linear_backward(z: number, g: number, dz: number, count: number, args: number): void;
` : ""}${uses.has("kernelSigmoid") ? `  sigmoid(z: number, a: number, count: number): void;
` : ""}${uses.has("kernelBytesToFloats") ? `  bytes_to_floats(src: number, dst: number, n: number): void;
` : ""}${uses.has("kernelMaxPool") ? `  /** b0: the first image (images b0 <= b < n). */
  max_pool(x: number, out: number, arg: number, n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number, b0: number): void;
` : ""}${uses.has("kernelMaxPoolBackward") ? `  max_pool_backward(g: number, arg: number, dx: number, count: number): void;
` : ""}${uses.has("kernelMaxPoolReluBackward") ? `  /** b0: the first image (images b0 <= b < n). */
  max_pool_relu_backward(g: number, arg: number, pooled: number, dz: number, db: number, hasDb: number, n: number, h: number, w: number, c: number, ph: number, pw: number, oh: number, ow: number, b0: number): void;
  relu_pool_bias_grad(g: number, pooled: number, db: number, count: number, c: number): void;
` : ""}${uses.has("kernelAvgPool") ? `  avg_pool(x: number, out: number, n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
` : ""}${uses.has("kernelAvgPoolBackward") ? `  avg_pool_backward(g: number, dx: number, n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number): void;
` : ""}${CONV_NAMES.some((k) => uses.has(k)) ? `  conv_sparse_dw: KernelConvSparseCall;
  conv_sparse_dx: KernelConvSparseCall;
  count_nonzero(src: number, n: number, out: number): void;
  crop_copy(src: number, dst: number, n: number, h: number, w: number, c: number, hp: number, wp: number, top: number, left: number, accumulate: number): void;
  zero(dst: number, bytes: number): void;
  conv_fwd(spec: number, x: number, koff: number, w: number, out: number, m0: number, m1: number, n: number, k: number, oh: number, ow: number, imgBytes: number, rowBytes: number, colBytes: number, mode: number, bias: number): void;
  conv_dw(x: number, koff: number, dz: number, dw: number, images: number, k0: number, k1: number, n: number, oh: number, ow: number, imgBytes: number, rowBytes: number, colBytes: number): void;
  pad_copy(src: number, dst: number, n: number, h: number, w: number, c: number, hp: number, wp: number, top: number, left: number): void;
` : ""}${CHANNEL_NAMES.some((k) => uses.has(k)) ? `  channel_moments(x: number, rows: number, c: number, mean: number, sq: number): void;
  channel_normalize(x: number, mean: number, invStd: number, gamma: number, beta: number, xhat: number, out: number, rows: number, c: number): void;
  channel_normalize_backward(g: number, xhat: number, gamma: number, invStd: number, dgamma: number, dbeta: number, dx: number, rows: number, c: number, accumulate: number): void;
` : ""}${uses.has("kernelDropout") ? `  /** args: the byte address of [the stream's state (u32), the threshold (u32), the scale (f32)]. */
  dropout(x: number, out: number, mask: number, count: number, args: number): void;
` : ""}${sparse ? `  csr_rows(a: number, rows: number, cols: number, rs: number, cs: number, ptr: number, ent: number, r0: number, r1: number): void;
  sparse_rows(ptr: number, b: number, c: number, rows: number, kb: number, n: number, accumulate: number, panel: number, j0: number, j1: number): void;
` : ""}}

/** The gemm kernels, emitted by nnc as WebAssembly (${MR} x ${NR} register tile of f32x4 accumulators${shape.fma ? ", f32x4.relaxed_madd" : ""}). */
const GEMM_WASM_BASE64 = "${wasmBase64}";
${plainBase64 ? `/** The same kernels with f32x4.mul and f32x4.add, where relaxed SIMD is not available. */
const GEMM_WASM_PLAIN_BASE64 = "${plainBase64}";

/**
 * The kernel module, with fused multiply-add if this runtime compiles relaxed SIMD: standard in
 * V8 since 11.4 (Node 22); Node 20 has it behind a V8 flag, which must be set before the module is
 * compiled (it applies to the whole process, worker threads included). NNC_FMA=0 picks the
 * plain kernels (products then round as on a machine without FMA).
 */
async function compileKernelModule(): Promise<WebAssembly.Module> {
  if (process.env.NNC_FMA === "0") {
    kernelState.fma = false;
    return WebAssembly.compile(Buffer.from(GEMM_WASM_PLAIN_BASE64, "base64"));
  }
  const fma = Buffer.from(GEMM_WASM_BASE64, "base64");
  try {
    return await WebAssembly.compile(fma);
  } catch {
    try {
      const v8 = await import("node:v8");
      v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
      return await WebAssembly.compile(fma);
    } catch {
      kernelState.fma = false;
      return WebAssembly.compile(Buffer.from(GEMM_WASM_PLAIN_BASE64, "base64"));
    }
  }
}
` : ""}` : ""}${pool ? `
/** Per-thread scratch: packed panels of A and B, and one output tile for the edges. */
interface KernelScratch {
  ap: number;
  bp: number;
  tile: number;
}
` : ""}
const kernelState = {
  ${[
    simd ? "wasm: null as GemmKernelExports | null," : "",
    simd && pool ? "module: null as WebAssembly.Module | null," : "",
    simd ? `/** Whether the gemm kernel multiplies and adds in one relaxed-SIMD instruction. */
  fma: ${shape.fma ? "true" : "false"},` : "",
    pool ? `workers: [] as import("node:worker_threads").Worker[],
  scratch: [] as KernelScratch[],
  ctlAt: 0,
  ctl: new Int32Array(0),
  job: new Uint32Array(0),
  heap: new Float32Array(0),` : "",
    simd && pool ? `/** The scratch for a whole packed op(A) (kernelPackedA): its byte address and size. */
  packedAt: 0,
  packedBytes: 0,` : "",
    conv ? `/** Kernel and input gradients formed from dz's non-zero values alone (kernelConvSparse), counted. */
  sparseGradients: 0,` : "",
  ].filter(Boolean).join("\n  ")}
};
${simd && pool ? `for (let t = 0; t < KERNEL_THREADS; t++) {
  kernelState.scratch.push({
    ap: kernelAllocBytes(${mcPad} * GEMM_KC * 4),
    bp: kernelAllocBytes(${ncPad} * GEMM_KC * 4),
    tile: kernelAllocBytes(GEMM_MR * GEMM_NR * 4),
  });
}` : ""}${simd && !pool ? `
/** The gemm's scratch (byte addresses): packed panels of A and B, and one output tile for the edges. */
const kernelScratch = {
  ap: kernelAllocBytes(${mcPad} * GEMM_KC * 4),
  bp: kernelAllocBytes(${ncPad} * GEMM_KC * 4),
  tile: kernelAllocBytes(GEMM_MR * GEMM_NR * 4),
};` : ""}
${pool ? "kernelState.ctlAt = kernelAllocBytes(KERNEL_CTL_INTS * 4 + KERNEL_ERROR_BYTES);" : ""}
${simd && pool ? `
/**
 * The byte address of a scratch region of at least \`bytes\` for a packed op(A). It grows to the
 * largest product's size over the first training step, then is reused.
 */
function kernelPackedA(bytes: number): number {
  if (bytes > kernelState.packedBytes) {
    kernelState.packedAt = kernelAllocBytes(bytes);
    kernelState.packedBytes = bytes;
  }
  return kernelState.packedAt;
}
` : ""}${simd ? GEMM_FALLBACK : GEMM_TILE}${simd ? gemmRangeWasm(pool) : ""}${simd && pool ? GEMM_PACK_A_WASM : ""}${pool ? `
/**
 * Claims the next part of job gen (returns its index), or returns -1 when none is left or
 * the job is no longer the current one (the generation in NEXT changed).
 */
function kernelClaim(ctl: Int32Array, gen: number, parts: number): number {
  for (;;) {
    const cur = Atomics.load(ctl, KERNEL_CTL_NEXT);
    const part = cur & ((1 << KERNEL_PART_BITS) - 1);
    if (cur >>> KERNEL_PART_BITS !== gen || part >= parts) return -1;
    if (Atomics.compareExchange(ctl, KERNEL_CTL_NEXT, cur, cur + 1) === cur) return part;
  }
}

/**
 * Opens the job written in the control block to every thread and returns its generation. The job
 * is written before NEXT opens it (tagged with the generation): a part claimed with that tag is
 * always of this job, and a late worker still on the previous job claims nothing.
 */
function kernelOpenJob(parts: number): number {
  const ctl = kernelState.ctl;
  // (generations wrap within the 31 bits NEXT leaves them: a worker would have to sleep through
  // two million jobs to see an old one again)
  const gen = (Atomics.load(ctl, KERNEL_CTL_GEN) + 1) & ((1 << (31 - KERNEL_PART_BITS)) - 1);
  Atomics.store(ctl, KERNEL_CTL_PARTS, parts);
  Atomics.store(ctl, KERNEL_CTL_DONE, 0);
  Atomics.store(ctl, KERNEL_CTL_NEXT, gen << KERNEL_PART_BITS);
  Atomics.store(ctl, KERNEL_CTL_GEN, gen);
  Atomics.notify(ctl, KERNEL_CTL_GEN);
  return gen;
}

/**
 * Waits for the parts of the job the workers claimed, then throws the first error of a worker's
 * part (what: the job, for the message), else failure, this thread's own (null: none): every
 * part is over before anything is thrown, so that no part of a failed job runs on into the next.
 * It spins for about 2 ms before it sleeps: a part takes well under that,
 * and a thread woken from Atomics.wait starts late (spinning 20 µs, then sleeping, cost cnn and mlp
 * at two threads 4 to 7% of their samples a second, in ten alternating pairs).
 */
function kernelAwaitJob(failure: unknown, parts: number, what: string): void {
  const ctl = kernelState.ctl;
  let spins = 0;
  for (let done = Atomics.load(ctl, KERNEL_CTL_DONE); done < parts; done = Atomics.load(ctl, KERNEL_CTL_DONE)) {
    if (++spins > 200000) Atomics.wait(ctl, KERNEL_CTL_DONE, done, 1);
  }
  if (Atomics.load(ctl, KERNEL_CTL_FAILED) !== 0) {
    // the first failed part's error, which its worker wrote after the control block
    const at = kernelState.ctlAt + KERNEL_CTL_INTS * 4;
    const text = Buffer.from(new Uint8Array(kernelMemory.buffer, at + 4, new Int32Array(kernelMemory.buffer, at, 1)[0]!)).toString("utf8");
    Atomics.store(ctl, KERNEL_CTL_FAILED, 0);
    throw new Error(\`nnc kernels: a worker thread failed in \${what}: \${text.split("\\n")[0]}\`, { cause: text });
  }
  if (failure !== null) throw failure;
}

/** Source of the worker threads: the same kernel functions, and a loop waiting for jobs. */
function kernelWorkerSource(): string {
  return [
    ${JSON.stringify(constants)},
    ${simd ? "gemmRange.toString(), gemmPaddedRows.toString()," : "gemmTile.toString(),"}
    kernelClaim.toString(),${jobs ? "\n    kernelJobPart.toString()," : ""}
    ${JSON.stringify(workerMain)},
  ].join("\\n");
}
` : ""}
/** Compiles the WebAssembly kernels${pool ? " and starts the worker threads" : ""}. Call once, before training. */
async function initKernels(): Promise<void> {
  ${simd ? `if (kernelState.wasm === null) {
    const module = ${shape.fma ? "await compileKernelModule()" : `await WebAssembly.compile(Buffer.from(GEMM_WASM_BASE64, "base64"))`};${pool ? `
    kernelState.module = module;` : ""}
    const instance = await WebAssembly.instantiate(module, { env: { mem: kernelMemory } });
    kernelState.wasm = instance.exports as unknown as GemmKernelExports;
  }` : ""}
  ${pool ? `if (KERNEL_THREADS > 1 && kernelState.workers.length === 0) {
    const { Worker } = await import("node:worker_threads");
    kernelState.ctl = new Int32Array(kernelMemory.buffer, kernelState.ctlAt, KERNEL_CTL_INTS);
    kernelState.job = new Uint32Array(kernelMemory.buffer, kernelState.ctlAt, KERNEL_CTL_INTS);
    const source = kernelWorkerSource();
    for (let t = 1; t < KERNEL_THREADS; t++) {
      const worker = new Worker(source, {
        eval: true,
        workerData: { memory: kernelMemory, module: ${simd ? "kernelState.module" : "null"}, tid: t, scratch: kernelState.scratch[t], ctlAt: kernelState.ctlAt },
      });
      worker.unref(); // never keeps the process alive
      // A worker that dies outside a part (one that cannot start) leaves its share to the others
      // (every thread claims parts, the main one included): said once, not the process's end.
      worker.on("error", (err: unknown) => console.error(\`nnc kernels: worker thread \${t} stopped (\${err instanceof Error ? err.message : String(err)}); the other threads take its share\`));
      kernelState.workers.push(worker);
    }
  }` : ""}
}
${pool ? `
/** Stops the worker threads. */
function shutdownKernels(): void {
  if (kernelState.workers.length > 0) {
    Atomics.store(kernelState.ctl, KERNEL_CTL_STOP, 1);
    Atomics.add(kernelState.ctl, KERNEL_CTL_GEN, 1);
    Atomics.notify(kernelState.ctl, KERNEL_CTL_GEN);
    for (const worker of kernelState.workers) void worker.terminate();
    kernelState.workers = [];
  }
}
` : `
/** Releases the kernels' resources (nothing to release: they run on this thread). */
function shutdownKernels(): void {}
`}
/** Whether the array is a view of kernelMemory (allocF32) rather than an ordinary Float32Array. */
function kernelShared(x: Float32Array | Uint8Array | Int32Array): boolean {
  return x.buffer instanceof SharedArrayBuffer;
}

${pool ? `/** Runs C[i0..i1, j0..j1] of the product on this thread with thread t's scratch. */
function gemmPart(
  t: number,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: number,
  b: number,
  c: number,
  accumulate: boolean,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  pa: number,
): void {
  ${simd ? `const s = kernelState.scratch[t]!;
  gemmRange(kernelState.wasm!, s.ap, s.bp, s.tile, transA, transB, M, N, K, a, b, c, accumulate, i0, i1, j0, j1, pa);`
  : `void t;
  void pa;
  if (kernelState.heap.length * 4 < kernelMemory.buffer.byteLength) kernelState.heap = new Float32Array(kernelMemory.buffer);
  const heap = kernelState.heap;
  gemmTile(transA, transB, M, N, K, heap, a / 4, heap, b / 4, heap, c / 4, accumulate, i0, i1, j0, j1);`}
}
` : ""}
${uses.has("adamUpdate") ? ADAM_TS : ""}${uses.has("sgdUpdate") ? SGD_TS : ""}${uses.has("kernelIm2col") ? IM2COL_TS : ""}${uses.has("kernelCol2im") ? COL2IM_TS : ""}${simd && (uses.has("adamUpdate") || uses.has("sgdUpdate") || uses.has("kernelPiecewiseLinear") || uses.has("kernelPiecewiseLinearBackward") || uses.has("kernelDropout")) ? `
/**
 * The float arguments of the WebAssembly adam, sgd, piecewise_linear and dropout, passed through memory: a call from
 * JavaScript boxes every non-integer number it passes, and the training step allocates nothing.
 */
const kernelFloatArgs = allocF32(6);
` : ""}
${uses.has("sgdUpdate") ? `/** Plain SGD over one parameter, in place: value -= lr * grad${simd ? "; WebAssembly SIMD on allocF32 buffers" : ""}. */
function sgdUpdate(value: Float32Array, grad: Float32Array, lr: number): void {
  ${simd ? `const wasm = kernelState.wasm;
  if (wasm !== null && kernelShared(value) && kernelShared(grad)) {
    kernelFloatArgs[0] = lr;
    wasm.sgd(value.byteOffset, grad.byteOffset, value.length, kernelFloatArgs.byteOffset);
    return;
  }` : ""}
  sgdUpdateTs(value, grad, lr);
}

` : ""}${uses.has("kernelIm2col") ? `/** im2col over an NHWC batch (see kernelIm2colTs)${simd ? "; WebAssembly SIMD on allocF32 buffers" : ""}. */
function kernelIm2col(
  x: Float32Array,
  cols: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
  padTop: number,
  padLeft: number,
): void {
  ${simd ? `const wasm = kernelState.wasm;
  if (wasm !== null && kernelShared(x) && kernelShared(cols)) {
    wasm.im2col(x.byteOffset, cols.byteOffset, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft);
    return;
  }` : ""}
  kernelIm2colTs(x, cols, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft);
}

` : ""}${uses.has("kernelCol2im") ? `/** col2im, the adjoint of im2col: adds each row of cols back onto its window of dx${simd ? "; WebAssembly SIMD on allocF32 buffers" : ""}. */
function kernelCol2im(
  cols: Float32Array,
  dx: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
  padTop: number,
  padLeft: number,
): void {
  ${simd ? `const wasm = kernelState.wasm;
  if (wasm !== null && kernelShared(dx) && kernelShared(cols)) {
    wasm.col2im(dx.byteOffset, cols.byteOffset, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft);
    return;
  }` : ""}
  kernelCol2imTs(cols, dx, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft);
}

` : ""}${ELEMENTWISE_NAMES.filter((k) => uses.has(k)).map((k) => ELEMENTWISE_TS[k]).join("")}${POOL_NAMES.filter((k) => uses.has(k)).map((k) => POOL_TS[k]).join("")}${poolWrappers(simd, maxPoolJobs || maxPoolReluJobs, uses)}${simd && pool && jobs ? jobKernels(conv, sparse, adamJobs, maxPoolJobs, maxPoolReluJobs, convCopyJobs) : ""}${convKernels(simd, convCopyJobs, uses, opts.convShapes)}${sparseKernel(simd, pool, uses)}${dropoutKernel(simd, uses)}${channelKernels(simd, uses)}${elementwiseWrappers(simd, uses)}${uses.has("adamUpdate") ? `/**
 * One Adam step over a parameter, in place: m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g*g;
 * value -= lrT * m / (sqrt(v) + epsilon).${simd ? " Runs as WebAssembly SIMD on allocF32 buffers." : ""}
 */
function adamUpdate(
  value: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  lrT: number,
  beta1: number,
  beta2: number,
  epsilon: number,
): void {
  ${simd ? `const wasm = kernelState.wasm;
  if (wasm !== null && kernelShared(value) && kernelShared(grad) && kernelShared(m) && kernelShared(v)) {
    const args = kernelFloatArgs;
    args[0] = lrT;
    args[1] = beta1;
    args[2] = 1 - beta1;
    args[3] = beta2;
    args[4] = 1 - beta2;
    args[5] = epsilon;
    ${adamJobs ? "kernelAdam(wasm, value, grad, m, v);" : "wasm.adam(value.byteOffset, grad.byteOffset, m.byteOffset, v.byteOffset, value.length, args.byteOffset);"}
    return;
  }` : ""}
  adamUpdateTs(value, grad, m, v, lrT, beta1, beta2, epsilon);
}
${adamJobs ? `
/**
 * The WebAssembly adam, its float arguments already in kernelFloatArgs; a large parameter split
 * across the threads in parts of whole runs of 1,024 values. A function of its own, which takes no
 * float, so that adamUpdate stays as small as it is with one thread (V8 inlines it, and its float
 * arguments are never boxed: test/standalone/no-allocation.test.ts).
 */
function kernelAdam(wasm: GemmKernelExports, value: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array): void {
  if (kernelState.workers.length === 0 || value.length < KERNEL_PARALLEL_MIN_VALUES) {
    wasm.adam(value.byteOffset, grad.byteOffset, m.byteOffset, v.byteOffset, value.length, kernelFloatArgs.byteOffset);
    return;
  }
  kernelJobArgs(value.byteOffset, grad.byteOffset, m.byteOffset, v.byteOffset, kernelFloatArgs.byteOffset);
  kernelSplitJob(wasm, 4, value.length, 1024, value.length * KERNEL_ADAM_FLOPS);
}
` : ""}
` : ""}/**
 * Matrix multiply, row-major: C[M x N] = op(A)[M x K] * op(B)[K x N] (or C += ... when
 * accumulate). op(A) = A, stored [M x K], or, when transA, A stored [K x M] and transposed;
 * likewise op(B) = B stored [K x N] or, when transB, B stored [N x K].
 */
function gemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  accumulate: boolean,
): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) C.fill(0, 0, M * N);
    return;
  }
  if (${simd ? "kernelState.wasm === null || " : ""}!kernelShared(A) || !kernelShared(B) || !kernelShared(C)) {
    // Before initKernels, or arrays not from allocF32: the plain TypeScript path.
    gemmTile(transA, transB, M, N, K, A, 0, B, 0, C, 0, accumulate, 0, M, 0, N);
    return;
  }
  const a = A.byteOffset, b = B.byteOffset, c = C.byteOffset;${pool ? "" : `
  const { ap, bp, tile } = kernelScratch;
  gemmRange(kernelState.wasm!, ap, bp, tile, transA, transB, M, N, K, a, b, c, accumulate, 0, M, 0, N);
}
`}${pool ? `
  const T = kernelState.workers.length + 1;
  if (T === 1 || 2 * M * N * K < GEMM_PARALLEL_MIN_FLOPS) {
    gemmPart(0, transA, transB, M, N, K, a, b, c, accumulate, 0, M, 0, N, 0);
    return;
  }
  // Split C into parts, by columns in multiples of GEMM_NR or by rows in multiples of GEMM_MR.
  // Every thread, this one included, claims parts until none is left, so a worker that the OS has
  // not scheduled yet never holds up the product.
  const job = kernelState.job, ctl = kernelState.ctl;
  // As many parts as the work allows, each of at least GEMM_PART_MIN_FLOPS (every part packs
  // its own panels: a fixed cost), up to 8 per thread: the thread that finishes first then waits
  // at most for one small part, where two large parts per thread left it idle for a quarter of
  // the product whenever a worker started late.
  const wanted = Math.max(T, Math.min(KERNEL_MAX_PARTS, Math.floor((2 * M * N * K) / GEMM_PART_MIN_FLOPS)));
  // By columns where there are enough, unless rows split more evenly (50 columns in 2 parts of
  // whole 8-column panels are 32 + 18; 100 rows are 52 + 48). Never the other way: a column
  // split packs op(A) once on this thread before the parts start (below), a row split packs in
  // parallel, each part its own panels.
  const byColumns =
    (N >= T * GEMM_NR * 2 || N >= M) && gemmEvenness(Math.ceil(M / GEMM_MR), wanted) <= gemmEvenness(Math.ceil(N / GEMM_NR), wanted) + 0.05;
  const extent = byColumns ? N : M;
  const unit = byColumns ? GEMM_NR : GEMM_MR;
  const parts = Math.max(1, Math.min(wanted, Math.ceil(extent / unit)));
  const per = Math.ceil(extent / unit / parts) * unit;
  ${simd ? `// Parts that split the columns all read the whole of op(A): pack it once, here, rather than
  // once per part.
  let pa = 0;
  if (byColumns && parts > 1 && gemmPacksA(transA, N)) {
    pa = kernelPackedA(gemmPaddedRows(M) * K * 4);
    gemmPackA(kernelState.wasm!, transA, M, K, a, pa);
  }` : "const pa = 0;"}
  const J = KERNEL_CTL_JOB;
  job[J] = transA ? 1 : 0;
  job[J + 1] = transB ? 1 : 0;
  job[J + 2] = M;
  job[J + 3] = N;
  job[J + 4] = K;
  job[J + 5] = a;
  job[J + 6] = b;
  job[J + 7] = c;
  job[J + 8] = accumulate ? 1 : 0;
  job[J + 9] = pa;${jobs ? `
  job[KERNEL_CTL_KIND] = 0;` : ""}
  for (let t = 0; t < parts; t++) {
    const lo = Math.min(extent, t * per), hi = Math.min(extent, (t + 1) * per);
    const R = KERNEL_CTL_RANGES + 4 * t;
    job[R] = byColumns ? 0 : lo;
    job[R + 1] = byColumns ? M : hi;
    job[R + 2] = byColumns ? lo : 0;
    job[R + 3] = byColumns ? hi : N;
  }
  const gen = kernelOpenJob(parts);
  // (a part that throws is counted all the same, and the error thrown once every part is done)
  let failure: unknown = null;
  for (;;) {
    const part = kernelClaim(ctl, gen, parts);
    if (part < 0) break;
    const R = KERNEL_CTL_RANGES + 4 * part;
    try {
      gemmPart(0, transA, transB, M, N, K, a, b, c, accumulate, job[R], job[R + 1], job[R + 2], job[R + 3], pa);
    } catch (err) {
      failure ??= err;
    }
    Atomics.add(ctl, KERNEL_CTL_DONE, 1);
  }
  kernelAwaitJob(failure, parts, "a matrix product");
}
` : ""}`;
}
