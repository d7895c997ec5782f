// The IR at a target's boundary. Targets and engines read resolved values only (no fallback
// defaults, no alias lists): that holds because the checker fills every parameter of every
// catalog reference. checkIR() makes it a checked fact where an IR enters a target: the IR matches
// src/compiler/ir.schema.json, every kind names a catalog entry, and every reference carries each
// of its entry's parameters, under the entry's own names. An IR from anywhere else (a hand-edited
// `--emit ir` file, a test, a future front end) is refused there, with the path of the first
// problem, rather than read as a default.
import type { ValidateFunction } from "ajv";
import { compileSchema } from "./schema.js";
import { type Category, lookup, paramSchemas } from "./catalog/index.js";
import type { IR, IRModel } from "./ir.js";
import irSchema from "./ir.schema.json" with { type: "json" };

let validateSchema: ValidateFunction | null = null;

/** Thrown when an IR does not hold what the checker guarantees: a bug upstream, not a user's error. */
export class IRCheckError extends Error {
  constructor(target: string, problems: string[]) {
    super(
      `internal: the IR given to the ${target} does not hold what nnc's checker guarantees: ${problems.slice(0, 5).join("; ")}` +
        (problems.length > 5 ? `; and ${problems.length - 5} more` : ""),
    );
    this.name = "IRCheckError";
  }
}

/** A catalog reference ({kind, args}) at `path`: its kind exists and its args carry every parameter. */
function checkRef(category: Category, ref: { kind: string; args: Record<string, unknown> }, path: string, problems: string[]): void {
  const entry = lookup(category, ref.kind);
  if (!entry) {
    problems.push(`${path}: no ${category} named "${ref.kind}"`);
    return;
  }
  const params = paramSchemas(entry);
  for (const [name, schema] of Object.entries(params)) {
    if (!(name in ref.args)) {
      problems.push(`${path}: ${ref.kind} lacks its parameter "${name}" (the checker fills every parameter)`);
      continue;
    }
    const inner = (schema as { nncRef?: Category }).nncRef;
    const value = ref.args[name] as { kind?: string; args?: Record<string, unknown> } | null;
    if (inner && value !== null && typeof value === "object" && typeof value.kind === "string" && value.args) {
      checkRef(inner, value as { kind: string; args: Record<string, unknown> }, `${path}.${name}`, problems);
    }
  }
  for (const name of Object.keys(ref.args)) if (!(name in params)) problems.push(`${path}: ${ref.kind} has no parameter "${name}"`);
}

function modelProblems(model: IRModel, problems: string[]): void {
  for (const [i, layer] of model.layers.entries()) {
    const path = `model.layers[${i}] (${layer.id})`;
    checkRef("layer", layer as unknown as { kind: string; args: Record<string, unknown> }, path, problems);
    for (const w of layer.weights) {
      checkRef("initializer", w.initializer, `${path} ${w.name} initializer`, problems);
      if (w.regularizer) checkRef("regularizer", w.regularizer, `${path} ${w.name} regularizer`, problems);
    }
  }
}

/** Checks a whole IR where it enters `target` (e.g. "standalone target"); throws IRCheckError. */
export function checkIR(ir: IR, target: string): void {
  validateSchema ??= compileSchema(irSchema, false);
  const problems: string[] = [];
  if (!validateSchema(ir)) {
    for (const e of validateSchema.errors ?? []) problems.push(`${e.instancePath || "/"} ${e.message ?? "is invalid"} (ir.schema.json)`);
    throw new IRCheckError(target, problems);
  }
  modelProblems(ir.model, problems);
  const t = ir.training;
  if (t) {
    checkRef("loss", t.loss, "training.loss", problems);
    checkRef("optimizer", t.optimizer, "training.optimizer", problems);
    if (t.schedule) checkRef("schedule", t.schedule, "training.schedule", problems);
    for (const [i, cb] of t.callbacks.entries()) checkRef("callback", cb, `training.callbacks[${i}]`, problems);
    for (const m of t.metrics) if (!lookup("metric", m)) problems.push(`training.metrics: no metric named "${m}"`);
  }
  if (problems.length > 0) throw new IRCheckError(target, problems);
}

/** The model part alone (the Keras topology writer, which takes a model). */
export function checkIRModel(model: IRModel, target: string): void {
  const problems: string[] = [];
  modelProblems(model, problems);
  if (problems.length > 0) throw new IRCheckError(target, problems);
}
