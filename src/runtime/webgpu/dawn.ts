/// <reference types="@webgpu/types" />
// WebGPU in Node through Dawn (the `webgpu` npm package): which adapter nnc uses, and why none.
//
//   NNC_WEBGPU_ADAPTER unset or `gpu`   a hardware adapter from Dawn's default backend (Vulkan on
//                                       Linux, Metal on macOS, D3D12 on Windows), high-performance
//                                       first. A software adapter Dawn offers (lavapipe,
//                                       SwiftShader) is refused: nobody asking for the GPU is
//                                       silently given a slow CPU imitation of one.
//   NNC_WEBGPU_ADAPTER=software         a software adapter, for testing on any machine: Vulkan's
//                                       CPU adapter (lavapipe) when Dawn accepts it, else Dawn's
//                                       OpenGL ES backend in compatibility mode over Mesa's
//                                       llvmpipe (EGL_PLATFORM=surfaceless, no display needed).
//
// Dawn writes its own warnings straight to the process's stderr (file descriptor 2) when a
// backend or driver fails, with C++ source positions that read like a stack trace. So the
// adapters are first looked for in a short child process (`probeAdapters`), whose stderr nnc
// reads: a machine without an adapter gets one clear paragraph naming what is missing (Vulkan
// loader, driver ICD, EGL, ...; `diagnose.ts`) and Dawn's own reason, and only a machine that has
// one opens Dawn in this process.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { CliError, EXIT_DIAGNOSTICS } from "../errors.js";
import { diagnoseNoAdapter } from "./diagnose.js";

export type AdapterKind = "gpu" | "software";

/** WebGPU cannot be used here; the message is one paragraph for the user (exit 1, no stack trace). */
export class WebgpuUnavailable extends CliError {
  constructor(message: string) {
    super(message, EXIT_DIAGNOSTICS);
    this.name = "WebgpuUnavailable";
  }
}

/** One way of asking Dawn for an adapter. */
export interface DawnAttempt {
  /** For the user: "Vulkan", "OpenGL ES (compatibility mode)". */
  label: string;
  /** Options for the `webgpu` package's create() (Dawn toggles: `backend=...`). */
  createOptions: string[];
  /** navigator.gpu.requestAdapter's options. */
  request: GPURequestAdapterOptions & {
    featureLevel?: "core" | "compatibility";
  };
  /** Environment the attempt needs (set in this process before Dawn is opened with it). */
  env?: Record<string, string>;
}

/** What the user is told about the adapter in use. */
export interface AdapterSummary {
  /** The attempt that found it (its label). */
  backend: string;
  featureLevel: "core" | "compatibility";
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe, llvmpipe, SwiftShader), not a GPU. */
  software: boolean;
}

export interface ProbeResult {
  kind: AdapterKind;
  /** The first attempt that gave an acceptable adapter, with what it found. */
  found: { attempt: DawnAttempt; adapter: AdapterSummary } | null;
  /** Every attempt, with the adapter it gave (possibly refused) or null. */
  tried: {
    attempt: DawnAttempt;
    adapter: AdapterSummary | null;
    error?: string;
  }[];
  /** Dawn's (and the drivers') own messages on stderr, without the C++ positions. */
  dawnSaid: string[];
  /** The `webgpu` package could not be loaded (then nothing was tried). */
  loadError?: string;
}

