// Losses, metrics, optimizers, learning-rate schedules and callbacks: the values of a train
// section's settings. Optimizer defaults are Keras's.
import type { CallbackNeeds, CatalogEntry } from "./types.js";
import { bool, int, list, monitor, none, num, obj, oneOf, str, type Schema } from "./schema.js";

/** How Keras and PyTorch spell these entries (see CatalogEntry.keras). */
const KERAS: Record<string, string[]> = {
  sgd: ["SGD"],
  adagrad: ["Adagrad"],
  adadelta: ["Adadelta"],
  rmsprop: ["RMSprop"],
  adam: ["Adam"],
  adamw: ["AdamW"],
  adamax: ["Adamax"],
  nadam: ["Nadam", "NAdam"],
  categorical_crossentropy: ["CategoricalCrossentropy", "CrossEntropyLoss", "cross_entropy"],
  sparse_categorical_crossentropy: ["SparseCategoricalCrossentropy"],
  binary_crossentropy: ["BinaryCrossentropy", "BCELoss", "BCEWithLogitsLoss"],
  mse: ["MeanSquaredError", "MSELoss"],
  mae: ["MeanAbsoluteError", "L1Loss"],
  huber: ["Huber", "HuberLoss", "SmoothL1Loss"],
  accuracy: ["Accuracy", "CategoricalAccuracy"],
  precision: ["Precision"],
  recall: ["Recall"],
  piecewise_constant: ["PiecewiseConstantDecay", "MultiStepLR"],
  exponential_decay: ["ExponentialDecay", "ExponentialLR"],
  inverse_time_decay: ["InverseTimeDecay"],
  reduce_on_plateau: ["ReduceLROnPlateau"],
  early_stopping: ["EarlyStopping"],
  checkpoint: ["ModelCheckpoint"],
  csv_logger: ["CSVLogger"],
  tensorboard: ["TensorBoard"],
  terminate_on_nan: ["TerminateOnNaN"],
};

function entry<N extends string, A = Record<never, never>>(
  category: CatalogEntry["category"],
  name: N,
  doc: string,
  schema: Schema<A> = none as Schema<A>,
  positional: string[] = [],
  extra: Partial<Pick<CatalogEntry, "aliases" | "names" | "resolve" | "stateSlots" | "setsLearningRate" | "example">> = {},
): CatalogEntry<N, A> {
  return { name, category, doc, schema, positional, aliases: {}, keras: KERAS[name], ...extra };
}

/** A callback's entry: what running it asks of an engine (`needs`) is required, so a new callback says it. */
function callback<N extends string, A = Record<never, never>>(
  name: N,
  doc: string,
  schema: Schema<A> = none as Schema<A>,
  positional: string[] = [],
  needs: CallbackNeeds,
  extra: Partial<Pick<CatalogEntry, "aliases" | "names" | "resolve" | "setsLearningRate" | "example">> = {},
): CatalogEntry<N, A> {
  return { ...entry("callback", name, doc, schema, positional, extra), callbackNeeds: needs };
}

/** `auto` monitor mode resolved as Keras does: max for accuracy-like metrics, else min. */
export function resolveMode(args: Record<string, unknown>): Record<string, unknown> {
  if (args.mode === "auto") {
    const m = String(args.monitor ?? "");
    args.mode = /acc|precision|recall|auc/.test(m) ? "max" : "min";
  }
  return args;
}

// ------------------------------------------------------------------ losses
const fromLogits = bool(false);
export const losses = [
  entry("loss", "categorical_crossentropy", "Cross-entropy between one-hot labels and predicted class probabilities.", obj({ from_logits: fromLogits, label_smoothing: num(0, { min: 0, max: 1 }) }), [], { example: "categorical_crossentropy" }),
  entry("loss", "sparse_categorical_crossentropy", "Cross-entropy with integer class labels (no one-hot encoding).", obj({ from_logits: fromLogits }), []),
  entry("loss", "binary_crossentropy", "Per-output binary cross-entropy, for sigmoid outputs.", obj({ from_logits: fromLogits, label_smoothing: num(0, { min: 0, max: 1 }) }), []),
  entry("loss", "mse", "Mean squared error between one-hot labels and outputs.", none, [], { names: ["mean_squared_error"] }),
  entry("loss", "mae", "Mean absolute error between one-hot labels and outputs.", none, [], { names: ["mean_absolute_error"] }),
  entry("loss", "huber", "Huber loss: squared below `delta`, linear above.", obj({ delta: num(1.0, { exMin: 0 }) }), ["delta"]),
] as const;

