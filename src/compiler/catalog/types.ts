// The shape of a catalog entry. Every concept of the language (a layer, an activation, an
// initializer, a loss, ...) is declared once, as one of these; the checker, the targets, the
// runtime and the docs read them.
//
// Parameter schemas are plain JSON Schema (draft-07, checked by ajv) with three nnc keywords
// that ajv ignores but the checker reads:
//   nncRef: "activation" | "initializer" | "regularizer"   the value names a catalog entry of
//           that category (`relu`, `l2(1e-4)`); in the IR it becomes an IRRef (or null).
//   nncPair: true        a single number `5` is accepted for a pair and expanded to [5, 5].
//   nncValueName: true   a bare identifier is accepted as a string value (enums: `same`, `val_loss`).

import type { Schema } from "./schema.js";

/** A JSON Schema object (kept loose: ajv validates the schemas themselves when compiling). */
export type JsonSchema = { [key: string]: unknown };

export type Category =
  | "layer"
  | "activation"
  | "initializer"
  | "regularizer"
  | "loss"
  | "metric"
  | "optimizer"
  | "schedule"
  | "callback"
  | "augmentation"
  | "dataset"
  | "input_shape"
  | "setting";

export interface CatalogEntry<N extends string = string, A = Record<string, unknown>> {
  name: N;
  category: Category;
  /** One line, for hovers, `nnc check` hints and the language reference. */
  doc: string;
  /** JSON Schema of the parameters: {type: "object", properties, required, additionalProperties: false}. */
  schema: Schema<A>;
  /** Parameter names in the order positional arguments fill them. */
  positional: string[];
  /** Short or alternative argument names accepted in source: alias -> parameter name. */
  aliases: Record<string, string>;
  /** Other names the entry itself may be written as (`mean_squared_error` for `mse`). */
  names?: string[];
  /**
   * How Keras or PyTorch spell this concept (`MaxPooling2D`, `BatchNorm2d`): not accepted as
   * names, but an unknown name that matches one (ignoring case) is answered with the nnc name.
   */
  keras?: string[];
  /**
   * Callbacks: it sets the learning rate once per epoch, so it may also be written as the
   * `schedule`, and it excludes a step schedule and a second one of its kind.
   */
  setsLearningRate?: boolean;
  /** Callbacks: what running one asks of an engine (see CallbackNeeds). */
  callbackNeeds?: CallbackNeeds;
  /**
   * Activations: also a layer of the same name applying it (an activation layer, `relu` on a line
   * of its own), with this doc. catalog/layers.ts derives those layers from it.
   */
  layer?: string;
  /**
   * Activations whose gradients vanish through a deep stack of them (sigmoid): the activations to
   * use in hidden layers instead, which the checker's W601 suggests.
   */
  deepAlternatives?: readonly string[];
  /**
   * The entry as a typical use writes it (`l2(1e-4)`): the first entry of a category with
   * one is that category's example in the checker's hints (exampleOf in index.ts).
   */
  example?: string;
  /** Optimizers: the per-weight state buffers the update keeps (Adam's m and v), for size estimates. */
  stateSlots?(args: Record<string, unknown>): number;
  /**
   * Fills defaults that depend on other arguments (pool strides = pool size, monitor mode
   * `auto` -> min/max), after validation. Mutates and returns args.
   */
  resolve?(args: Record<string, unknown>): Record<string, unknown>;
}

/**
 * What a callback asks of the engine that runs it, beyond each epoch's logs: the CallbackHost
 * members src/runtime/training/callbacks.ts's runner calls for it, which the standalone program
 * then carries (the GPU engine has them all).
 */
export interface CallbackNeeds {
  /** It also runs after every batch, on the batch's loss (`loss`) or on the running logs too (`logs`). */
  batches?: "loss" | "logs";
  /** It keeps a copy of the best weights, given its resolved arguments (snapshotWeights, restoreWeights). */
  bestWeights?: (args: Record<string, unknown>) => boolean;
  /** It saves the model into the run directory (saveModel). */
  savesModel?: true;
  /** It writes text files of the run directory (writeText). */
  textFiles?: true;
  /** It writes TensorBoard event files (eventFiles). */
  eventFiles?: true;
}

/** What targets need to know about a layer kind without testing its name. */
export interface LayerTraits {
  /** Its output is its input's values in another shape (flatten, reshape): targets may alias the buffer. */
  view?: boolean;
  /** Takes an `activation:` argument applied after its linear part (dense, conv2d). */
  takesActivation?: boolean;
  /** An activation layer: applies this activation function (relu, softmax, ...). */
  activation?: string;
  /** Random in training, identity at inference (dropout): needs the seeded stream and a training flag. */
  stochastic?: boolean;
  /** Keeps non-trainable state updated during training (batch normalisation's moving statistics). */
  stateful?: boolean;
}

/** A weight a layer creates. Layouts are Keras's. */
export interface WeightSpec {
  role: "kernel" | "bias" | "gamma" | "beta" | "moving_mean" | "moving_variance" | "alpha";
  shape: number[];
  /** The layer argument holding its initializer (an IRRef), or a fixed initializer name. */
  initializer: { arg: string } | { fixed: string };
  /** The layer argument holding its regularizer (IRRef or null), or none. */
  regularizer: { arg: string } | null;
  trainable: boolean;
}

/** What a shape rule returns when the inputs do not fit. */
export interface ShapeError {
  error: string;
  hint?: string;
  /** Which diagnostic code family: rank problems, dimension problems. Default "E401". */
  code?: string;
}

export interface LayerEntry<N extends string = string, A = Record<string, unknown>> extends CatalogEntry<N, A> {
  category: "layer";
  traits: LayerTraits;
  /** "one": applies to the current tensor; "many": a merge layer taking tensor names (add, concat). */
  arity: "one" | "many";
  /** Output shape (no batch dimension) from the input shapes and the resolved arguments. */
  shape(inputs: number[][], args: A): number[] | ShapeError;
  /** The weights it creates (empty for weightless layers). */
  weights(inputs: number[][], args: A): WeightSpec[];
  /** Forward FLOPs per sample (a multiply-add counts 2). */
  flops(inputs: number[][], output: number[], args: A): number;
}

export function isShapeError(x: number[] | ShapeError): x is ShapeError {
  return !Array.isArray(x);
}
