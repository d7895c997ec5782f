// The TensorFlow.js engine (`nnc run --engine tfjs`): generates the model's tfjs program (the tfjs
// target, src/compiler/targets/tfjs: the program `nnc compile --target tfjs` writes), transpiles
// and runs it in-process (../program.ts) and calls its exported train(options, hooks) on the
// backend chosen by `--backend` / `--gpu` (backends.ts): the program's `import * as tf from
// "@tensorflow/tfjs"` is answered with the tfjs module whose backend this engine initialised.
import type { Engine, RunOptions, TrainHooks, TrainResult } from "../../engine.js";
import type { IR } from "../../../compiler/ir.js";
import { initBackend, type BackendChoice } from "./backends.js";

export { initBackend, BackendError, type BackendChoice } from "./backends.js";
export { buildModel, registerNncLayers } from "./model.js";

export interface TfjsEngineConfig {
  /** A backend already initialised (selectEngine does this, to report problems before training). */
  choice?: BackendChoice;
  /** `--gpu`. */
  gpu?: boolean;
}

/** Generates and loads the tfjs program for `ir`, its `tf` being `choice.tf`. */
export async function loadTfjsProgram(ir: IR, choice: BackendChoice) {
  // Loaded when a tfjs run starts: select.ts imports this module for every run.
  const { generateTfjs } = await import("../../../compiler/targets/tfjs/index.js");
  const { loadProgram } = await import("../program.js");
  // Not formatted: esbuild reads it as well either way (`nnc compile` writes the formatted text).
  const source = await generateTfjs(ir, { package: "@tensorflow/tfjs", format: false });
  return loadProgram(source, `nnc-tfjs-${ir.model.name}`, { "@tensorflow/tfjs": choice.tf });
}

export function createTfjsEngine(config: TfjsEngineConfig = {}): Engine & { choice?: BackendChoice } {
  const engine = {
    name: "tfjs" as const,
    choice: config.choice,
    async train(ir: IR, options: RunOptions, hooks: TrainHooks): Promise<TrainResult> {
      const choice = engine.choice ?? (await initBackend(ir, options.backend ?? "auto", config.gpu ?? false));
      engine.choice = choice;
      if (!options.quiet && !config.choice) hooks.log?.(`tfjs backend: ${choice.backend} (${choice.reason})`);
      const program = await loadTfjsProgram(ir, choice);
      return program.train(options, hooks);
    },
  };
  return engine;
}

/** The tfjs engine with `--backend` taken from RunOptions.backend (default auto). */
export const tfjsEngine: Engine = createTfjsEngine();
