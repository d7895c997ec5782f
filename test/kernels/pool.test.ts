// The pooling kernels: the TypeScript loops against the straightforward definitions, and the
// WebAssembly ones (simd) against the TypeScript loops, bit for bit (values, argmax indices,
// gradients), on the seed CNN's shapes, padded windows, overlapping windows and channel counts
// that are not a multiple of 4 (the vector loops' tails).
import { describe, expect, it } from "vitest";
import { loadKernels, type KernelRuntime } from "./load.js";

type Geo = [n: number, h: number, w: number, c: number, ph: number, pw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number];

const CASES: Geo[] = [
  [3, 28, 28, 8, 2, 2, 2, 2, 14, 14, 0, 0], // cnn max_pool_1
  [3, 14, 14, 16, 2, 2, 2, 2, 7, 7, 0, 0], // cnn max_pool_2
  [2, 7, 7, 5, 2, 2, 2, 2, 4, 4, 0, 0], // same padding on an odd size (pad 0/0, windows cut at the edge), odd channels
  [2, 6, 5, 6, 3, 3, 1, 1, 6, 5, 1, 1], // same, stride 1: padded, overlapping windows
  [1, 9, 8, 3, 3, 2, 2, 3, 4, 3, 0, 0], // valid, asymmetric
  [2, 5, 5, 1, 5, 5, 1, 1, 5, 5, 2, 2], // window as large as the image, one channel
  [1, 4, 6, 7, 2, 3, 1, 2, 3, 3, 0, 0], // overlapping rows, 7 channels
  [2, 8, 6, 4, 2, 2, 2, 2, 4, 3, 0, 0], // 2x2 side by side, 4 channels (the fixed-offset loops)
  [1, 9, 7, 12, 2, 2, 2, 2, 4, 3, 0, 0], // valid 2x2 on odd sizes: the last row and column unused
  [2, 6, 6, 5, 2, 2, 2, 2, 3, 3, 0, 0], // 2x2 side by side, 5 channels (the general loops)
];

/** Inputs with ties (values on a coarse grid), negatives, and both signs of zero. */
function fill(x: Float32Array, seed: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const r = s / 4294967296;
    x[i] = r < 0.05 ? -0 : r < 0.1 ? 0 : Math.round((r - 0.5) * 16) / 4 + (i % 7) * 1e-3 * (r < 0.5 ? 1 : 0);
  }
}

function window(g: Geo, oy: number, ox: number): { ys: number[]; xs: number[] } {
  const [, h, w, , ph, pw, sh, sw, , , pt, pl] = g;
  const ys: number[] = [], xs: number[] = [];
  for (let y = oy * sh - pt; y < oy * sh - pt + ph; y++) if (y >= 0 && y < h) ys.push(y);
  for (let x = ox * sw - pl; x < ox * sw - pl + pw; x++) if (x >= 0 && x < w) xs.push(x);
  return { ys, xs };
}

/** The definitions: max (first on ties, in window order) with its index, mean, and their adjoints. */
function reference(g: Geo, x: Float32Array, dOut: Float32Array) {
  const [n, h, w, c, , , , , oh, ow] = g;
  const size = n * oh * ow * c;
  const max = new Float32Array(size), arg = new Int32Array(size), avg = new Float32Array(size);
  const dxMax = new Float32Array(x.length), dxAvg = new Float32Array(x.length);
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++, o += c) {
        const { ys, xs } = window(g, oy, ox);
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity, at = -1, sum = 0;
          for (const y of ys)
            for (const xx of xs) {
              const i = ((b * h + y) * w + xx) * c + ch;
              if (at < 0 || x[i]! > best) {
                best = x[i]!;
                at = i;
              }
              sum += x[i]!;
            }
          max[o + ch] = best;
          arg[o + ch] = at;
          avg[o + ch] = sum / (ys.length * xs.length);
          dxMax[at] += dOut[o + ch]!;
          for (const y of ys) for (const xx of xs) dxAvg[((b * h + y) * w + xx) * c + ch] += dOut[o + ch]! / (ys.length * xs.length);
        }
      }
  return { max, arg, avg, dxMax, dxAvg };
}

