// ONNX export parity: models built from small .nn files (every layer kind nnc has) and from
// TensorFlow.js itself (the activations and global poolings a tfjs model.json may hold), with
// random weights, exported by nnc and run in ONNX Runtime (onnxruntime-web, wasm, in Node),
// against tf.loadLayersModel's predictions of the same saved model, to 1e-5; every per-feature case
// of test/cases/ among them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-web";
import protobuf from "protobufjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { buildModel, registerNncLayers } from "../../src/runtime/engines/tfjs/model.js";
import { fileLoadHandler, fileSaveHandler } from "../../src/runtime/engines/tfjs/save.js";
import { OnnxExportError, savedModelToOnnx } from "../../src/runtime/export/onnx.js";
import { readSavedModel } from "../../src/runtime/export/saved-model.js";
import { allCases } from "../cases/cases.js";

const here = dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "nnc-onnx-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const metadata = { sourceSha256: "-", sourceFile: "-", nncVersion: "test" };

// The part of onnx.proto the tests read back, decoded by protobufjs (independent of nnc's encoder).
const onnxRoot = protobuf.parse(`
syntax = "proto2";
package onnx;
message ModelProto { optional int64 ir_version = 1; optional string producer_name = 2; optional GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; }
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
message GraphProto { repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message NodeProto { repeated string input = 1; repeated string output = 2; optional string name = 3; optional string op_type = 4; }
message TensorProto { repeated int64 dims = 1; optional int32 data_type = 2; optional string name = 8; optional bytes raw_data = 9; }
message ValueInfoProto { optional string name = 1; }
`).root;
const ModelProto = onnxRoot.lookupType("onnx.ModelProto");

beforeAll(async () => {
  // tfjs's "install the node backend" banner is not this test's business
  const quiet = vi.spyOn(console, "warn").mockImplementation(() => {});
  await tf.setBackend("cpu");
  await tf.ready();
  tf.tidy(() => tf.zeros([1]).add(1).dataSync()); // the banner shows at the first tensor
  quiet.mockRestore();
  registerNncLayers(tf);
  ort.env.wasm.numThreads = 1;
});

/** Every weight set to seeded uniform values (variances positive), so nothing is trivially 0 or 1. */
function randomizeWeights(model: tf.LayersModel, seed: number): void {
  model.weights.forEach((w, i) => {
    const variance = w.originalName.endsWith("moving_variance");
    const t = variance
      ? tf.randomUniform(w.shape as number[], 0.5, 1.5, "float32", seed + i)
      : tf.randomUniform(w.shape as number[], -0.4, 0.4, "float32", seed + i);
    w.write(t);
    t.dispose();
  });
}

async function save(model: tf.LayersModel, name: string): Promise<string> {
  const dir = join(tmp, name);
  await model.save(fileSaveHandler(dir, metadata));
  return dir;
}

/** Exports a saved model with nnc and runs it in ONNX Runtime on `x` (NHWC, as the Keras model); checks the file's header and initializers. */
async function onnxPredict(dir: string, x: Float32Array, shape: number[]): Promise<{ out: Float32Array; dims: readonly number[]; onnxOps: string[] }> {
  const saved = readSavedModel(dir);
  const bytes = savedModelToOnnx(saved, { producerVersion: "test" });
  const session = await ort.InferenceSession.create(bytes);
  const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor("float32", x, shape) });
  const out = result[session.outputNames[0]!]!;
  const decoded = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number }) as any;
  expect(decoded.producerName).toBe("nnc");
  expect(decoded.opsetImport).toEqual([{ domain: "", version: 13 }]);
  const onnxOps = [...new Set<string>(decoded.graph.node.map((n: any) => n.opType))];
  // every weight of the manifest is an initializer, under its model.json name
  const initializers = new Set(decoded.graph.initializer.map((t: any) => t.name));
  for (const w of saved.weights) expect(initializers.has(w.name), w.name).toBe(true);
  await session.release();
  return { out: out.data as Float32Array, dims: out.dims, onnxOps };
}

