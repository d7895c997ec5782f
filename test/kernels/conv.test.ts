// The direct convolution (kernelConv2dForward / FilterGrad / InputGrad) against the definitions
// in double-precision loops, in both kernel modes: ts (the plain loops) and simd (WebAssembly
// conv_fwd / conv_dw / pad_copy where the channel counts allow, the loops otherwise), and in simd
// mode once more with conv_fwd's bodies specialised to each case's shapes (convShapes), as a
// generated program has them.
import { describe, expect, it } from "vitest";
import { directConvShapes, type ConvShape } from "../../src/compiler/targets/standalone/kernels/index.js";
import { KERNEL_MODES, loadKernels, type KernelRuntime } from "./load.js";

type Geo = [n: number, h: number, w: number, c: number, kh: number, kw: number, sh: number, sw: number, oh: number, ow: number, padTop: number, padLeft: number, f: number];

const CASES: { name: string; geo: Geo }[] = [
  { name: "cnn conv1 (28x28x1 -> 8, 5x5 same)", geo: [3, 28, 28, 1, 5, 5, 1, 1, 28, 28, 2, 2, 8] },
  { name: "cnn conv2 (14x14x8 -> 16, 5x5 same)", geo: [2, 14, 14, 8, 5, 5, 1, 1, 14, 14, 2, 2, 16] },
  { name: "cnn conv2, 16 images (in parts across the threads)", geo: [16, 14, 14, 8, 5, 5, 1, 1, 14, 14, 2, 2, 16] },
  { name: "3x2 kernel, asymmetric padding, 8 -> 24", geo: [2, 6, 7, 8, 3, 2, 1, 1, 6, 7, 1, 0, 24] },
  { name: "valid, stride 2", geo: [2, 9, 7, 3, 3, 3, 2, 2, 4, 3, 0, 0, 8] },
  { name: "valid, stride 1, 8 -> 16 (input gradient through the full border)", geo: [2, 7, 6, 8, 3, 3, 1, 1, 5, 4, 0, 0, 16] },
  { name: "same, even kernel (padding 0 before, 1 after)", geo: [2, 6, 6, 8, 2, 2, 1, 1, 6, 6, 0, 0, 8] },
  { name: "5 filters (not a multiple of 8: the loops)", geo: [2, 5, 6, 8, 3, 3, 1, 1, 5, 6, 1, 1, 5] },
  { name: "kernel larger than the image", geo: [1, 4, 4, 8, 5, 5, 1, 1, 4, 4, 2, 2, 8] },
  { name: "4 channels (the kernel gradient's taps in one group of four per window position)", geo: [2, 6, 6, 4, 3, 3, 1, 1, 6, 6, 1, 1, 8] },
  { name: "12 channels, 24 filters, 9 images (an odd number of tap groups per part)", geo: [9, 7, 7, 12, 3, 3, 1, 1, 7, 7, 1, 1, 24] },
  { name: "6 channels, 3x3 (a window row of 18 floats: four at a time, then two)", geo: [2, 6, 6, 6, 3, 3, 1, 1, 6, 6, 1, 1, 8] },
];

const padded = (size: number, k: number, s: number, out: number, pad: number) => Math.max(pad + size, (out - 1) * s + k);

/** The shapes a program with these layers asks the kernels for: each forward pass and, at stride 1, the input gradient's convolution. */
function shapesOf(geo: Geo): ConvShape[] {
  const [, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft, f] = geo;
  return directConvShapes({ h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft, f }, sh === 1 && sw === 1);
}
/** x at (b, y, x, ch), 0 outside the image. */
const at = (x: ArrayLike<number>, g: Geo, b: number, y: number, xx: number, ch: number) => {
  const [, h, w, c] = g;
  return y >= 0 && y < h && xx >= 0 && xx < w ? x[((b * h + y) * w + xx) * c + ch]! : 0;
};

