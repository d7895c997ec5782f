// `nnc export` on a real run directory (a small CNN trained one short epoch by the standalone
// engine): the ONNX file in ONNX Runtime, the safetensors file in PyTorch (Debian's python3-torch,
// .ci/run), the tfjs folder in tf.loadLayersModel, each against the run's
// model as tf.loadLayersModel predicts it; and the command's errors.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-web";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fileLoadHandler } from "../../src/runtime/engines/tfjs/save.js";
import { registerNncLayers } from "../../src/runtime/engines/tfjs/model.js";
import { writeSyntheticMnist } from "../helpers/data.js";
import { nnc, trainRun } from "../helpers/run-dir.js";

const here = dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "nnc-export-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = join(tmp, "data");
const runDir = join(tmp, "run");
let images: Float32Array;
let reference: Float32Array;
const N = 6;

beforeAll(async () => {
  writeSyntheticMnist(data, { train: 96, test: 20 });
  const r = await trainRun(join(here, "fixtures", "small.nn"), runDir, ["--data", data]);
  expect(r.code, r.stderr).toBe(0);
  // tfjs's "install the node backend" banner is not this test's business
  const quiet = vi.spyOn(console, "warn").mockImplementation(() => {});
  await tf.setBackend("cpu");
  await tf.ready();
  tf.tidy(() => tf.zeros([1]).add(1).dataSync()); // the banner shows at the first tensor
  quiet.mockRestore();
  registerNncLayers(tf);
  ort.env.wasm.numThreads = 1;
  const model = await tf.loadLayersModel(fileLoadHandler(join(runDir, "model")));
  const x = tf.randomUniform([N, 28, 28, 1], 0, 1, "float32", 5);
  images = x.dataSync() as Float32Array;
  reference = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  model.dispose();
}, 120_000);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe("nnc export", () => {
  it("--format onnx writes RUN_DIR/model.onnx, which ONNX Runtime runs to the same predictions (1e-5)", async () => {
    const r = await nnc("export", runDir, "--format", "onnx");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*model\.onnx \(onnx, [\d.]+ KiB\)\n$/);
    const session = await ort.InferenceSession.create(readFileSync(join(runDir, "model.onnx")));
    expect(session.inputNames).toEqual(["input_1"]);
    const out = await session.run({ input_1: new ort.Tensor("float32", images, [N, 28, 28, 1]) });
    const probs = out[session.outputNames[0]!]!;
    expect(probs.dims).toEqual([N, 10]);
    expect(maxDiff(probs.data as Float32Array, reference)).toBeLessThan(1e-5);
    await session.release();
  }, 60_000);

  it("--format safetensors: model.json's names and shapes; PyTorch computes the same predictions from it", async () => {
    const file = join(tmp, "small.safetensors");
    const r = await nnc("export", runDir, "--format", "safetensors", "-o", file, "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ format: "safetensors", path: file });
    // the format, read by hand: u64 header length, JSON header, data
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
    const manifest = JSON.parse(readFileSync(join(runDir, "model", "model.json"), "utf8")).weightsManifest[0].weights;
    expect(Object.keys(header).filter((k) => k !== "__metadata__")).toEqual(manifest.map((w: { name: string }) => w.name));
    for (const w of manifest) expect(header[w.name]).toMatchObject({ dtype: "F32", shape: w.shape });
    expect(header.__metadata__).toMatchObject({ format: "pt", layout: "keras", sourceFile: expect.stringContaining("small.nn") });
    expect(bytes.subarray(8 + n).equals(readFileSync(join(runDir, "model", "weights.bin")))).toBe(true);

    // PyTorch: load the tensors (the README's recipe without the safetensors package), run the CNN
    writeFileSync(join(tmp, "images.bin"), images);
    const script = `
import json, struct, sys, torch
import torch.nn.functional as F
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
def tensor(name):
    h = header[name]
    a, b = h["data_offsets"]
    return torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=torch.float32).reshape(h["shape"])
x = torch.frombuffer(bytearray(open(sys.argv[2], "rb").read()), dtype=torch.float32).reshape(-1, 28, 28, 1)
x = x.permute(0, 3, 1, 2)                                    # NHWC -> NCHW
k = tensor("conv2d_1/kernel").permute(3, 2, 0, 1)            # [kh, kw, in, out] -> [out, in, kh, kw]
x = F.max_pool2d(F.relu(F.conv2d(x, k, tensor("conv2d_1/bias"), padding=1)), 2)
x = x.permute(0, 2, 3, 1).flatten(1)                         # Keras flattens NHWC
y = torch.softmax(x @ tensor("dense_1/kernel") + tensor("dense_1/bias"), dim=-1)
print(json.dumps(y.flatten().tolist()))
`;
    writeFileSync(join(tmp, "forward.py"), script);
    const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    const out = execFileSync(python, [join(tmp, "forward.py"), file, join(tmp, "images.bin")], { encoding: "utf8" });
    expect(maxDiff(JSON.parse(out), reference)).toBeLessThan(1e-5);
  }, 120_000);

  it("--format tfjs: TensorFlow.js's own save, which tf.loadLayersModel reads to the same predictions", async () => {
    const dir = join(tmp, "web-model");
    const r = await nnc("export", runDir, "--format", "tfjs", "-o", dir);
    expect(r.code, r.stderr).toBe(0);
    const model = await tf.loadLayersModel(fileLoadHandler(dir));
    const y = (model.predict(tf.tensor(images, [N, 28, 28, 1])) as tf.Tensor).dataSync();
    expect(maxDiff(y, reference)).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "model.json"), "utf8")).userDefinedMetadata.sourceFile).toContain("small.nn");
  }, 60_000);

  it("errors: no model, no --format, an unknown format", async () => {
    const missing = await nnc("export", join(tmp, "nothing"), "--format", "onnx");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`nnc: ${join(tmp, "nothing")} does not exist\n`);
    const notRun = await nnc("export", data, "--format", "onnx");
    expect(notRun.code).toBe(2);
    expect(notRun.stderr).toContain("holds no model: neither");
    expect((await nnc("export", runDir)).code).toBe(2);
    const bad = await nnc("export", runDir, "--format", "pickle");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Allowed choices are onnx, safetensors, tfjs");
  });
});
