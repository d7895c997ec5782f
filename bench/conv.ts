// The forms of a convolution layer with the WebAssembly kernels (simd, one thread), on the seed
// models' conv2d shapes: im2col + gemm (+ gemm and col2im for the input gradient) against the
// direct convolution (kernelConv2dForward / FilterGrad / InputGrad), with conv_fwd's general loops
// and with its bodies specialised to the layer's shapes (as a generated program has them), in
// milliseconds of CPU time per batch for the forward pass, the kernel gradient and, where the
// layer's input takes one, the input gradient; then the specialised form's three parts apart, in
// GFLOP/s. What conv2dDirect (src/compiler/targets/standalone/layers.ts) decides from.
//   node --import ./bin/register.mjs bench/conv.ts [reps=20] [rounds=3]   (each figure: the best of the rounds, the forms alternating)
import { transformSync } from "esbuild";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { directConvShapes, emitKernelRuntime, type ConvShape, type KernelFunction } from "../src/compiler/targets/standalone/kernels/index.js";

type F32 = Float32Array;
interface ConvRuntime {
  allocF32(n: number): F32;
  allocI32(n: number): Int32Array;
  gemm(tA: boolean, tB: boolean, M: number, N: number, K: number, A: F32, B: F32, C: F32, acc: boolean): void;
  kernelIm2col(x: F32, cols: F32, ...geo: number[]): void;
  kernelCol2im(cols: F32, dx: F32, ...geo: number[]): void;
  kernelConv2dForward(x: F32, xpad: F32, koff: Int32Array, kernel: F32, z: F32, ...geo: number[]): void;
  kernelConv2dFilterGrad(xpad: F32, koff: Int32Array, dz: F32, dkernel: F32, ...geo: number[]): void;
  kernelConv2dInputGrad(dz: F32, dzpad: F32, dkoff: Int32Array, wflip: F32, kernel: F32, dx: F32, acc: boolean, ...geo: number[]): void;
  initKernels(): Promise<void>;
  shutdownKernels(): void;
}

/** [name, n, h, w, c, kh, kw, oh, ow, pad, f, input gradient]: stride 1, padding same. */
const LAYERS: [string, number, number, number, number, number, number, number, number, number, number, boolean][] = [
  ["cnn conv1 28x28x1 -> 8, 5x5", 128, 28, 28, 1, 5, 5, 28, 28, 2, 8, false],
  ["cnn conv2 14x14x8 -> 16, 5x5", 128, 14, 14, 8, 5, 5, 14, 14, 2, 16, true],
  ["tf1_cnn conv1 28x28x1 -> 32, 5x5", 50, 28, 28, 1, 5, 5, 28, 28, 2, 32, false],
  ["tf1_cnn conv2 14x14x32 -> 64, 5x5", 50, 14, 14, 32, 5, 5, 14, 14, 2, 64, true],
  ["alexnet conv1 28x28x1 -> 16, 3x3", 128, 28, 28, 1, 3, 3, 28, 28, 1, 16, false],
  ["alexnet conv2 14x14x16 -> 32, 3x3", 128, 14, 14, 16, 3, 3, 14, 14, 1, 32, true],
  ["alexnet conv3 7x7x32 -> 64, 3x3", 128, 7, 7, 32, 3, 3, 7, 7, 1, 64, true],
  ["alexnet conv4 7x7x64 -> 128, 3x3 (im2col: over 64)", 128, 7, 7, 64, 3, 3, 7, 7, 1, 128, true],
];

/** The shapes a program with these layers gives conv_fwd bodies for (forward; input gradient). */
function shapesOf(layers: typeof LAYERS): ConvShape[] {
  return layers.flatMap(([, , h, w, c, kh, kw, oh, ow, pad, f, inputGrad]) =>
    directConvShapes({ h, w, c, kh, kw, sh: 1, sw: 1, oh, ow, padTop: pad, padLeft: pad, f }, inputGrad),
  );
}

async function load(convShapes: ConvShape[]): Promise<ConvRuntime> {
  const uses = new Set<KernelFunction>(["kernelIm2col", "kernelCol2im", "kernelConv2dForward", "kernelConv2dFilterGrad", "kernelConv2dInputGrad", "allocI32"]);
  const ts =
    emitKernelRuntime({ mode: "simd", threads: 1, uses, convShapes }) +
    "\nexport { allocF32, allocI32, gemm, kernelIm2col, kernelCol2im, kernelConv2dForward, kernelConv2dFilterGrad, kernelConv2dInputGrad, initKernels, shutdownKernels };\n";
  const file = join(mkdtempSync(join(tmpdir(), "nnc-bench-conv-")), "k.mjs");
  writeFileSync(file, transformSync(ts, { loader: "ts", format: "esm", target: "es2022" }).code);
  const k = (await import(pathToFileURL(file).href)) as ConvRuntime;
  await k.initKernels();
  return k;
}

/** Milliseconds of CPU time per call, after a warm-up. */
function cpuMsPerCall(fn: () => void, reps: number): number {
  for (let i = 0; i < 5; i++) fn();
  const t0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) fn();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000 / reps;
}

