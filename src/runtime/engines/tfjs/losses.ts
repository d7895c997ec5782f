// Losses and metrics for the tfjs engine, with Keras's semantics (probabilities clipped to
// [1e-7, 1 - 1e-7] for cross-entropies, mean over the batch). Labels arrive one-hot
// (`labels: "onehot"`) or as class indices (`"sparse"`, float32 column of ints).
import type * as tfTypes from "@tensorflow/tfjs";
import type { IRRef } from "../../../compiler/ir.js";
import type { LossKind } from "../../../compiler/catalog/kinds.js";
import type { Tf } from "./backends.js";

type Tensor = tfTypes.Tensor;
type Scalar = tfTypes.Scalar;

export const EPSILON = 1e-7;

/** loss(yTrue, yPred) -> mean over the batch, as a scalar. */
export type LossFn = (yTrue: Tensor, yPred: Tensor) => Scalar;

export function makeLoss(tf: Tf, ref: IRRef<LossKind>, classes: number): LossFn {
  const a = ref.args as Record<string, unknown>;
  const fromLogits = a.from_logits as boolean;
  const smoothing = a.label_smoothing as number;
  const smooth = (y: Tensor) => (smoothing > 0 ? y.mul(1 - smoothing).add(smoothing / classes) : y);
  switch (ref.kind) {
    case "categorical_crossentropy":
      return (y, p) =>
        tf.tidy(() => {
          const yt = smooth(y);
          if (fromLogits) return tf.neg(tf.sum(yt.mul(tf.logSoftmax(p)), -1)).mean() as Scalar;
          const q = p.div(p.sum(-1, true)).clipByValue(EPSILON, 1 - EPSILON);
          return tf.neg(tf.sum(yt.mul(q.log()), -1)).mean() as Scalar;
        });
    case "sparse_categorical_crossentropy":
      return (y, p) =>
        tf.tidy(() => {
          const oh = tf.oneHot(y.reshape([-1]).toInt(), classes).toFloat();
          if (fromLogits) return tf.neg(tf.sum(oh.mul(tf.logSoftmax(p)), -1)).mean() as Scalar;
          const q = p.div(p.sum(-1, true)).clipByValue(EPSILON, 1 - EPSILON);
          return tf.neg(tf.sum(oh.mul(q.log()), -1)).mean() as Scalar;
        });
    case "binary_crossentropy":
      return (y, p) =>
        tf.tidy(() => {
          const yt = smoothing > 0 ? y.mul(1 - smoothing).add(0.5 * smoothing) : y;
          if (fromLogits) {
            // max(x, 0) - x*y + log(1 + exp(-|x|))
            return tf
              .relu(p)
              .sub(p.mul(yt))
              .add(tf.log1p(tf.exp(tf.neg(tf.abs(p)))))
              .mean() as Scalar;
          }
          const q = p.clipByValue(EPSILON, 1 - EPSILON);
          return tf.neg(yt.mul(q.log()).add(tf.sub(1, yt).mul(tf.sub(1, q).log()))).mean() as Scalar;
        });
    case "mse":
      return (y, p) => tf.tidy(() => tf.squaredDifference(y, p).mean() as Scalar);
    case "mae":
      return (y, p) => tf.tidy(() => tf.abs(tf.sub(y, p)).mean() as Scalar);
    case "huber": {
      const delta = a.delta as number;
      return (y, p) =>
        tf.tidy(() => {
          const err = tf.abs(tf.sub(y, p));
          const quad = tf.minimum(err, delta);
          const lin = err.sub(quad);
          return quad.square().mul(0.5).add(lin.mul(delta)).mean() as Scalar;
        });
    }
    default: {
      const missing: never = ref.kind; // a catalog loss without an implementation here fails the typecheck
      throw new Error(`internal: the tfjs engine has no loss "${String(missing)}"`);
    }
  }
}

/**
 * Per-batch metric sums (so epoch values are exact means over examples): returns, for each
 * metric name, [sum over the batch, count]. precision/recall return [true positives, predicted
 * or actual positives] so they can be aggregated over batches.
 */
export async function metricSums(
  tf: Tf,
  names: string[],
  labels: "onehot" | "sparse",
  classes: number,
  y: Tensor,
  p: Tensor,
  /** The loss is binary_crossentropy: `accuracy` is Keras's binary accuracy (each output thresholded at 0.5). */
  binary = false,
): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  if (names.length === 0) return out;
  const n = p.shape[0]!;
  const vals = tf.tidy(() => {
    const oh = labels === "sparse" ? tf.oneHot(y.reshape([-1]).toInt(), classes).toFloat() : y;
    const res: Record<string, Tensor> = {};
    const trueClass = oh.argMax(-1);
    const predClass = p.argMax(-1);
    for (const m of names) {
      if (m === "accuracy" && binary) res[m] = p.greater(0.5).toFloat().equal(oh).toFloat().mean(-1).sum();
      else if (m === "accuracy") res[m] = trueClass.equal(predClass).toFloat().sum();
      else if (m === "mse") res[m] = tf.squaredDifference(oh, p).mean(-1).sum();
      else if (m === "mae") res[m] = tf.abs(tf.sub(oh, p)).mean(-1).sum();
      else if (m === "precision" || m === "recall") {
        const predPos = p.greater(0.5).toFloat();
        res[`${m}/tp`] = predPos.mul(oh).sum();
        res[`${m}/den`] = m === "precision" ? predPos.sum() : oh.sum();
      }
    }
    return res;
  });
  // One asynchronous read for all of them: the webgpu backend cannot read synchronously in Node.
  const keys = Object.keys(vals);
  if (keys.length === 0) return out;
  const stacked = tf.stack(keys.map((k) => vals[k]!));
  const values = await stacked.data();
  tf.dispose([stacked, ...Object.values(vals)]);
  const read = (k: string) => values[keys.indexOf(k)]!;
  for (const m of names) {
    if (m === "precision" || m === "recall") out[m] = [read(`${m}/tp`), read(`${m}/den`)];
    else if (keys.includes(m)) out[m] = [read(m), n];
  }
  return out;
}
