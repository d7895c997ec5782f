// Binding call arguments to a catalog entry's parameters: positional/named/alias resolution,
// catalog references (`init: he_normal`, `regularizer: l2(1e-4)`), validation with ajv against
// the entry's JSON Schema, and ajv's errors rewritten in the language's own words, each
// positioned on the argument it is about.
import type { Span } from "../../parser/ast.js";
import type { ErrorObject } from "ajv";
import type { IRRef, IRValue } from "../ir.js";
import { allNames, categoryWords, exampleOf, fromKerasName, lookup, paramSchemas, validator, valueCategories, type CatalogEntry, type Category } from "../catalog/index.js";
import { didYouMean, suggest } from "../../parser/suggest.js";
import type { Reporter } from "./report.js";
import { describe, plain, spanAt, type V, type VArg } from "./values.js";

export interface Bound {
  /** Every parameter, defaults filled, references resolved to IRRef (or null). */
  args: Record<string, IRValue>;
  /** Where each parameter given in the source was written (its value). */
  spans: Record<string, Span>;
}

const INVALID = Symbol("invalid");

/** Names of the entry's parameters and aliases, for did-you-mean. */
function paramNames(entry: CatalogEntry): string[] {
  return [...Object.keys(paramSchemas(entry)), ...Object.keys(entry.aliases)];
}

/**
 * Binds `args` (null: written without parentheses) to `entry`'s parameters.
 * Returns null after reporting errors.
 */
export function bindArgs(
  entry: CatalogEntry,
  args: readonly VArg[] | null,
  where: { callee: string; span: Span; /** parameters and loop variables in scope, for did-you-mean */ scope?: ReadonlyMap<string, unknown> },
  r: Reporter,
): Bound | null {
  const props = paramSchemas(entry);
  const list = args ?? NO_ARGS;
  // The parameter each argument binds, by index (undefined where an error was reported): an
  // exact-length array, since this runs once per layer (a Map, or Given objects in a growing
  // list, cost a few hundred bytes a call).
  const given: Given = { args: list, params: new Array<string | undefined>(list.length) };
  let ok = true;
  let position = 0;
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    let param: string;
    if (a.name === undefined) {
      if (position >= entry.positional.length) {
        const n = entry.positional.length;
        r.error(
          "E305",
          a.span,
          n === 0
            ? `\`${where.callee}\` takes no positional arguments`
            : `\`${where.callee}\` takes at most ${n} positional argument${n === 1 ? "" : "s"} (${entry.positional.map((p) => `\`${p}\``).join(", ")})`,
          n === 0 && Object.keys(props).length > 0 ? `name the argument, e.g. \`${Object.keys(props)[0]}: ...\`` : undefined,
        );
        ok = false;
        continue;
      }
      param = entry.positional[position++];
    } else {
      const canonical = props[a.name] ? a.name : entry.aliases[a.name];
      if (canonical === undefined) {
        const names = paramNames(entry);
        r.error(
          "E202",
          a.nameSpan ?? a.span,
          names.length === 0 ? `\`${where.callee}\` takes no arguments; got \`${a.name}\`` : `\`${where.callee}\` has no parameter \`${a.name}\``,
          didYouMean(a.name, names) ?? (names.length > 0 ? `its parameters: ${Object.keys(props).map((p) => `\`${p}\``).join(", ")}` : undefined),
        );
        ok = false;
        continue;
      }
      param = canonical;
    }
    if (givenFor(given, param)) {
      r.error("E206", a.nameSpan ?? a.span, `\`${param}\` of \`${where.callee}\` is given twice`);
      ok = false;
      continue;
    }
    given.params[i] = param;
  }

  // Convert to JSON, resolving catalog references. The object starts with every parameter,
  // in the catalog's order, so the IR reads the same however the source was written (and all
  // objects for one entry share a shape); ajv fills the defaults of those left undefined.
  const { keys, refs } = paramInfo(entry);
  const obj: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) obj[keys[i]!] = undefined;
  const spans: Record<string, Span> = {};
  for (let i = 0; i < list.length; i++) {
    const param = given.params[i];
    if (param === undefined) continue;
    const a = list[i]!;
    const j = toJson(a.value, props[param] ?? {}, a.name ?? param, where.callee, r, where.scope);
    if (j === INVALID) ok = false;
    else obj[param] = j;
    spans[param] = a.value.span;
  }

  // Validate with ajv (fills defaults).
  const validate = validator(entry);
  if (!validate(obj)) {
    ok = false;
    // A parameter whose value was already reported as invalid is not "missing" too.
    const errors = (validate.errors ?? []).filter((e) => !(e.keyword === "required" && givenFor(given, (e.params as { missingProperty: string }).missingProperty) !== undefined));
    reportAjvErrors(errors, entry, where, (param) => givenFor(given, param), r);
  }
  // A required parameter that was not written is missing even when a `null` default filled it
  // (`conv2d(8)`: `kernel_size` is required, and its schema allows null for "no value").
  const required = (entry.schema as { required?: string[] }).required ?? [];
  for (const param of required) {
    if ((obj[param] === null || obj[param] === undefined) && givenFor(given, param) === undefined) {
      reportMissing(entry, where, param, r); // the same message as ajv's `required`: reported once
      ok = false;
    }
  }
  if (!ok) return null;

  // Defaults that name catalog entries (`activation: linear`) become IRRefs too.
  for (const [param, cat] of refs) {
    if (typeof obj[param] === "string") obj[param] = defaultRef(cat, obj[param] as string);
  }
  entry.resolve?.(obj);
  return { args: inCatalogOrder(obj, keys), spans };
}

