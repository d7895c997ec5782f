// Reading and writing a tf.LayersModel in TensorFlow.js layers format (model.json + weights.bin)
// without tfjs-node's file:// handler. The writer (a folder written whole by writeModelDir) is the
// one the tfjs program embeds: src/runtime/training/tfjs.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs";

export { fileSaveHandler, saveModel, type ModelMetadata } from "../../training/tfjs.js";

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