function refForward(x: Float32Array, kernel: Float32Array, g: Geo): Float64Array {
  const [n, , , c, kh, kw, sh, sw, oh, ow, pt, pl, f] = g;
  const z = new Float64Array(n * oh * ow * f);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let j = 0; j < f; j++) {
          let s = 0;
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++)
              for (let ch = 0; ch < c; ch++) s += at(x, g, b, oy * sh - pt + ky, ox * sw - pl + kx, ch) * kernel[((ky * kw + kx) * c + ch) * f + j]!;
          z[((b * oh + oy) * ow + ox) * f + j] = s;
        }
  return z;
}

function refFilterGrad(x: Float32Array, dz: Float32Array, g: Geo): Float64Array {
  const [n, , , c, kh, kw, sh, sw, oh, ow, pt, pl, f] = g;
  const dk = new Float64Array(kh * kw * c * f);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++)
            for (let ch = 0; ch < c; ch++) {
              const v = at(x, g, b, oy * sh - pt + ky, ox * sw - pl + kx, ch);
              for (let j = 0; j < f; j++) dk[((ky * kw + kx) * c + ch) * f + j] += v * dz[((b * oh + oy) * ow + ox) * f + j]!;
            }
  return dk;
}

function refInputGrad(dz: Float32Array, kernel: Float32Array, g: Geo): Float64Array {
  const [n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl, f] = g;
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const y = oy * sh - pt + ky, xx = ox * sw - pl + kx;
            if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
            for (let ch = 0; ch < c; ch++)
              for (let j = 0; j < f; j++) dx[((b * h + y) * w + xx) * c + ch] += dz[((b * oh + oy) * ow + ox) * f + j]! * kernel[((ky * kw + kx) * c + ch) * f + j]!;
          }
  return dx;
}

/** The largest error relative to the value (plus a floor for sums that cancel), as test/kernels/gemm.test.ts measures it. */
function worst(got: ArrayLike<number>, want: Float64Array, terms: number): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i]! - want[i]!) / (Math.abs(want[i]!) + Math.sqrt(terms) * 1e-2 + 1e-6));
  return e;
}

function fill(a: Float32Array, seed: number): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37 + seed) + 0.01 * ((i * 7) % 13);
  return a;
}

const VARIANTS = KERNEL_MODES.flatMap((cfg) => (cfg.mode === "simd" ? [{ cfg, shaped: false }, { cfg, shaped: true }] : [{ cfg, shaped: false }]));

