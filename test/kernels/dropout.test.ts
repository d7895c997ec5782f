// kernelDropout: the dropout mask drawn from the program's seeded stream. In simd mode WebAssembly
// draws four at a time from the stream's state (mulberry32 is a counter); the masks, the outputs
// and where the stream ends must be exactly those of the one-by-one loop (Random.next()).
import { describe, expect, it } from "vitest";
import { Random } from "../../src/runtime/random.js";
import { loadKernels } from "./load.js";

const CASES: [count: number, rate: number][] = [
  [1, 0.2],
  [3, 0.5],
  [4, 0.25],
  [7, 0.2],
  [128 * 512, 0.2],
  [64 * 1024 + 3, 0.5],
  [1000, 0],
  [1000, 0.999],
  [33, 1 / 3],
];

describe("kernelDropout", () => {
  for (const threads of [1, 2]) {
    it(`simd/${threads}t: the same masks, outputs and stream as the loop over Random.next()`, async () => {
      const k = await loadKernels({ mode: "simd", threads, uses: new Set(["kernelDropout"]) });
      try {
        for (const [count, rate] of CASES) {
          const scale = 1 / (1 - rate);
          const x = k.allocF32(count);
          for (let i = 0; i < count; i++) x[i] = Math.sin(i * 0.37) * (i % 5 === 0 ? -1 : 3);
          const out = k.allocF32(count).fill(9);
          const mask = k.allocF32(count).fill(9);
          const rng = new Random(1234 + count);
          rng.next(); // a stream already in use
          k.kernelDropout(x, out, mask, count, rate, scale, rng);

          const ref = new Random(1234 + count);
          ref.next();
          const wantMask = new Float32Array(count);
          const wantOut = new Float32Array(count);
          for (let i = 0; i < count; i++) {
            wantMask[i] = ref.next() < rate ? 0 : scale;
            wantOut[i] = x[i]! * wantMask[i]!;
          }
          const label = `${count} values at rate ${rate}`;
          expect(Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength).equals(Buffer.from(wantMask.buffer)), `${label}: mask`).toBe(true);
          expect(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(Buffer.from(wantOut.buffer)), `${label}: out`).toBe(true);
          expect(rng.getState(), `${label}: the stream continues where the loop's does`).toEqual(ref.getState());
          if (rate > 0 && rate < 0.99 && count > 100) {
            const dropped = wantMask.filter((v) => v === 0).length / count;
            expect(Math.abs(dropped - rate), `${label}: the share dropped`).toBeLessThan(0.05);
          }
        }
      } finally {
        k.shutdownKernels();
      }
    });
  }
});