/** Runs the exported model in ONNX Runtime and tf.loadLayersModel on the same inputs; returns the largest difference. */
async function parity(dir: string, batch = 3, seed = 7, scale = 1): Promise<{ maxDiff: number; outputs: Float32Array; onnxOps: string[] }> {
  const model = await tf.loadLayersModel(fileLoadHandler(dir));
  const shape = [batch, ...(model.inputs[0]!.shape.slice(1) as number[])];
  const x = tf.randomUniform(shape, -scale, scale, "float32", seed);
  const ref = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  const { out: got, dims, onnxOps } = await onnxPredict(dir, x.dataSync() as Float32Array, shape);
  expect(dims).toEqual((model.outputs[0]!.shape as (number | null)[]).map((d) => d ?? batch));
  expect(got.length).toBe(ref.length);
  let maxDiff = 0;
  for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - got[i]!));
  x.dispose();
  model.dispose();
  return { maxDiff, outputs: ref, onnxOps };
}

/** A model from a .nn file: tfjs engine build, random weights (or the seeded initial ones), saved as `nnc run` saves it. */
async function fromNn(file: string, seed: number, randomize = true, name?: string): Promise<string> {
  const text = readFileSync(file, "utf8");
  const { ir, diagnostics } = compileSource(text, file);
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const built = await buildModel(tf, ir!.model, seed);
  if (randomize) randomizeWeights(built.model, seed);
  const dir = await save(built.model, name ?? ir!.model.name);
  built.model.dispose();
  return dir;
}

/** The outputs are not all saturated (a parity test on a constant output would prove little). */
function expectSpread(outputs: Float32Array): void {
  expect(Math.max(...outputs)).toBeLessThan(0.999);
  expect(new Set(Array.from(outputs, (v) => v.toFixed(3))).size).toBeGreaterThan(5);
}

describe("ONNX export matches tf.loadLayersModel to 1e-5", () => {
  it("every layer kind of the .nn language (test/tfjs/fixtures/allkinds.nn)", async () => {
    const dir = await fromNn(join(here, "..", "tfjs", "fixtures", "allkinds.nn"), 11);
    const r = await parity(dir);
    expect(r.maxDiff).toBeLessThan(1e-5);
    expectSpread(r.outputs);
  });

  it("images through conv, pooling (valid, same), batch norm, add, concat, prelu, reshape back to an image", async () => {
    const dir = await fromNn(join(here, "fixtures", "convnet.nn"), 12);
    const r = await parity(dir, 4);
    expect(r.maxDiff).toBeLessThan(1e-5);
    expectSpread(r.outputs);
  });

  it("'same' padding that pads: odd sizes and strides in convolutions and both poolings", async () => {
    const dir = await fromNn(join(here, "fixtures", "same-padding.nn"), 14);
    const r = await parity(dir, 4);
    expect(r.maxDiff).toBeLessThan(1e-5);
    expectSpread(r.outputs);
  });

  it("a dense network with dropout and activations as arguments and as layers", async () => {
    const dir = await fromNn(join(here, "fixtures", "mlp.nn"), 13);
    const r = await parity(dir, 5);
    expect(r.maxDiff).toBeLessThan(1e-5);
    expectSpread(r.outputs);
  });

  it("every Keras activation tfjs writes, each alone on a Dense layer", async () => {
    const acts = ["relu", "relu6", "sigmoid", "hardSigmoid", "tanh", "softplus", "softsign", "elu", "selu", "swish", "mish", "gelu", "softmax", "logSoftmax", "linear"];
    for (const [i, a] of acts.entries()) {
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [5], units: 6, activation: a as never })] });
      randomizeWeights(model, 30 + i);
      // inputs in [0, 4]: both sides of every activation's bend, and relu6's and hard sigmoid's clips
      const r = await parity(await save(model, `act-${a}`), 8, 40 + i, 4);
      expect(r.maxDiff, a).toBeLessThan(1e-5);
      expect(new Set(Array.from(r.outputs, (v) => v.toFixed(4))).size, a).toBeGreaterThan(20);
    }
  });

  it("a tfjs Sequential model: ReLU(max_value), global pooling, no-bias layers", async () => {
    const layers: tf.layers.Layer[] = [
      tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 3, kernelSize: 3, padding: "same", activation: "relu6" }),
      tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2, useBias: false, activation: "selu" }),
      tf.layers.reLU({ maxValue: 0.8 }),
    ];
    const model = tf.sequential({ layers });
    model.add(tf.layers.globalAveragePooling2d({}));
    model.add(tf.layers.dense({ units: 4, useBias: false, activation: "softmax" }));
    randomizeWeights(model, 21);
    const dir = await save(model, "sequential");
    const r = await parity(dir, 2);
    expect(r.maxDiff).toBeLessThan(1e-5);
    expect(r.onnxOps).toEqual(expect.arrayContaining(["Clip", "ReduceMean", "Selu"]));

    const maxPool = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: "tanh" }),
        tf.layers.globalMaxPooling2d({}),
        tf.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    randomizeWeights(maxPool, 22);
    const r2 = await parity(await save(maxPool, "global-max"), 3);
    expect(r2.maxDiff).toBeLessThan(1e-5);
    expect(r2.onnxOps).toEqual(expect.arrayContaining(["ReduceMax", "Conv", "Transpose"]));
  });
});