// ------------------------------------------------------------------ metrics
export const metrics = [
  entry("metric", "accuracy", "Fraction of examples whose highest output is the true class; with `binary_crossentropy`, Keras's binary accuracy (the fraction of outputs on the right side of 0.5), on every engine.", none, [], { names: ["acc"], example: "accuracy" }),
  entry("metric", "precision", "True positives / predicted positives (one-vs-rest, thresholded at 0.5)."),
  entry("metric", "recall", "True positives / actual positives (one-vs-rest, thresholded at 0.5)."),
  entry("metric", "mse", "Mean squared error between labels and outputs.", none, [], { names: ["mean_squared_error"] }),
  entry("metric", "mae", "Mean absolute error between labels and outputs.", none, [], { names: ["mean_absolute_error"] }),
] as const;

// ------------------------------------------------------------------ optimizers
const lr = (d: number) => num(d, { exMin: 0 });
const eps = num(1e-7, { exMin: 0 });
const adamLike = obj({ lr: lr(0.001), beta1: num(0.9, { min: 0, exMax: 1 }), beta2: num(0.999, { min: 0, exMax: 1 }), epsilon: eps });
const lrAliases = { learning_rate: "lr" };
const adamAliases = { learning_rate: "lr", beta_1: "beta1", beta_2: "beta2" };
export const optimizers = [
  entry("optimizer", "sgd", "Stochastic gradient descent, with optional (Nesterov) momentum.", obj({ lr: lr(0.01), momentum: num(0, { min: 0 }), nesterov: bool(false) }), ["lr"], { aliases: lrAliases, stateSlots: (a) => (Number(a.momentum) > 0 ? 1 : 0) }),
  entry("optimizer", "adagrad", "Adagrad: per-weight rates scaled by accumulated squared gradients.", obj({ lr: lr(0.001), initial_accumulator_value: num(0.1, { min: 0 }), epsilon: eps }), ["lr"], { aliases: lrAliases, stateSlots: () => 1 }),
  entry("optimizer", "adadelta", "Adadelta: adaptive rates from running averages of updates and gradients.", obj({ lr: lr(0.001), rho: num(0.95, { min: 0, max: 1 }), epsilon: eps }), ["lr"], { aliases: lrAliases, stateSlots: () => 2 }),
  entry("optimizer", "rmsprop", "RMSprop: gradients divided by a running RMS of recent gradients.", obj({ lr: lr(0.001), rho: num(0.9, { min: 0, max: 1 }), momentum: num(0, { min: 0 }), epsilon: eps, centered: bool(false) }), ["lr"], { aliases: lrAliases, stateSlots: (a) => 1 + (Number(a.momentum) > 0 ? 1 : 0) + (a.centered === true ? 1 : 0) }),
  entry("optimizer", "adam", "Adam: momentum plus per-weight adaptive rates.", adamLike, ["lr"], { aliases: adamAliases, stateSlots: () => 2, example: "adam(lr: 1e-3)" }),
  entry("optimizer", "adamw", "AdamW: Adam with decoupled weight decay (each step first does w -= lr * weight_decay * w, as Keras does).",
    obj({ lr: lr(0.001), beta1: num(0.9, { min: 0, exMax: 1 }), beta2: num(0.999, { min: 0, exMax: 1 }), epsilon: eps, weight_decay: num(0.004, { min: 0 }) }), ["lr"], { aliases: adamAliases, stateSlots: () => 2 }),
  entry("optimizer", "adamax", "Adamax: Adam with the infinity norm.", adamLike, ["lr"], { aliases: adamAliases, stateSlots: () => 2 }),
  entry("optimizer", "nadam", "Nadam: Adam with Nesterov momentum.", adamLike, ["lr"], { aliases: adamAliases, stateSlots: () => 2 }),
] as const;

