// The settings a `train` section may contain (`epochs 10`, `optimizer adam(lr: 1e-3)`).
// `schema` describes the value; settings whose value names a catalog entry say which category.
import type { CatalogEntry, Category } from "./types.js";
import { bool, int } from "./schema.js";
import { callbacks } from "./training.js";

/** The callbacks that set the learning rate once per epoch, which may also be written as the schedule. */
const perEpochSchedules = callbacks.filter((c) => c.setsLearningRate).map((c) => c.name);

export interface SettingEntry extends CatalogEntry {
  /** The value names an entry of this category (`loss categorical_crossentropy`). */
  valueCategory?: Category;
  /** The value is a list of such entries (`metrics [accuracy]`). */
  isList?: boolean;
  required?: boolean;
}

function setting(name: string, doc: string, schema: Record<string, unknown>, extra: Partial<SettingEntry> = {}): SettingEntry {
  return { name, category: "setting", doc, schema, positional: [], aliases: {}, ...extra };
}

export const settings: SettingEntry[] = [
  setting("data", "The dataset and its validation data and augmentation: `mnist(validation_split: 0.2)`.", { type: "object" }, { valueCategory: "dataset", required: true }),
  setting("loss", "The loss to minimise: `categorical_crossentropy`.", { type: "object" }, { valueCategory: "loss", required: true }),
  setting("optimizer", "The optimizer, with Keras defaults: `adam`, `sgd(lr: 0.1, momentum: 0.9)`.", { type: "object" }, { valueCategory: "optimizer", required: true }),
  setting("schedule", `A learning-rate schedule (per step), or ${perEpochSchedules.join(" or ")} (per epoch).`, { type: "object" }, { valueCategory: "schedule" }),
  setting("callbacks", `A list of callbacks: ${callbacks.map((c) => c.name).join(", ")}.`, { type: "array" }, { valueCategory: "callback", isList: true }),
  setting("metrics", "Metrics logged besides the loss: `[accuracy]`.", { type: "array", default: [] }, { valueCategory: "metric", isList: true }),
  setting("epochs", "Passes over the training data (default 1).", int(1, 1)),
  setting("batch", "Examples per training step (default 32).", int(32, 1), { names: ["batch_size"] }),
  setting("seed", "Seed of every random choice: initial weights, shuffling, dropout, augmentation (default 42).", int(42, 0)),
  setting("steps_per_epoch", "Training steps per epoch (default: all training examples once).", int(undefined, 1)),
  setting("shuffle", "Shuffle the training data every epoch (default true).", bool(true)),
];
