// `nnc predict MODEL_DIR IMAGE.png...`: classify hand-drawn digits with a model either engine
// trained (TensorFlow.js layers format: model.json + weights.bin), on tfjs's cpu backend.
// Each PNG is prepared the way MNIST's digits were made: grey, inverted when the background is
// light, cropped to the ink's bounding box, scaled to fit 20x20 keeping the aspect ratio
// (area-averaged, so strokes stay anti-aliased), and placed in a 28x28 field with its centre of
// mass at the centre.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { PNG } from "pngjs";
import * as tf from "@tensorflow/tfjs";
import { registerNncLayers } from "./engines/tfjs/model.js";
import { classNamesFor, greyFromRgba, preprocessDigit, toProbabilities, type GreyImage } from "./digits.js";

// The preprocessing lives in digits.ts (shared with the page of `nnc serve`).
export {
  DIGIT_NAMES,
  FASHION_NAMES,
  greyFromRgba,
  inkFromGrey,
  preprocessDigit,
  resampleArea,
  toProbabilities,
  type GreyImage,
} from "./digits.js";

/** The most pixels a PNG may have (4096 x 4096): checked from its header, before decoding. */
export const MAX_PNG_PIXELS = 4096 * 4096;

/** Width and height from a PNG's IHDR chunk, or null when the data does not start like a PNG. */
export function pngSize(data: Buffer): { width: number; height: number } | null {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (data.length < 24 || !signature.every((b, i) => data[i] === b) || data.toString("latin1", 12, 16) !== "IHDR") return null;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

/** Decodes a PNG (any colour type / bit depth pngjs reads) to luminance, compositing transparency over white. */
export function decodePng(data: Buffer, name = "image"): GreyImage {
  const header = pngSize(data);
  if (header !== null && header.width * header.height > MAX_PNG_PIXELS) {
    throw new Error(`${name} is ${header.width}x${header.height} pixels, more than the ${MAX_PNG_PIXELS.toLocaleString("en-US")} nnc predict reads; scale it down (a digit needs only 28x28)`);
  }
  let png: PNG;
  try {
    png = PNG.sync.read(data);
  } catch (err) {
    throw new Error(`${name} is not a readable PNG image (${(err as Error).message})`);
  }
  const { width, height } = png;
  if (width === 0 || height === 0) throw new Error(`${name} is empty (${width}x${height})`);
  return greyFromRgba(png.data, width, height);
}

/** Finds model.json: MODEL_DIR itself, MODEL_DIR/model (a run directory), or a model.json path. */
export function findModelJson(modelDir: string): string {
  const candidates = modelDir.endsWith(".json")
    ? [modelDir]
    : [join(modelDir, "model.json"), join(modelDir, "model", "model.json")];
  for (const c of candidates) if (existsSync(c) && statSync(c).isFile()) return c;
  if (!existsSync(modelDir)) throw new Error(`${modelDir} does not exist (give a run directory or its model/ folder)`);
  throw new Error(
    `no model.json in ${modelDir} or ${join(modelDir, "model")} (give a run directory written by \`nnc run\`, or its model/ folder)`,
  );
}

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

/** An IOHandler that reads model.json and its weight files from disk (no tfjs-node needed). */
export function fileModelHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      let json: ModelJson;
      try {
        json = JSON.parse(readFileSync(modelJsonPath, "utf8")) as ModelJson;
      } catch (err) {
        throw new Error(`${modelJsonPath} is not a TensorFlow.js model.json (${(err as Error).message})`);
      }
      if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new Error(`${modelJsonPath} is not a TensorFlow.js layers model (no modelTopology or weightsManifest)`);
      }
      const weightSpecs = json.weightsManifest.flatMap((g) => (Array.isArray(g?.weights) ? g.weights : []));
      const expected = manifestBytes(weightSpecs, modelJsonPath);
      const all = readWeightFiles(modelJsonPath, json.weightsManifest.flatMap((g) => (Array.isArray(g?.paths) ? g.paths : [null])), expected);
      if (all.length !== expected) {
        throw new Error(
          `the weights of ${modelJsonPath} are ${all.length} bytes but the manifest describes ${expected}: the model is incomplete or corrupt`,
        );
      }
      checkFiniteWeights(weightSpecs, all, modelJsonPath);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        weightSpecs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
        userDefinedMetadata: json.userDefinedMetadata as { [key: string]: {} } | undefined,
      };
    },
  };
}