// ------------------------------------------------------------------ schedules
// Step-based: the rate is a function of the optimizer step, starting from the optimizer's lr.
export const schedules = [
  entry("schedule", "piecewise_constant", "lr = values[i] while step < boundaries[i] (steps); values has one more entry than boundaries.",
    obj({ boundaries: list({ type: "integer", minimum: 1 }, undefined, 1), values: list({ type: "number", exclusiveMinimum: 0 }, undefined, 2) }, ["boundaries", "values"]), ["boundaries", "values"]),
  entry("schedule", "exponential_decay", "lr = lr0 * decay_rate ^ (step / decay_steps) (floored with staircase).",
    obj({ decay_steps: int(undefined, 1), decay_rate: num(undefined, { exMin: 0 }), staircase: bool(false) }, ["decay_steps", "decay_rate"]), ["decay_steps", "decay_rate"],
    { example: "exponential_decay(decay_steps: 1000, decay_rate: 0.9)" }),
  entry("schedule", "inverse_time_decay", "lr = lr0 / (1 + decay_rate * step / decay_steps) (floored with staircase).",
    obj({ decay_steps: int(undefined, 1), decay_rate: num(undefined, { min: 0 }), staircase: bool(false) }, ["decay_steps", "decay_rate"]), ["decay_steps", "decay_rate"]),
] as const;

// ------------------------------------------------------------------ callbacks
const modeSchema = oneOf(["auto", "min", "max"], "auto");
export const callbacks = [
  callback("reduce_on_plateau", "Multiplies the lr by `factor` when `monitor` has not improved for `patience` epochs (may also be written as the schedule).",
    obj({ monitor: monitor("val_loss"), factor: num(0.1, { exMin: 0, exMax: 1 }), patience: int(10, 0), min_delta: num(1e-4, { min: 0 }), cooldown: int(0, 0), min_lr: num(0, { min: 0 }), mode: modeSchema }),
    [], {}, { resolve: resolveMode, setsLearningRate: true }),
  callback("early_stopping", "Stops training when `monitor` has not improved for `patience` epochs.",
    obj({ monitor: monitor("val_loss"), patience: int(0, 0), min_delta: num(0, { min: 0 }), restore_best: bool(false), mode: modeSchema }),
    [], { bestWeights: (a) => a.restore_best === true }, { aliases: { restore_best_weights: "restore_best" }, resolve: resolveMode, example: "early_stopping(monitor: val_loss, patience: 3)" }),
  callback("checkpoint", "Saves the model (tfjs layers format) after each epoch, or only when `monitor` improves.",
    obj({ monitor: monitor("val_loss"), save_best_only: bool(false), mode: modeSchema, path: str("checkpoint") }),
    [], { savesModel: true }, { names: ["model_checkpoint"], aliases: { filepath: "path" }, resolve: resolveMode }),
  callback("csv_logger", "Writes one CSV row of logs per epoch to `path` in the run directory.",
    obj({ path: str("log.csv"), separator: str(","), append: bool(false) }), ["path"], { textFiles: true }, { aliases: { filename: "path" } }),
  callback("tensorboard", "Writes TensorBoard event files as Keras does: `dir`/train and `dir`/validation runs with the same tags (epoch_loss, ...), the learning rate, and per-batch scalars with `update_freq: batch`.",
    obj({ dir: str("logs"), update_freq: oneOf(["epoch", "batch"], "epoch") }), ["dir"], { batches: "logs", eventFiles: true }, { aliases: { log_dir: "dir" } }),
  callback("terminate_on_nan", "Stops training as soon as the loss becomes NaN or infinite.", none, [], { batches: "loss" }),
] as const;
