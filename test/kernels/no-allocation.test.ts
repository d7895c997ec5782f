// The kernels allocate nothing per call: a training step that uses them can run without
// garbage (issue 5: "no allocation in the steady-state training step").
import { describe, expect, it } from "vitest";
import { loadKernels } from "./load.js";

for (const cfg of [
  { mode: "ts", threads: 1 },
  { mode: "ts", threads: 2 },
  { mode: "simd", threads: 1 },
  { mode: "simd", threads: 2 },
] as const) {
  describe(`kernels ${cfg.mode} threads=${cfg.threads}`, () => {
    it("gemm and adamUpdate allocate nothing in steady state", async () => {
      const k = await loadKernels({ ...cfg, parallelMinFlops: 1 });
      const [M, N, K] = [32, 24, 40];
      const A = k.allocF32(M * K), B = k.allocF32(K * N), C = k.allocF32(M * N);
      const w = k.allocF32(1000), g = k.allocF32(1000), m = k.allocF32(1000), v = k.allocF32(1000);
      A.fill(0.5);
      B.fill(0.25);
      g.fill(0.1);
      const run = (times: number) => {
        for (let i = 0; i < times; i++) {
          k.gemm(false, false, M, N, K, A, B, C, false);
          k.gemm(true, false, K, N, M, A, C, B, false);
          k.gemm(false, true, M, K, N, C, B, A, true);
          k.adamUpdate(w, g, m, v, 1e-3, 0.9, 0.999, 1e-7);
        }
      };
      run(300); // warm up: tier-up compiles code (which does allocate)
      // Heap growth over many calls, without a collection in between: an allocation of even a
      // few bytes per call (a boxed number, an array, a closure) would add up to far more.
      let least = Infinity;
      for (let attempt = 0; attempt < 3; attempt++) {
        const before = process.memoryUsage().heapUsed;
        run(2000);
        const after = process.memoryUsage().heapUsed;
        least = Math.min(least, after - before);
      }
      k.shutdownKernels();
      // 8000 calls; 64 KiB is under 9 bytes a call.
      expect(least).toBeLessThan(64 * 1024);
    });
  });
}
