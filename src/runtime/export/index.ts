// `nnc export RUN_DIR --format onnx|safetensors|tfjs [-o PATH]`: the trained model of a run
// directory (RUN_DIR/model, TensorFlow.js layers format) in another format.
//   onnx         RUN_DIR/model.onnx by default; written by nnc (onnx.ts), opset 13, NHWC input
//   safetensors  RUN_DIR/model.safetensors by default; model.json's weight names and Keras layouts
//   tfjs         RUN_DIR/tfjs/ by default; the model loaded and saved again by TensorFlow.js itself
//                (model.json + weights.bin), so what is written is what tf.loadLayersModel reads
// Every file is written atomically: a failed export leaves nothing half-written.
import { join, resolve } from "node:path";
import { NNC_VERSION } from "../../version.js";
import { writeAtomic } from "../run/files.js";
import { savedModelToOnnx } from "./onnx.js";
import { readSavedModel, type SavedModel } from "./saved-model.js";
import { safetensorsBytes } from "./safetensors.js";

export const EXPORT_FORMATS = ["onnx", "safetensors", "tfjs"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportResult {
  format: ExportFormat;
  /** The file (onnx, safetensors) or folder (tfjs) written. */
  path: string;
  files: string[];
  bytes: number;
}

/** The default output of a format, inside the run directory. */
export function defaultExportPath(runDir: string, format: ExportFormat): string {
  return join(runDir, format === "onnx" ? "model.onnx" : format === "safetensors" ? "model.safetensors" : "tfjs");
}

/** String metadata carried into the exported file: where the model came from. */
function provenance(model: SavedModel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ["sourceFile", "sourceSha256", "nncVersion", "engine", "backend"]) {
    const v = model.metadata[key];
    if (v !== undefined && v !== null) out[key] = String(v);
  }
  return out;
}

export async function exportRun(runDir: string, format: ExportFormat, out?: string): Promise<ExportResult> {
  const path = resolve(out ?? defaultExportPath(runDir, format));
  if (format === "tfjs") return exportTfjs(runDir, path);
  const model = readSavedModel(runDir);
  let bytes: Uint8Array;
  if (format === "onnx") {
    bytes = savedModelToOnnx(model, {
      producerVersion: NNC_VERSION,
      metadata: { ...provenance(model), input_layout: "NHWC" },
      docString: `${model.name}, exported by nnc ${NNC_VERSION} from ${join(model.dir, "model.json")}`,
    });
  } else {
    bytes = safetensorsBytes(model.weights, { format: "pt", layout: "keras", ...provenance(model) });
  }
  writeAtomic(path, bytes);
  return { format, path, files: [path], bytes: bytes.length };
}

/** Loads the model with tf.loadLayersModel and saves it with TensorFlow.js's own serialization. */
async function exportTfjs(runDir: string, outDir: string): Promise<ExportResult> {
  const { loadModel } = await import("../predict.js");
  const { fileSaveHandler } = await import("../engines/tfjs/save.js");
  const { modelDirOf } = await import("./saved-model.js");
  const from = modelDirOf(runDir);
  if (resolve(from) === outDir) throw new Error(`-o ${outDir} is the model folder itself; choose another folder`);
  const loaded = await loadModel(from);
  const md = loaded.metadata as Record<string, unknown>;
  const metadata = {
    ...md,
    sourceSha256: String(md.sourceSha256 ?? ""),
    sourceFile: String(md.sourceFile ?? ""),
    nncVersion: String(md.nncVersion ?? NNC_VERSION),
  };
  await loaded.model.save(fileSaveHandler(outDir, metadata));
  loaded.model.dispose();
  const { statSync } = await import("node:fs");
  const files = ["model.json", "weights.bin"].map((f) => join(outDir, f));
  return { format: "tfjs", path: outDir, files, bytes: files.reduce((n, f) => n + statSync(f).size, 0) };
}
