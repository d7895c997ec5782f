// Reads a model saved in TensorFlow.js layers format (what `nnc run` writes to RUN_DIR/model/:
// model.json + weights.bin) as plain data: the Keras topology and each weight of the manifest,
// by name, with its shape and values. No tfjs: `nnc export` and its ONNX and safetensors writers
// work from this.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export interface SavedWeight {
  /** The manifest's name, e.g. "conv2d_1/kernel". */
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  data: Float32Array | Int32Array;
}

/** One Keras layer of the topology. */
export interface KerasLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  /** Functional models: [[[inbound layer name, node index, tensor index, kwargs], ...]]. */
  inbound_nodes?: unknown[];
}

export interface SavedModel {
  /** The folder holding model.json. */
  dir: string;
  /** model.json as read. */
  json: Record<string, unknown>;
  /** "Model" / "Functional" / "Sequential". */
  className: string;
  name: string;
  layers: KerasLayer[];
  /** Names of the layers whose outputs are the model's outputs. */
  outputs: string[];
  /** In manifest order. */
  weights: SavedWeight[];
  metadata: Record<string, unknown>;
}

/** A model folder that cannot be read: the message says which file and what is wrong. */
export class SavedModelError extends Error {}

/** The folder with model.json: DIR itself, or DIR/model (a run directory). */
export function modelDirOf(dir: string): string {
  if (existsSync(join(dir, "model.json"))) return dir;
  if (existsSync(join(dir, "model", "model.json"))) return join(dir, "model");
  if (!existsSync(dir)) throw new SavedModelError(`${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new SavedModelError(`${dir} is not a directory (give a run directory, or the model/ folder in it)`);
  throw new SavedModelError(
    `${dir} holds no model: neither ${join(dir, "model.json")} nor ${join(dir, "model", "model.json")} exists (is it a run directory of \`nnc run\`? an interrupted run saves no model)`,
  );
}

/** Reads RUN_DIR/model (or a folder with model.json) without tfjs. */
export function readSavedModel(runOrModelDir: string): SavedModel {
  const dir = modelDirOf(runOrModelDir);
  const jsonPath = join(dir, "model.json");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(jsonPath, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new SavedModelError(`${jsonPath} is not readable JSON (${(err as Error).message})`);
  }
  const topology = json.modelTopology as { class_name?: string; config?: unknown } | undefined;
  if (!topology || typeof topology !== "object") {
    throw new SavedModelError(`${jsonPath} has no modelTopology: not a TensorFlow.js layers model (a graph model cannot be exported)`);
  }
  const className = String(topology.class_name ?? "");
  const config = topology.config as Record<string, unknown> | unknown[] | undefined;
  let layers: KerasLayer[];
  let outputs: string[];
  let name = "model";
  if (className === "Sequential") {
    // Old Sequential configs are a bare list; newer ones {name, layers}.
    const list = (Array.isArray(config) ? config : ((config as Record<string, unknown>)?.layers as unknown[])) ?? [];
    if (!Array.isArray(config)) name = String((config as Record<string, unknown>)?.name ?? name);
    layers = list.map((l, i) => {
      const layer = l as KerasLayer;
      const layerName = String(layer.config?.name ?? layer.name ?? `layer_${i}`);
      return { ...layer, name: layerName, config: layer.config ?? {} };
    });
    outputs = layers.length > 0 ? [layers[layers.length - 1]!.name] : [];
  } else if (className === "Model" || className === "Functional") {
    const c = config as Record<string, unknown>;
    name = String(c.name ?? name);
    layers = ((c.layers as KerasLayer[]) ?? []).map((l) => ({ ...l, name: String(l.name ?? l.config?.name), config: l.config ?? {} }));
    outputs = ((c.output_layers as unknown[][]) ?? []).map((o) => String(o[0]));
  } else {
    throw new SavedModelError(`${jsonPath}: unknown model class "${className}" (expected Model, Functional or Sequential)`);
  }

  const manifest = (json.weightsManifest as { paths: string[]; weights: { name: string; shape: number[]; dtype: string; quantization?: unknown }[] }[]) ?? [];
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      const file = join(dir, p);
      if (!existsSync(file)) throw new SavedModelError(`${jsonPath} names the weights file ${p}, which is missing`);
      buffers.push(readFileSync(file));
    }
  }
  const all = Buffer.concat(buffers);
  const weights: SavedWeight[] = [];
  let offset = 0;
  for (const spec of manifest.flatMap((g) => g.weights)) {
    if (spec.quantization) throw new SavedModelError(`${jsonPath}: weight ${spec.name} is quantized; only float32 weights can be exported`);
    if (spec.dtype !== "float32" && spec.dtype !== "int32") {
      throw new SavedModelError(`${jsonPath}: weight ${spec.name} has dtype ${spec.dtype}; only float32 and int32 are supported`);
    }
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = count * 4;
    if (offset + bytes > all.length) {
      throw new SavedModelError(`${jsonPath}: the weights files hold ${all.length} bytes, fewer than the manifest needs (truncated weights.bin?)`);
    }
    const copy = new Uint8Array(all.subarray(offset, offset + bytes));
    const data = spec.dtype === "float32" ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
    weights.push({ name: spec.name, shape: [...spec.shape], dtype: spec.dtype, data });
    offset += bytes;
  }
  if (offset !== all.length) {
    throw new SavedModelError(`${jsonPath}: the weights files hold ${all.length} bytes, but the manifest describes ${offset}`);
  }
  return {
    dir,
    json,
    className,
    name,
    layers,
    outputs,
    weights,
    metadata: (json.userDefinedMetadata as Record<string, unknown>) ?? {},
  };
}
