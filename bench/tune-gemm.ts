// Tuning aid for the wasm gemm: register tile and cache blocking, interleaved to cancel noise.
//   node --import ./bin/register.mjs bench/tune-gemm.ts
import { GEMM_SHAPES, loadKernelRuntime, timeGemm, type KernelRuntime } from "./gemm.js";
import type { KernelRuntimeOptions } from "../src/compiler/targets/standalone/kernels/index.js";

const candidates: [string, Partial<KernelRuntimeOptions>][] = [
  ["4x8u1", { shape: { MR: 4, NR: 8, unrollK: 1 } }],
  ["4x8fma", { shape: { MR: 4, NR: 8, unrollK: 1, fma: true } }],
  ["6x8fma", { shape: { MR: 6, NR: 8, unrollK: 1, fma: true } }],
  ["4x12fma", { shape: { MR: 4, NR: 12, unrollK: 1, fma: true } }],
  ["5x8fma", { shape: { MR: 5, NR: 8, unrollK: 1, fma: true } }],
  ["4x8fmau2", { shape: { MR: 4, NR: 8, unrollK: 2, fma: true } }],
  ["2x16fma", { shape: { MR: 2, NR: 16, unrollK: 1, fma: true } }],
  ["4x8u2", { shape: { MR: 4, NR: 8, unrollK: 2 } }],
  ["6x8u1", { shape: { MR: 6, NR: 8, unrollK: 1 } }],
  ["4x12u1", { shape: { MR: 4, NR: 12, unrollK: 1 } }],
  ["5x8u1", { shape: { MR: 5, NR: 8, unrollK: 1 } }],
  ["4x8kc128", { blocking: { KC: 128, MC: 128, NC: 1024 } }],
  ["4x8kc384", { blocking: { KC: 384, MC: 96, NC: 1024 } }],
];
const which = process.argv[2] ? process.argv[2].split(",") : null;
const shapes = GEMM_SHAPES.filter((s) => (process.argv[3] ? s.name.includes(process.argv[3]) : !s.name.startsWith("square")));
const ks: [string, KernelRuntime][] = [];
for (const [name, o] of candidates) {
  if (which && !which.includes(name)) continue;
  ks.push([name, await loadKernelRuntime({ mode: "simd", threads: 1, ...o })]);
}
const sums = new Map<string, number[]>();
for (const s of shapes) {
  const best = new Map<string, number>();
  for (let round = 0; round < 6; round++) {
    for (const [name, k] of ks) best.set(name, Math.max(best.get(name) ?? 0, timeGemm(k, s, 30, 2, "cpu")));
  }
  for (const [name, g] of best) {
    if (!sums.has(name)) sums.set(name, []);
    sums.get(name)!.push(g);
    console.log(`${s.name.padEnd(40)} ${name.padEnd(12)} ${g.toFixed(1)}`);
  }
}
for (const [name, v] of sums) {
  const geo = Math.exp(v.reduce((a, b) => a + Math.log(b), 0) / v.length);
  console.log(`${name.padEnd(12)} geomean ${geo.toFixed(1)} GFLOP/s`);
}
