// EMBEDDABLE MODULE (with TensorFlow.js): the tensor side of training a tf.LayersModel as Keras
// does, written once. The tfjs target (src/compiler/targets/tfjs) copies the pieces a model needs
// into its program, which `nnc run --engine tfjs` runs; `nnc evaluate` imports the losses and
// metrics. It imports only node:*, other embeddable modules and `@tensorflow/tfjs` as `tf` (the
// program imports its own tfjs package under that name, and the engine hands it the tfjs module
// whose backend it initialised).
//
// Optimizers follow Keras 3's update rules (keras/src/optimizers/*.py), not tf.train's: tfjs's
// Adam adds epsilon to the bias-corrected sqrt(v), has no Nadam or AdamW, and fixes the learning
// rate at construction, while nnc changes it every step (schedules, callbacks). They match
// the standalone program's update rules.
import * as tf from "@tensorflow/tfjs";
import { writeModelDir } from "../data/mnist.js";

// ------------------------------------------------------------------ losses and metrics

/** Keras's fuzz factor: cross-entropies clip probabilities to [EPSILON, 1 - EPSILON]. */
export const EPSILON = 1e-7;

/** loss(yTrue, yPred): the mean over the batch, as a scalar. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;

/** Keras's categorical_crossentropy on one-hot labels (smoothed towards 1/classes). */
export function categoricalCrossentropy(fromLogits: boolean, labelSmoothing: number, classes: number): LossFn {
  return (y, p) =>
    tf.tidy(() => {
      const yt = labelSmoothing > 0 ? y.mul(1 - labelSmoothing).add(labelSmoothing / classes) : y;
      if (fromLogits) return tf.neg(tf.sum(yt.mul(tf.logSoftmax(p)), -1)).mean() as tf.Scalar;
      const q = p.div(p.sum(-1, true)).clipByValue(EPSILON, 1 - EPSILON);
      return tf.neg(tf.sum(yt.mul(q.log()), -1)).mean() as tf.Scalar;
    });
}

/** Keras's sparse_categorical_crossentropy: labels are class indices (a float32 column). */
export function sparseCategoricalCrossentropy(fromLogits: boolean, classes: number): LossFn {
  return (y, p) =>
    tf.tidy(() => {
      const oh = tf.oneHot(y.reshape([-1]).toInt(), classes).toFloat();
      if (fromLogits) return tf.neg(tf.sum(oh.mul(tf.logSoftmax(p)), -1)).mean() as tf.Scalar;
      const q = p.div(p.sum(-1, true)).clipByValue(EPSILON, 1 - EPSILON);
      return tf.neg(tf.sum(oh.mul(q.log()), -1)).mean() as tf.Scalar;
    });
}

/** Keras's binary_crossentropy, averaged over every output (smoothed towards 1/2). */
export function binaryCrossentropy(fromLogits: boolean, labelSmoothing: number): LossFn {
  return (y, p) =>
    tf.tidy(() => {
      const yt = labelSmoothing > 0 ? y.mul(1 - labelSmoothing).add(0.5 * labelSmoothing) : y;
      if (fromLogits) {
        // max(x, 0) - x*y + log(1 + exp(-|x|))
        return tf
          .relu(p)
          .sub(p.mul(yt))
          .add(tf.log1p(tf.exp(tf.neg(tf.abs(p)))))
          .mean() as tf.Scalar;
      }
      const q = p.clipByValue(EPSILON, 1 - EPSILON);
      return tf.neg(yt.mul(q.log()).add(tf.sub(1, yt).mul(tf.sub(1, q).log()))).mean() as tf.Scalar;
    });
}

export function meanSquaredError(): LossFn {
  return (y, p) => tf.tidy(() => tf.squaredDifference(y, p).mean() as tf.Scalar);
}

export function meanAbsoluteError(): LossFn {
  return (y, p) => tf.tidy(() => tf.abs(tf.sub(y, p)).mean() as tf.Scalar);
}

/** Keras's Huber loss: quadratic within `delta` of the target, linear beyond. */
export function huber(delta: number): LossFn {
  return (y, p) =>
    tf.tidy(() => {
      const err = tf.abs(tf.sub(y, p));
      const quad = tf.minimum(err, delta);
      const lin = err.sub(quad);
      return quad.square().mul(0.5).add(lin.mul(delta)).mean() as tf.Scalar;
    });
}

