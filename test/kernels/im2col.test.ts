import { describe, expect, it } from "vitest";
import { loadKernels } from "./load.js";

// The straightforward definitions, as the reference.
function refIm2col(x: Float32Array, n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, pt: number, pl: number): Float32Array {
  const cols = new Float32Array(n * oh * ow * kh * kw * c);
  let p = 0;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++)
            for (let ch = 0; ch < c; ch++) {
              const y = oy * sh - pt + ky, xx = ox * sw - pl + kx;
              cols[p++] = y >= 0 && y < h && xx >= 0 && xx < w ? x[((b * h + y) * w + xx) * c + ch]! : 0;
            }
  return cols;
}

const CASES = [
  // n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft
  [2, 28, 28, 1, 5, 5, 1, 1, 28, 28, 2, 2], // cnn conv1, same
  [2, 14, 14, 8, 5, 5, 1, 1, 14, 14, 2, 2], // cnn conv2, same
  [1, 7, 9, 3, 3, 3, 2, 2, 3, 4, 0, 0], // valid, stride 2
  [3, 5, 6, 5, 3, 2, 1, 2, 5, 3, 1, 0], // odd channels, asymmetric
  [1, 4, 4, 4, 5, 5, 1, 1, 4, 4, 2, 2], // kernel larger than the image
];

for (const cfg of [
  { mode: "ts", threads: 1 },
  { mode: "simd", threads: 1 },
] as const) {
  describe(`kernelIm2col / kernelCol2im ${cfg.mode}`, () => {
    for (const cs of CASES) {
      it(`${cs.join(",")}`, async () => {
        const k = await loadKernels(cfg);
        const [n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl] = cs as [number, number, number, number, number, number, number, number, number, number, number, number];
        const x = k.allocF32(n * h * w * c);
        for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) + 0.01 * i;
        const rows = n * oh * ow, patch = kh * kw * c;
        const cols = k.allocF32(rows * patch + 3).subarray(3);
        cols.fill(7); // garbage that must be overwritten
        k.kernelIm2col(x, cols, n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl);
        expect(Array.from(cols)).toEqual(Array.from(refIm2col(x, n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl)));
        // col2im is the adjoint: <im2col(x), g> == <x, col2im(g)>, and it adds onto dx.
        const g = k.allocF32(rows * patch);
        for (let i = 0; i < g.length; i++) g[i] = Math.cos(i * 0.11);
        const dx = k.allocF32(x.length);
        dx.fill(0.5);
        k.kernelCol2im(g, dx, n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl);
        const want = new Float64Array(x.length).fill(0.5);
        const ref = refIm2col(Float32Array.from({ length: x.length }, (_, i) => i), n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl);
        // ref holds, per patch entry, the index of x it came from (or 0 for padding: recompute validity).
        let p = 0;
        for (let b = 0; b < n; b++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++)
              for (let ky = 0; ky < kh; ky++)
                for (let kx = 0; kx < kw; kx++)
                  for (let ch = 0; ch < c; ch++, p++) {
                    const y = oy * sh - pt + ky, xx = ox * sw - pl + kx;
                    if (y >= 0 && y < h && xx >= 0 && xx < w) want[ref[p]!] += g[p]!;
                  }
        for (let i = 0; i < x.length; i++) expect(Math.abs(dx[i]! - want[i]!)).toBeLessThan(1e-4);
        k.shutdownKernels();
      });
    }
  });
}
