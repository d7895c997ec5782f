// TensorFlow.js backends for `nnc run --engine tfjs`: `--backend auto|cpu|wasm|node|gpu|webgpu`
// and `--gpu`. Each backend comes from its own package, loaded only when asked for:
//
//   cpu     @tensorflow/tfjs (pure JavaScript; always present)
//   wasm    @tensorflow/tfjs-backend-wasm (single-threaded in Node; it has no Conv2DBackpropFilter,
//           which nnc registers itself: training/tfjs-wasm.ts)
//   node    @tensorflow/tfjs-node       (libtensorflow on the CPU; optional, usually absent)
//   gpu     @tensorflow/tfjs-node-gpu   (libtensorflow with CUDA; optional, usually absent)
//   webgpu  @tensorflow/tfjs-backend-webgpu + the `webgpu` package (Dawn for Node)
//
// `--gpu` tries gpu, then webgpu, and fails naming both attempts. `auto` takes node when
// installed, else wasm when wasm has every kernel the model needs to train, else cpu, and says
// why. Failures are BackendError: one paragraph for the user, no stack trace.
import { createRequire } from "node:module";
import type { IR, IRModel } from "../../../compiler/ir.js";
import { kerasLayers, type KerasClass } from "../../../compiler/targets/keras.js";
import { CliError } from "../../errors.js";
import { registerWasmKernels } from "../../training/tfjs-wasm.js";
import { exposeAsNavigatorGpu, openDawn, type DawnDevice } from "../../webgpu/dawn.js";

/** The `@tensorflow/tfjs` namespace (tfjs-node and tfjs-node-gpu re-export the same API). */
export type Tf = typeof import("@tensorflow/tfjs");

export type BackendRequest = "auto" | "cpu" | "wasm" | "node" | "gpu" | "webgpu";
export const BACKEND_NAMES: readonly BackendRequest[] = ["auto", "cpu", "wasm", "node", "gpu", "webgpu"];

export interface BackendChoice {
  tf: Tf;
  /** The requested name (cpu, wasm, node, gpu, webgpu). */
  request: Exclude<BackendRequest, "auto">;
  /** tfjs's own backend name: "cpu", "wasm", "tensorflow" (tfjs-node / -gpu) or "webgpu". */
  backend: string;
  /** Why this backend, for the user (e.g. "wasm lacks Conv2DBackpropFilter, which conv2d needs to train"). */
  reason: string;
}

/** A backend that cannot be used; the CLI prints `message` alone (no stack trace) and exits 1. */
export class BackendError extends CliError {
  constructor(message: string) {
    super(message, 1);
    this.name = "BackendError";
  }
}

// Versions required by @tensorflow/tfjs-node-gpu 4.x (libtensorflow 2.9), from its README.
export const NODE_GPU_REQUIREMENTS = "Linux x64 (or Windows) with an NVIDIA GPU, NVIDIA driver >= 450.x, CUDA Toolkit 11.2 and cuDNN 8.1";

const require = createRequire(import.meta.url);

/** Whether a package can be resolved from here (without loading it). */
export function isInstalled(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function missingNodePackageMessage(pkg: "@tensorflow/tfjs-node" | "@tensorflow/tfjs-node-gpu", cause: string): string {
  const gpu = pkg === "@tensorflow/tfjs-node-gpu";
  return (
    `${pkg} is not usable here (${cause}). Install it with \`npm install ${pkg}\`; ` +
    `its install script downloads libtensorflow (the TensorFlow C library), so it needs network access to ` +
    `storage.googleapis.com at install time` +
    (gpu ? `, and at run time it needs ${NODE_GPU_REQUIREMENTS}.` : ".") +
    ` Without it, use \`--backend cpu\`, \`--backend wasm\` or \`--engine standalone\`.`
  );
}

function errorText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0]!.trim();
}

let quieted = false;
/** tfjs prints a "install tfjs-node" banner and kernel-registration warnings in Node; nnc says it itself. */
function quiet(tf: Tf): void {
  if (quieted) return;
  quieted = true;
  tf.env().set("PROD", true);
}

async function loadTfjs(): Promise<Tf> {
  const tf = (await import("@tensorflow/tfjs")) as Tf;
  quiet(tf);
  return tf;
}

async function loadNode(pkg: "@tensorflow/tfjs-node" | "@tensorflow/tfjs-node-gpu"): Promise<Tf> {
  if (!isInstalled(pkg)) throw new BackendError(missingNodePackageMessage(pkg, "it is not installed"));
  let tf: Tf;
  try {
    const mod = (await import(/* @vite-ignore */ pkg)) as Tf & { default?: Tf };
    // A CommonJS package: its API is the namespace when Node detects the re-exports, else `default`.
    tf = typeof mod.tensor === "function" ? mod : (mod.default as Tf);
  } catch (e) {
    throw new BackendError(missingNodePackageMessage(pkg, `loading it failed: ${errorText(e)}`));
  }
  quiet(tf);
  if (!(await tf.setBackend("tensorflow"))) {
    throw new BackendError(missingNodePackageMessage(pkg, 'its "tensorflow" backend failed to initialise'));
  }
  return tf;
}

