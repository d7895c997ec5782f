// Picks the engine and backend for `nnc run` and says why.
//
//   --engine standalone        the standalone engine; with --gpu its WGSL kernels on WebGPU (dense
//                              and convolutional chains: src/runtime/engines/standalone-webgpu.ts);
//                              --backend is refused
//   --engine tfjs              the tfjs engine on --backend (default auto) or --gpu
//   --engine auto (default)    tfjs when --gpu is given, when --backend names a tfjs backend, or
//                              when @tensorflow/tfjs-node is installed (libtensorflow is fast);
//                              otherwise the standalone engine, which is much faster on the CPU
//                              than tfjs's pure-JS and single-threaded wasm backends.
//
// The tfjs backend is initialised here, before any training, so a missing package or GPU is
// reported at once (as a CliError: one paragraph, non-zero exit, no stack trace).
import type { Engine, RunOptions } from "../engine.js";
import type { IR } from "../../compiler/ir.js";
import { CliError } from "../errors.js";
import { BACKEND_NAMES, initBackend, isInstalled } from "./tfjs/backends.js";
import { createTfjsEngine } from "./tfjs/index.js";

export interface EngineChoice {
  engine: Engine;
  /** e.g. "standalone engine: @tensorflow/tfjs-node is not installed and tfjs-wasm cannot train conv2d in Node" */
  reason: string;
}

/** The standalone engine, whatever its module names the export (it is the Engine named "standalone"). */
export async function loadStandaloneEngine(): Promise<Engine> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import("./standalone.js")) as Record<string, unknown>;
  } catch (e) {
    throw new CliError(`the standalone engine is not available (${(e as Error).message.split("\n")[0]}); use --engine tfjs`, 1);
  }
  const isEngine = (x: unknown): x is Engine =>
    typeof x === "object" && x !== null && (x as Engine).name === "standalone" && typeof (x as Engine).train === "function";
  for (const key of ["standaloneEngine", "default", ...Object.keys(mod)]) {
    const v = mod[key];
    if (isEngine(v)) return v;
    if (typeof v === "function" && /^create/i.test(key)) {
      try {
        const made = (v as () => unknown)();
        if (isEngine(made)) return made;
      } catch {
        // not a zero-argument factory
      }
    }
  }
  throw new CliError('src/runtime/engines/standalone.ts exports no Engine named "standalone"', 70);
}

/** The pytorch engine, once its Python and PyTorch are known to work (else a CliError naming what is missing). */
async function selectPytorch(request: { backend: string; gpu: boolean; nproc?: number }): Promise<EngineChoice> {
  if (request.backend && request.backend !== "auto") {
    throw new CliError(`--backend ${request.backend} applies to the tfjs engine only; the pytorch engine takes --gpu and --nproc`, 2);
  }
  const { checkPytorch, createPytorchEngine, pythonCommand } = await import("./pytorch.js");
  const python = pythonCommand();
  const check = checkPytorch(python);
  if (!check.ok) throw new CliError(check.message, 1);
  if (request.gpu && !check.cuda) {
    throw new CliError(`--gpu: PyTorch ${check.version} (${python}) sees no CUDA device; drop --gpu to train on the CPU`, 1);
  }
  const nproc = request.nproc ?? 1;
  const where = request.gpu || check.cuda ? "CUDA, nccl" : "CPU, gloo";
  return {
    engine: createPytorchEngine({ nproc, gpu: request.gpu }),
    reason: `pytorch engine (--engine pytorch): PyTorch ${check.version} via ${python}, ${nproc === 1 ? "one process" : `${nproc} local ranks with DistributedDataParallel (${where})`}`,
  };
}

export async function selectEngine(
  ir: IR,
  request: { engine: "auto" | "standalone" | "tfjs" | "pytorch"; backend: string; gpu: boolean; nproc?: number },
  options: RunOptions,
): Promise<EngineChoice> {
  if (request.engine === "pytorch") return selectPytorch(request);
  if (request.nproc !== undefined && request.nproc !== 1) {
    throw new CliError(`--nproc applies to the pytorch engine only; add --engine pytorch, or drop --nproc`, 2);
  }
  const backend = request.backend || "auto";
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    throw new CliError(`unknown --backend "${backend}"; expected one of ${BACKEND_NAMES.join(", ")}`, 2);
  }
  const tfjsAsked = request.gpu || backend !== "auto";

  if (request.engine === "standalone") {
    if (request.gpu && backend === "auto") {
      // The standalone engine's own WGSL kernels on WebGPU (kernels/webgpu/), for the models they cover.
      const gpu = await import("./standalone-webgpu.js");
      const plan = gpu.webgpuPlan(ir);
      if (typeof plan === "string") throw new CliError(gpu.notCoveredMessage(plan), 1);
      const dawn = await (await import("../webgpu/dawn.js")).openDawn();
      return { engine: gpu.createStandaloneWebgpuEngine(), reason: `standalone engine on WebGPU (--engine standalone --gpu): nnc's WGSL kernels on ${dawn.name}` };
    }
    if (tfjsAsked) {
      throw new CliError(
        `--backend ${backend} applies to the tfjs engine only; drop it, or use --engine tfjs${request.gpu ? " (--engine standalone --gpu runs nnc's own WebGPU kernels)" : ""}`,
        2,
      );
    }
    return { engine: await loadStandaloneEngine(), reason: "standalone engine (--engine standalone)" };
  }

  const useTfjs = async (why: string, asked = backend): Promise<EngineChoice> => {
    const choice = await initBackend(ir, asked, request.gpu);
    options.backend = choice.request;
    return {
      engine: createTfjsEngine({ choice, gpu: request.gpu }),
      reason: `tfjs engine (${why}) on the ${choice.backend} backend: ${choice.reason}`,
    };
  };

  if (request.engine === "tfjs") return useTfjs("--engine tfjs");
  if (request.gpu) return useTfjs("--gpu");
  if (backend !== "auto") return useTfjs(`--backend ${backend}`);
  if (isInstalled("@tensorflow/tfjs-node")) {
    try {
      return await useTfjs("@tensorflow/tfjs-node is installed", "node");
    } catch (e) {
      const standalone = await loadStandaloneEngine();
      return {
        engine: standalone,
        reason: `standalone engine: @tensorflow/tfjs-node is installed but unusable (${(e as Error).message.split("\n")[0]})`,
      };
    }
  }
  return {
    engine: await loadStandaloneEngine(),
    reason:
      "standalone engine (the default on the CPU without @tensorflow/tfjs-node: several times faster than tfjs's CPU backends)",
  };
}
