// The checker: a parsed program -> a fully resolved IR (src/compiler/ir.ts) and diagnostics.
//
//   model.ts      names, blocks/for/repeat expansion, arguments, shapes -> IRModel
//   args.ts       argument binding, catalog references, ajv validation, messages
//   values.ts     expression evaluation (parameters, loop variables, arithmetic)
//   training.ts   the train section, sweeps, model-vs-training consistency
//   warnings.ts   W6xx
//
// Codes: E2xx names, E3xx values, E4xx shapes, E5xx training, W6xx warnings (see diagnostics.ts).
// Layer `source` positions point at the layer's own text; for a layer from a block, at its line
// inside the block (not the call site).
import { createHash } from "node:crypto";
import type { BlockDecl, ModelDecl, Program, Span, TrainDecl } from "../../parser/ast.js";
import type { Diagnostic } from "../../parser/diagnostics.js";
import type { IR, IRModel, IRSweep, IRValue } from "../ir.js";
import { lookup } from "../catalog/index.js";
import { didYouMean } from "../../parser/suggest.js";
import { NNC_VERSION } from "../../version.js";
import { checkUnusedBlock, ModelBuilder, type BuiltModel, type CheckTrace } from "./model.js";
import { Reporter } from "./report.js";
import { checkModelAgainstTraining, checkTraining, type CheckedTraining } from "./training.js";
import { describe, evaluate, plain, type V } from "./values.js";
import { modelWarnings } from "./warnings.js";
import { checkExprSize, checkModelSize, countText, LIMIT_WORDS, raiseHint, resolveLimits, type Limits } from "./limits.js";
import type { Expr, Stmt } from "../../parser/ast.js";

export interface CheckOptions {
  file: string;
  /** The source text (for IR source lines and the sha256). */
  source: string;
  /** Watches the models' expansion (the language server's shapes). */
  trace?: CheckTrace;
  /** Raised (or lowered) limits; the rest keep DEFAULT_LIMITS (see limits.ts). */
  limits?: Partial<Limits>;
}

export type { CheckTrace } from "./model.js";

export interface CheckResult {
  /** null when there are errors. */
  ir: IR | null;
  diagnostics: Diagnostic[];
}

export function checkProgram(program: Program, options: CheckOptions): CheckResult {
  const r = new Reporter(options.file);
  const ir = check(program, options, r);
  const diagnostics = r.sorted();
  return { ir: r.errorCount > 0 ? null : ir, diagnostics };
}

