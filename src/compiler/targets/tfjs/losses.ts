// The tfjs program's losses: each loss kind as a call of its function in
// src/runtime/training/tfjs.ts (Keras's semantics). The tfjs target writes the call into the
// program; `nnc evaluate` makes it. Kept apart from the target (index.ts) so that evaluate loads
// this table alone, not the program generator.
import type { LossArgs, LossKind } from "../../catalog/kinds.js";
import type { IRRef } from "../../ir.js";

/** Where a loss function takes the number of classes (the program's CLASSES constant). */
export const CLASSES = Symbol("CLASSES");

/**
 * Each loss as a call of its function in src/runtime/training/tfjs.ts (Keras's semantics): the tfjs
 * program writes the call, `nnc evaluate` makes it (lossCall). The one loss table of tfjs.
 */
/** A loss function of training/tfjs.ts and the arguments it is called with. */
export interface LossCall {
  fn: TfjsLossFunction;
  args: (number | boolean | typeof CLASSES)[];
}

export const TFJS_LOSSES: { [K in LossKind]: (a: LossArgs<K>) => LossCall } = {
  categorical_crossentropy: (a) => ({ fn: "categoricalCrossentropy", args: [a.from_logits, a.label_smoothing, CLASSES] }),
  sparse_categorical_crossentropy: (a) => ({ fn: "sparseCategoricalCrossentropy", args: [a.from_logits, CLASSES] }),
  binary_crossentropy: (a) => ({ fn: "binaryCrossentropy", args: [a.from_logits, a.label_smoothing] }),
  mse: () => ({ fn: "meanSquaredError", args: [] }),
  mae: () => ({ fn: "meanAbsoluteError", args: [] }),
  huber: (a) => ({ fn: "huber", args: [a.delta] }),
};

/** The names of the loss functions of src/runtime/training/tfjs.ts. */
export type TfjsLossFunction = "categoricalCrossentropy" | "sparseCategoricalCrossentropy" | "binaryCrossentropy" | "meanSquaredError" | "meanAbsoluteError" | "huber";

/** A loss's function and arguments, from the IR's resolved loss. */
export function lossCall(loss: IRRef<LossKind>): LossCall {
  return (TFJS_LOSSES[loss.kind] as (a: unknown) => LossCall)(loss.args);
}
