// kernelChannelMoments / kernelChannelNormalize / kernelChannelNormalizeBackward (a batch_norm
// layer's arithmetic, per channel of a [rows x c] batch) against the definitions in float64, in
// both kernel modes: ts (the loops) and simd (WebAssembly when c is a multiple of 4).
import { describe, expect, it } from "vitest";
import { loadKernels } from "./load.js";

interface ChannelKernels {
  kernelChannelMoments(x: Float32Array, rows: number, c: number, mean: Float32Array, sq: Float32Array): void;
  kernelChannelNormalize(x: Float32Array, mean: Float32Array, invStd: Float32Array, gamma: Float32Array, beta: Float32Array, xhat: Float32Array, out: Float32Array, rows: number, c: number): void;
  kernelChannelNormalizeBackward(g: Float32Array, xhat: Float32Array, gamma: Float32Array, invStd: Float32Array, dgamma: Float32Array, dbeta: Float32Array, dx: Float32Array | null, rows: number, c: number, accumulate: boolean): void;
}

const CASES: [rows: number, c: number][] = [
  [64, 1024],
  [8, 16],
  [5, 12],
  [7, 6], // not a multiple of 4: the loops in every mode
  [1, 4],
];

function fill(a: Float32Array, seed: number, offset = 0): Float32Array {
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37 + seed) * (1 + (i % 7)) + offset;
  return a;
}

function worst(got: ArrayLike<number>, want: ArrayLike<number>, floor: number): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i]! - want[i]!) / (Math.abs(want[i]!) + floor));
  return e;
}

for (const cfg of [
  { mode: "ts", threads: 1 },
  { mode: "simd", threads: 1 },
] as const) {
  describe(`channel kernels ${cfg.mode}`, () => {
    for (const [rows, c] of CASES) {
      it(`${rows} x ${c}: moments, normalisation and its gradients`, async () => {
        const base = await loadKernels({ ...cfg, uses: new Set(["kernelChannelMoments", "kernelChannelNormalize", "kernelChannelNormalizeBackward"]) });
        const k = base as unknown as ChannelKernels & typeof base;
        try {
          const n = rows * c;
          const x = fill(k.allocF32(n), 1, 0.5);
          const mean = k.allocF32(c).fill(9), sq = k.allocF32(c).fill(9);
          k.kernelChannelMoments(x, rows, c, mean, sq);
          const wantMean = new Float64Array(c), wantSq = new Float64Array(c);
          for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) wantMean[j]! += x[r * c + j]! / rows;
          for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) wantSq[j]! += (x[r * c + j]! - wantMean[j]!) ** 2;
          expect(worst(mean, wantMean, 1e-2), "mean").toBeLessThan(1e-4);
          expect(worst(sq, wantSq, 1e-3), "squared deviations").toBeLessThan(1e-4);

          const invStd = k.allocF32(c);
          for (let j = 0; j < c; j++) invStd[j] = 1 / Math.sqrt(sq[j]! / rows + 1e-3);
          const gamma = fill(k.allocF32(c), 2, 1), beta = fill(k.allocF32(c), 3);
          const xhat = k.allocF32(n).fill(9), out = k.allocF32(n).fill(9);
          k.kernelChannelNormalize(x, mean, invStd, gamma, beta, xhat, out, rows, c);
          const wantXhat = new Float64Array(n), wantOut = new Float64Array(n);
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < c; j++) {
              const i = r * c + j;
              wantXhat[i] = (x[i]! - mean[j]!) * invStd[j]!;
              wantOut[i] = gamma[j]! * wantXhat[i]! + beta[j]!;
            }
          expect(worst(xhat, wantXhat, 1e-2), "xhat").toBeLessThan(1e-4);
          expect(worst(out, wantOut, 1e-2), "out").toBeLessThan(1e-4);

          const g = fill(k.allocF32(n), 4);
          const dgamma = k.allocF32(c).fill(9), dbeta = k.allocF32(c).fill(9), dx = k.allocF32(n).fill(9);
          const wantDg = new Float64Array(c), wantDb = new Float64Array(c), wantDx = new Float64Array(n);
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < c; j++) {
              wantDg[j]! += g[r * c + j]! * xhat[r * c + j]!;
              wantDb[j]! += g[r * c + j]!;
            }
          for (let r = 0; r < rows; r++)
            for (let j = 0; j < c; j++) {
              const i = r * c + j;
              wantDx[i] = ((gamma[j]! * invStd[j]!) / rows) * (rows * g[i]! - wantDb[j]! - xhat[i]! * wantDg[j]!);
            }
          k.kernelChannelNormalizeBackward(g, xhat, gamma, invStd, dgamma, dbeta, dx, rows, c, false);
          expect(worst(dgamma, wantDg, 1), "dgamma").toBeLessThan(1e-4);
          expect(worst(dbeta, wantDb, 1), "dbeta").toBeLessThan(1e-4);
          expect(worst(dx, wantDx, 1e-1), "dx").toBeLessThan(1e-3);
          // accumulate: adds onto dx; and without dx, only the parameter gradients
          k.kernelChannelNormalizeBackward(g, xhat, gamma, invStd, dgamma, dbeta, dx, rows, c, true);
          expect(worst(dx, wantDx.map((v) => 2 * v), 1e-1), "dx accumulated").toBeLessThan(1e-3);
          dgamma.fill(9);
          k.kernelChannelNormalizeBackward(g, xhat, gamma, invStd, dgamma, dbeta, null, rows, c, false);
          expect(worst(dgamma, wantDg, 1), "dgamma without dx").toBeLessThan(1e-4);
        } finally {
          k.shutdownKernels();
        }
      });
    }
  });
}