for (const { cfg, shaped } of VARIANTS) {
  describe(`direct convolution ${cfg.mode}/${cfg.threads}t${shaped ? ", bodies specialised to the shapes" : ""}`, () => {
    for (const { name, geo } of CASES) {
      it(name, async () => {
        const k: KernelRuntime = await loadKernels({ ...cfg, convShapes: shaped ? shapesOf(geo) : [] });
        try {
          const [n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl, f] = geo;
          if (shaped) {
            // the specialised bodies are there to be found (the wrappers run them where f, or c for the input gradient, is a multiple of 8)
            for (const t of shapesOf(geo)) expect(k.kernelConvShape!(t.c, t.kh, t.kw, t.sh, t.sw, t.hp, t.wp, t.oh, t.ow, t.f)).toBeGreaterThanOrEqual(0);
            expect(k.kernelConvShape!(c + 1, kh, kw, sh, sw, 99, 99, oh, ow, f)).toBe(-1);
          }
          const taps = kh * kw * c;
          const x = fill(k.allocF32(n * h * w * c), 1);
          const kernel = fill(k.allocF32(taps * f), 2);
          const xpad = k.allocF32(n * padded(h, kh, sh, oh, pt) * padded(w, kw, sw, ow, pl) * c);
          const koff = k.allocI32(taps);
          const z = k.allocF32(n * oh * ow * f).fill(7); // garbage that must be overwritten
          k.kernelConv2dForward(x, xpad, koff, kernel, z, ...geo);
          expect(worst(z, refForward(x, kernel, geo), taps), "forward").toBeLessThan(1e-4);
          // twice: the padded buffer's border must still be zero
          k.kernelConv2dForward(x, xpad, koff, kernel, z, ...geo);
          expect(worst(z, refForward(x, kernel, geo), taps), "forward again").toBeLessThan(1e-4);
          // + bias (then relu) as each sum is stored: the floats of z + bias in f32, as a pass over z after it gives them
          const bias = k.allocF32(f);
          for (let j = 0; j < f; j++) bias[j] = (((j * 5) % 7) - 3) * 0.3;
          const withBias = Float32Array.from(z, (v, i) => v + bias[i % f]!);
          expect(withBias.some((v) => v > 0) && withBias.some((v) => v < 0)).toBe(true);
          for (const relu of [false, true]) {
            const a = k.allocF32(n * oh * ow * f).fill(7);
            k.kernelConv2dForward(x, xpad, koff, kernel, a, ...geo, bias, relu);
            expect(Array.from(a), relu ? "forward, + bias, relu" : "forward, + bias").toEqual(Array.from(withBias, (v) => (relu && !(v > 0) ? 0 : v)));
          }

          /** Both gradients from dz (its name in the messages), against the float64 definitions; dx written, then added onto. */
          const gradients = (dz: Float32Array, what: string, inputGrad: boolean) => {
            const dk = k.allocF32(taps * f).fill(5);
            k.kernelConv2dFilterGrad(xpad, koff, dz, dk, ...geo);
            expect(worst(dk, refFilterGrad(x, dz, geo), n * oh * ow), `kernel gradient, ${what}`).toBeLessThan(1e-4);
            if (!inputGrad) return;
            const dzpad = k.allocF32(n * (h + kh - 1) * (w + kw - 1) * f);
            const dkoff = k.allocI32(kh * kw * f);
            const wflip = k.allocF32(taps * f);
            const dx = k.allocF32(n * h * w * c).fill(9);
            const want = refInputGrad(dz, kernel, geo);
            k.kernelConv2dInputGrad(dz, dzpad, dkoff, wflip, kernel, dx, false, ...geo);
            expect(worst(dx, want, kh * kw * f), `input gradient, ${what}`).toBeLessThan(1e-4);
            k.kernelConv2dInputGrad(dz, dzpad, dkoff, wflip, kernel, dx, true, ...geo);
            expect(worst(dx, want.map((v) => 2 * v), 2 * kh * kw * f), `input gradient, ${what}, accumulated`).toBeLessThan(1e-4);
          };
          const dz = fill(k.allocF32(n * oh * ow * f), 3);
          gradients(dz, "dense dz", sh === 1 && sw === 1);

          // dz as relu and max pooling leave it, mostly zeros: in simd mode the gradients come from
          // its non-zero values alone (conv_sparse_dw, conv_sparse_dx), and must be the same,
          // where the window's rows are long enough to pay (kw * c >= 16: KERNEL_CONV_SPARSE_ROW_MIN)
          const sparseBefore = k.kernelState?.sparseGradients ?? 0;
          const dzs = k.allocF32(n * oh * ow * f);
          for (let i = 0; i < dzs.length; i++) dzs[i] = i % 10 === 2 ? dz[i]! : 0;
          const sparsePath = cfg.mode === "simd" && kw * c >= 16;
          // (the sparse input gradient at any stride: it adds each window's share where it lies)
          const sparseInputGrad = (sh === 1 && sw === 1) || sparsePath;
          gradients(dzs, "sparse dz", sparseInputGrad);
          const sparseCalls = sparseInputGrad ? 3 : 1;
          if (cfg.mode === "simd") expect((k.kernelState?.sparseGradients ?? 0) - sparseBefore, "gradients from the non-zero values").toBe(sparsePath ? sparseCalls : 0);
        } finally {
          k.shutdownKernels();
        }
      });
    }
  });
}

