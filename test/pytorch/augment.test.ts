// The PyTorch program's augmentation against nnc's own (src/runtime/data/augment.ts, which the
// other engines run): the same transform parameters give the same matrix, and the same matrix
// gives the same images to 1e-5, for every fill mode. (The random draws themselves come from
// PyTorch's generator, so they are compared only for their range.)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { generatePytorch } from "../../src/compiler/targets/pytorch/index.js";
import { affineMatrix, applyAffine, type AugmentConfig } from "../../src/runtime/data/augment.js";
import { readSafetensors, safetensorsBytes } from "../../src/runtime/safetensors.js";
import { seeded } from "../standalone/harness.js";
import { HERE, PYTHON } from "./python.js";

const FILLS = ["nearest", "constant", "reflect", "wrap"] as const;
const N = 6;
// per image: theta, tx, ty (pixels), shear (radians), zx, zy: large enough to reach the borders
const PARAMS = [
  [0, 0, 0, 0, 1, 1],
  [0.5, 3.2, -4.7, 0, 1, 1],
  [-0.3, 0, 0, 0.4, 1.3, 0.8],
  [Math.PI / 2, 10.5, 12.25, -0.2, 0.6, 1.5],
  [2.9, -13, 20, 0.7, 1.7, 1.9],
  [1.1, 0.5, 0.5, 0, 0.5, 0.5],
];

const root = mkdtempSync(join(tmpdir(), "nnc-pt-augment-"));
const results = new Map<string, Map<string, Float32Array>>();
const images = new Float32Array(N * 28 * 28);
const r = seeded(3);
for (let i = 0; i < images.length; i++) images[i] = r();

function source(fill: string): string {
  return `model a {
  input image(28, 28, 1)
  flatten
  dense(10, activation: softmax)
}
train a {
  data      mnist(augment: { rotation: 20, width_shift: 0.1, height_shift: 0.2, zoom: 0.3, shear: 10, fill: ${fill}, cval: 0.25 })
  loss      categorical_crossentropy
  optimizer sgd
}
`;
}

beforeAll(() => {
  const args: string[] = [];
  writeFileSync(
    join(root, "case.safetensors"),
    safetensorsBytes([
      { name: "images", shape: [N, 28, 28, 1], dtype: "float32", data: images },
      { name: "params", shape: [N, 6], dtype: "float32", data: Float32Array.from(PARAMS.flat()) },
    ]),
  );
  for (const fill of FILLS) {
    const { ir, diagnostics } = compileSource(source(fill), "a.nn");
    if (!ir) throw new Error(diagnostics.map((d) => d.message).join("\n"));
    const program = join(root, `${fill}.py`);
    writeFileSync(program, generatePytorch(ir));
    args.push(program, join(root, "case.safetensors"), join(root, `${fill}.out.safetensors`));
  }
  const run = spawnSync(PYTHON, [join(HERE, "augment_driver.py"), ...args], { encoding: "utf8", timeout: 120_000 });
  if (run.status !== 0) throw new Error(run.stderr);
  for (const fill of FILLS) {
    const out = readSafetensors(readFileSync(join(root, `${fill}.out.safetensors`)));
    results.set(fill, new Map(out.weights.map((w) => [w.name, w.data as Float32Array])));
  }
}, 120_000);

describe("augmentation in the PyTorch program = nnc's augment.ts", () => {
  it("the affine matrix of given parameters", () => {
    const ours = results.get("nearest")!.get("matrix")!;
    PARAMS.forEach((p, i) => {
      const theirs = affineMatrix(Math.fround(p[0]!), Math.fround(p[1]!), Math.fround(p[2]!), Math.fround(p[3]!), Math.fround(p[4]!), Math.fround(p[5]!));
      for (let k = 0; k < 6; k++) expect(ours[i * 6 + k]).toBeCloseTo(theirs[k]!, 5);
    });
  });

  for (const fill of FILLS) {
    it(`the transformed images, fill ${fill}`, () => {
      const cfg: AugmentConfig = { rotation: 20, widthShift: 0.1, heightShift: 0.2, zoom: 0.3, shear: 10, fill, cval: 0.25 };
      const expected = new Float32Array(images.length);
      const m = results.get(fill)!.get("matrix")!;
      for (let i = 0; i < N; i++) applyAffine(images, expected, i, 28, 28, 1, Float64Array.from(m.subarray(i * 6, i * 6 + 6)), cfg);
      const got = results.get(fill)!.get("images")!;
      let worst = 0;
      for (let k = 0; k < got.length; k++) worst = Math.max(worst, Math.abs(got[k]! - expected[k]!));
      expect(worst).toBeLessThan(1e-5);
      // the first image is the identity: unchanged
      for (let k = 0; k < 784; k++) expect(got[k]).toBeCloseTo(images[k]!, 6);
    });
  }

  it("random transforms stay within the data section's ranges", () => {
    const drawn = results.get("wrap")!.get("drawn")!;
    for (let i = 0; i < 5; i++) {
      const [a, b, , d, e] = drawn.subarray(i * 6, i * 6 + 6);
      // the determinant is zx * zy * cos(shear): zoom in [0.7, 1.3], shear within 10 degrees
      const det = a! * e! - b! * d!;
      expect(det).toBeGreaterThan(0.7 * 0.7 * Math.cos((10 * Math.PI) / 180) - 1e-6);
      expect(det).toBeLessThan(1.3 * 1.3 + 1e-6);
    }
  });
});