function check(program: Program, options: CheckOptions, r: Reporter): IR | null {
  const limits = resolveLimits(options.limits);
  if (!checkExpressions(program, limits, r)) return null;
  const lines = options.source.split(/\r?\n/);
  const models = new Map<string, ModelDecl>();
  const blocks = new Map<string, BlockDecl>();
  const trains: TrainDecl[] = [];
  for (const d of program.decls) {
    if (d.kind === "train") {
      trains.push(d);
      continue;
    }
    const other = models.get(d.name) ?? blocks.get(d.name);
    if (other) {
      r.error("E205", d.nameSpan, `\`${d.name}\` is declared twice (first at line ${other.nameSpan.startLine})`);
      continue;
    }
    if (d.kind === "block" && lookup("layer", d.name)) {
      r.error("E211", d.nameSpan, `block \`${d.name}\` has the name of a built-in layer`, "rename the block");
      continue;
    }
    checkParams(d.params, r);
    if (d.kind === "model") models.set(d.name, d);
    else blocks.set(d.name, d);
  }
  for (const t of trains.slice(1)) {
    r.error("E215", t.span.startLine === t.modelSpan.startLine ? t.modelSpan : t.modelSpan, "a file has one `train` section", `the first is at line ${trains[0].modelSpan.startLine}`);
  }
  const train = trains[0];
  let main: ModelDecl | undefined;
  if (train) {
    main = models.get(train.model);
    if (!main) {
      r.error("E207", train.modelSpan, `unknown model \`${train.model}\``, didYouMean(train.model, models.keys()) ?? (models.size > 0 ? `models in this file: ${[...models.keys()].map((m) => `\`${m}\``).join(", ")}` : undefined));
    }
  } else {
    main = models.values().next().value;
  }
  if (models.size === 0) {
    const first = program.decls[0];
    const span = first === undefined ? spanStart(program.span) : first.kind === "train" ? first.modelSpan : first.nameSpan;
    r.error("E216", span, "the file declares no model", "add e.g. `model mlp { input image(28, 28, 1) ... }`");
    return null;
  }

  const reserved = collectNames(program);
  const expanded = new Set<string>();

  // Models other than the trained one: checked with their defaults.
  for (const m of models.values()) {
    if (m === main) continue;
    const scope = defaultScope(m, new Set(), r);
    if (scope) {
      const built = new ModelBuilder(r, blocks, lines, reserved, expanded, limits, options.trace).build(m, scope);
      if (built) modelWarnings(built, r);
    }
  }
  if (!main) {
    for (const b of blocks.values()) if (!expanded.has(b.name)) checkUnusedBlock(b, blocks, r);
    return null;
  }

  const ct: CheckedTraining | null = train ? checkTraining(train, main, r) : null;
  const swept = new Set((ct?.sweep ?? []).map((p) => p.name));
  const scope = defaultScope(main, swept, r);
  if (!scope) {
    for (const b of blocks.values()) if (!expanded.has(b.name)) checkUnusedBlock(b, blocks, r);
    return null;
  }

  // One variant per combination of sweep values (just one without a sweep).
  let count = 1;
  for (const p of ct?.sweep ?? []) count *= p.values.length;
  if (count > limits.variants) {
    const last = ct!.sweep[ct!.sweep.length - 1]!;
    r.error(
      "E312",
      last.span,
      `the sweep has ${countText(count)} variants (${ct!.sweep.map((p) => p.values.length).join(" x ")}), each trained on its own, over the limit of ${countText(limits.variants)} (limit \`variants\`: ${LIMIT_WORDS.variants})`,
      `sweep fewer values, ${raiseHint("variants", count)}`,
    );
    return null;
  }
  const combos: Map<string, V>[] = [new Map()];
  for (const p of ct?.sweep ?? []) {
    const next: Map<string, V>[] = [];
    for (const c of combos) for (const v of p.values) next.push(new Map([...c, [p.name, v]]));
    combos.splice(0, combos.length, ...next);
  }
  const variants: { values: Record<string, IRValue>; model: IRModel }[] = [];
  let allBuilt = true;
  for (const combo of combos) {
    const vscope = new Map(scope);
    for (const [k, v] of combo) vscope.set(k, v);
    const label = [...combo].map(([k, v]) => `${k} = ${v.t === "num" ? v.raw : describe(v).replace(/`/g, "")}`).join(", ");
    const run = (): BuiltModel | null => {
      const built = new ModelBuilder(r, blocks, lines, reserved, expanded, limits, options.trace).build(main, vscope);
      if (!built) return null;
      modelWarnings(built, r);
      if (ct) checkModelAgainstTraining(built, ct, r);
      const sizeOk = checkModelSize(
        built.model,
        ct?.training ?? null,
        { biggestLayer: (id) => built.info.get(id)?.nameSpan, batch: ct?.batchSpan, model: main.nameSpan },
        limits,
        r,
      );
      return sizeOk ? built : null;
    };
    const built = combo.size > 0 ? r.withContext(() => `with ${label}`, run) : run();
    if (!built) {
      allBuilt = false;
      continue;
    }
    variants.push({ values: Object.fromEntries([...combo].map(([k, v]) => [k, plain(v) as IRValue])), model: built.model });
  }
  for (const b of blocks.values()) if (!expanded.has(b.name)) checkUnusedBlock(b, blocks, r);
  if (!allBuilt || variants.length === 0 || r.errorCount > 0) return null;

  const model = variants[0].model;
  let training = null;
  if (ct) {
    training = ct.training;
    training.data.exampleShape = [...model.inputShape];
  }
  let sweep: IRSweep | null = null;
  if (ct && ct.sweep.length > 0 && ct.sweepMonitor) {
    sweep = {
      monitor: ct.sweepMonitor.monitor,
      mode: ct.sweepMonitor.mode,
      parameters: ct.sweep.map((p) => ({ name: p.name, values: p.values.map((v) => plain(v) as IRValue) })),
      variants,
    };
  }
  return {
    irVersion: 1,
    nncVersion: NNC_VERSION,
    source: { file: options.file, sha256: createHash("sha256").update(options.source).digest("hex") },
    model,
    training,
    sweep,
  };
}

function spanStart(s: Span): Span {
  return { ...s, endOffset: s.startOffset, endLine: s.startLine, endColumn: s.startColumn };
}

function checkParams(params: ModelDecl["params"], r: Reporter): void {
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.name)) r.error("E205", p.nameSpan, `parameter \`${p.name}\` is declared twice`);
    seen.add(p.name);
  }
}

/** A model's parameters with their defaults (swept ones may lack one). Null after errors. */
function defaultScope(m: ModelDecl, swept: ReadonlySet<string>, r: Reporter): Map<string, V> | null {
  const scope = new Map<string, V>();
  let ok = true;
  for (const p of m.params) {
    if (p.default !== undefined) {
      const v = evaluate(p.default, scope, r);
      if (v === null) ok = false;
      else scope.set(p.name, v);
    } else if (!swept.has(p.name)) {
      r.error("E309", p.nameSpan, `model parameter \`${p.name}\` has no value`, `give it a default (\`${p.name} = ...\`) or sweep it in the train section`);
      ok = false;
    }
  }
  return ok ? scope : null;
}

/** E312 for any expression over the `terms` limit (before anything evaluates one). */
function checkExpressions(program: Program, limits: Limits, r: Reporter): boolean {
  let ok = true;
  const expr = (e: Expr | undefined): void => {
    if (e !== undefined && !checkExprSize(e, limits, r)) ok = false;
  };
  const stmts = (body: readonly Stmt[]): void => {
    for (const s of body) {
      if (s.kind === "input") expr(s.shape);
      else if (s.kind === "chain") for (const st of s.steps) for (const a of st.args ?? []) expr(a.value);
      else {
        expr(s.kind === "for" ? s.iterable : s.count);
        stmts(s.body);
      }
    }
  };
  for (const d of program.decls) {
    if (d.kind === "train") {
      for (const s of d.body) expr(s.kind === "sweep" ? s.values : s.value);
      continue;
    }
    for (const p of d.params) expr(p.default);
    stmts(d.body);
  }
  return ok;
}

/** Every name the user binds (tensor targets, input names): generated layer ids avoid them. */
function collectNames(program: Program): Set<string> {
  const names = new Set<string>();
  const walk = (stmts: ModelDecl["body"]): void => {
    for (const s of stmts) {
      if (s.kind === "chain" && s.target !== undefined) names.add(s.target);
      else if (s.kind === "input" && s.name !== undefined) names.add(s.name);
      else if (s.kind === "for" || s.kind === "repeat") walk(s.body);
    }
  };
  for (const d of program.decls) if (d.kind !== "train") walk(d.body);
  return names;
}
