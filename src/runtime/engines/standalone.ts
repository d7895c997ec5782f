// The standalone engine: generates the model's dependency-free TypeScript program
// (src/compiler/targets/standalone), transpiles it in-process with esbuild to a CommonJS
// function, runs it (program.ts), and calls its exported train(options, hooks).
import { availableParallelism } from "node:os";
import type { IR } from "../../compiler/ir.js";
import { generateStandalone } from "../../compiler/targets/standalone/index.js";
import type { Engine, RunOptions, TrainHooks, TrainResult } from "../engine.js";
import { loadProgram } from "./program.js";

export interface StandaloneProgram {
  train(options: RunOptions, hooks: TrainHooks): Promise<TrainResult>;
}

/** Kernel mode and thread count: --kernels ts|simd (default simd), $NNC_THREADS (default: the cores, at most 8). */
export function kernelSettings(options: Pick<RunOptions, "kernels">): { mode: "ts" | "simd"; threads: number } {
  const mode = options.kernels === "ts" ? "ts" : "simd";
  if (options.kernels !== undefined && options.kernels !== "ts" && options.kernels !== "simd") {
    throw new Error(`--kernels must be ts or simd, not ${JSON.stringify(options.kernels)}`);
  }
  const env = Number(process.env.NNC_THREADS);
  const threads = Number.isInteger(env) && env > 0 ? env : Math.max(1, Math.min(8, availableParallelism()));
  return { mode, threads };
}

/** Generates, transpiles and loads the program for `ir` (garbage once the caller drops it). */
export async function loadStandaloneProgram(
  ir: IR,
  settings: { mode: "ts" | "simd"; threads: number; exposeInternals?: boolean },
): Promise<StandaloneProgram & Record<string, unknown>> {
  // Not formatted: esbuild reads it as well either way, and prettier would be most of the time
  // the generation takes (a second or so per program). `nnc compile` writes the formatted text.
  const source = await generateStandalone(ir, { kernels: settings.mode, threads: settings.threads, exposeInternals: settings.exposeInternals, format: false });
  return loadProgram(source, `nnc-standalone-${ir.model.name}`);
}

export const standaloneEngine: Engine = {
  name: "standalone",
  async train(ir: IR, options: RunOptions, hooks: TrainHooks): Promise<TrainResult> {
    const settings = kernelSettings(options);
    const program = await loadStandaloneProgram(ir, settings);
    return program.train(options, hooks);
  },
};

export default standaloneEngine;
