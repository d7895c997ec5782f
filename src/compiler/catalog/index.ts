// The catalog: every concept of the language, declared once. See types.ts for an entry's shape.
//
//   layers.ts      every layer kind (the `layers` list at its end; grammar/catalog.md lists them)
//   functions.ts   activations, initializers, regularizers
//   training.ts    losses, metrics, optimizers, schedules, callbacks
//   data.ts        datasets, augmentations, input shapes
//   settings.ts    the settings of a train section
import type { ValidateFunction } from "ajv";
import { compileSchema } from "../schema.js";
import type { CatalogEntry, Category, LayerEntry } from "./types.js";
import { layers } from "./layers.js";
import { activations, initializers, regularizers } from "./functions.js";
import { callbacks, losses, metrics, optimizers, schedules } from "./training.js";
import { augmentations, datasets, inputShapes, type DatasetEntry, type InputShapeEntry } from "./data.js";
import { settings, type SettingEntry } from "./settings.js";

export type { CatalogEntry, Category, LayerEntry, WeightSpec, ShapeError, JsonSchema } from "./types.js";
export { isShapeError } from "./types.js";
export type { DatasetEntry, InputShapeEntry } from "./data.js";
export type { SettingEntry } from "./settings.js";
export { layers, activations, initializers, regularizers, losses, metrics, optimizers, schedules, callbacks, augmentations, datasets, inputShapes, settings };

/** Every entry, by category. */
export const catalog: Record<Category, readonly CatalogEntry[]> = {
  layer: layers,
  activation: activations,
  initializer: initializers,
  regularizer: regularizers,
  loss: losses,
  metric: metrics,
  optimizer: optimizers,
  schedule: schedules,
  callback: callbacks,
  augmentation: augmentations,
  dataset: datasets,
  input_shape: inputShapes,
  setting: settings,
};

export const categories = Object.keys(catalog) as Category[];

/** Words for a category in messages: "layer", "initializer", "learning-rate schedule". */
export const categoryWords: Record<Category, string> = {
  layer: "layer",
  activation: "activation",
  initializer: "initializer",
  regularizer: "regularizer",
  loss: "loss",
  metric: "metric",
  optimizer: "optimizer",
  schedule: "learning-rate schedule",
  callback: "callback",
  augmentation: "augmentation",
  dataset: "dataset",
  input_shape: "input shape",
  setting: "training setting",
};

const byName = new Map<Category, Map<string, CatalogEntry>>();
for (const cat of categories) {
  const m = new Map<string, CatalogEntry>();
  for (const e of catalog[cat]) {
    m.set(e.name, e);
    for (const alt of e.names ?? []) m.set(alt, e);
  }
  byName.set(cat, m);
}

/** The entry called `name` (or one of its alternative names) in a category. */
export function lookup(category: "layer", name: string): LayerEntry | undefined;
export function lookup(category: "dataset", name: string): DatasetEntry | undefined;
export function lookup(category: "input_shape", name: string): InputShapeEntry | undefined;
export function lookup(category: "setting", name: string): SettingEntry | undefined;
export function lookup(category: Category, name: string): CatalogEntry | undefined;
export function lookup(category: Category, name: string): CatalogEntry | undefined {
  return byName.get(category)!.get(name);
}

const kerasNames = new Map<Category, Map<string, string>>();
for (const cat of categories) {
  const m = new Map<string, string>();
  for (const e of catalog[cat]) for (const k of e.keras ?? []) m.set(k.toLowerCase(), e.name);
  kerasNames.set(cat, m);
}

/**
 * The nnc name of an entry that Keras or PyTorch spell `name` (`MaxPooling2D` -> `max_pool`,
 * `Linear` -> `dense`), ignoring case, or undefined.
 */
export function fromKerasName(category: Category, name: string): string | undefined {
  return kerasNames.get(category)!.get(name.toLowerCase());
}

/** How a typical use writes an entry of a category (`l2(1e-4)`), for hints: the first entry's `example`, else its first name. */
export function exampleOf(category: Category): string {
  return catalog[category].find((e) => e.example !== undefined)?.example ?? catalog[category][0]?.name ?? "";
}

/** The canonical names of a category (for did-you-mean and messages). */
export function names(category: Category): string[] {
  return catalog[category].map((e) => e.name);
}

/** Every name (canonical and alternative) of a category. */
export function allNames(category: Category): string[] {
  return [...byName.get(category)!.keys()];
}

// ------------------------------------------------------------------ ajv

const compiled = new WeakMap<CatalogEntry, ValidateFunction>();

/** Categories whose schema describes a single value (`rotation: 30`, `epochs 10`) rather than named parameters. */
export const valueCategories: ReadonlySet<Category> = new Set<Category>(["augmentation", "setting"]);

/**
 * The compiled validator of an entry's parameter schema (ajv fills defaults into the object it
 * checks). For value categories (augmentation, setting) it checks `{value: x}`.
 */
export function validator(entry: CatalogEntry): ValidateFunction {
  let v = compiled.get(entry);
  if (!v) {
    const schema = valueCategories.has(entry.category)
      ? { type: "object", properties: { value: entry.schema }, additionalProperties: false }
      : entry.schema;
    v = compileSchema(schema, true); // defaults filled, all errors
    compiled.set(entry, v);
  }
  return v;
}

/** Property schemas of an entry's parameters. */
export function paramSchemas(entry: CatalogEntry): Record<string, Record<string, unknown>> {
  return (entry.schema.properties ?? {}) as Record<string, Record<string, unknown>>;
}
