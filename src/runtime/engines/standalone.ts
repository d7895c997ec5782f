// The standalone engine: generates the model's dependency-free TypeScript program
// (src/compiler/targets/standalone), transpiles it in-process with esbuild to a CommonJS
// function, runs it (program.ts), and calls its exported train(options, hooks).
import { availableParallelism } from "node:os";
import type { IR } from "../../compiler/ir.js";
import { generateStandalone } from "../../compiler/targets/standalone/index.js";
import { MAX_KERNEL_THREADS } from "../../compiler/targets/standalone/threads.js";
import { loadMnist } from "../data/mnist.js";
import type { Engine, RunOptions, TrainHooks, TrainResult } from "../engine.js";
import { loadProgram } from "./program.js";

export interface StandaloneProgram {
  train(options: RunOptions, hooks: TrainHooks): Promise<TrainResult>;
}

/** Kernel mode and thread count: --kernels ts|simd (default simd), $NNC_THREADS (1 to 64; default: the cores, at most 8). */
export function kernelSettings(options: Pick<RunOptions, "kernels">): { mode: "ts" | "simd"; threads: number } {
  const mode = options.kernels === "ts" ? "ts" : "simd";
  if (options.kernels !== undefined && options.kernels !== "ts" && options.kernels !== "simd") {
    throw new Error(`--kernels must be ts or simd, not ${JSON.stringify(options.kernels)}`);
  }
  const set = process.env.NNC_THREADS;
  if (set === undefined || set === "") return { mode, threads: Math.max(1, Math.min(8, availableParallelism())) };
  const threads = Number(set);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_KERNEL_THREADS) {
    throw new Error(`NNC_THREADS must be a whole number from 1 to ${MAX_KERNEL_THREADS}, not \`${set}\``);
  }
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

/**
 * The program reads the idx files where nnc keeps them and never downloads (as the PyTorch
 * program): nnc's loader finds them first (--data DIR, $NNC_DATA, the cache dir, ...), downloads
 * them into the cache dir when they are nowhere, and checks that files of the published size are
 * the published ones. Reading one example of each split is enough for that.
 */
async function prepareData(ir: IR, options: RunOptions): Promise<void> {
  const dataset = ir.training?.data.dataset;
  if (dataset === undefined) return;
  for (const split of ["train", "test"] as const) await loadMnist({ dataset, split, dataDir: options.dataDir, limit: 1 });
}

export const standaloneEngine: Engine = {
  name: "standalone",
  async train(ir: IR, options: RunOptions, hooks: TrainHooks): Promise<TrainResult> {
    const settings = kernelSettings(options);
    await prepareData(ir, options);
    const program = await loadStandaloneProgram(ir, settings);
    return program.train(options, hooks);
  },
};

export default standaloneEngine;
