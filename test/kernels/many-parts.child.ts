// Run by gemm.test.ts in a child process (a job whose parts are never all claimed would spin the
// main thread forever, past any test timeout): a product in 264 parts on 33 threads, checked
// against the naive loops; prints "ok" or the worst error.
import { loadKernels, naiveGemm } from "./load.js";

const k = await loadKernels({ mode: "simd", threads: 33, parallelMinFlops: 1, partMinFlops: 1 });
const [M, N, K] = [1200, 8, 16];
const A = k.allocF32(M * K), B = k.allocF32(K * N), C = k.allocF32(M * N);
for (let i = 0; i < A.length; i++) A[i] = Math.sin(i * 0.37 + 3);
for (let i = 0; i < B.length; i++) B[i] = Math.cos(i * 0.53 + 5);
k.gemm(false, false, M, N, K, A, B, C, false);
const want = new Float64Array(M * N);
naiveGemm(false, false, M, N, K, A, B, want, false);
let worst = 0;
for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(C[i]! - want[i]!));
k.shutdownKernels();
console.log(worst < 1e-4 ? "ok" : `worst error ${worst}`);