/**
 * Per-batch metric sums (so epoch values are exact means over examples): for each metric name,
 * [sum over the batch, count]. precision/recall return [true positives, predicted or actual
 * positives] so they can be aggregated over batches.
 */
export async function metricSums(
  names: string[],
  labels: "onehot" | "sparse",
  classes: number,
  y: tf.Tensor,
  p: tf.Tensor,
  /** The loss is binary_crossentropy: `accuracy` is Keras's binary accuracy (each output thresholded at 0.5). */
  binary = false,
): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  if (names.length === 0) return out;
  const n = p.shape[0]!;
  const vals = tf.tidy(() => {
    const oh = labels === "sparse" ? tf.oneHot(y.reshape([-1]).toInt(), classes).toFloat() : y;
    const res: Record<string, tf.Tensor> = {};
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

// ------------------------------------------------------------------ optimizers

/** An optimizer with Keras's update rule; the learning rate is given at every step. */
export interface Optimizer {
  /** One update of `vars` by `grads` (same order) at learning rate `lr`. */
  apply(vars: tf.Variable[], grads: tf.Tensor[], lr: number): void;
  dispose(): void;
}

/**
 * An optimizer from its per-weight update. `t` is the step number (1 for the first, Keras's
 * `iterations + 1`); `slots(n, fill)` are the weight's n state tensors, created on first use.
 */
function optimizer(update: (v: tf.Variable, g: tf.Tensor, lr: number, t: number, slots: (n: number, fill?: number) => tf.Variable[]) => void): Optimizer {
  const state = new Map<string, tf.Variable[]>();
  let t = 0;
  return {
    apply(vars, grads, lr) {
      t++;
      tf.tidy(() =>
        vars.forEach((v, i) =>
          update(v, grads[i]!, lr, t, (n, fill = 0) => {
            let s = state.get(v.name);
            if (!s) {
              s = Array.from({ length: n }, () => tf.variable(tf.fill(v.shape, fill), false));
              state.set(v.name, s);
            }
            return s;
          }),
        ),
      );
    },
    dispose() {
      for (const s of state.values()) tf.dispose(s);
      state.clear();
    },
  };
}

/** keras.optimizers.SGD: m = momentum*m - lr*g; w += m (Nesterov: w += momentum*m - lr*g). */
export function sgd(args: { momentum: number; nesterov: boolean }): Optimizer {
  const { momentum, nesterov } = args;
  return optimizer((v, g, lr, _t, slots) => {
    if (momentum === 0) {
      v.assign(v.sub(g.mul(lr)));
      return;
    }
    const [m] = slots(1);
    const mNew = m!.mul(momentum).sub(g.mul(lr));
    m!.assign(mNew);
    v.assign(nesterov ? v.add(mNew.mul(momentum)).sub(g.mul(lr)) : v.add(mNew));
  });
}

/** keras.optimizers.Adam (and AdamW: every weight first decays by lr * weight_decay). */
export function adam(args: { beta1: number; beta2: number; epsilon: number; weight_decay?: number }): Optimizer {
  const { beta1: b1, beta2: b2, epsilon: eps } = args;
  const wd = args.weight_decay ?? 0;
  return optimizer((v, g, lr, t, slots) => {
    const [m, u] = slots(2);
    if (wd > 0) v.assign(v.sub(v.mul(lr * wd)));
    // alpha = lr * sqrt(1 - b2^t) / (1 - b1^t); w -= alpha * m / (sqrt(v) + eps)
    const alpha = (lr * Math.sqrt(1 - Math.pow(b2, t))) / (1 - Math.pow(b1, t));
    m!.assign(m!.add(g.sub(m!).mul(1 - b1)));
    u!.assign(u!.add(g.square().sub(u!).mul(1 - b2)));
    v.assign(v.sub(m!.mul(alpha).div(u!.sqrt().add(eps))));
  });
}

/** keras.optimizers.Nadam (Keras 3): momentum schedule u_t = b1 * (1 - 0.5 * 0.96^(0.004 t)). */
export function nadam(args: { beta1: number; beta2: number; epsilon: number }): Optimizer {
  const { beta1: b1, beta2: b2, epsilon: eps } = args;
  let uProduct = 1; // product of u_1..u_t
  let lastT = 0;
  return optimizer((v, g, lr, t, slots) => {
    const uT = b1 * (1 - 0.5 * Math.pow(0.96, 0.004 * t));
    const uT1 = b1 * (1 - 0.5 * Math.pow(0.96, 0.004 * (t + 1)));
    if (lastT !== t) {
      lastT = t;
      uProduct *= uT;
    }
    const uProductT1 = uProduct * uT1;
    const [m, u] = slots(2);
    m!.assign(m!.add(g.sub(m!).mul(1 - b1)));
    u!.assign(u!.add(g.square().sub(u!).mul(1 - b2)));
    const mHat = m!.mul(uT1 / (1 - uProductT1)).add(g.mul((1 - uT) / (1 - uProduct)));
    const vHat = u!.div(1 - Math.pow(b2, t));
    v.assign(v.sub(mHat.mul(lr).div(vHat.sqrt().add(eps))));
  });
}

/** keras.optimizers.RMSprop, optionally centered and with momentum. */
export function rmsprop(args: { rho: number; momentum: number; epsilon: number; centered: boolean }): Optimizer {
  const { rho, momentum, epsilon: eps, centered } = args;
  return optimizer((v, g, lr, _t, slots) => {
    const [vel, mom, avg] = slots(3);
    vel!.assign(vel!.mul(rho).add(g.square().mul(1 - rho)));
    let denom: tf.Tensor = vel!.add(eps);
    if (centered) {
      avg!.assign(avg!.mul(rho).add(g.mul(1 - rho)));
      denom = vel!.sub(avg!.square()).add(eps);
    }
    const inc = g.mul(lr).div(denom.sqrt());
    if (momentum > 0) {
      mom!.assign(mom!.mul(momentum).add(inc));
      v.assign(v.sub(mom!));
    } else v.assign(v.sub(inc));
  });
}

/** keras.optimizers.Adagrad: w -= lr * g / sqrt(accumulated g² + eps). */
export function adagrad(args: { initial_accumulator_value: number; epsilon: number }): Optimizer {
  return optimizer((v, g, lr, _t, slots) => {
    const [acc] = slots(1, args.initial_accumulator_value);
    acc!.assign(acc!.add(g.square()));
    v.assign(v.sub(g.mul(lr).div(acc!.add(args.epsilon).sqrt())));
  });
}

/** keras.optimizers.Adadelta. */
export function adadelta(args: { rho: number; epsilon: number }): Optimizer {
  const { rho, epsilon: eps } = args;
  return optimizer((v, g, lr, _t, slots) => {
    const [accG, accD] = slots(2);
    accG!.assign(accG!.mul(rho).add(g.square().mul(1 - rho)));
    const delta = accD!.add(eps).sqrt().div(accG!.add(eps).sqrt()).mul(g);
    accD!.assign(accD!.mul(rho).add(delta.square().mul(1 - rho)));
    v.assign(v.sub(delta.mul(lr)));
  });
}

/** keras.optimizers.Adamax: Adam with the infinity norm. */
export function adamax(args: { beta1: number; beta2: number; epsilon: number }): Optimizer {
  const { beta1: b1, beta2: b2, epsilon: eps } = args;
  return optimizer((v, g, lr, t, slots) => {
    const [m, u] = slots(2);
    m!.assign(m!.add(g.sub(m!).mul(1 - b1)));
    u!.assign(tf.maximum(u!.mul(b2), g.abs()));
    v.assign(v.sub(m!.mul(lr / (1 - Math.pow(b1, t))).div(u!.add(eps))));
  });
}

// ------------------------------------------------------------------ the training forward pass

/** Dropout with a mask from `random` (the one seeded dropout stream): 0 with probability rate, else 1/(1-rate). */
export function dropout(x: tf.Tensor, rate: number, random: { next(): number }): tf.Tensor {
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = random.next() < rate ? 0 : keep;
  return tf.tidy(() => x.mul(tf.tensor(mask, x.shape)));
}

/**
 * Batch normalization in training mode without gamma or beta. tfjs's BatchNormalization reads
 * both unconditionally when training (it crashes on `center: false` / `scale: false`), so the same
 * computation is written here: batch moments over every axis but the last, the moving averages
 * updated as tfjs does (moving -= (moving - batch) * (1 - momentum)).
 */
export function batchNormTraining(layer: tf.layers.Layer, x: tf.Tensor, args: { epsilon: number; momentum: number; center: boolean; scale: boolean }): tf.Tensor {
  const weight = (role: string) => layer.weights.find((w) => w.originalName.endsWith(`/${role}`))!;
  const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
  let y = x.sub(mean).mul(tf.rsqrt(variance.add(args.epsilon)));
  if (args.scale) y = y.mul(weight("gamma").read());
  if (args.center) y = y.add(weight("beta").read());
  for (const [role, batch] of [
    ["moving_mean", mean],
    ["moving_variance", variance],
  ] as const) {
    const v = weight(role);
    tf.tidy(() => {
      const old = v.read();
      v.write(old.sub(old.sub(batch).mul(1 - args.momentum)));
    });
  }
  return y;
}

/** The L1/L2 penalty of some weights, as Keras adds it to the loss: l1 * sum|w| + l2 * sum w² (no 1/2). */
export function penalty(penalties: { variable: tf.Tensor; l1: number; l2: number }[]): tf.Scalar {
  return tf.tidy(() => {
    let total: tf.Tensor = tf.scalar(0);
    for (const p of penalties) {
      // |w| as w * sign(w): its gradient is sign(w), 0 at w = 0 as in TensorFlow, PyTorch and the
      // standalone program (tfjs's abs() has gradient -1 at 0, which moves zero-initialized biases)
      if (p.l1 > 0) total = total.add(p.variable.mul(p.variable.sign()).sum().mul(p.l1));
      if (p.l2 > 0) total = total.add(p.variable.square().sum().mul(p.l2));
    }
    return total as tf.Scalar;
  });
}

/**
 * The gradient of average pooling with `padding: same`, made consistent with its forward pass.
 * tfjs's AvgPool excludes the padding from each window's mean (as TensorFlow does), but its
 * AvgPoolGrad kernels (cpu, webgpu) divide every window's gradient by the full window size, so
 * border windows get too little gradient. This scales dy by (window size / values in the window)
 * before the kernel runs, so the gradient is the true one (the standalone program's, checked
 * against finite differences). Valid padding is unchanged.
 */
export function registerAvgPoolGradient(): void {
  tf.registerGradient({
    kernelName: "AvgPool",
    inputsToSave: ["x"],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x] = saved as [tf.Tensor4D];
      const { filterSize, strides, pad } = attrs as unknown as { filterSize: [number, number] | number; strides: [number, number] | number; pad: "valid" | "same" | number };
      const g = dy as tf.Tensor4D;
      return {
        x: () => {
          let scaled = g;
          if (pad === "same") {
            const info = tf.backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, pad);
            const { outHeight, outWidth, inHeight, inWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
            const factor = new Float32Array(outHeight * outWidth);
            for (let oy = 0; oy < outHeight; oy++) {
              const y0 = oy * strideHeight - info.padInfo.top;
              const rows = Math.min(y0 + filterHeight, inHeight) - Math.max(y0, 0);
              for (let ox = 0; ox < outWidth; ox++) {
                const x0 = ox * strideWidth - info.padInfo.left;
                const cols = Math.min(x0 + filterWidth, inWidth) - Math.max(x0, 0);
                factor[oy * outWidth + ox] = (filterHeight * filterWidth) / (rows * cols);
              }
            }
            scaled = tf.mul(g, tf.tensor4d(factor, [1, outHeight, outWidth, 1]));
          }
          return tf.engine().runKernel("AvgPoolGrad", { dy: scaled, input: x }, { filterSize, strides, pad } as never) as tf.Tensor;
        },
      };
    },
  });
}

// ------------------------------------------------------------------ saving

/** What a saved model.json records in userDefinedMetadata. */
export interface ModelMetadata {
  /** sha256 of the .nn source the model came from. */
  sourceSha256: string;
  sourceFile: string;
  nncVersion: string;
  [key: string]: unknown;
}

/** An IOHandler writing `dir/model.json` and `dir/weights.bin` whole (writeModelDir: a temporary folder renamed into place). */
export function fileSaveHandler(dir: string, metadata: ModelMetadata): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const weights = new Uint8Array(artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData));
      const modelJson = {
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), ...metadata },
      };
      writeModelDir(dir, { "weights.bin": weights, "model.json": JSON.stringify(modelJson) });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: weights.byteLength } };
    },
  };
}

/** Saves a model in TensorFlow.js layers format; returns the files written under `dir`. */
export async function saveModel(model: tf.LayersModel, dir: string, metadata: ModelMetadata): Promise<string[]> {
  await model.save(fileSaveHandler(dir, metadata));
  return ["model.json", "weights.bin"];
}
