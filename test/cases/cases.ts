// The per-feature cases: one small .nn file per catalog entry (test/cases/<category>/<kind>.nn,
// variants as <kind>-<variant>.nn), each a whole model and training run on MNIST-shaped data.
// The tests in this folder iterate them: a new catalog entry gets its baselines, gradient check,
// engine parity, export round trip and typecheck by adding one file here.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileSource } from "../../src/compiler/index.js";
import type { IR } from "../../src/compiler/ir.js";

export const CASES_DIR = dirname(fileURLToPath(import.meta.url));

/** The case folders and the catalog category whose entries each one covers. */
export const FOLDERS = {
  layers: "layer",
  activations: "activation",
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
