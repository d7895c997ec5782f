// Small builders for the JSON Schemas of catalog parameters, so entries read like a table.
//
// Each builder also carries, as a type only, the TypeScript type of the value it describes once
// the checker has resolved it (defaults filled, pairs expanded, references turned into IRRefs).
// An entry's argument type is therefore read off its schema (`ArgsOf`): the checker, the IR and
// every target agree on it without a second declaration, and a target that reads an argument
// the schema does not declare fails the typecheck.
import type { JsonSchema } from "./types.js";
import type { IRValue } from "../ir.js";
import type { activations, initializers, regularizers } from "./functions.js";

/** A JSON Schema that describes values of type T (T is a compile-time tag only). */
export type Prop<T> = JsonSchema & { readonly __value?: T };
/** The schema of a parameter object whose resolved value has type A. */
export type Schema<A> = JsonSchema & { readonly __args?: A };
/** The resolved value type a Prop describes. */
export type ValueOf<P> = P extends Prop<infer T> ? T : never;
/** The resolved argument object a Schema describes. */
export type ArgsOf<S> = S extends Schema<infer A> ? A : never;

/** A resolved reference to another catalog entry, as the IR holds it: `{kind: "l2", args: {l2: 1e-4}}`. */
export interface Ref<K extends string = string> {
  kind: K;
  args: Record<string, IRValue>;
}

export function obj<P extends Record<string, Prop<unknown>>>(properties: P, required: (keyof P & string)[] = []): Schema<{ [K in keyof P]: ValueOf<P[K]> }> {
  const s: JsonSchema = { type: "object", properties, additionalProperties: false };
  if (required.length > 0) s.required = required;
  return s;
}

export const none: Schema<Record<never, never>> = obj({});

export function int(def?: number, min?: number, max?: number): Prop<number> {
  const s: JsonSchema = { type: "integer" };
  if (min !== undefined) s.minimum = min;
  if (max !== undefined) s.maximum = max;
  if (def !== undefined) s.default = def;
  return s;
}

export function num(def?: number, range: { min?: number; max?: number; exMin?: number; exMax?: number } = {}): Prop<number> {
  const s: JsonSchema = { type: "number" };
  if (range.min !== undefined) s.minimum = range.min;
  if (range.max !== undefined) s.maximum = range.max;
  if (range.exMin !== undefined) s.exclusiveMinimum = range.exMin;
  if (range.exMax !== undefined) s.exclusiveMaximum = range.exMax;
  if (def !== undefined) s.default = def;
  return s;
}

export function bool(def: boolean): Prop<boolean> {
  return { type: "boolean", default: def };
}

export function str(def?: string): Prop<string> {
  const s: JsonSchema = { type: "string" };
  if (def !== undefined) s.default = def;
  return s;
}

export function oneOf<const V extends string>(values: readonly V[], def?: V): Prop<V> {
  const s: JsonSchema = { type: "string", enum: [...values], nncValueName: true };
  if (def !== undefined) s.default = def;
  return s;
}

/** The kinds a reference of each category may name. */
export interface RefKinds {
  activation: (typeof activations)[number]["name"];
  initializer: (typeof initializers)[number]["name"];
  regularizer: (typeof regularizers)[number]["name"];
}

/** A reference to a catalog entry of another category: `activation: relu`, `regularizer: l2(1e-4)`. */
export function ref<C extends keyof RefKinds>(category: C, def: string): Prop<Ref<RefKinds[C]>>;
export function ref<C extends keyof RefKinds>(category: C, def: null): Prop<Ref<RefKinds[C]> | null>;
export function ref(category: keyof RefKinds, def: string | null): JsonSchema {
  return { nncRef: category, default: def };
}

/** A pair of positive integers, written `5` or `[5, 3]`; `null` default: filled by the entry's resolve(). */
export function pair(def: [number, number] | null): Prop<[number, number]> {
  const s: JsonSchema = {
    type: def === null ? ["array", "null"] : "array",
    items: { type: "integer", minimum: 1 },
    minItems: 2,
    maxItems: 2,
    nncPair: true,
  };
  s.default = def;
  return s;
}

export function list<T = number>(items: JsonSchema, def?: T[], minItems?: number): Prop<T[]> {
  const s: JsonSchema = { type: "array", items };
  if (minItems !== undefined) s.minItems = minItems;
  if (def !== undefined) s.default = def;
  return s;
}

/** Monitored quantity: a logged metric name such as `val_loss` (checked against the logs by the checker). */
export function monitor(def: string): Prop<string> {
  return { type: "string", default: def, nncValueName: true, nncMonitor: true };
}
