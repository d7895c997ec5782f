// The generated program computes the same forward pass, loss and gradients in every kernel mode:
// plain TypeScript on one thread vs WebAssembly SIMD on one and two threads (with the wasm
// kernels really in use: initKernels is called, as train() does).
import { transformSync } from "esbuild";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { generateStandalone } from "../../src/compiler/targets/standalone/index.js";

const root = resolve(import.meta.dirname, "../..");

interface Internals {
  weights: Record<string, Float32Array>;
  grads: Record<string, Float32Array>;
  input: Float32Array;
  output: Float32Array;
  target: Float32Array;
  initializeWeights(seed: number): void;
  forward(n: number, training: boolean): void;
  backward(n: number): void;
  computeLoss(n: number): number;
  reseed?(seed: number): void;
}

async function load(model: string, mode: "ts" | "simd", threads: number): Promise<{ t: Internals; done(): void }> {
  const file = join(root, "examples", `${model}.nn`);
  const { ir } = compileSource(readFileSync(file, "utf8"), file);
  if (!ir) throw new Error(`${model}.nn does not compile`);
  const source =
    (await generateStandalone(ir, { kernels: mode, threads, exposeInternals: true })) +
    "\nexport { initKernels as __initKernels, shutdownKernels as __shutdownKernels };\n";
  const { code } = transformSync(source, { loader: "ts", format: "esm", target: "es2022" });
  const dir = mkdtempSync(join(tmpdir(), "nnc-engine-modes-"));
  const mjs = join(dir, `${model}-${mode}-${threads}.mjs`);
  writeFileSync(mjs, code);
  const mod = (await import(pathToFileURL(mjs).href)) as { internals: Internals; __initKernels(): Promise<void>; __shutdownKernels(): void };
  rmSync(dir, { recursive: true, force: true });
  await mod.__initKernels();
  return { t: mod.internals, done: () => mod.__shutdownKernels() };
}

function run(t: Internals, n: number): number {
  t.initializeWeights(3);
  t.reseed?.(11);
  let s = 12345;
  for (let i = 0; i < t.input.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    t.input[i] = s / 4294967296;
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
    ["cnn", 16],
  ] as const) {
    it(`${model}: forward output, loss and every gradient (ts vs simd/1 vs simd/2)`, async () => {
      const ref = await load(model, "ts", 1);
      const lossRef = run(ref.t, n);
      for (const threads of [1, 2]) {
        const other = await load(model, "simd", threads);
        const loss = run(other.t, n);
        expect(Math.abs(loss - lossRef) / Math.abs(lossRef)).toBeLessThan(1e-4);
        expectClose(other.t.output.subarray(0, n * 10), ref.t.output.subarray(0, n * 10), `${model} output`);
        for (const name of Object.keys(ref.t.grads)) expectClose(other.t.grads[name]!, ref.t.grads[name]!, `${model} ${name} (simd/${threads})`);
        other.done();
      }
      ref.done();
    });
  }
});