export interface DawnDevice {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  summary: AdapterSummary;
  /** e.g. `NVIDIA GeForce RTX 4090 (Vulkan)` or `llvmpipe (LLVM 15.0.6, 256 bits) (OpenGL ES, compatibility mode; software)`. */
  name: string;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|\bsoftware\b/i;

/** NNC_WEBGPU_ADAPTER: `gpu` (default) or `software`. */
export function adapterKind(env: NodeJS.ProcessEnv = process.env): AdapterKind {
  const v = (env.NNC_WEBGPU_ADAPTER ?? "").trim().toLowerCase();
  if (v === "" || v === "gpu" || v === "auto") return "gpu";
  if (v === "software" || v === "cpu") return "software";
  throw new WebgpuUnavailable(
    `NNC_WEBGPU_ADAPTER="${env.NNC_WEBGPU_ADAPTER}" is not a WebGPU adapter choice; use \`gpu\` (the default: a real GPU only) or \`software\` (Mesa's CPU implementation, for testing).`,
  );
}

/** The attempts for each kind, best first. */
export function dawnAttempts(kind: AdapterKind): DawnAttempt[] {
  if (kind === "gpu") {
    return [
      {
        label: dawnDefaultBackend(),
        createOptions: [],
        request: { powerPreference: "high-performance" },
      },
    ];
  }
  return [
    {
      label: "Vulkan CPU adapter",
      createOptions: ["backend=vulkan"],
      request: { forceFallbackAdapter: true },
    },
    {
      label: "OpenGL ES, compatibility mode",
      createOptions: ["backend=opengles"],
      request: { featureLevel: "compatibility" },
      env: { EGL_PLATFORM: "surfaceless" },
    },
  ];
}

function dawnDefaultBackend(): string {
  return process.platform === "darwin" ? "Metal" : process.platform === "win32" ? "D3D12" : "Vulkan";
}

const require = createRequire(import.meta.url);

/** The `webgpu` package's entry file, or why it cannot be found. */
function webgpuEntry(): { path: string } | { error: string } {
  try {
    return { path: require.resolve("webgpu") };
  } catch (e) {
    return { error: (e as Error).message.split("\n")[0]! };
  }
}

export function describeAdapter(s: AdapterSummary): string {
  const name = s.device || s.description || s.vendor || "unnamed adapter";
  const details = [s.description && s.description !== name ? s.description : "", s.backend, s.software ? "software, not a GPU" : ""];
  return `${name} (${details.filter(Boolean).join("; ")})`;
}

// The child process: loads Dawn, tries each attempt, prints one JSON line. Plain JavaScript (no
// TypeScript hooks in the child); argv: [entry URL, attempts JSON, kind].
const PROBE_SOURCE = `
const [entry, attemptsJson, kind] = process.argv.slice(1);
const SOFTWARE = ${SOFTWARE_NAMES.toString()};
const out = { tried: [] };
let mod;
try { mod = await import(entry); } catch (e) { out.loadError = String(e && e.message || e).split("\\n")[0]; }
if (mod) {
  Object.assign(globalThis, mod.globals);
  for (const attempt of JSON.parse(attemptsJson)) {
    for (const [k, v] of Object.entries(attempt.env || {})) if (process.env[k] === undefined) process.env[k] = v;
    const t = { adapter: null };
    try {
      const gpu = mod.create(attempt.createOptions);
      const a = await gpu.requestAdapter(attempt.request);
      if (a) {
        const i = a.info || {};
        const device = String(i.device || ""), description = String(i.description || "");
        t.adapter = {
          backend: attempt.label,
          featureLevel: attempt.request.featureLevel === "compatibility" ? "compatibility" : "core",
          vendor: String(i.vendor || ""), architecture: String(i.architecture || ""), device, description,
          software: Boolean(i.isFallbackAdapter) || SOFTWARE.test(device + " " + description),
        };
      }
    } catch (e) { t.error = String(e && e.message || e).split("\\n")[0]; }
    out.tried.push(t);
    if (t.adapter && (kind === "software" || !t.adapter.software)) break;
  }
}
process.stdout.write(JSON.stringify(out) + "\\n");
`;

/** Dawn's stderr lines worth showing: its warnings and the drivers' errors, without C++ positions. */
function dawnMessages(stderr: string): string[] {
  const said: string[] = [];
  for (const raw of stderr.split("\n")) {
    const line = raw.trim();
    if (!line || /^at \S+ \(.*:\d+\)$/.test(line) || line.startsWith("- While")) continue;
    const text = line.replace(/^(Warning|Error|error|warning):\s*/, "");
    // A limit note of the GL backend, and Mesa's window-system noise on a machine without a display.
    if (/artificially reduced|XDG_RUNTIME_DIR/.test(text)) continue;
    if (!said.includes(text)) said.push(text);
  }
  return said;
}

/**
 * Looks for an adapter of `kind` in a child process (Dawn's native stderr stays out of the
 * user's terminal, and is read for the diagnosis). Takes about half a second.
 */
export function probeAdapters(kind: AdapterKind, env: NodeJS.ProcessEnv = process.env): ProbeResult {
  const attempts = dawnAttempts(kind);
  const entry = webgpuEntry();
  if ("error" in entry)
    return {
      kind,
      found: null,
      tried: [],
      dawnSaid: [],
      loadError: entry.error,
    };
  const r = spawnSync(
    process.execPath,
    ["--input-type=module", "-e", PROBE_SOURCE, pathToFileURL(entry.path).href, JSON.stringify(attempts), kind],
    { env, encoding: "utf8", timeout: 60_000 },
  );
  const dawnSaid = dawnMessages(r.stderr ?? "");
  let parsed: {
    tried?: { adapter: AdapterSummary | null; error?: string }[];
    loadError?: string;
  } = {};
  try {
    parsed = JSON.parse((r.stdout ?? "").trim().split("\n").at(-1) ?? "{}");
  } catch {
    const why = r.error ? r.error.message : r.signal ? `it was killed by ${r.signal}` : `it exited with status ${r.status}`;
    dawnSaid.push(`the adapter probe failed (${why})`);
  }
  const tried = (parsed.tried ?? []).map((t, i) => ({
    attempt: attempts[i]!,
    adapter: t.adapter,
    ...(t.error ? { error: t.error } : {}),
  }));
  const ok = tried.find((t) => t.adapter && (kind === "software" || !t.adapter.software));
  return {
    kind,
    found: ok ? { attempt: ok.attempt, adapter: ok.adapter! } : null,
    tried,
    dawnSaid,
    ...(parsed.loadError ? { loadError: parsed.loadError } : {}),
  };
}

let opened: Promise<DawnDevice> | null = null;

/**
 * The WebGPU device nnc trains on (one per process): the adapter NNC_WEBGPU_ADAPTER asks for,
 * found by `probeAdapters`, opened here with every limit the adapter supports. Throws
 * WebgpuUnavailable (one paragraph: what is missing and how to get it) when there is none.
 */
export function openDawn(): Promise<DawnDevice> {
  opened ??= open().catch((e) => {
    opened = null;
    throw e;
  });
  return opened;
}

async function open(): Promise<DawnDevice> {
  const kind = adapterKind();
  const probe = probeAdapters(kind);
  if (probe.loadError !== undefined) {
    throw new WebgpuUnavailable(
      `WebGPU needs the \`webgpu\` package (Dawn for Node), which could not be loaded (${probe.loadError}); install it with \`npm install webgpu\` (it ships Dawn prebuilt for Linux, macOS and Windows on x64 and arm64).`,
    );
  }
  if (!probe.found) throw new WebgpuUnavailable(diagnoseNoAdapter(probe));
  const { attempt, adapter: summary } = probe.found;
  for (const [k, v] of Object.entries(attempt.env ?? {})) process.env[k] ??= v;
  const mod = (await import("webgpu")) as unknown as {
    create(options: string[]): GPU;
    globals: object;
  };
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create(attempt.createOptions);
  const adapter = await gpu.requestAdapter(attempt.request as GPURequestAdapterOptions);
  if (!adapter) {
    throw new WebgpuUnavailable(`WebGPU: the adapter found a moment ago (${describeAdapter(summary)}) is gone; run again.`);
  }
  const device = await adapter.requestDevice({
    requiredLimits: adapterLimits(adapter),
  });
  device.lost.then((info) => {
    if (info.reason !== "destroyed") process.stderr.write(`nnc: the WebGPU device was lost: ${info.message}\n`);
  });
  return { gpu, adapter, device, summary, name: describeAdapter(summary) };
}

/** Every numeric limit of the adapter, to ask the device for all of it (compatibility mode's defaults are low). */
function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const limits: Record<string, number> = {};
  for (let p: object | null = adapter.limits; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) {
      const v = (adapter.limits as unknown as Record<string, unknown>)[k];
      if (typeof v === "number" && !(k in limits)) limits[k] = v;
    }
  }
  return limits;
}

/**
 * Makes Dawn `navigator.gpu`, as in a browser (Node 21+ has a `navigator` without `gpu`; Node 20
 * has none): code written for the browser's WebGPU, like @tensorflow/tfjs-backend-webgpu, checks it.
 */
export function exposeAsNavigatorGpu(dawn: DawnDevice): void {
  const g = globalThis as unknown as {
    navigator?: { gpu?: GPU; userAgent?: string };
  };
  if (g.navigator?.gpu === dawn.gpu) return;
  const nav = g.navigator ?? { userAgent: `Node.js ${process.version}` };
  try {
    Object.defineProperty(nav, "gpu", { value: dawn.gpu, configurable: true });
    if (!g.navigator)
      Object.defineProperty(globalThis, "navigator", {
        value: nav,
        configurable: true,
        writable: true,
      });
  } catch {
    throw new WebgpuUnavailable(`WebGPU: could not expose Dawn as navigator.gpu in Node ${process.version}.`);
  }
}
