// The standalone program against TensorFlow.js (cpu backend) as the reference: the same initial
// weights (random.ts via initializeWeights), the same inputs; forward outputs must agree to 1e-5
// and the weights after optimizer steps to 1e-4. tfjs rebuilds each model from the topology the
// standalone target embeds in model.json (kerasTopology), which checks that too.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { IR, IRRef } from "../../src/compiler/ir.js";
import { kerasTopology } from "../../src/compiler/targets/keras.js";
import { buildModelIR, ref, type LayerSpec } from "./ir-builder.js";
import { fillBatch, loadInternals, type Internals } from "./harness.js";

const N = 4;

beforeAll(async () => {
  await tf.setBackend("cpu");
});

async function pair(ir: IR): Promise<{
  m: Internals;
  model: tf.LayersModel;
  x: tf.Tensor;
  y: tf.Tensor;
  classes: number;
}> {
  const m = await loadInternals(ir);
  m.initializeWeights(11);
  const inputSize = ir.model.inputShape.reduce((p, d) => p * d, 1);
  const classes = ir.model.layers[
    ir.model.layers.length - 1
  ]!.outputShape.reduce((p, d) => p * d, 1);
  fillBatch(m, N, inputSize, classes, 5);
  const model = await tf.models.modelFromJSON({
    modelTopology: kerasTopology(ir.model),
  } as never);
  const byName = new Map(Object.entries(m.weights));
  model.setWeights(
    model.weights.map((w) => {
      const name =
        (w as unknown as { originalName?: string }).originalName ?? w.name;
      const values = byName.get(name);
      if (!values)
        throw new Error(`tfjs weight ${name} has no standalone counterpart`);
      return tf.tensor(Float32Array.from(values), w.shape);
    }),
  );
  const x = tf.tensor(Float32Array.from(m.input.subarray(0, N * inputSize)), [
    N,
    ...ir.model.inputShape,
  ]);
  const y = tf.tensor(Float32Array.from(m.target.subarray(0, N * classes)), [
    N,
    classes,
  ]);
  return { m, model, x, y, classes };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

async function compareForward(ir: IR, training: boolean): Promise<void> {
  const { m, model, x, classes } = await pair(ir);
  m.forward(N, training);
  const ours = m.output.subarray(0, N * classes);
  const theirs = (
    training
      ? (model.apply(x, { training: true }) as tf.Tensor)
      : (model.predict(x) as tf.Tensor)
  ).dataSync();
  expect(maxDiff(ours, theirs)).toBeLessThan(1e-5);
}

const head: LayerSpec[] = [
  { kind: "flatten" },
  { kind: "dense", args: { units: 3, activation: ref("softmax") } },
];
/** For vectors: tfjs's Flatten insists on rank >= 3 (Keras's is a no-op on vectors). */
const vhead: LayerSpec[] = [
  { kind: "dense", args: { units: 3, activation: ref("softmax") } },
];
const conv = (
  filters: number,
  k: number,
  extra: Record<string, unknown> = {},
): LayerSpec => ({
  kind: "conv2d",
  args: {
    filters,
    kernel_size: [k, k],
    activation: ref("relu"),
    ...(extra as object),
  },
});

const LAYER_CASES: [string, number[], LayerSpec[]][] = [
  [
    "dense",
    [5],
    [{ kind: "dense", args: { units: 4, activation: ref("relu") } }, ...vhead],
  ],
  ["conv2d valid", [6, 6, 2], [conv(3, 3), ...head]],
  [
    "conv2d same strides 2",
    [7, 7, 1],
    [conv(3, 3, { padding: "same", strides: [2, 2] }), ...head],
  ],
  [
    "max_pool valid",
    [6, 6, 1],
    [
      conv(2, 3, { padding: "same" }),
      { kind: "max_pool", args: { pool_size: [2, 2] } },
      ...head,
    ],
  ],
  [
    "max_pool same",
    [7, 7, 1],
    [
      conv(2, 3, { padding: "same" }),
      { kind: "max_pool", args: { pool_size: [2, 2], padding: "same" } },
      ...head,
    ],
  ],
  [
    "avg_pool same",
    [5, 5, 1],
    [
      conv(2, 3, { padding: "same" }),
      { kind: "avg_pool", args: { pool_size: [2, 2], padding: "same" } },
      ...head,
    ],
  ],
  ["global_avg_pool", [5, 4, 1], [conv(3, 3, { padding: "same" }), { kind: "global_avg_pool" }, { kind: "dense", args: { units: 3, activation: ref("softmax") } }]],
  ["global_max_pool", [5, 4, 1], [conv(3, 3, { padding: "same" }), { kind: "global_max_pool" }, { kind: "dense", args: { units: 3, activation: ref("softmax") } }]],
  [
    "reshape",
    [6],
    [
      { kind: "dense", args: { units: 8 } },
      { kind: "reshape", args: { target_shape: [2, 2, 2] } },
      conv(2, 2),
      ...head,
    ],
  ],
  [
    "dropout (inference)",
    [5],
    [
      { kind: "dense", args: { units: 6 } },
      { kind: "dropout", args: { rate: 0.5 } },
      ...vhead,
    ],
  ],
  [
    "batch_norm",
    [5],
    [{ kind: "dense", args: { units: 6 } }, { kind: "batch_norm" }, ...vhead],
  ],
  [
    "batch_norm on images",
    [4, 4, 1],
    [conv(3, 3, { padding: "same" }), { kind: "batch_norm" }, ...head],
  ],
  [
    "prelu",
    [5],
    [
      { kind: "dense", args: { units: 6 } },
      {
        kind: "prelu",
        args: {
          alpha_initializer: ref("random_uniform", {
            minval: 0.1,
            maxval: 0.5,
          }),
        },
      },
      ...vhead,
    ],
  ],
  [
    "add",
    [5],
    [
      { kind: "dense", id: "h", args: { units: 4 } },
      { kind: "dense", id: "a", inputs: ["h"], args: { units: 4 } },
      { kind: "add", inputs: ["a", "h"] },
      ...vhead,
    ],
  ],
  [
    "concat",
    [5],
    [
      { kind: "dense", id: "h", args: { units: 4 } },
      { kind: "dense", id: "a", inputs: ["h"], args: { units: 3 } },
      { kind: "concat", inputs: ["a", "h"] },
      ...vhead,
    ],
  ],
  ...["relu", "sigmoid", "tanh", "softmax", "elu", "leaky_relu"].map(
    (kind): [string, number[], LayerSpec[]] => [
      `${kind} layer`,
      [5],
      [{ kind: "dense", args: { units: 6 } }, { kind }, ...vhead],
    ],
  ),
];

describe("forward matches tfjs (inference)", () => {
  for (const [name, shape, layers] of LAYER_CASES)
    it(name, () => compareForward(buildModelIR(shape, layers), false));
});

describe("forward matches tfjs (training mode: batch statistics)", () => {
  it("batch_norm", () =>
    compareForward(
      buildModelIR([5], LAYER_CASES.find((c) => c[0] === "batch_norm")![2]),
      true,
    ));
  it("batch_norm on images", () =>
    compareForward(
      buildModelIR(
        [4, 4, 1],
        LAYER_CASES.find((c) => c[0] === "batch_norm on images")![2],
      ),
      true,
    ));
});

// (elu with alpha != 1 is saved as an ELU layer, which tfjs-layers cannot run yet; gradients.test.ts checks it.)
describe("activations match tfjs", () => {
  for (const act of [
    ref("linear"),
    ref("relu"),
    ref("sigmoid"),
    ref("tanh"),
    ref("softmax"),
    ref("elu", { alpha: 1 }),
    ref("leaky_relu", { alpha: 0.2 }),
    ref("softplus"),
  ]) {
    it(act.kind, () =>
      compareForward(
        buildModelIR(
          [5],
          [{ kind: "dense", args: { units: 6, activation: act } }, ...vhead],
        ),
        false,
      ),
    );
  }
});

/** Keras's loss formulas written with tfjs ops (mean over the batch). */
function tfLoss(kind: string, y: tf.Tensor, p: tf.Tensor): tf.Scalar {
  const eps = 1e-7;
  const pc = tf.clipByValue(p, eps, 1 - eps);
  switch (kind) {
    case "categorical_crossentropy": {
      // Keras rescales each row to sum 1 first (a no-op for softmax outputs)
      const q = tf.clipByValue(tf.div(p, tf.sum(p, -1, true)), eps, 1 - eps);
      return tf.mean(tf.neg(tf.sum(tf.mul(y, tf.log(q)), -1))) as tf.Scalar;
    }
    case "binary_crossentropy":
      return tf.mean(
        tf.neg(
          tf.add(
            tf.mul(y, tf.log(pc)),
            tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc))),
          ),
        ),
      ) as tf.Scalar;
    case "mse":
      return tf.mean(tf.square(tf.sub(p, y))) as tf.Scalar;
    case "mae":
      return tf.mean(tf.abs(tf.sub(p, y))) as tf.Scalar;
    case "huber": {
      // Keras: quadratic = min(|e|, delta); 0.5 * quadratic² + delta * (|e| - quadratic), delta 1
      const e = tf.abs(tf.sub(p, y));
      const q = tf.minimum(e, 1);
      return tf.mean(
        tf.add(tf.mul(0.5, tf.square(q)), tf.sub(e, q)),
      ) as tf.Scalar;
    }
    default:
      throw new Error(kind);
  }
}