/** How a message names a value: "`kernel` of `conv2d`", or "`epochs`" (no callee). */
function label(written: string, callee: string | undefined): string {
  return callee === undefined ? `\`${written}\`` : `\`${written}\` of \`${callee}\``;
}

/** label() as a function, for resolveRef (made here, so that toJson itself captures nothing). */
function labelFn(written: string, callee: string | undefined): () => string {
  return () => label(written, callee);
}

const NO_ARGS: readonly VArg[] = [];

/** A call's arguments and the parameter each binds (undefined: reported as an error). */
interface Given {
  args: readonly VArg[];
  params: (string | undefined)[];
}

/** The argument given for `param`: its value, how it was written, where. */
function givenFor(given: Given, param: string): { v: V; written: string; span: Span } | undefined {
  for (let i = 0; i < given.params.length; i++) {
    if (given.params[i] === param) {
      const a = given.args[i]!;
      return { v: a.value, written: a.name ?? param, span: a.value.span };
    }
  }
  return undefined;
}

/**
 * `obj` itself when no parameter is left undefined (the usual case), else a copy without those.
 * `obj`'s keys are `keys`, in order: bindArgs creates them all first, and neither ajv (defaults
 * of declared properties only) nor an entry's resolve() adds others.
 */
function inCatalogOrder(obj: Record<string, unknown>, keys: readonly string[]): Record<string, IRValue> {
  let clean = true;
  for (let i = 0; i < keys.length; i++) if (obj[keys[i]!] === undefined) clean = false;
  if (clean) return obj as Record<string, IRValue>;
  const ordered: Record<string, IRValue> = {};
  for (const k of keys) if (obj[k] !== undefined) ordered[k] = obj[k] as IRValue;
  return ordered;
}

/** An entry's parameter names in catalog order, and those naming catalog entries, worked out once. */
function paramInfo(entry: CatalogEntry): { keys: string[]; refs: [string, Category][] } {
  let info = paramInfos.get(entry);
  if (!info) {
    const props = paramSchemas(entry);
    const refs: [string, Category][] = [];
    for (const k in props) if (props[k]!.nncRef !== undefined) refs.push([k, props[k]!.nncRef as Category]);
    info = { keys: Object.keys(props), refs };
    paramInfos.set(entry, info);
  }
  return info;
}

const paramInfos = new WeakMap<CatalogEntry, { keys: string[]; refs: [string, Category][] }>();

/** An IRRef for a catalog entry with all defaults, e.g. defaultRef("initializer", "zeros"). */
export function defaultRef(category: Category, name: string): IRRef {
  let byName = defaultRefs.get(category);
  if (!byName) defaultRefs.set(category, (byName = new Map()));
  let ref = byName.get(name);
  if (!ref) {
    const e = lookup(category, name);
    if (!e) throw new Error(`catalog has no ${category} ${name}`);
    const args: Record<string, unknown> = {};
    validator(e)(args);
    e.resolve?.(args);
    for (const v of Object.values(args)) if (Array.isArray(v)) Object.freeze(v);
    ref = Object.freeze({ kind: e.name, args: Object.freeze(args) as Record<string, IRValue> });
    byName.set(name, ref);
  }
  // One frozen object per entry, shared by every layer that takes the default: a model of
  // thousands of layers makes thousands of these. The IR is read-only to its consumers.
  return ref;
}

const defaultRefs = new Map<Category, Map<string, IRRef>>();

/**
 * Resolves a value naming a catalog entry of `category` (`he_normal`, `l2(1e-4)`)
 * to an IRRef. `none` resolves to null where `allowNone`. Returns INVALID after reporting.
 */