describe("every per-feature case (test/cases/) exports and predicts as the model nnc saved, to 1e-5", () => {
  // The tfjs engine's model of the case with every weight random (batch_norm's moving statistics
  // and prelu's slopes included), saved as `nnc run` saves it; the standalone forward pass equals
  // that model's (test/cases/forward.test.ts, training.test.ts).
  for (const [i, c] of allCases().entries()) {
    it(`${c.folder}/${c.name}`, async () => {
      const r = await parity(await fromNn(c.file, 100 + i, true, `case-${c.folder}-${c.name}`), 3, 9);
      expect(r.maxDiff).toBeLessThan(1e-5);
    });
  }
});

describe("every example exports and runs the same in ONNX Runtime", () => {
  // alexnet.nn (27.7M parameters, 105 MB) is left out for time; its layer kinds are all above.
  const examples = ["cnn", "deep", "mlp", "mse_sgd", "prelu_mlp", "regularized", "scratch_sweep", "tf1_cnn", "twolayer"];
  it.each(examples)("examples/%s.nn", async (name) => {
    // the seeded initial weights (the layers' own initializers), as a first run starts
    const dir = await fromNn(join(here, "..", "..", "examples", `${name}.nn`), 15, false);
    const r = await parity(dir, 2);
    expect(r.maxDiff).toBeLessThan(1e-5);
  }, 60_000);
});

describe("what cannot be exported is an error, never dropped", () => {
  it("names an unsupported layer", async () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [4], units: 3 }), tf.layers.repeatVector({ n: 2 })],
    });
    const dir = await save(model, "unsupported");
    expect(() => savedModelToOnnx(readSavedModel(dir), { producerVersion: "test" })).toThrow(OnnxExportError);
    expect(() => savedModelToOnnx(readSavedModel(dir), { producerVersion: "test" })).toThrow(
      /layer repeat_vector\w* \(RepeatVector\) has no ONNX translation in nnc \(supported: InputLayer, Dense, Conv2D/,
    );
  });

  it("names an unsupported activation and option", async () => {
    const dir = await save(tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "relu" })] }), "act");
    const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    json.modelTopology.config.layers[0].config.activation = "cube";
    writeFileSync(join(dir, "model.json"), JSON.stringify(json));
    expect(() => savedModelToOnnx(readSavedModel(dir), { producerVersion: "test" })).toThrow(
      /layer dense\w* \(Dense\): activation "cube" has no ONNX translation/,
    );
    json.modelTopology.config.layers[0].config.activation = "relu";
    json.modelTopology.config.layers.push({ class_name: "Softmax", config: { name: "sm", axis: 0 } });
    writeFileSync(join(dir, "model.json"), JSON.stringify(json));
    expect(() => savedModelToOnnx(readSavedModel(dir), { producerVersion: "test" })).toThrow(/layer sm \(Softmax\): only axis -1 is supported/);
  });
});
