// The TensorFlow.js engine (`nnc run --engine tfjs`): builds a tf.LayersModel from the IR
// (model.ts) and trains it with nnc's own loop (train.ts) on the backend chosen by
// `--backend` / `--gpu` (backends.ts).
import type { Engine, RunOptions, TrainHooks, TrainResult } from "../../engine.js";
import type { IR } from "../../../compiler/ir.js";
import { initBackend, type BackendChoice } from "./backends.js";
import { trainTfjs } from "./train.js";

export { initBackend, BackendError, type BackendChoice } from "./backends.js";
export { buildModel, registerNncLayers } from "./model.js";
export { fileLoadHandler, fileSaveHandler } from "./save.js";

export interface TfjsEngineConfig {
  /** A backend already initialised (selectEngine does this, to report problems before training). */
  choice?: BackendChoice;
  /** `--gpu`. */
  gpu?: boolean;
}

export function createTfjsEngine(config: TfjsEngineConfig = {}): Engine & { choice?: BackendChoice } {
  const engine = {
    name: "tfjs" as const,
    choice: config.choice,
    async train(ir: IR, options: RunOptions, hooks: TrainHooks): Promise<TrainResult> {
      const choice = engine.choice ?? (await initBackend(ir, options.backend ?? "auto", config.gpu ?? false));
      engine.choice = choice;
      if (!options.quiet && !config.choice) hooks.log?.(`tfjs backend: ${choice.backend} (${choice.reason})`);
      const { trainer, stepLosses: _s, ...result } = await trainTfjs(ir, options, hooks, choice);
      // Free the weights: a sweep trains several models in one process.
      trainer.built.model.dispose();
      return result;
    },
  };
  return engine;
}

/** The tfjs engine with `--backend` taken from RunOptions.backend (default auto). */
export const tfjsEngine: Engine = createTfjsEngine();
