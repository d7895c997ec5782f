// The one line `nnc run` prints before training: which engine, backend (or kernels) and threads,
// and why each was chosen. Not a warning: a statement of what runs.
//   engine standalone (the default on the CPU without ...) · kernels simd (default: WebAssembly SIMD) · threads 8 (16 cores, at most 8)
//   engine tfjs (--engine tfjs) · backend cpu (pure JavaScript) · threads 1
import { availableParallelism } from "node:os";
import type { RunOptions } from "../engine.js";
import type { EngineChoice } from "../engines/select.js";

/** Threads of a tfjs backend, as far as nnc can tell. */
const TFJS_THREADS: Record<string, string> = {
  cpu: "1",
  wasm: "1 (tfjs-wasm runs single-threaded in Node)",
  tensorflow: "libtensorflow's thread pool",
  webgpu: "the GPU",
};

export async function engineHeader(choice: EngineChoice, options: RunOptions): Promise<string> {
  // The standalone engine on WebGPU runs nnc's WGSL kernels: no CPU kernels or threads to report.
  if (/^standalone engine on WebGPU/.test(choice.reason)) return choice.reason;
  if (choice.engine.name === "standalone") {
    const { kernelSettings } = await import("../engines/standalone.js");
    const { mode, threads } = kernelSettings(options);
    const why = choice.reason.replace(/^standalone engine:?\s*/, "").replace(/^\((.*)\)$/, "$1");
    const kernels = `${mode} (${options.kernels ? `--kernels ${options.kernels}` : "default"}: ${mode === "simd" ? "WebAssembly SIMD" : "TypeScript loops"})`;
    // (kernelSettings has refused an NNC_THREADS that is set and not a thread count)
    const cores = availableParallelism();
    const threadWhy = process.env.NNC_THREADS ? "$NNC_THREADS" : cores > 8 ? `${cores} cores, at most 8` : `${cores} core${cores === 1 ? "" : "s"}`;
    return `engine standalone (${why}) · kernels ${kernels} · threads ${threads} (${threadWhy})`;
  }
  const m = /^tfjs engine \((.*?)\) on the (\S+) backend: (.*)$/.exec(choice.reason);
  if (!m) return choice.reason;
  const [, engineWhy, backend, backendWhy] = m;
  const threads = TFJS_THREADS[backend!];
  return `engine tfjs (${engineWhy}) · backend ${backend} (${backendWhy})${threads ? ` · threads ${threads}` : ""}`;
}
