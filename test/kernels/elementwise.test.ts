// The elementwise kernels around a dense or conv layer's product (bias, relu, their gradients):
// every mode gives exactly what the plain loops give, including NaN (relu of NaN is 0 in both),
// on widths that are and are not a multiple of 4 (the WebAssembly path takes four at a time).
import { describe, expect, it } from "vitest";
import { KERNEL_MODES, loadKernels } from "./load.js";

function data(k: { allocF32(n: number): Float32Array }, n: number, seed: number): Float32Array {
  const x = k.allocF32(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.7 + seed) * 2;
  x[3] = NaN;
  x[5] = -0;
  return x;
}

for (const cfg of KERNEL_MODES) {
  describe(`elementwise kernels ${cfg.mode} threads=${cfg.threads}`, () => {
    for (const [rows, cols] of [
      [7, 8],
      [5, 16],
      [3, 512],
      [4, 50],
      [2, 3],
    ] as const) {
      it(`${rows} x ${cols}`, async () => {
        const k = await loadKernels(cfg);
        const count = rows * cols;
        const bias = data(k, cols, 1);
        bias[3 % cols] = 0.25; // no NaN in the bias
        // bias + relu
        const z = data(k, count, 2);
        const z0 = Float32Array.from(z);
        const a = k.allocF32(count).fill(9);
        k.kernelBiasRelu(z, a, bias, rows, cols);
        for (let i = 0; i < count; i++) {
          const v = Math.fround(z0[i]! + bias[i % cols]!);
          expect(z[i]).toBe(v);
          expect(a[i]).toBe(v > 0 ? v : 0);
        }
        // bias alone
        const y = data(k, count, 3);
        const y0 = Float32Array.from(y);
        k.kernelBiasAdd(y, bias, rows, cols);
        for (let i = 0; i < count; i++) expect(y[i]).toBe(Math.fround(y0[i]! + bias[i % cols]!));
        // relu backward
        const g = data(k, count, 4);
        const dz = k.allocF32(count).fill(9);
        k.kernelReluBackward(z, g, dz, count);
        for (let i = 0; i < count; i++) expect(dz[i]).toBe(z[i]! > 0 ? g[i] : 0);
        // the product (dropout's gradient): g times a mask of 0 and 1/keep, and times z (NaN, -0)
        const mask = k.allocF32(count);
        for (let i = 0; i < count; i++) mask[i] = i % 3 === 0 ? 0 : 1 / 0.8;
        for (const [b, what] of [[mask, "mask"], [z, "z"]] as const) {
          const prod = k.allocF32(count).fill(9);
          k.kernelMul(g, b, prod, count);
          for (let i = 0; i < count; i++) expect(prod[i], `g * ${what} at ${i}`).toBe(Math.fround(g[i]! * b[i]!));
        }
        // bias gradient: column sums, accumulated in float32 row by row
        g[3] = 0.5;
        const db = k.allocF32(cols).fill(9);
        k.kernelBiasGrad(g, db, rows, cols);
        const want = new Float32Array(cols);
        for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) want[j] += g[r * cols + j]!;
        expect(Array.from(db)).toEqual(Array.from(want));
        // the piecewise-linear kernel and its gradient (slope * z rounds in float32 in simd mode: within 1 ulp)
        const la = k.allocF32(count).fill(9);
        z[1] = NaN; // a NaN input stays NaN through it
        k.kernelPiecewiseLinear(z, la, 0.1, count);
        const ldz = k.allocF32(count).fill(9);
        k.kernelPiecewiseLinearBackward(z, g, ldz, 0.1, count);
        for (let i = 0; i < count; i++) {
          const zi = z[i]!;
          const fa = zi > 0 ? zi : 0.1 * zi;
          const fb = zi > 0 ? g[i]! : 0.1 * g[i]!;
          if (Number.isNaN(fa)) expect(la[i]).toBeNaN();
          else expect(Math.abs(la[i]! - fa)).toBeLessThanOrEqual(Math.abs(fa) * 2 ** -23);
          expect(Math.abs(ldz[i]! - fb)).toBeLessThanOrEqual(Math.abs(fb) * 2 ** -23);
        }
        k.shutdownKernels();
      });
    }

    it("pixel bytes to floats: every byte value gives the loader's float32 of v / 255, at any offset and length", async () => {
      const k = await loadKernels(cfg);
      const raw = new Uint8Array(600);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + 3) % 256; // every value, in no order
      const bytes = k.kernelBytes(raw);
      // simd: copied into the kernels' memory (a view of its shared buffer); ts: the array itself
      expect(bytes.buffer instanceof SharedArrayBuffer).toBe(cfg.mode === "simd");
      expect(Array.from(bytes)).toEqual(Array.from(raw));
      for (const [srcAt, dstAt, n] of [[0, 0, 600], [5, 3, 257], [17, 0, 15], [33, 1, 16], [100, 7, 0]] as const) {
        const dst = k.allocF32(620).fill(9);
        k.kernelBytesToFloats(bytes, srcAt, dst, dstAt, n);
        for (let i = 0; i < 620; i++) {
          const want = i >= dstAt && i < dstAt + n ? Math.fround(raw[srcAt + i - dstAt]! / 255) : 9;
          if (dst[i] !== want) expect(`${i}: ${dst[i]}`).toBe(`${i}: ${want}`);
        }
      }
      k.shutdownKernels();
    });
  });
}