export function resolveRef(v: V, category: Category, what: string | (() => string), r: Reporter, allowNone = false, extraNames: string[] = []): IRRef | null | typeof INVALID {
  const word = categoryWords[category];
  if (v.t === "name" || v.t === "call") {
    const name = v.t === "name" ? v.name : v.callee;
    const span = v.t === "name" ? v.span : v.calleeSpan;
    if (allowNone && (name === "none" || name === "null")) return null;
    const entry = lookup(category, name);
    if (!entry) {
      const keras = fromKerasName(category, name);
      r.error(
        "E203",
        span,
        `unknown ${word} \`${name}\``,
        (keras ? `in nnc this is \`${keras}\` (\`${name}\` is the Keras/PyTorch name)` : undefined) ?? didYouMean(name, [...allNames(category), ...extraNames]) ?? `known ${word}s: ${listNames(allNames(category))}`,
      );
      return INVALID;
    }
    const bound = bindArgs(entry, v.t === "call" ? v.args : null, { callee: name, span }, r);
    return bound === null ? INVALID : { kind: entry.name, args: bound.args };
  }
  r.error("E301", v.span, `${typeof what === "string" ? what : what()} must name ${article(word)} ${word}; got ${describe(v)}`, `e.g. \`${exampleOf(category)}\``);
  return INVALID;
}

export function isInvalid(x: unknown): x is typeof INVALID {
  return x === INVALID;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 12).map((n) => `\`${n}\``).join(", ");
  return names.length > 12 ? `${shown}, ...` : shown;
}

/** A source value as JSON for a parameter with schema `schema`. */
function toJson(v: V, schema: Record<string, unknown>, written: string, callee: string | undefined, r: Reporter, scope?: ReadonlyMap<string, unknown>): unknown {
  const refCat = schema.nncRef as Category | undefined;
  if (refCat !== undefined) return resolveRef(v, refCat, labelFn(written, callee), r, schema.default === null);
  if (v.t === "call") {
    r.error("E301", v.span, `${label(written, callee)} takes a value, not a call of \`${v.callee}\``);
    return INVALID;
  }
  if (v.t === "name") {
    const t = schema.type;
    if (t === "integer" || t === "number" || (schema.nncPair && true)) {
      const names = scope ? [...scope.keys()] : [];
      r.error("E214", v.span, `unknown name \`${v.name}\``, () => didYouMean(v.name, names) ?? (names.length > 0 ? `names in scope here: ${names.map((n) => `\`${n}\``).join(", ")}` : `${label(written, callee)} must be a number`));
      return INVALID;
    }
    return v.name;
  }
  if (schema.nncPair && v.t === "num") return [v.v, v.v];
  if (v.t === "list") {
    const items = (schema.items ?? {}) as Record<string, unknown>;
    const out: unknown[] = [];
    for (const it of v.items) {
      const j = toJson(it, items, written, callee, r, scope);
      if (j === INVALID) return INVALID;
      out.push(j);
    }
    return out;
  }
  return plain(v);
}

const typeWords: Record<string, string> = {
  integer: "a whole number",
  number: "a number",
  string: "text or a name",
  boolean: "`true` or `false`",
  array: "a list",
  object: "an object `{ ... }`",
  null: "nothing",
};

function reportAjvErrors(
  errors: ErrorObject[],
  entry: CatalogEntry,
  where: { callee: string; span: Span },
  given: (param: string) => { v: V; written: string; span: Span } | undefined,
  r: Reporter,
): void {
  const props = paramSchemas(entry);
  const done = new Set<string>();
  const isValue = valueCategories.has(entry.category);
  for (const e of errors) {
    if (done.has(e.instancePath)) continue;
    done.add(e.instancePath);
    if (e.keyword === "required") {
      reportMissing(entry, where, (e.params as { missingProperty: string }).missingProperty, r);
      continue;
    }
    if (e.keyword === "additionalProperties") continue; // reported as E202 before validation
    const path = e.instancePath.split("/").slice(1);
    const param = path[0];
    const g = given(param);
    const schema = props[param] ?? {};
    const span = g ? spanAt(g.v, path.slice(1)) : where.span;
    const what = isValue ? `\`${where.callee}\`` : `\`${g?.written ?? param}\` of \`${where.callee}\``;
    const got = g ? (path.length > 1 && g.v.t === "list" ? describe(subValue(g.v, path.slice(1))) : describe(g.v)) : "";
    const p = e.params as Record<string, unknown>;
    const realSchema = isValue ? entry.schema : schema;
    switch (e.keyword) {
      case "type": {
        const want = Array.isArray(p.type) ? (p.type as string[]).filter((t) => t !== "null") : [p.type as string];
        let words = want.map((t) => typeWords[t] ?? t).join(" or ");
        if (realSchema.nncPair && path.length === 1) words = "a whole number or a list of two";
        if (realSchema.nncValueName && want[0] === "string") words = "a name";
        r.error("E301", span, `${what} must be ${words}; got ${got}`);
        break;
      }
      case "minimum":
      case "exclusiveMinimum":
      case "maximum":
      case "exclusiveMaximum": {
        const words = { minimum: "at least", exclusiveMinimum: "greater than", maximum: "at most", exclusiveMaximum: "less than" }[e.keyword];
        const range = rangeWords(path.length > 1 ? (realSchema.items as Record<string, unknown>) ?? {} : realSchema);
        r.error("E302", span, `${what} must be ${words} ${String(p.limit)}; got ${got}`, range);
        break;
      }
      case "enum": {
        const allowed = (p.allowedValues as string[]) ?? [];
        const gv = g?.v;
        const name = gv?.t === "name" ? gv.name : gv?.t === "str" ? gv.v : "";
        r.error("E303", span, `${what} must be one of ${allowed.map((a) => `\`${a}\``).join(", ")}; got ${got}`, suggest(name, allowed) ? `did you mean \`${suggest(name, allowed)}\`?` : undefined);
        break;
      }
      case "minItems":
      case "maxItems": {
        if (realSchema.nncPair) r.error("E301", span, `${what} must be a whole number or a list of two; got ${got}`);
        else r.error("E301", span, `${what} must have ${e.keyword === "minItems" ? "at least" : "at most"} ${String(p.limit)} item${p.limit === 1 ? "" : "s"}; got ${got}`);
        break;
      }
      case "not":
        r.error("E302", span, `${what} must not be ${got}`);
        break;
      default:
        r.error("E301", span, `${what} is not valid here (${e.message ?? e.keyword}); got ${got}`);
    }
  }
}

