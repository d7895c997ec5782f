// Small builders for the JSON Schemas of catalog parameters, so entries read like a table.
import type { JsonSchema } from "./types.js";

export function obj(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  const s: JsonSchema = { type: "object", properties, additionalProperties: false };
  if (required.length > 0) s.required = required;
  return s;
}

export const none: JsonSchema = obj({});

export function int(def?: number, min?: number, max?: number): JsonSchema {
  const s: JsonSchema = { type: "integer" };
  if (min !== undefined) s.minimum = min;
  if (max !== undefined) s.maximum = max;
  if (def !== undefined) s.default = def;
  return s;
}

export function num(def?: number, range: { min?: number; max?: number; exMin?: number; exMax?: number } = {}): JsonSchema {
  const s: JsonSchema = { type: "number" };
  if (range.min !== undefined) s.minimum = range.min;
  if (range.max !== undefined) s.maximum = range.max;
  if (range.exMin !== undefined) s.exclusiveMinimum = range.exMin;
  if (range.exMax !== undefined) s.exclusiveMaximum = range.exMax;
  if (def !== undefined) s.default = def;
  return s;
}

export function bool(def: boolean): JsonSchema {
  return { type: "boolean", default: def };
}

export function str(def?: string): JsonSchema {
  const s: JsonSchema = { type: "string" };
  if (def !== undefined) s.default = def;
  return s;
}

export function oneOf(values: string[], def?: string): JsonSchema {
  const s: JsonSchema = { type: "string", enum: values, nncValueName: true };
  if (def !== undefined) s.default = def;
  return s;
}

/** A reference to a catalog entry of another category: `activation: relu`, `regularizer: l2(1e-4)`. */
export function ref(category: "activation" | "initializer" | "regularizer", def: string | null): JsonSchema {
  return { nncRef: category, default: def };
}

/** A pair of positive integers, written `5` or `[5, 3]`. */
export function pair(def: [number, number] | null): JsonSchema {
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

export function list(items: JsonSchema, def?: unknown[], minItems?: number): JsonSchema {
  const s: JsonSchema = { type: "array", items };
  if (minItems !== undefined) s.minItems = minItems;
  if (def !== undefined) s.default = def;
  return s;
}

/** Monitored quantity: a logged metric name such as `val_loss` (checked against the logs by the checker). */
export function monitor(def: string): JsonSchema {
  return { type: "string", default: def, nncValueName: true, nncMonitor: true };
}
