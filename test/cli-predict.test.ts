import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.js";
import { inkPng } from "./runtime/png.js";

const tmp = mkdtempSync(join(tmpdir(), "nnc-predict-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Saves a model as the engines do: DIR/model.json + DIR/weights.bin. */
async function save(model: tf.LayersModel, dir: string, metadata: Record<string, unknown> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = a.weightData as ArrayBuffer;
      writeFileSync(join(dir, "weights.bin"), Buffer.from(data));
      writeFileSync(
        join(dir, "model.json"),
        JSON.stringify({
          format: "layers-model",
          generatedBy: "test",
          convertedBy: null,
          modelTopology: a.modelTopology,
          weightsManifest: [{ paths: ["weights.bin"], weights: a.weightSpecs }],
          userDefinedMetadata: metadata,
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
}

/** Class weights: 1 answers a vertical stroke through the centre, 4 a horizontal one; others nothing. */
function templates(): Float32Array {
  const w = new Float32Array(784 * 10);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const i = y * 28 + x;
      if (x >= 12 && x <= 15 && y >= 4 && y <= 24) w[i * 10 + 1] = 0.5;
      if (y >= 12 && y <= 15 && x >= 4 && x <= 24) w[i * 10 + 4] = 0.5;
    }
  }
  return w;
}

const vertical = join(tmp, "one.png");
const horizontal = join(tmp, "minus.png");
const blank = join(tmp, "blank.png");
const runDir = join(tmp, "run");
const flatDir = join(tmp, "flat-model");

beforeAll(async () => {
  await tf.setBackend("cpu");
  writeFileSync(
    vertical,
    inkPng(120, 160, (x, y) => x >= 55 && x < 68 && y >= 20 && y < 140),
  );
  writeFileSync(
    horizontal,
    inkPng(200, 100, (x, y) => x >= 30 && x < 170 && y >= 45 && y < 58),
  );
  writeFileSync(
    blank,
    inkPng(40, 40, () => false),
  );
  // a run directory: RUN/model/{model.json,weights.bin}; input image(28, 28, 1)
  const cnnish = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1], name: "flatten_1" }),
      tf.layers.dense({ units: 10, activation: "softmax", name: "dense_1" }),
    ],
  });
  cnnish.getLayer("dense_1").setWeights([tf.tensor(templates(), [784, 10]), tf.zeros([10])]);
  await save(cnnish, join(runDir, "model"));
  // a model folder whose input is flat [784] and whose output is logits, with fashion class names
  const flat = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10, name: "dense_1" })] });
  flat.getLayer("dense_1").setWeights([tf.tensor(templates(), [784, 10]), tf.zeros([10])]);
  await save(flat, flatDir, { dataset: "fashion_mnist" });
});

let stdout = "";
let stderr = "";
beforeEach(() => {
  stdout = "";
  stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => ((stdout += c.toString()), true));
  vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => ((stderr += c.toString()), true));
});
afterEach(() => vi.restoreAllMocks());

const predict = (...args: string[]) => main(["node", "nnc", "predict", ...args]);

describe("nnc predict", () => {
  it("prints the top-3 classes of each image from a run directory", async () => {
    expect(await predict(runDir, vertical, horizontal)).toBe(0);
    expect(stderr).toBe("");
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^.*one\.png: 1 \d+\.\d%  4 \d+\.\d%  0 \d+\.\d%$/);
    expect(lines[1]).toMatch(/^.*minus\.png: 4 \d+\.\d%  1 \d+\.\d%  0 \d+\.\d%$/);
  });

  it("--json gives probabilities; a flat-input logits model with fashion labels works from its model folder", async () => {
    expect(await predict(join(runDir, "model"), vertical, "--json")).toBe(0);
    const [p] = JSON.parse(stdout);
    expect(p.file).toBe(vertical);
    expect(p.top.map((t: { class: number }) => t.class)).toEqual([1, 4, 0]);
    expect(p.top[0].probability).toBeGreaterThan(0.9);
    expect(p.top[0].probability + p.top[1].probability + p.top[2].probability).toBeLessThanOrEqual(1 + 1e-6);
    stdout = "";
    expect(await predict(flatDir, horizontal, "--json")).toBe(0);
    const [q] = JSON.parse(stdout);
    expect(q.top[0]).toMatchObject({ class: 4, label: "Coat" });
    expect(q.top[0].probability).toBeGreaterThan(0.9);
  });

  it("fails with one clear line (exit 2) on a missing model, a missing image, a blank image or a corrupt model", async () => {
    expect(await predict(join(tmp, "nowhere"), vertical)).toBe(2);
    expect(stderr).toMatch(/^nnc: .*nowhere does not exist/);
    stderr = "";
    expect(await predict(tmp, vertical)).toBe(2);
    expect(stderr).toMatch(/^nnc: no model\.json in /);
    stderr = "";
    expect(await predict(runDir, join(tmp, "missing.png"))).toBe(2);
    expect(stderr).toMatch(/^nnc: cannot read .*missing\.png: no such file\n$/);
    stderr = "";
    expect(await predict(runDir, blank)).toBe(2);
    expect(stderr).toMatch(/blank\.png has no ink/);
    const broken = join(tmp, "broken");
    mkdirSync(broken, { recursive: true });
    writeFileSync(
      join(broken, "model.json"),
      (await import("node:fs")).readFileSync(join(runDir, "model", "model.json")),
    );
    writeFileSync(join(broken, "weights.bin"), Buffer.alloc(100));
    stderr = "";
    expect(await predict(broken, vertical)).toBe(2);
    expect(stderr).toMatch(
      /weights of .* are 100 bytes but the manifest describes 31400: the model is incomplete or corrupt/,
    );
    stderr = "";
    expect(await predict(runDir)).toBe(2);
    expect(stderr).toMatch(/missing required argument 'images'/);
  });
});

