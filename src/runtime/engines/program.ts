// Loading a generated program (the standalone or the tfjs target's) in-process: transpiled with
// esbuild to CommonJS and run as a function, whose exports are returned.
//
// Not an ES module import: Node keeps every imported module for the life of the process, and
// with it the program's buffers (weights, activations, the data set). A sweep trains one program
// per variant in one process; each must be freed after its run.
import { createRequire } from "node:module";
import { join } from "node:path";
import { transformSync } from "esbuild";
import type { RunOptions, TrainHooks, TrainResult } from "../engine.js";

/** What every generated training program exports. */
export interface TrainingProgram {
  train(options: RunOptions, hooks: TrainHooks): Promise<TrainResult>;
}

/**
 * Transpiles and runs `source`, returning its exports. `modules` answers the program's imports of
 * those names instead of Node's require (the tfjs engine hands the program the tfjs module whose
 * backend it initialised).
 */
export function loadProgram(source: string, name: string, modules: Record<string, unknown> = {}): TrainingProgram & Record<string, unknown> {
  // CommonJS: `import` lines and `await import("node:...")` become require() (a dynamic import()
  // would need a loader the Function has not got), and the program's `import.meta.url` check for
  // running as a script is false.
  const { code } = transformSync(source, { loader: "ts", format: "cjs", target: "es2022", supported: { "dynamic-import": false }, logLevel: "silent" });
  const file = `${name.replace(/[^A-Za-z0-9_-]/g, "_")}.js`; // names its stack frames
  const module = { exports: {} as Record<string, unknown> };
  const nodeRequire = createRequire(join(process.cwd(), file));
  const require = Object.assign((id: string) => (id in modules ? modules[id] : nodeRequire(id)), nodeRequire) as NodeRequire;
  const run = new Function("exports", "require", "module", `${code}\n//# sourceURL=${file}`) as (exports: unknown, require: NodeRequire, module: unknown) => void;
  run(module.exports, require, module);
  return module.exports as TrainingProgram & Record<string, unknown>;
}