/** Runs `steps` optimizer steps on the same batch in both, then compares every weight. */
async function compareSteps(
  optimizer: IRRef,
  tfOptimizer: tf.Optimizer | null,
  loss = "categorical_crossentropy",
  steps = 3,
  activation?: string,
): Promise<void> {
  const outAct =
    (activation ?? loss === "binary_crossentropy")
      ? "sigmoid"
      : loss === "huber"
        ? "linear"
        : "softmax";
  const ir = buildModelIR(
    [5],
    [
      { kind: "dense", args: { units: 4, activation: ref("tanh") } },
      { kind: "dense", args: { units: 3, activation: ref(outAct) } },
    ],
    {
      optimizer,
      loss: ref(loss),
    },
  );
  const { m, model, x, y } = await pair(ir);
  const lr = Number(optimizer.args.lr);
  const reference = tfOptimizer ?? null;
  for (let s = 0; s < steps; s++) {
    m.forward(N, true);
    m.computeLoss(N);
    m.backward(N);
    m.applyGradients(lr);
    if (reference) {
      const { grads } = tf.variableGrads(() =>
        tfLoss(loss, y, model.apply(x, { training: true }) as tf.Tensor),
      );
      reference.applyGradients(grads);
    }
  }
  if (!reference) return;
  for (const w of model.weights) {
    const name =
      (w as unknown as { originalName?: string }).originalName ?? w.name;
    const theirs = w.read().dataSync();
    expect(maxDiff(m.weights[name]!, theirs), name).toBeLessThan(1e-4);
  }
}