async function useCpu(): Promise<Tf> {
  const tf = await loadTfjs();
  await tf.setBackend("cpu");
  return tf;
}

async function useWasm(): Promise<Tf> {
  const tf = await loadTfjs();
  try {
    await import("@tensorflow/tfjs-backend-wasm");
  } catch (e) {
    throw new BackendError(
      `the wasm backend could not be loaded (${errorText(e)}); run \`npm install @tensorflow/tfjs-backend-wasm\` or use \`--backend cpu\`.`,
    );
  }
  if (!(await tf.setBackend("wasm"))) throw new BackendError("the wasm backend failed to initialise; use `--backend cpu`.");
  registerWasmKernels(tf);
  return tf;
}

/**
 * WebGPU in Node: Dawn (the `webgpu` package) on the adapter NNC_WEBGPU_ADAPTER allows
 * (src/runtime/webgpu/dawn.ts: a real GPU by default, the software adapter only when asked), its
 * device handed to @tensorflow/tfjs-backend-webgpu. Fails (BackendError) naming what is missing.
 */
async function useWebgpu(): Promise<{ tf: Tf; adapter: string }> {
  let dawn: DawnDevice;
  try {
    dawn = await openDawn();
    exposeAsNavigatorGpu(dawn);
  } catch (e) {
    if (e instanceof CliError) throw new BackendError(e.message);
    throw e;
  }
  const tf = await loadTfjs();
  let WebGPUBackend: new (device: GPUDevice, info?: GPUAdapterInfo) => unknown;
  try {
    ({ WebGPUBackend } = (await import("@tensorflow/tfjs-backend-webgpu")) as unknown as { WebGPUBackend: typeof WebGPUBackend });
  } catch (e) {
    throw new BackendError(
      `WebGPU needs @tensorflow/tfjs-backend-webgpu: \`npm install @tensorflow/tfjs-backend-webgpu\` (${errorText(e)}).`,
    );
  }
  // The package registers a "webgpu" backend of its own when navigator.gpu exists, on an adapter it
  // picks itself; nnc's is the device on the adapter chosen above.
  if (!webgpuRegistered) {
    if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
    tf.registerBackend("webgpu", () => new WebGPUBackend(dawn.device, dawn.adapter.info) as ReturnType<Parameters<Tf["registerBackend"]>[1]>);
    webgpuRegistered = true;
  }
  if (!(await tf.setBackend("webgpu"))) throw new BackendError(`the WebGPU backend failed to initialise on ${dawn.name}.`);
  return { tf, adapter: dawn.name };
}
let webgpuRegistered = false;

/**
 * Kernels that training a tf.layers class (the Keras mapping's, keras.ts) needs beyond the
 * elementwise/matmul basics every backend has. Only what some backend is known to lack matters:
 * tfjs-wasm in Node ships no Conv2DBackpropFilter (the gradient of a convolution's kernel), so it
 * could not train Conv2D; nnc registers one (training/tfjs-wasm.ts), and this check guards against any other gap.
 */
const TRAINING_KERNELS: Partial<Record<KerasClass, string[]>> = {
  Conv2D: ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"],
  MaxPooling2D: ["MaxPool", "MaxPoolGrad"],
  AveragePooling2D: ["AvgPool", "AvgPoolGrad"],
  BatchNormalization: ["Rsqrt"],
  Dense: ["BatchMatMul"],
};

/** The kernels training `model` needs (TRAINING_KERNELS of its Keras layers), each with the kind of the first layer needing it. */
export function kernelsNeeded(model: IRModel): Map<string, string> {
  const need = new Map<string, string>();
  for (const layer of model.layers) {
    for (const keras of kerasLayers(layer)) for (const k of TRAINING_KERNELS[keras.className] ?? []) if (!need.has(k)) need.set(k, layer.kind);
  }
  return need;
}

/** The kernels (and the layer kind needing each) that a backend lacks to train `model`. */
export function missingKernels(tf: Tf, backend: string, model: IRModel): { kernel: string; layer: string }[] {
  const have = new Set(tf.getKernelsForBackend(backend).map((k) => k.kernelName));
  return [...kernelsNeeded(model)].filter(([k]) => !have.has(k)).map(([kernel, layer]) => ({ kernel, layer }));
}

function allModels(ir: IR): IRModel[] {
  return ir.sweep ? ir.sweep.variants.map((v) => v.model) : [ir.model];
}

function checkKernels(tf: Tf, backend: string, ir: IR): { kernel: string; layer: string }[] {
  const seen = new Map<string, { kernel: string; layer: string }>();
  for (const m of allModels(ir)) for (const x of missingKernels(tf, backend, m)) seen.set(x.kernel, x);
  return [...seen.values()];
}

