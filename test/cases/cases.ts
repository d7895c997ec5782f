// The per-feature cases: one small .nn file per catalog entry (test/cases/<category>/<kind>.nn,
// variants as <kind>-<variant>.nn), each a whole model and training run on MNIST-shaped data.
// The tests in this folder iterate them: a new catalog entry gets its baselines, gradient check,
// engine parity, export round trips (tfjs, ONNX), PyTorch parity and typecheck by adding one file here.
// This module loads no TensorFlow.js: the fixed batch and the standalone forward pass live here
// for every test that compares against them (engines.ts adds the tfjs side).
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { lookup } from "../../src/compiler/catalog/index.js";
import { compileSource } from "../../src/compiler/index.js";
import type { IR } from "../../src/compiler/ir.js";
import { loadInternals, seeded, type Internals } from "../standalone/harness.js";

export const CASES_DIR = dirname(fileURLToPath(import.meta.url));

/** The case folders and the catalog category whose entries each one covers. */
export const FOLDERS = {
  layers: "layer",
  activations: "activation",
  initializers: "initializer",
  regularizers: "regularizer",
  optimizers: "optimizer",
  losses: "loss",
  schedules: "schedule",
  callbacks: "callback",
} as const;
export type Folder = keyof typeof FOLDERS;

export interface Case {
  folder: Folder;
  /** File name without .nn, e.g. "conv2d-same-stride2". */
  name: string;
  /** The catalog entry it covers, e.g. "conv2d". */
  kind: string;
  file: string;
  source: string;
  ir: IR;
}

let cached: Case[] | null = null;

/** Every case, checked by the real checker (a case that does not check is a test failure). */
export function allCases(): Case[] {
  if (cached) return cached;
  const out: Case[] = [];
  for (const folder of Object.keys(FOLDERS) as Folder[]) {
    for (const f of readdirSync(join(CASES_DIR, folder)).filter((x) => x.endsWith(".nn")).sort()) {
      const file = join(CASES_DIR, folder, f);
      const source = readFileSync(file, "utf8");
      const name = f.slice(0, -3);
      const { ir, diagnostics } = compileSource(source, `test/cases/${folder}/${f}`);
      const errors = diagnostics.filter((d) => d.severity === "error");
      if (!ir || errors.length > 0) throw new Error(`${file} does not check: ${errors.map((d) => `${d.code} ${d.message}`).join("; ")}`);
      out.push({ folder, name, kind: name.split("-")[0]!, file, source, ir });
    }
  }
  return (cached = out);
}

export function casesIn(...folders: Folder[]): Case[] {
  return allCases().filter((c) => folders.includes(c.folder));
}

/** The catalog entries of its category that a case's IR uses (to prove it covers its kind). */
export function kindsUsed(c: Case): Set<string> {
  const ir = c.ir;
  const t = ir.training!;
  switch (c.folder) {
    case "layers":
      return new Set(ir.model.layers.map((l) => l.kind));
    case "activations":
      return new Set(ir.model.layers.map((l) => ("activation" in l.args ? (l.args as { activation: { kind: string } }).activation.kind : l.kind)));
    case "initializers":
      return new Set(ir.model.layers.flatMap((l) => l.weights.map((w) => w.initializer.kind)));
    case "regularizers":
      return new Set(ir.model.layers.flatMap((l) => l.weights.flatMap((w) => (w.regularizer ? [w.regularizer.kind] : []))));
    case "optimizers":
      return new Set([t.optimizer.kind]);
    case "losses":
      return new Set([t.loss.kind]);
    case "schedules":
      return new Set(t.schedule ? [t.schedule.kind] : []);
    case "callbacks":
      return new Set(t.callbacks.map((x) => x.kind));
  }
}

/** Each use of a catalog entry in a case's IR: its category, kind and resolved arguments (layers, the references in their arguments, training). */
export function usesOf(c: Case): { category: string; kind: string; args: Record<string, unknown> }[] {
  const out: { category: string; kind: string; args: Record<string, unknown> }[] = [];
  for (const l of c.ir.model.layers) {
    out.push({ category: "layer", kind: l.kind, args: l.args as Record<string, unknown> });
    const props = (lookup("layer", l.kind)?.schema.properties ?? {}) as Record<string, { nncRef?: string }>;
    for (const [name, value] of Object.entries(l.args as Record<string, unknown>)) {
      const category = props[name]?.nncRef;
      if (category && value !== null) out.push({ category, ...(value as { kind: string; args: Record<string, unknown> }) });
    }
  }
  const t = c.ir.training;
  if (t) {
    out.push({ category: "optimizer", ...t.optimizer }, { category: "loss", ...t.loss });
    if (t.schedule) out.push({ category: "schedule", ...t.schedule });
    for (const cb of t.callbacks) out.push({ category: "callback", ...cb });
  }
  return out;
}

/** The finite values a parameter takes (an enum's strings, a boolean's two), or null for the rest. */
export function enumValues(schema: { enum?: unknown[]; type?: unknown }): unknown[] | null {
  if (Array.isArray(schema.enum)) return schema.enum;
  return schema.type === "boolean" ? [true, false] : null;
}

// ---------------------------------------------------------------- the fixed batch

/** Examples in the fixed batch every comparison runs. */
export const N = 3;

export const classesOf = (ir: IR) => ir.training!.data.classes;
/** The model draws random numbers in training (dropout): its training steps differ between programs by design. */
export const hasStochastic = (ir: IR) => ir.model.layers.some((l) => lookup("layer", l.kind)?.traits.stochastic === true);

/** A fixed batch: inputs in [0, scale] (like pixels), one-hot labels (the program's layout for every loss). */
export function fill(m: Internals, ir: IR, n: number, seed = 5, scale = 1): Float32Array {
  const r = seeded(seed);
  const size = ir.model.inputShape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n * size; i++) m.input[i] = r() * scale;
  const classes = classesOf(ir);
  m.target.fill(0);
  for (let b = 0; b < n; b++) m.target[b * classes + Math.floor(r() * classes)] = 1;
  return m.input.slice(0, n * size);
}

/** The largest difference, relative above 1. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`comparing ${a.length} values with ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return d;
}

/** The standalone program's forward pass (inference) on the fixed batch, from nnc's seeded initial weights or `weights`. */
/** The standalone forward pass (inference) of a fixed batch; `loaded`: a program already loaded for `ir`. */
export async function standaloneForward(ir: IR, weights: Record<string, Float32Array> | null, loaded?: Internals): Promise<{ out: Float32Array; x: Float32Array; m: Internals }> {
  const m = loaded ?? (await loadInternals(ir));
  m.initializeWeights(11);
  if (weights) for (const [name, w] of Object.entries(weights)) m.weights[name]!.set(w);
  const x = fill(m, ir, N);
  m.forward(N, false);
  return { out: m.output.slice(0, N * classesOf(ir)), x, m };
}