describe("optimizer steps match tfjs", () => {
  it("sgd", () =>
    compareSteps(
      ref("sgd", { lr: 0.1, momentum: 0, nesterov: false }),
      tf.train.sgd(0.1),
    ));
  it("sgd + momentum", () =>
    compareSteps(
      ref("sgd", { lr: 0.1, momentum: 0.9, nesterov: false }),
      tf.train.momentum(0.1, 0.9),
    ));
  it("sgd + nesterov", () =>
    compareSteps(
      ref("sgd", { lr: 0.1, momentum: 0.9, nesterov: true }),
      tf.train.momentum(0.1, 0.9, true),
    ));
  it("adagrad", () =>
    compareSteps(
      ref("adagrad", {
        lr: 0.05,
        initial_accumulator_value: 0.1,
        epsilon: 1e-7,
      }),
      tf.train.adagrad(0.05, 0.1),
    ));
  it("rmsprop", () =>
    compareSteps(
      ref("rmsprop", {
        lr: 0.01,
        rho: 0.9,
        momentum: 0,
        epsilon: 1e-7,
        centered: false,
      }),
      tf.train.rmsprop(0.01, 0.9, 0, 1e-7),
    ));
  it("rmsprop with momentum", () =>
    compareSteps(
      ref("rmsprop", {
        lr: 0.01,
        rho: 0.9,
        momentum: 0.5,
        epsilon: 1e-7,
        centered: false,
      }),
      tf.train.rmsprop(0.01, 0.9, 0.5, 1e-7),
    ));
  it("adam", () =>
    compareSteps(
      ref("adam", { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }),
      tf.train.adam(0.01, 0.9, 0.999, 1e-7),
    ));
  it("adamax", () =>
    compareSteps(
      ref("adamax", { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }),
      tf.train.adamax(0.01, 0.9, 0.999, 1e-7),
    ));
});

describe("losses: one sgd step matches tfjs", () => {
  for (const loss of [
    "categorical_crossentropy",
    "binary_crossentropy",
    "mse",
    "mae",
    "huber",
  ]) {
    it(loss, () =>
      compareSteps(
        ref("sgd", { lr: 0.5, momentum: 0, nesterov: false }),
        tf.train.sgd(0.5),
        loss,
        1,
      ),
    );
  }
  it("categorical_crossentropy on sigmoid outputs (rows rescaled to sum 1)", () =>
    compareSteps(
      ref("sgd", { lr: 0.5, momentum: 0, nesterov: false }),
      tf.train.sgd(0.5),
      "categorical_crossentropy",
      1,
      "sigmoid",
    ));
});

/**
 * Optimizers where tfjs is not Keras (no Nadam; tfjs's Adadelta and centered RMSprop place epsilon
 * differently): Keras's update equations written out in float64 as the reference.
 */