/** Runs the four kernels on buffers of the runtime k (garbage in the outputs first; dx starts at 0.25). */
function run(k: KernelRuntime, g: Geo, x0: Float32Array, d0: Float32Array) {
  const [n, h, w, c, , , , , oh, ow] = g;
  const size = n * oh * ow * c;
  const x = k.allocF32(x0.length);
  x.set(x0);
  const dOut = k.allocF32(size);
  dOut.set(d0);
  const max = k.allocF32(size).fill(7), avg = k.allocF32(size).fill(7);
  const arg = k.allocI32(size).fill(-5);
  const dxMax = k.allocF32(n * h * w * c).fill(0.25), dxAvg = k.allocF32(n * h * w * c).fill(0.25);
  k.kernelMaxPool(x, max, arg, ...g);
  k.kernelMaxPoolBackward(dOut, arg, dxMax, size);
  k.kernelAvgPool(x, avg, ...g);
  k.kernelAvgPoolBackward(dOut, dxAvg, ...g);
  return { max, arg, avg, dxMax, dxAvg };
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("pooling kernels", () => {
  for (const g of CASES) {
    it(`${g.join(",")}: ts matches the definitions, simd matches ts bit for bit`, async () => {
      const [n, h, w, c, , , , , oh, ow] = g;
      const x = new Float32Array(n * h * w * c);
      fill(x, 17 + c);
      const dOut = new Float32Array(n * oh * ow * c);
      for (let i = 0; i < dOut.length; i++) dOut[i] = Math.sin(i * 0.7) * 3 + 0.1;
      const ref = reference(g, x, dOut);

      const ts = await loadKernels({ mode: "ts", threads: 1 });
      const t = run(ts, g, x, dOut);
      expect(Array.from(t.max)).toEqual(Array.from(ref.max));
      expect(Array.from(t.arg)).toEqual(Array.from(ref.arg));
      expect(Array.from(t.avg)).toEqual(Array.from(ref.avg));
      for (let i = 0; i < x.length; i++) {
        expect(Math.abs(t.dxMax[i]! - (0.25 + ref.dxMax[i]!))).toBeLessThan(1e-5);
        expect(Math.abs(t.dxAvg[i]! - (0.25 + ref.dxAvg[i]!))).toBeLessThan(1e-5);
      }
      ts.shutdownKernels();

      const simd = await loadKernels({ mode: "simd", threads: 1 });
      const s = run(simd, g, x, dOut);
      expect(bits(s.max)).toEqual(bits(t.max));
      expect(Array.from(s.arg)).toEqual(Array.from(t.arg));
      expect(bits(s.avg)).toEqual(bits(t.avg));
      expect(bits(s.dxMax)).toEqual(bits(t.dxMax));
      expect(bits(s.dxAvg)).toEqual(bits(t.dxAvg));
      simd.shutdownKernels();
    });
  }

  // Windows side by side that cover the image, over a relu layer's output: kernelMaxPoolReluBackward
  // writes that layer's dz whole (relu's gradient of max pooling's) and its column sums.
  const COVERING: Geo[] = [
    [3, 28, 28, 8, 2, 2, 2, 2, 14, 14, 0, 0], // cnn max_pool_1
    [3, 14, 14, 16, 2, 2, 2, 2, 7, 7, 0, 0], // cnn max_pool_2
    [2, 6, 9, 12, 3, 3, 3, 3, 2, 3, 0, 0], // 3x3 windows, 12 channels
    [2, 4, 6, 4, 1, 2, 1, 2, 4, 3, 0, 0], // 1x2 windows, 4 channels
  ];
  for (const g of COVERING) {
    for (const withBias of [true, false]) {
      it(`max pooling into relu's gradient, ${g.join(",")}${withBias ? "" : ", no bias"}: ts is relu's gradient of the definition, simd matches ts bit for bit`, async () => {
        const [n, h, w, c, , , , , oh, ow] = g;
        // a relu layer's output: z (mostly below 0, so that relu stops some windows) with its negatives at 0
        const z = new Float32Array(n * h * w * c);
        fill(z, 5 + c);
        for (let i = 0; i < z.length; i++) z[i] -= 1;
        const x = z.map((v) => (v > 0 ? v : 0));
        const dOut = new Float32Array(n * oh * ow * c);
        for (let i = 0; i < dOut.length; i++) dOut[i] = Math.sin(i * 0.7) * 3 + 0.1;
        const ref = reference(g, x, dOut);
        const dz = ref.dxMax.map((v, i) => (z[i]! > 0 ? v : 0));
        const db = new Float64Array(c);
        for (let i = 0; i < dz.length; i++) db[i % c] += dz[i]!;
        expect(dz.some((v) => v !== 0) && dz.some((v, i) => v === 0 && ref.dxMax[i] !== 0)).toBe(true);
        const results: { dz: Float32Array; db: Float32Array }[] = [];
        for (const mode of ["ts", "simd"] as const) {
          const k = await loadKernels({ mode, threads: 1 });
          const xs = k.allocF32(x.length);
          xs.set(x);
          const pooled = k.allocF32(dOut.length), arg = k.allocI32(dOut.length), gs = k.allocF32(dOut.length);
          gs.set(dOut);
          k.kernelMaxPool(xs, pooled, arg, ...g);
          const out = { dz: k.allocF32(x.length).fill(7), db: k.allocF32(c).fill(7) };
          k.kernelMaxPoolReluBackward(gs, arg, pooled, out.dz, withBias ? out.db : null, n, h, w, c, g[4], g[5], oh, ow);
          results.push({ dz: out.dz.slice(), db: out.db.slice() });
          k.shutdownKernels();
        }
        const [t, s] = results as [(typeof results)[0], (typeof results)[0]];
        expect(Array.from(t.dz)).toEqual(Array.from(dz));
        if (withBias) for (let j = 0; j < c; j++) expect(Math.abs(t.db[j]! - db[j]!)).toBeLessThan(1e-4);
        else expect(Array.from(t.db)).toEqual(new Array(c).fill(7));
        expect(bits(s.dz)).toEqual(bits(t.dz));
        expect(bits(s.db)).toEqual(bits(t.db));
      });
    }
  }

  // Batches of at least KERNEL_PARALLEL_MIN_VALUES (64Ki) input values split across the threads by
  // images (max_pool; max_pool_relu_backward's dz, then its db on its own): 3 threads give the
  // TypeScript loop's floats and indices, bit for bit.
  for (const [g, covering] of [
    [[12, 28, 28, 8, 2, 2, 2, 2, 14, 14, 0, 0], true], // cnn max_pool_1, 12 images
    [[10, 12, 18, 36, 3, 3, 3, 3, 4, 6, 0, 0], true], // 3x3 windows, 36 channels
    [[8, 28, 28, 12, 3, 3, 2, 2, 14, 14, 1, 1], false], // padded, overlapping windows (max_pool's general loops)
  ] as [Geo, boolean][]) {
    it(`${g.join(",")}, split across 3 threads: the TypeScript loop's values, indices${covering ? " and relu's gradient" : ""}`, async () => {
      const [n, h, w, c, ph, pw, , , oh, ow] = g;
      expect(n * h * w * c).toBeGreaterThanOrEqual(65536);
      const results: { pooled: Float32Array; arg: Int32Array; dz: Float32Array; db: Float32Array }[] = [];
      for (const [mode, threads] of [["ts", 1], ["simd", 3]] as const) {
        const k = await loadKernels({ mode, threads });
        try {
          const x = k.allocF32(n * h * w * c);
          fill(x, 3 + c);
          for (let i = 0; i < x.length; i++) x[i] = Math.max(0, x[i]! - 1);
          const pooled = k.allocF32(n * oh * ow * c), arg = k.allocI32(n * oh * ow * c), gs = k.allocF32(n * oh * ow * c);
          for (let i = 0; i < gs.length; i++) gs[i] = Math.sin(i * 0.7) * 3 + 0.1;
          k.kernelMaxPool(x, pooled, arg, ...g);
          const dz = k.allocF32(x.length).fill(7), db = k.allocF32(c).fill(7);
          if (covering) k.kernelMaxPoolReluBackward(gs, arg, pooled, dz, db, n, h, w, c, ph, pw, oh, ow);
          results.push({ pooled: pooled.slice(), arg: arg.slice(), dz: dz.slice(), db: db.slice() });
        } finally {
          k.shutdownKernels();
        }
      }
      const [t, s] = results as [(typeof results)[0], (typeof results)[0]];
      expect(bits(s.pooled)).toEqual(bits(t.pooled));
      expect(Array.from(s.arg)).toEqual(Array.from(t.arg));
      expect(bits(s.dz)).toEqual(bits(t.dz));
      expect(bits(s.db)).toEqual(bits(t.db));
      if (covering) expect(t.db.some((v) => v !== 7 && v !== 0)).toBe(true);
    });
  }

  it("a NaN is never a window's maximum unless it comes first (as in the TypeScript loop), in both modes", async () => {
    const g: Geo = [1, 2, 2, 4, 2, 2, 2, 2, 1, 1, 0, 0];
    const x = Float32Array.from([NaN, 1, 2, 3, 5, NaN, 0, 1, -1, 4, NaN, 9, 0, 0, 0, NaN]);
    const dOut = Float32Array.from([1, 2, 3, 4]);
    for (const mode of ["ts", "simd"] as const) {
      const k = await loadKernels({ mode, threads: 1 });
      const r = run(k, g, x, dOut);
      // channel 0 starts at NaN (position 0) and stays; the others skip their NaN
      expect(Number.isNaN(r.max[0]!)).toBe(true);
      expect(Array.from(r.max.subarray(1))).toEqual([4, 2, 9]);
      expect(Array.from(r.arg)).toEqual([0, 9, 2, 11]);
      k.shutdownKernels();
    }
  });
});