/** The most weight bytes a model may declare (4 GiB: more than any model nnc trains). */
export const MAX_WEIGHT_BYTES = 2 ** 32;

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, bool: 1 };

/** The bytes a manifest's weights declare (checked: known dtypes, whole non-negative dimensions, bounded). */
export function manifestBytes(specs: readonly tf.io.WeightsManifestEntry[], modelJsonPath: string): number {
  let total = 0;
  for (const w of specs) {
    const size = DTYPE_BYTES[w?.dtype ?? "float32"];
    const shape = w?.shape;
    if (size === undefined || !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${modelJsonPath} describes the weight ${JSON.stringify(w?.name ?? "?")} with a bad shape or dtype: the model is corrupt`);
    }
    total += shape.reduce((a, b) => a * b, 1) * size;
    if (total > MAX_WEIGHT_BYTES) throw new Error(`${modelJsonPath} declares more than ${MAX_WEIGHT_BYTES / 2 ** 30} GiB of weights; nnc does not load it`);
  }
  return total;
}

/**
 * Reads the weight files a manifest names, each of which must be a regular file inside the
 * model's folder (no absolute paths, no `..`, no links out of it, no devices), reading no more
 * than the `expected` bytes the manifest declares.
 */
export function readWeightFiles(modelJsonPath: string, paths: readonly unknown[], expected: number): Buffer {
  const dir = realpathSync(dirname(resolve(modelJsonPath)));
  const buffers: Buffer[] = [];
  let total = 0;
  for (const p of paths) {
    if (typeof p !== "string" || p === "" || isAbsolute(p) || /^[A-Za-z]:|^[\\/]/.test(p)) {
      throw new Error(`${modelJsonPath} names the weight file ${JSON.stringify(p)}, which is not a file inside its folder ${dir}`);
    }
    const path = resolve(dir, p);
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      throw new Error(`cannot read the weights ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
    }
    const rel = relative(dir, real);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
      throw new Error(`${modelJsonPath} names the weight file ${JSON.stringify(p)}, which is outside its folder ${dir}`);
    }
    const st = statSync(real);
    if (!st.isFile()) throw new Error(`${modelJsonPath} names the weight file ${JSON.stringify(p)}, which is not a regular file`);
    total += st.size;
    if (total > expected) {
      throw new Error(`the weights of ${modelJsonPath} are more than the ${expected} bytes its manifest describes: the model is incomplete or corrupt`);
    }
    buffers.push(readFileSync(real));
  }
  return Buffer.concat(buffers);
}

/** Throws when a float32 weight holds NaN or an infinity (a model saved after training diverged). */
export function checkFiniteWeights(specs: readonly tf.io.WeightsManifestEntry[], data: Buffer, modelJsonPath: string): void {
  let offset = 0;
  let bad = 0;
  let first = "";
  for (const w of specs) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const size = DTYPE_BYTES[w.dtype ?? "float32"]!;
    if ((w.dtype ?? "float32") === "float32") {
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(data.readFloatLE(offset + i * 4))) {
          bad++;
          if (first === "") first = w.name;
        }
      }
    }
    offset += n * size;
  }
  if (bad > 0) {
    throw new Error(
      `${modelJsonPath} has ${bad} weight${bad === 1 ? "" : "s"} that ${bad === 1 ? "is" : "are"} NaN or infinite (first in ${first}): training diverged before it was saved; train it again with a smaller learning rate`,
    );
  }
}