describe("nnc predict refuses what a model folder or an image must not make it do (issue 12)", () => {
  /** A copy of the run's model.json with its manifest's paths replaced, in a folder of its own. */
  async function withPaths(name: string, paths: string[]): Promise<string> {
    const fs = await import("node:fs");
    const dir = join(tmp, "evil", name);
    mkdirSync(dir, { recursive: true });
    const json = JSON.parse(fs.readFileSync(join(runDir, "model", "model.json"), "utf8")) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0]!.paths = paths;
    writeFileSync(join(dir, "model.json"), JSON.stringify(json));
    fs.copyFileSync(join(runDir, "model", "weights.bin"), join(dir, "weights.bin"));
    return dir;
  }

  it("weight files outside the model folder, devices and links out are refused before reading", async () => {
    const fs = await import("node:fs");
    expect(await predict(await withPaths("climb", ["../../../../../../../../etc/hostname"]), vertical)).toBe(2);
    expect(stderr).toMatch(/names the weight file "\.\.\/\.\.\/.*etc\/hostname", which is outside its folder/);
    stderr = "";
    expect(await predict(await withPaths("absolute", ["/dev/zero"]), vertical)).toBe(2);
    expect(stderr).toMatch(/names the weight file "\/dev\/zero", which is not a file inside its folder/);
    stderr = "";
    const linked = await withPaths("link", ["zero.bin"]);
    fs.symlinkSync("/dev/zero", join(linked, "zero.bin"));
    expect(await predict(linked, vertical)).toBe(2);
    expect(stderr).toMatch(/names the weight file "zero\.bin", which is outside its folder/);
    stderr = "";
    const device = await withPaths("device", ["dev"]);
    fs.mkdirSync(join(device, "dev"));
    expect(await predict(device, vertical)).toBe(2);
    expect(stderr).toMatch(/names the weight file "dev", which is not a regular file/);
  });

  it("weight files larger than the manifest declares are refused without reading them", async () => {
    const big = await withPaths("big", ["weights.bin", "more.bin"]);
    writeFileSync(join(big, "more.bin"), Buffer.alloc(1 << 20));
    stderr = "";
    expect(await predict(big, vertical)).toBe(2);
    expect(stderr).toMatch(/are more than the 31400 bytes its manifest describes/);
  });

  it("a model with NaN weights is refused", async () => {
    const fs = await import("node:fs");
    const nan = await withPaths("nan", ["weights.bin"]);
    const w = fs.readFileSync(join(nan, "weights.bin"));
    w.writeFloatLE(Number.NaN, 400);
    w.writeFloatLE(Number.POSITIVE_INFINITY, 404);
    writeFileSync(join(nan, "weights.bin"), w);
    stderr = "";
    expect(await predict(nan, vertical)).toBe(2);
    expect(stderr).toMatch(/has 2 weights that are NaN or infinite \(first in dense_1\/kernel\): training diverged/);
  });

  it("a PNG over the pixel limit is refused from its header, before decoding", async () => {
    // A real PNG signature and IHDR chunk of 20000 x 20000 (no image data follows).
    const ihdr = Buffer.alloc(25);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(ihdr, 0);
    ihdr.writeUInt32BE(13, 8);
    ihdr.write("IHDR", 12, "latin1");
    ihdr.writeUInt32BE(20000, 16);
    ihdr.writeUInt32BE(20000, 20);
    const huge = join(tmp, "huge.png");
    writeFileSync(huge, ihdr);
    stderr = "";
    expect(await predict(runDir, huge)).toBe(2);
    expect(stderr).toMatch(/huge\.png is 20000x20000 pixels, more than the 16,777,216 nnc predict reads/);
  });
});