function reportMissing(entry: CatalogEntry, where: { callee: string; span: Span }, missing: string, r: Reporter): void {
  const pos = entry.positional.indexOf(missing);
  r.error(
    "E304",
    where.span,
    `\`${where.callee}\` needs \`${missing}\``,
    pos === 0 ? `e.g. \`${where.callee}(${exampleValue(paramSchemas(entry)[missing])})\`` : `add \`${shortName(entry, missing)}: ${exampleValue(paramSchemas(entry)[missing])}\``,
  );
}

/** The shortest name a parameter can be written with (`kernel` for `kernel_size`). */
function shortName(entry: CatalogEntry, param: string): string {
  let best = param;
  for (const [alias, target] of Object.entries(entry.aliases)) if (target === param && alias.length < best.length) best = alias;
  return best;
}

function subValue(v: V, path: string[]): V {
  let cur = v;
  for (const seg of path) {
    if (cur.t === "list" && cur.items[Number(seg)]) cur = cur.items[Number(seg)];
  }
  return cur;
}

function rangeWords(schema: Record<string, unknown>): string | undefined {
  const lo = schema.minimum !== undefined ? `${String(schema.minimum)} ≤` : schema.exclusiveMinimum !== undefined ? `${String(schema.exclusiveMinimum)} <` : "";
  const hi = schema.maximum !== undefined ? `≤ ${String(schema.maximum)}` : schema.exclusiveMaximum !== undefined ? `< ${String(schema.exclusiveMaximum)}` : "";
  if (!lo && !hi) return undefined;
  return `allowed: ${[lo, "value", hi].filter(Boolean).join(" ")}`;
}

function exampleValue(schema: Record<string, unknown> | undefined): string {
  if (!schema) return "...";
  if (schema.nncPair) return "3";
  if (schema.type === "integer") return "10";
  if (schema.type === "number") return "0.5";
  if (Array.isArray(schema.enum)) return String(schema.enum[0]);
  return "...";
}

/**
 * Checks a single value against a value-category entry (an augmentation key, a setting):
 * `rotation: 30`, `epochs 10`. Returns the JSON value, or INVALID after reporting.
 */
export function checkValue(entry: CatalogEntry, v: V, name: string, r: Reporter): IRValue | typeof INVALID {
  const j = toJson(v, entry.schema, name, undefined, r);
  if (j === INVALID) return INVALID;
  const obj: Record<string, unknown> = { value: j };
  const validate = validator(entry);
  if (!validate(obj)) {
    reportAjvErrors(validate.errors ?? [], entry, { callee: name, span: v.span }, (p) => (p === "value" ? { v, written: name, span: v.span } : undefined), r);
    return INVALID;
  }
  return obj.value as IRValue;
}

/** The default of a value-category entry (undefined when it has none). */
export function defaultValue(entry: CatalogEntry): IRValue | undefined {
  const obj: Record<string, unknown> = {};
  validator(entry)(obj);
  return obj.value as IRValue | undefined;
}
