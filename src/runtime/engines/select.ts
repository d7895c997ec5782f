// STUB (owner: tfjs engine). Picks the engine and backend for `nnc run` and says why.
import type { Engine, RunOptions } from "../engine.js";
import type { IR } from "../../compiler/ir.js";

export interface EngineChoice {
  engine: Engine;
  /** e.g. "standalone engine: @tensorflow/tfjs-node is not installed and tfjs-wasm cannot train conv2d in Node" */
  reason: string;
}

export async function selectEngine(
  _ir: IR,
  _request: { engine: "auto" | "standalone" | "tfjs"; backend: string; gpu: boolean },
  _options: RunOptions,
): Promise<EngineChoice> {
  throw new Error("engine selection not implemented yet");
}
