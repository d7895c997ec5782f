// The standalone engine: generates the model's dependency-free TypeScript program
// (src/compiler/targets/standalone), transpiles it in-process with esbuild, writes it to a
// temporary .mjs, imports it and calls its exported train(options, hooks).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
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

/** Generates, transpiles and imports the program for `ir`. */
export async function loadStandaloneProgram(
  ir: IR,
  settings: { mode: "ts" | "simd"; threads: number; exposeInternals?: boolean },
): Promise<StandaloneProgram & Record<string, unknown>> {
  const source = await generateStandalone(ir, { kernels: settings.mode, threads: settings.threads, exposeInternals: settings.exposeInternals });
  const { code } = transformSync(source, { loader: "ts", format: "esm", target: "es2022" });
  const dir = mkdtempSync(join(tmpdir(), "nnc-standalone-"));
  const file = join(dir, `${ir.model.name.replace(/[^A-Za-z0-9_-]/g, "_")}.mjs`);
  writeFileSync(file, code);
  try {
    return (await import(pathToFileURL(file).href)) as StandaloneProgram & Record<string, unknown>;
  } finally {
    // The module is loaded; its file is no longer needed.
    rmSync(dir, { recursive: true, force: true });
  }
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