function describeMissing(missing: { kernel: string; layer: string }[]): string {
  return missing.map((m) => `${m.kernel} (needed to train ${m.layer})`).join(", ");
}

/**
 * Loads and activates a backend for training `ir`. `gpu` (from `--gpu`) overrides `request`
 * unless it names a GPU backend itself.
 */
export async function initBackend(ir: IR, request: string, gpu = false): Promise<BackendChoice> {
  if (!(BACKEND_NAMES as readonly string[]).includes(request)) {
    throw new BackendError(`unknown backend "${request}"; expected one of ${BACKEND_NAMES.join(", ")}.`);
  }
  const req = request as BackendRequest;
  if (gpu && req !== "auto" && req !== "gpu" && req !== "webgpu") {
    throw new BackendError(`--gpu cannot be combined with --backend ${req}; use --backend gpu, --backend webgpu or --gpu alone.`);
  }
  if (gpu && req === "auto") {
    const tried: string[] = [];
    try {
      const tf = await loadNode("@tensorflow/tfjs-node-gpu");
      return { tf, request: "gpu", backend: "tensorflow", reason: "--gpu: @tensorflow/tfjs-node-gpu (CUDA)" };
    } catch (e) {
      tried.push(`1) @tensorflow/tfjs-node-gpu: ${errorText(e)}`);
    }
    try {
      const { tf, adapter } = await useWebgpu();
      return withKernelCheck(tf, ir, {
        tf,
        request: "webgpu",
        backend: "webgpu",
        reason: `--gpu: WebGPU (Dawn) on ${adapter}; @tensorflow/tfjs-node-gpu is not usable`,
      });
    } catch (e) {
      tried.push(`2) WebGPU: ${errorText(e)}`);
    }
    throw new BackendError(`--gpu: no GPU backend could be used. Tried ${tried.join(" ")} Run without --gpu to train on the CPU.`);
  }
  switch (req) {
    case "cpu":
      return { tf: await useCpu(), request: "cpu", backend: "cpu", reason: "--backend cpu" };
    case "wasm": {
      const tf = await useWasm();
      return withKernelCheck(tf, ir, { tf, request: "wasm", backend: "wasm", reason: "--backend wasm" });
    }
    case "node":
      return { tf: await loadNode("@tensorflow/tfjs-node"), request: "node", backend: "tensorflow", reason: "--backend node" };
    case "gpu":
      return { tf: await loadNode("@tensorflow/tfjs-node-gpu"), request: "gpu", backend: "tensorflow", reason: "--backend gpu" };
    case "webgpu": {
      const { tf, adapter } = await useWebgpu();
      return withKernelCheck(tf, ir, { tf, request: "webgpu", backend: "webgpu", reason: `--backend webgpu: Dawn on ${adapter}` });
    }
    case "auto":
      return autoBackend(ir);
  }
}

function withKernelCheck(tf: Tf, ir: IR, choice: BackendChoice): BackendChoice {
  const missing = checkKernels(tf, choice.backend, ir);
  if (missing.length > 0) {
    throw new BackendError(
      `the ${choice.request} backend cannot train this model: it lacks ${describeMissing(missing)}. ` +
        `Use --backend cpu, install @tensorflow/tfjs-node, or run with --engine standalone.`,
    );
  }
  return choice;
}

/** `--backend auto`: tfjs-node when it loads, else wasm when it has every kernel the model needs, else cpu. */
async function autoBackend(ir: IR): Promise<BackendChoice> {
  let nodeNote = "@tensorflow/tfjs-node is not installed";
  if (isInstalled("@tensorflow/tfjs-node")) {
    try {
      const tf = await loadNode("@tensorflow/tfjs-node");
      return { tf, request: "node", backend: "tensorflow", reason: "auto: @tensorflow/tfjs-node is installed" };
    } catch (e) {
      nodeNote = `@tensorflow/tfjs-node failed to load (${errorText(e)})`;
    }
  }
  try {
    const tf = await useWasm();
    const missing = checkKernels(tf, "wasm", ir);
    if (missing.length === 0) {
      const conv = allModels(ir).some((m) => m.layers.some((l) => l.kind === "conv2d"));
      const note = conv ? " (its Conv2DBackpropFilter is nnc's own: tfjs-wasm has none in Node)" : "";
      return { tf, request: "wasm", backend: "wasm", reason: `auto: ${nodeNote}; wasm has every kernel this model needs${note}` };
    }
    const cpu = await useCpu();
    return {
      tf: cpu,
      request: "cpu",
      backend: "cpu",
      reason: `auto: ${nodeNote}, and wasm lacks ${describeMissing(missing)}; using the pure-JS cpu backend`,
    };
  } catch (e) {
    if (!(e instanceof BackendError)) throw e;
    return { tf: await useCpu(), request: "cpu", backend: "cpu", reason: `auto: ${nodeNote}, and ${errorText(e)}` };
  }
}