export interface ConvBenchRow {
  layer: string;
  im2colMs: number;
  /** The direct convolution with conv_fwd's general loops. */
  generalMs: number;
  /** The direct convolution with conv_fwd's bodies specialised to the layer (what a program runs). */
  directMs: number;
  /** The direct form's parts (forward, kernel gradient, input gradient where the layer has one): general and specialised ms, and the specialised GFLOP/s. */
  parts: { name: string; generalMs: number; ms: number; gflops: number }[];
}

export async function benchConv(reps = 20, rounds = 3): Promise<ConvBenchRow[]> {
  const general = await load([]);
  const shaped = await load(shapesOf(LAYERS));
  const out: ConvBenchRow[] = [];
  try {
    for (const [layer, n, h, w, c, kh, kw, oh, ow, pad, f, inputGrad] of LAYERS) {
      const taps = kh * kw * c, rows = n * oh * ow;
      /** One layer's buffers and calls in one runtime. */
      const setUp = (k: ConvRuntime) => {
        const fill = (a: F32, s: number) => {
          for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37 + s);
          return a;
        };
        const x = fill(k.allocF32(n * h * w * c), 1), kernel = fill(k.allocF32(taps * f), 2), dz = fill(k.allocF32(rows * f), 3);
        const z = k.allocF32(rows * f), dk = k.allocF32(taps * f), dx = k.allocF32(n * h * w * c);
        const geo = [n, h, w, c, kh, kw, 1, 1, oh, ow, pad, pad];
        const xpad = k.allocF32(n * (h + kh - 1) * (w + kw - 1) * c), koff = k.allocI32(taps);
        const dzpad = k.allocF32(n * (h + kh - 1) * (w + kw - 1) * f), dkoff = k.allocI32(kh * kw * f), wflip = k.allocF32(taps * f);
        const cols = k === general ? k.allocF32(rows * taps) : null;
        const forward = () => k.kernelConv2dForward(x, xpad, koff, kernel, z, ...geo, f);
        const filterGrad = () => k.kernelConv2dFilterGrad(xpad, koff, dz, dk, ...geo, f);
        const inputGradient = () => k.kernelConv2dInputGrad(dz, dzpad, dkoff, wflip, kernel, dx, false, ...geo, f);
        const direct = () => {
          forward();
          filterGrad();
          if (inputGrad) inputGradient();
        };
        const im2col = () => {
          k.kernelIm2col(x, cols!, ...geo);
          k.gemm(false, false, rows, f, taps, cols!, kernel, z, false);
          k.gemm(true, false, taps, f, rows, cols!, dz, dk, false);
          if (inputGrad) {
            k.gemm(false, true, rows, taps, f, dz, kernel, cols!, false);
            dx.fill(0);
            k.kernelCol2im(cols!, dx, ...geo);
          }
        };
        return { forward, filterGrad, inputGradient, direct, im2col };
      };
      const g = setUp(general), s = setUp(shaped);
      // the forms alternate, round after round, and each keeps its best round: the machine's load falls on all of them
      const best = { im2col: Infinity, general: Infinity, shaped: Infinity };
      const parts = [
        { name: "forward", g: g.forward, s: s.forward, general: Infinity, shaped: Infinity },
        { name: "kernel gradient", g: g.filterGrad, s: s.filterGrad, general: Infinity, shaped: Infinity },
        ...(inputGrad ? [{ name: "input gradient", g: g.inputGradient, s: s.inputGradient, general: Infinity, shaped: Infinity }] : []),
      ];
      for (let round = 0; round < rounds; round++) {
        best.im2col = Math.min(best.im2col, cpuMsPerCall(g.im2col, reps));
        best.general = Math.min(best.general, cpuMsPerCall(g.direct, reps));
        best.shaped = Math.min(best.shaped, cpuMsPerCall(s.direct, reps));
        for (const part of parts) {
          part.general = Math.min(part.general, cpuMsPerCall(part.g, reps));
          part.shaped = Math.min(part.shaped, cpuMsPerCall(part.s, reps));
        }
      }
      const flop = (2 * rows * taps * f) / 1e6;
      out.push({
        layer,
        im2colMs: best.im2col,
        generalMs: best.general,
        directMs: best.shaped,
        parts: parts.map((p) => ({ name: p.name, generalMs: p.general, ms: p.shaped, gflops: flop / p.shaped })),
      });
    }
  } finally {
    general.shutdownKernels();
    shaped.shutdownKernels();
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const rows = await benchConv(Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 3));
  const pad = (s: string, n: number) => s.padStart(n);
  console.log(`${"layer (forward + kernel gradient [+ input gradient], CPU ms per batch)".padEnd(52)} ${pad("im2col", 8)} ${pad("general", 8)} ${pad("shaped", 8)}  im2col/shaped  general/shaped`);
  for (const r of rows) {
    console.log(`${r.layer.padEnd(52)} ${pad(r.im2colMs.toFixed(2), 8)} ${pad(r.generalMs.toFixed(2), 8)} ${pad(r.directMs.toFixed(2), 8)}  ${pad((r.im2colMs / r.directMs).toFixed(2), 13)}  ${pad((r.generalMs / r.directMs).toFixed(2), 14)}`);
  }
  console.log("\nthe parts, CPU ms: general -> shaped (the shaped form's GFLOP/s)");
  for (const r of rows) console.log(`${r.layer.padEnd(52)} ${r.parts.map((p) => `${p.name} ${p.generalMs.toFixed(2)} -> ${p.ms.toFixed(2)} (${p.gflops.toFixed(1)})`).join("  ")}`);
}
