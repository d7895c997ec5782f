// Compute kernels of the standalone engine (owner: kernels / issue 5).
//
// emitKernelRuntime(opts) returns TypeScript SOURCE TEXT that the standalone generator pastes
// into the generated program. Once there, it defines (module-local, not exported):
//
//   allocF32(n: number): Float32Array
//       Every float buffer of the program (weights, grads, activations, optimizer state) is
//       allocated through it, once, at setup. In "simd" mode (and "ts" with threads > 1) the
//       buffers are carved out of one shared WebAssembly.Memory, 16-byte aligned.
//   gemm(transA, transB, M, N, K, A, B, C, accumulate): void
//       Row-major C[MxN] = (or += when accumulate) op(A)[MxK] · op(B)[KxN], where op(X) is X or
//       its transpose (transA: A is stored [K x M]; transB: B is stored [N x K]). A, B, C may be
//       subarray views of allocF32 buffers. C must not overlap A or B.
//   async function initKernels(): Promise<void>   compile wasm, start workers (call once)
//   function shutdownKernels(): void              stop workers (call once at the end)
//
// Further kernels are documented below as they are added.

export type KernelMode = "ts" | "simd";

export interface KernelRuntimeOptions {
  mode: KernelMode;
  threads: number;
}

export function emitKernelRuntime(opts: KernelRuntimeOptions): string {
  void opts;
  return TS_SINGLE_THREAD;
}

const TS_SINGLE_THREAD = `
// ---------------------------------------------------------------------------------------------
// Kernels: plain TypeScript, one thread.
// ---------------------------------------------------------------------------------------------

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
  if (!accumulate) C.fill(0, 0, M * N);
  if (!transB) {
    // C[i, :] += op(A)[i, k] * B[k, :]: the inner loop runs along contiguous rows of B and C.
    for (let i = 0; i < M; i++) {
      const ci = i * N;
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * M + i] : A[i * K + k];
        if (a === 0) continue;
        const bk = k * N;
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
      }
    }
  } else {
    // C[i, j] += dot(op(A)[i, :], B[j, :]): rows of the stored B are contiguous.
    for (let i = 0; i < M; i++) {
      const ci = i * N;
      for (let j = 0; j < N; j++) {
        const bj = j * K;
        let sum = 0;
        if (transA) for (let k = 0; k < K; k++) sum += A[k * M + i] * B[bj + k];
        else for (let k = 0; k < K; k++) sum += A[i * K + k] * B[bj + k];
        C[ci + j] += sum;
      }
    }
  }
}

/** Prepares the kernels (nothing to do for plain TypeScript on one thread). */
async function initKernels(): Promise<void> {}

/** Releases the kernels' resources (nothing to release here). */
function shutdownKernels(): void {}
`;