let backendReady: Promise<void> | null = null;

/** tfjs on its plain cpu backend, without its "install tfjs-node" banner. */
async function cpuBackend(): Promise<void> {
  if (backendReady === null) {
    backendReady = (async () => {
      const warn = console.warn;
      console.warn = (...args: unknown[]) => {
        if (typeof args[0] === "string" && args[0].includes("tfjs-node")) return;
        warn(...args);
      };
      try {
        await tf.setBackend("cpu");
        await tf.ready();
        tf.tidy(() => tf.zeros([1]).add(1).dataSync());
      } finally {
        console.warn = warn;
      }
    })();
  }
  return backendReady;
}

export interface LoadedModel {
  model: tf.LayersModel;
  classNames: string[];
  /** Input shape without the batch dimension, e.g. [28, 28, 1] or [784]. */
  inputShape: number[];
  metadata: Record<string, unknown>;
}

export async function loadModel(modelDir: string): Promise<LoadedModel> {
  const path = findModelJson(modelDir);
  await cpuBackend();
  // Layer classes nnc adds to tfjs (ELU with any alpha) must be known before model.json is read.
  registerNncLayers(tf);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(fileModelHandler(path));
  } catch (err) {
    throw new Error(`cannot load the model ${path}: ${(err as Error).message}`);
  }
  const metadata = (JSON.parse(readFileSync(path, "utf8")) as ModelJson).userDefinedMetadata ?? {};
  const shape = model.inputs[0].shape.slice(1).map((d) => d ?? 1);
  if (shape.reduce((a, b) => a * b, 1) !== 784) {
    throw new Error(`the model in ${path} takes inputs of shape [${shape.join(", ")}], not a 28x28 image`);
  }
  const outputs = model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? 10;
  const classNames = classNamesFor(metadata, outputs);
  return { model, classNames, inputShape: shape, metadata };
}

export interface Prediction {
  file: string;
  top: { class: number; label: string; probability: number }[];
}

/** Classifies prepared 28x28 inputs; returns the top-k per image. */
export function classify(loaded: LoadedModel, inputs: Float32Array[], files: string[], k = 3): Prediction[] {
  const batch = new Float32Array(inputs.length * 784);
  inputs.forEach((x, i) => batch.set(x, i * 784));
  const probs = tf.tidy(() => {
    const x = tf.tensor(batch, [inputs.length, ...loaded.inputShape]);
    const y = loaded.model.predict(x) as tf.Tensor;
    return Float32Array.from(y.dataSync());
  });
  const classes = probs.length / inputs.length;
  return inputs.map((_, i) => {
    const p = toProbabilities(probs.subarray(i * classes, (i + 1) * classes));
    const order = p.map((v, c) => [v, c] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    return {
      file: files[i],
      top: order.slice(0, k).map(([probability, c]) => ({ class: c, label: loaded.classNames[c], probability })),
    };
  });
}

/** Reads, prepares and classifies PNG files. */
export async function predictFiles(modelDir: string, files: string[], k = 3): Promise<Prediction[]> {
  const inputs = files.map((f) => {
    let data: Buffer;
    try {
      const size = statSync(f).size;
      if (size > 64 * 2 ** 20) throw new Error(`it is ${(size / 2 ** 20).toFixed(0)} MiB, more than the 64 MiB nnc predict reads`);
      data = readFileSync(f);
    } catch (err) {
      throw new Error(
        `cannot read ${f}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`,
      );
    }
    return preprocessDigit(decodePng(data, f), f);
  });
  const loaded = await loadModel(modelDir);
  return classify(loaded, inputs, files, k);
}

/** "digit.png: 7 98.1%  1 1.2%  9 0.3%" */
export function formatPrediction(p: Prediction): string {
  return `${p.file}: ${p.top.map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join("  ")}`;
}
