// Per-feature cases of the initializers (test/cases/initializers/): the initial weights every engine
// starts from (src/runtime/random.ts: the standalone program embeds it, the tfjs and PyTorch programs
// load its values) have the distribution Keras defines for that initializer, on the case's dense
// kernel of 784 x 64 values (fan_in 784, fan_out 64; ones: the output kernel). The other case tests (parity, ONNX, training)
// iterate these cases too.
import { describe, expect, it } from "vitest";
import type { InitializerKind } from "../../src/compiler/catalog/kinds.js";
import { initialWeights } from "../../src/runtime/random.js";
import { casesIn } from "./cases.js";

interface Stats {
  mean: number;
  std: number;
  min: number;
  max: number;
}

function stats(v: Float32Array): Stats {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of v) {
    sum += x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const mean = sum / v.length;
  let sq = 0;
  for (const x of v) sq += (x - mean) ** 2;
  return { mean, std: Math.sqrt(sq / v.length), min, max };
}

type Args = Record<string, number>;
type Expectation = (s: Stats, args: Args, fans: { fanIn: number; fanOut: number }, n: number) => void;

/** Every value is c. */
const constant =
  (value: (a: Args) => number): Expectation =>
  (s, a) => {
    expect(s.min).toBe(Math.fround(value(a)));
    expect(s.max).toBe(Math.fround(value(a)));
  };

/** A normal N(mean, stddev²): its sample mean and spread. */
const normal = (mean: number, stddev: number, s: Stats, n: number) => {
  expect(Math.abs(s.mean - mean)).toBeLessThan((5 * stddev) / Math.sqrt(n));
  expect(s.std / stddev).toBeCloseTo(1, 1);
};

/** Keras's truncated normal: N(mean, stddev²) redrawn beyond two stddevs, so its spread is 0.8796 stddev. */
const truncated = (mean: number, stddev: number, s: Stats, n: number) => {
  expect(s.min).toBeGreaterThanOrEqual(mean - 2 * stddev - 1e-7);
  expect(s.max).toBeLessThanOrEqual(mean + 2 * stddev + 1e-7);
  expect(s.min).toBeLessThan(mean - 1.9 * stddev); // it does reach the cut
  normal(mean, stddev * 0.8796256610342398, s, n);
};

/** Uniform on [lo, hi]. */
const uniform = (lo: number, hi: number, s: Stats, n: number) => {
  expect(s.min).toBeGreaterThanOrEqual(Math.fround(lo));
  expect(s.max).toBeLessThanOrEqual(Math.fround(hi));
  expect(s.min).toBeLessThan(lo + (hi - lo) * 0.01);
  expect(s.max).toBeGreaterThan(hi - (hi - lo) * 0.01);
  normal((lo + hi) / 2, (hi - lo) / Math.sqrt(12), s, n);
};

/** Keras's VarianceScaling: variance scale / fan; "normal" draws a truncated normal corrected to that variance. */
const varianceScaling =
  (scale: number, mode: "fan_in" | "fan_avg", distribution: "truncated_normal" | "uniform"): Expectation =>
  (s, _a, { fanIn, fanOut }, n) => {
    const variance = scale / (mode === "fan_in" ? fanIn : (fanIn + fanOut) / 2);
    if (distribution === "uniform") uniform(-Math.sqrt(3 * variance), Math.sqrt(3 * variance), s, n);
    else truncated(0, Math.sqrt(variance) / 0.8796256610342398, s, n);
  };

const EXPECTED: Record<InitializerKind, Expectation> = {
  zeros: constant(() => 0),
  ones: constant(() => 1),
  constant: constant((a) => a.value!),
  random_normal: (s, a, _f, n) => normal(a.mean!, a.stddev!, s, n),
  random_uniform: (s, a, _f, n) => uniform(a.minval!, a.maxval!, s, n),
  truncated_normal: (s, a, _f, n) => truncated(a.mean!, a.stddev!, s, n),
  glorot_normal: varianceScaling(1, "fan_avg", "truncated_normal"),
  glorot_uniform: varianceScaling(1, "fan_avg", "uniform"),
  he_normal: varianceScaling(2, "fan_in", "truncated_normal"),
  he_uniform: varianceScaling(2, "fan_in", "uniform"),
  lecun_normal: varianceScaling(1, "fan_in", "truncated_normal"),
  lecun_uniform: varianceScaling(1, "fan_in", "uniform"),
};

describe("initializers: the initial weights have Keras's distribution", () => {
  for (const c of casesIn("initializers")) {
    it(`initializers/${c.name}`, () => {
      const weights = initialWeights(c.ir.model, c.ir.training!.seed);
      const all = c.ir.model.layers.flatMap((l) => l.weights);
      expect(all.some((w) => w.role === "kernel" && w.initializer.kind === c.kind), `a kernel of ${c.file} uses ${c.kind}`).toBe(true);
      // every weight with a constant initializer, and every weight of 4,096 values or more (for statistics)
      for (const w of all.filter((x) => ["zeros", "ones", "constant"].includes(x.initializer.kind) || weights.get(x.name)!.length >= 4096)) {
        const expectation = EXPECTED[w.initializer.kind as InitializerKind];
        expect(expectation, `no expectation for ${w.initializer.kind}: add it to EXPECTED`).toBeDefined();
        const fans = { fanIn: w.shape[0]!, fanOut: w.shape[1] ?? w.shape[0]! };
        const values = weights.get(w.name)!;
        expectation(stats(values), w.initializer.args as Args, fans, values.length);
      }
    });
  }

  it("a different seed draws different values, the same seed the same ones", () => {
    const c = casesIn("initializers").find((x) => x.kind === "he_normal")!;
    const a = initialWeights(c.ir.model, 1).get("dense_1/kernel")!;
    const b = initialWeights(c.ir.model, 1).get("dense_1/kernel")!;
    const other = initialWeights(c.ir.model, 2).get("dense_1/kernel")!;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(other.buffer))).toBe(false);
  });
});
