// The standalone engine: generates the model's dependency-free TypeScript program
// (src/compiler/targets/standalone), transpiles it in-process with esbuild to a CommonJS
// function, runs it, and calls its exported train(options, hooks).
//
// Not an ES module import: Node keeps every imported module for the life of the process, and
// with it the program's buffers (weights, activations, the data set in the kernels' memory).
// A sweep trains one program per variant in one process; each must be freed after its run.
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { transformSync } from "esbuild";
import type { IR } from "../../compiler/ir.js";
import { generateStandalone } from "../../compiler/targets/standalone/index.js";
import type { Engine, RunOptions, TrainHooks, TrainResult } from "../engine.js";

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
  // CommonJS: `import` lines and `await import("node:...")` become require() (Node built-ins
  // only; a dynamic import() would need a loader the Function has not got), and the program's
  // `import.meta.url` check for running as a script is false.
  const { code } = transformSync(source, { loader: "ts", format: "cjs", target: "es2022", supported: { "dynamic-import": false }, logLevel: "silent" });
  const name = `nnc-standalone-${ir.model.name.replace(/[^A-Za-z0-9_-]/g, "_")}.js`; // names its stack frames
  const module = { exports: {} as Record<string, unknown> };
  const run = new Function("exports", "require", "module", `${code}\n//# sourceURL=${name}`) as (exports: unknown, require: NodeRequire, module: unknown) => void;
  run(module.exports, createRequire(join(process.cwd(), name)), module);
  return module.exports as StandaloneProgram & Record<string, unknown>;
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
