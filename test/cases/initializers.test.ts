// Per-feature cases of the initializers (test/cases/initializers/): the initial weights every engine
// starts from (src/runtime/random.ts: the standalone program embeds it, the tfjs and PyTorch programs
// load its values) have the distribution Keras defines for that initializer, on the case's dense
// kernel of 784 x 64 values (fan_in 784, fan_out 64; ones: the output kernel). The other case tests (parity, ONNX, training)
// iterate these cases too. The PyTorch program's own initialize() (what `python3 model.py` starts
// from without --init) is held to the same distributions.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { InitializerKind } from "../../src/compiler/catalog/kinds.js";
import type { IRWeight } from "../../src/compiler/ir.js";
import { generatePytorch } from "../../src/compiler/targets/pytorch/index.js";
import { initialWeights } from "../../src/runtime/random.js";
import { readSafetensors } from "../../src/runtime/safetensors.js";
import { PYTHON } from "../pytorch/python.js";
import { casesIn, type Case } from "./cases.js";

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

/** Every weight with a constant initializer, and every weight of 4,096 values or more (for statistics), against EXPECTED. */
function checkCase(c: Case, weights: Map<string, Float32Array>): void {
  const all: IRWeight[] = c.ir.model.layers.flatMap((l) => l.weights);
  expect(all.some((w) => w.role === "kernel" && w.initializer.kind === c.kind), `a kernel of ${c.file} uses ${c.kind}`).toBe(true);
  for (const w of all.filter((x) => ["zeros", "ones", "constant"].includes(x.initializer.kind) || x.shape.reduce((a, b) => a * b, 1) >= 4096)) {
    const expectation = EXPECTED[w.initializer.kind as InitializerKind];
    expect(expectation, `no expectation for ${w.initializer.kind}: add it to EXPECTED`).toBeDefined();
    const fans = { fanIn: w.shape[0]!, fanOut: w.shape[1] ?? w.shape[0]! };
    const values = weights.get(w.name)!;
    expect(values, `${c.name}: ${w.name}`).toBeDefined();
    expectation(stats(values), w.initializer.args as Args, fans, values.length);
  }
}

describe("initializers: the initial weights have Keras's distribution", () => {
  for (const c of casesIn("initializers")) {
    it(`initializers/${c.name}`, () => {
      checkCase(c, initialWeights(c.ir.model, c.ir.training!.seed));
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

describe("initializers: the PyTorch program's own initialize() draws the same distributions", () => {
  const work = mkdtempSync(join(tmpdir(), "nnc-init-py-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const cases = casesIn("initializers");
  let drawn: Map<string, Map<string, Float32Array>> | null = null;
  /** One Python process for every case: Model(), initialize(model, seed), weights_of() as safetensors. */
  const draw = (): Map<string, Map<string, Float32Array>> => {
    if (drawn) return drawn;
    for (const c of cases) writeFileSync(join(work, `${c.name}.py`), generatePytorch(c.ir, { sourceText: c.source }));
    const script = [
      "import importlib.util, sys",
      "for name in sys.argv[2:]:",
      "    spec = importlib.util.spec_from_file_location(name, f'{sys.argv[1]}/{name}.py')",
      "    prog = importlib.util.module_from_spec(spec)",
      "    spec.loader.exec_module(prog)",
      "    model = prog.Model()",
      "    prog.initialize(model, 7)",
      "    prog.write_safetensors(f'{sys.argv[1]}/{name}.safetensors', prog.weights_of(model))",
    ].join("\n");
    execFileSync(PYTHON, ["-c", script, work, ...cases.map((c) => c.name)], { stdio: ["ignore", "ignore", "pipe"], timeout: 120_000 });
    drawn = new Map(
      cases.map((c) => {
        const { weights } = readSafetensors(readFileSync(join(work, `${c.name}.safetensors`)));
        return [c.name, new Map(weights.map((w) => [w.name, w.data as Float32Array]))];
      }),
    );
    return drawn;
  };
  for (const c of cases) {
    it(`initializers/${c.name} (PyTorch)`, () => {
      checkCase(c, draw().get(c.name)!);
    }, 120_000);
  }
});
