// The generated program computes the same forward pass, loss and gradients in every kernel mode:
// plain TypeScript on one thread vs WebAssembly SIMD on one and two threads (with the wasm
// kernels really in use: initKernels is called, as train() does).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { loadStandaloneProgram } from "../../src/runtime/engines/standalone.js";
import type { Internals } from "../standalone/harness.js";

const root = resolve(import.meta.dirname, "../..");

async function load(model: string, mode: "ts" | "simd", threads: number): Promise<{ t: Internals; done(): void }> {
  // an example's name, or a .nn file under the repository
  const file = model.endsWith(".nn") ? join(root, model) : join(root, "examples", `${model}.nn`);
  const { ir } = compileSource(readFileSync(file, "utf8"), file);
  if (!ir) throw new Error(`${model}.nn does not compile`);
  const t = (await loadStandaloneProgram(ir, { mode, threads, exposeInternals: true })).internals as Internals;
  await t.initKernels();
  return { t, done: () => t.shutdownKernels() };
}

function run(t: Internals, n: number): number {
  t.initializeWeights(3);
  t.reseed?.(11);
  let s = 12345;
  // Image-like inputs, three values in four zero: in simd mode mlp's first layer then skips them
  // (kernelSparseGemm), which the ts mode's gemm must match.
  for (let i = 0; i < t.input.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    t.input[i] = s >>> 30 === 0 ? s / 1073741824 : 0;
  }
  // One-hot labels over the examples' 10 classes.
  t.target.fill(0);
  for (let b = 0; b < n; b++) t.target[b * 10 + (b % 10)] = 1;
  t.forward(n, true);
  const loss = t.computeLoss(n);
  t.backward(n);
  return loss;
}

function expectClose(a: Float32Array, b: Float32Array, label: string): void {
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  expect(scale, `${label} is not all zeros`).toBeGreaterThan(0);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (Math.abs(b[i]!) + 1e-3 * scale + 1e-12));
  expect(worst, label).toBeLessThan(1e-3);
}

describe("generated program: same numbers in every kernel mode", () => {
  for (const [model, n] of [
    ["twolayer", 100],
    ["mlp", 64],
    // simd runs cnn's convolutions directly (kernelConv2d*), ts with im2col and gemm
    ["cnn", 16],
    ["test/cases/layers/conv2d-direct.nn", 8],
    // relu convolutions into 2x2 max pooling: simd fuses the pool's gradient with relu's into the
    // conv's dz (direct and im2col convs), and adds bias and relu as conv_fwd stores its sums
    ["test/cases/layers/conv2d-relu-pool.nn", 8],
    // pooling with padding (windows cut at the edges), and average pooling, on 2 channels
    ["test/cases/layers/max_pool-same.nn", 8],
    ["test/cases/layers/avg_pool.nn", 8],
    ["test/cases/layers/avg_pool-same.nn", 8],
    // batch_norm: simd runs its passes as WebAssembly kernels (kernelChannel*), on vectors and images
    ["test/cases/layers/batch_norm.nn", 8],
    ["test/cases/layers/batch_norm-images.nn", 8],
    // an activation with a kernel (leaky_relu's kernelPiecewiseLinear, sigmoid's kernelSigmoid) as a
    // dense layer's: simd adds the bias, then runs the kernel over the batch
    ["test/cases/activations/leaky_relu.nn", 8],
    ["test/cases/losses/binary_crossentropy.nn", 8],
  ] as const) {
    it(`${model}: forward output, loss and every gradient (ts vs simd/1 vs simd/2)`, async () => {
      const ref = await load(model, "ts", 1);
      const lossRef = run(ref.t, n);
      for (const threads of [1, 2]) {
        const other = await load(model, "simd", threads);
        const loss = run(other.t, n);
        expect(Math.abs(loss - lossRef) / Math.abs(lossRef)).toBeLessThan(1e-4);
        expectClose(other.t.output.subarray(0, n * 10), ref.t.output.subarray(0, n * 10), `${model} output`);
        // A gradient that is zero in exact arithmetic (a bias right before batch_norm, which takes
        // the batch mean out) is rounding noise in both modes: it must stay noise-sized in both.
        const size = (g: Float32Array) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const largest = Math.max(...Object.values(ref.t.grads).map(size));
        for (const name of Object.keys(ref.t.grads)) {
          const label = `${model} ${name} (simd/${threads})`;
          if (size(ref.t.grads[name]!) < 1e-5 * largest) expect(size(other.t.grads[name]!), `${label} stays noise`).toBeLessThan(1e-5 * largest);
          else expectClose(other.t.grads[name]!, ref.t.grads[name]!, label);
        }
        other.done();
      }
      ref.done();
    });
  }
});