// The gradients from dz's non-zero values split across the threads (kernelSplitJob: conv_sparse_dw
// by output channels, conv_sparse_dx by images, each part zeroing its images of the padded input
// gradient first), every job split (parallelMinFlops 1) into parts as small as they go (partMinFlops
// 1: one channel, one image each): the same floats as one thread, bit for bit, since no part sums
// another's values. From KERNEL_PARALLEL_MIN_VALUES (65,536) values, the copies into and out of the
// zero border (pad_copy, crop_copy) are split by images too: the 48-image case. With dzShare, the
// bound a max pool after the layer gives (one value a window), dz is not counted: the sparse
// gradients run whatever dz holds, and give the same floats.
describe("gradients from dz's non-zero values, split across the threads", () => {
  for (const { name, geo, share } of [
    { name: "cnn conv2, 6 images", geo: [6, 14, 14, 8, 5, 5, 1, 1, 14, 14, 2, 2, 16] as Geo },
    { name: "valid, stride 2, 7 images, 8 -> 24", geo: [7, 9, 9, 8, 3, 3, 2, 2, 4, 4, 0, 0, 24] as Geo },
    { name: "cnn conv2, 48 images (the pad and crop copies split by images too)", geo: [48, 14, 14, 8, 5, 5, 1, 1, 14, 14, 2, 2, 16] as Geo },
    { name: "cnn conv2, 6 images, dense dz under a bound of 1/4 (specialised bodies: no count, the sparse gradients all the same)", geo: [6, 14, 14, 8, 5, 5, 1, 1, 14, 14, 2, 2, 16] as Geo, share: 0.25 },
  ] as { name: string; geo: Geo; share?: number }[]) {
    for (const shaped of [false, true]) {
      it(`${name}${shaped ? ", bodies specialised to the shape" : ""}: 3 threads give one thread's floats`, async () => {
        const [n, h, w, c, kh, kw, sh, sw, oh, ow, pt, pl, f] = geo;
        const taps = kh * kw * c;
        const run = async (threads: number) => {
          const k = await loadKernels({ mode: "simd", threads, parallelMinFlops: 1, partMinFlops: 1, convShapes: shaped ? shapesOf(geo) : [] });
          try {
            const x = fill(k.allocF32(n * h * w * c), 1);
            const kernel = fill(k.allocF32(taps * f), 2);
            const xpad = k.allocF32(n * padded(h, kh, sh, oh, pt) * padded(w, kw, sw, ow, pl) * c);
            const koff = k.allocI32(taps);
            k.kernelConv2dForward(x, xpad, koff, kernel, k.allocF32(n * oh * ow * f), ...geo);
            // about a ninth of dz not zero, unevenly across the channels and images (with a share: all of it,
            // which a count would send to the dense loops)
            const dz = fill(k.allocF32(n * oh * ow * f), 3);
            if (share === undefined) for (let i = 0; i < dz.length; i++) if ((i * 3 + Math.floor(i / f)) % 7 !== 0 || (i % f) % 5 === 4) dz[i] = 0;
            const dk = k.allocF32(taps * f).fill(5);
            k.kernelConv2dFilterGrad(xpad, koff, dz, dk, ...geo, share);
            const dx = k.allocF32(n * h * w * c).fill(9);
            // the padded input gradient's scratch is reused: a second batch must not see the first's sums
            for (let round = 0; round < 2; round++) k.kernelConv2dInputGrad(dz, k.allocF32(n * (h + kh - 1) * (w + kw - 1) * f), k.allocI32(kh * kw * f), k.allocF32(taps * f), kernel, dx, false, ...geo, share);
            // (the general bodies pay from 20% not zero: a bound of 1/4 is not enough, dz is counted and,
            // dense, goes to the dense loops)
            const sparse = share === undefined || (shaped && share <= 0.4);
            expect(k.kernelState?.sparseGradients, "both gradients from the non-zero values").toBe(sparse ? 3 : 0);
            expect(worst(dk, refFilterGrad(x, dz, geo), n * oh * ow), "kernel gradient").toBeLessThan(1e-4);
            expect(worst(dx, refInputGrad(dz, kernel, geo), kh * kw * f), "input gradient").toBeLessThan(1e-4);
            return { dk: Array.from(dk), dx: Array.from(dx) };
          } finally {
            k.shutdownKernels();
          }
        };
        const one = await run(1);
        const three = await run(3);
        expect(three.dk, "kernel gradient, 3 threads").toEqual(one.dk);
        expect(three.dx, "input gradient, 3 threads").toEqual(one.dx);
      });
    }
  }
});
