// Saving a tf.LayersModel in TensorFlow.js layers format (model.json + weights.bin) without
// tfjs-node's file:// handler: a custom IOHandler that writes the folder whole (writeModelDir: a
// temporary folder renamed into place), so a reader never sees weights without their model.json.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";
import { writeModelDir } from "../../data/mnist.js";

export interface ModelMetadata {
  /** sha256 of the .nn source the model came from. */
  sourceSha256: string;
  sourceFile: string;
  nncVersion: string;
  [key: string]: unknown;
}

function concatWeightData(data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (!Array.isArray(data)) return new Uint8Array(data);
  const total = data.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), off);
    off += b.byteLength;
  }
  return out;
}

/** An IOHandler writing `dir/model.json` and `dir/weights.bin`. */
export function fileSaveHandler(dir: string, metadata: ModelMetadata): tfTypes.io.IOHandler {
  return {
    async save(artifacts: tfTypes.io.ModelArtifacts): Promise<tfTypes.io.SaveResult> {
      const weights = concatWeightData(artifacts.weightData as ArrayBuffer | ArrayBuffer[] | undefined);
      const modelJson = {
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), ...metadata },
      };
      const json = JSON.stringify(modelJson);
      writeModelDir(dir, { "weights.bin": weights, "model.json": json });
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}

/** An IOHandler reading what fileSaveHandler wrote (for tf.loadLayersModel in Node without tfjs-node). */
export function fileLoadHandler(dir: string): tfTypes.io.IOHandler {
  return {
    async load(): Promise<tfTypes.io.ModelArtifacts> {
      const json = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
      const manifest = json.weightsManifest as { paths: string[]; weights: tfTypes.io.WeightsManifestEntry[] }[];
      const buffers = manifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
      const total = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: manifest.flatMap((g) => g.weights),
        weightData: total.buffer.slice(total.byteOffset, total.byteOffset + total.byteLength),
        userDefinedMetadata: json.userDefinedMetadata,
      };
    },
  };
}

export async function saveModel(model: tfTypes.LayersModel, dir: string, metadata: ModelMetadata): Promise<string[]> {
  await model.save(fileSaveHandler(dir, metadata));
  return ["model.json", "weights.bin"];
}