type State = Record<string, Float64Array>;
const KERAS_REFERENCE: Record<
  string,
  {
    opt: IRRef;
    update(
      w: Float64Array,
      g: Float64Array,
      s: State,
      t: number,
      i: number,
    ): void;
  }
> = {
  adamw: {
    opt: ref("adamw", { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weight_decay: 0.05 }),
    update(w, g, s, t, i) {
      // Keras AdamW: w -= lr * wd * w first, then Adam's update.
      w[i] = w[i]! - 0.01 * 0.05 * w[i]!;
      s.m![i] = 0.9 * s.m![i]! + 0.1 * g[i]!;
      s.v![i] = 0.999 * s.v![i]! + 0.001 * g[i]! * g[i]!;
      const alpha = (0.01 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      w[i] = w[i]! - (alpha * s.m![i]!) / (Math.sqrt(s.v![i]!) + 1e-7);
    },
  },
  nadam: {
    opt: ref("nadam", { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }),
    update(w, g, s, t, i) {
      const mu = 0.9 * (1 - 0.5 * 0.96 ** (0.004 * t));
      const mu1 = 0.9 * (1 - 0.5 * 0.96 ** (0.004 * (t + 1)));
      let mSchedule = 1;
      for (let k = 1; k <= t; k++)
        mSchedule *= 0.9 * (1 - 0.5 * 0.96 ** (0.004 * k));
      const mSchedule1 = mSchedule * mu1;
      s.m![i] = 0.9 * s.m![i]! + 0.1 * g[i]!;
      s.v![i] = 0.999 * s.v![i]! + 0.001 * g[i]! * g[i]!;
      const gHat = g[i]! / (1 - mSchedule);
      const mHat = s.m![i]! / (1 - mSchedule1);
      const vHat = s.v![i]! / (1 - 0.999 ** t);
      w[i] =
        w[i]! -
        (0.01 * ((1 - mu) * gHat + mu1 * mHat)) / (Math.sqrt(vHat) + 1e-7);
    },
  },
  adadelta: {
    opt: ref("adadelta", { lr: 1, rho: 0.95, epsilon: 1e-7 }),
    update(w, g, s, _t, i) {
      s.acc![i] = 0.95 * s.acc![i]! + 0.05 * g[i]! * g[i]!;
      const u =
        (Math.sqrt(s.accU![i]! + 1e-7) / Math.sqrt(s.acc![i]! + 1e-7)) * g[i]!;
      s.accU![i] = 0.95 * s.accU![i]! + 0.05 * u * u;
      w[i] = w[i]! - u;
    },
  },
  "rmsprop centered with momentum": {
    opt: ref("rmsprop", {
      lr: 0.01,
      rho: 0.9,
      momentum: 0.5,
      epsilon: 1e-7,
      centered: true,
    }),
    update(w, g, s, _t, i) {
      s.ms![i] = 0.9 * s.ms![i]! + 0.1 * g[i]! * g[i]!;
      s.mg![i] = 0.9 * s.mg![i]! + 0.1 * g[i]!;
      s.mom![i] =
        0.5 * s.mom![i]! +
        (0.01 * g[i]!) / Math.sqrt(s.ms![i]! - s.mg![i]! * s.mg![i]! + 1e-7);
      w[i] = w[i]! - s.mom![i]!;
    },
  },
};

describe("optimizers against Keras's equations in float64", () => {
  for (const [name, { opt, update }] of Object.entries(KERAS_REFERENCE)) {
    it(`${name}: three steps`, async () => {
      const ir = buildModelIR(
        [5],
        [{ kind: "dense", args: { units: 3, activation: ref("softmax") } }],
        { optimizer: opt },
      );
      const m = await loadInternals(ir);
      m.initializeWeights(2);
      fillBatch(m, N, 5, 3);
      const names = Object.keys(m.grads);
      const w = names.map((n) => Float64Array.from(m.weights[n]!));
      const states: State[] = names.map((n) => {
        const size = m.weights[n]!.length;
        return Object.fromEntries(
          ["m", "v", "acc", "accU", "ms", "mg", "mom"].map((k) => [
            k,
            new Float64Array(size),
          ]),
        );
      });
      for (let t = 1; t <= 3; t++) {
        m.forward(N, true);
        m.computeLoss(N);
        m.backward(N);
        const grads = names.map((n) => Float64Array.from(m.grads[n]!));
        m.applyGradients(Number(opt.args.lr));
        names.forEach((_, k) => {
          for (let i = 0; i < w[k]!.length; i++)
            update(w[k]!, grads[k]!, states[k]!, t, i);
        });
      }
      names.forEach((n, k) =>
        expect(maxDiff(m.weights[n]!, w[k]!), n).toBeLessThan(1e-4),
      );
    });
  }
});
