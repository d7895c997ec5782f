// Builds small IRs by hand (via the catalog's shape and weight rules), for tests that need models
// the examples do not cover: one layer kind, activation, loss or optimizer at a time.
import type {
  IR,
  IRLayer,
  IRRef,
  IRTraining,
  IRValue,
} from "../../src/compiler/ir.js";
import { lookup } from "../../src/compiler/catalog/index.js";

export interface LayerSpec {
  kind: string;
  id?: string;
  /** Ids of input layers (default: the previous layer). */
  inputs?: string[];
  args?: Record<string, IRValue | IRRef>;
}

export const ref = (
  kind: string,
  args: Record<string, IRValue> = {},
): IRRef => ({ kind, args });

const prod = (s: number[]) => s.reduce((p, d) => p * d, 1);

export function buildModelIR(
  inputShape: number[],
  specs: LayerSpec[],
  training: Partial<IRTraining> = {},
  name = "test_model",
): IR {
  const layers: IRLayer[] = [];
  const counters = new Map<string, number>();
  const nextId = (kind: string) => {
    const k = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, k);
    return `${kind}_${k}`;
  };
  layers.push({
    id: nextId("input"),
    kind: "input",
    inputs: [],
    args: {},
    inputShapes: [],
    outputShape: inputShape,
    weights: [],
    params: 0,
    flops: 0,
    source: {
      line: 1,
      column: 1,
      text: `input image(${inputShape.join(", ")})`,
    },
  });
  specs.forEach((spec, index) => {
    const entry = lookup("layer", spec.kind);
    if (!entry) throw new Error(`no layer ${spec.kind}`);
    const id = spec.id ?? nextId(spec.kind);
    const inputs = spec.inputs ?? [layers[layers.length - 1]!.id];
    const inputShapes = inputs.map(
      (i) => layers.find((l) => l.id === i)!.outputShape,
    );
    const args: Record<string, IRValue | IRRef> = { ...(spec.args ?? {}) };
    const defaults: Record<string, IRValue | IRRef> = {
      activation: ref("linear"),
      use_bias: true,
      kernel_initializer: ref("glorot_uniform"),
      bias_initializer: ref("zeros"),
      kernel_regularizer: null,
      bias_regularizer: null,
      alpha_initializer: ref("zeros"),
      alpha_regularizer: null,
    };
    if (
      spec.kind === "dense" ||
      spec.kind === "conv2d" ||
      spec.kind === "prelu"
    ) {
      for (const [k, v] of Object.entries(defaults))
        if (
          args[k] === undefined &&
          k in ((entry.schema as { properties: object }).properties ?? {})
        )
          args[k] = v;
    }
    if (spec.kind === "conv2d") {
      if (typeof args.kernel_size === "number")
        args.kernel_size = [args.kernel_size, args.kernel_size];
      args.strides ??= [1, 1];
      if (typeof args.strides === "number")
        args.strides = [args.strides, args.strides];
      args.padding ??= "valid";
    }
    if (spec.kind === "max_pool" || spec.kind === "avg_pool") {
      if (typeof args.pool_size === "number")
        args.pool_size = [args.pool_size, args.pool_size];
      args.pool_size ??= [2, 2];
      if (typeof args.strides === "number")
        args.strides = [args.strides, args.strides];
      args.strides ??= args.pool_size;
      args.padding ??= "valid";
    }
    if (spec.kind === "batch_norm") {
      args.momentum ??= 0.99;
      args.epsilon ??= 0.001;
      args.center ??= true;
      args.scale ??= true;
    }
    if (spec.kind === "leaky_relu") args.alpha ??= 0.3;
    if (spec.kind === "elu") args.alpha ??= 1;
    if (spec.kind === "concat") args.axis ??= -1;
    const shape = entry.shape(inputShapes, args);
    if (!Array.isArray(shape)) throw new Error(`${spec.kind}: ${shape.error}`);
    const weights = entry.weights(inputShapes, args).map((w) => {
      const init =
        "arg" in w.initializer
          ? (args[w.initializer.arg] as IRRef)
          : ref(w.initializer.fixed);
      const reg = w.regularizer
        ? ((args[w.regularizer.arg] as IRRef | null) ?? null)
        : null;
      return {
        name: `${id}/${w.role}`,
        role: w.role,
        shape: w.shape,
        initializer: init,
        regularizer: reg,
        trainable: w.trainable,
      };
    });
    layers.push({
      id,
      kind: spec.kind,
      inputs,
      args,
      inputShapes,
      outputShape: shape,
      weights,
      params: weights.reduce((p, w) => p + prod(w.shape), 0),
      flops: 0,
      source: { line: index + 2, column: 3, text: `${spec.kind}(...)` },
    });
  });
  const params = layers.reduce((p, l) => p + l.params, 0);
  const trainable = layers.reduce(
    (p, l) =>
      p +
      l.weights
        .filter((w) => w.trainable)
        .reduce((q, w) => q + prod(w.shape), 0),
    0,
  );
  const classes = prod(layers[layers.length - 1]!.outputShape);
  const t: IRTraining = {
    data: {
      dataset: "mnist",
      classes,
      exampleShape: inputShape,
      validation: { kind: "none" },
      augment: null,
      shuffle: true,
    },
    labels: "onehot",
    loss: ref("categorical_crossentropy", {
      from_logits: false,
      label_smoothing: 0,
    }),
    optimizer: ref("sgd", { lr: 0.01, momentum: 0, nesterov: false }),
    schedule: null,
    callbacks: [],
    metrics: ["accuracy"],
    epochs: 1,
    batchSize: 4,
    stepsPerEpoch: null,
    seed: 1,
    ...training,
  };
  return {
    irVersion: 1,
    nncVersion: "0.1.0",
    source: { file: "test.nn", sha256: "0".repeat(64) },
    model: {
      name,
      inputShape,
      layers,
      outputs: [layers[layers.length - 1]!.id],
      params: { total: params, trainable, nonTrainable: params - trainable },
      flops: 0,
    },
    training: t,
    sweep: null,
  };
}

/** examples/mlp.nn, by hand. */
export function mlpIR(): IR {
  return buildModelIR(
    [28, 28, 1],
    [
      { kind: "flatten" },
      { kind: "dense", args: { units: 512, activation: ref("relu") } },
      { kind: "dropout", args: { rate: 0.2 } },
      { kind: "dense", args: { units: 10, activation: ref("softmax") } },
    ],
    {
      optimizer: ref("adam", {
        lr: 0.001,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-7,
      }),
      batchSize: 128,
      epochs: 1,
      data: {
        dataset: "mnist",
        classes: 10,
        exampleShape: [28, 28, 1],
        validation: { kind: "test" },
        augment: null,
        shuffle: true,
      },
    },
    "mlp",
  );
}

/** examples/cnn.nn, by hand. */
export function cnnIR(): IR {
  return buildModelIR(
    [28, 28, 1],
    [
      {
        kind: "conv2d",
        args: {
          filters: 8,
          kernel_size: 5,
          padding: "same",
          activation: ref("relu"),
        },
      },
      { kind: "max_pool", args: { pool_size: 2 } },
      {
        kind: "conv2d",
        args: {
          filters: 16,
          kernel_size: 5,
          padding: "same",
          activation: ref("relu"),
        },
      },
      { kind: "max_pool", args: { pool_size: 2 } },
      { kind: "flatten" },
      { kind: "dense", args: { units: 100, activation: ref("relu") } },
      { kind: "dropout", args: { rate: 0.25 } },
      { kind: "dense", args: { units: 10, activation: ref("softmax") } },
    ],
    {
      optimizer: ref("adam", {
        lr: 0.001,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-7,
      }),
      batchSize: 128,
      epochs: 1,
      data: {
        dataset: "mnist",
        classes: 10,
        exampleShape: [28, 28, 1],
        validation: { kind: "split", fraction: 0.2 },
        augment: null,
        shuffle: true,
      },
    },
    "cnn",
  );
}

/**
 * Small models that use, between them, every optimizer, schedule, callback, metric and loss
 * option no example uses (MNIST-shaped input so that they can train on synthetic idx files).
 */
export function featureIRs(): IR[] {
  const image = [28, 28, 1];
  return [
    buildModelIR(
      image,
      [
        { kind: "flatten" },
        {
          kind: "dense",
          args: {
            units: 10,
            activation: ref("sigmoid"),
            kernel_regularizer: ref("l1l2", { l1: 0.01, l2: 0.01 }),
          },
        },
      ],
      {
        loss: ref("binary_crossentropy", {
          from_logits: false,
          label_smoothing: 0.1,
        }),
        optimizer: ref("sgd", { lr: 0.1, momentum: 0.9, nesterov: true }),
        schedule: ref("exponential_decay", {
          decay_steps: 10,
          decay_rate: 0.9,
          staircase: true,
        }),
        callbacks: [
          ref("csv_logger", { path: "log.csv", separator: ";", append: false }),
          ref("terminate_on_nan"),
          ref("early_stopping", {
            monitor: "loss",
            patience: 2,
            min_delta: 0,
            restore_best: false,
            mode: "min",
          }),
        ],
        metrics: ["accuracy", "precision", "recall", "mse", "mae"],
        stepsPerEpoch: 5,
      },
    ),
    buildModelIR(
      image,
      [
        {
          kind: "conv2d",
          id: "c",
          args: { filters: 4, kernel_size: 3, padding: "same" },
        },
        { kind: "batch_norm" },
        { kind: "prelu", id: "p" },
        { kind: "avg_pool", id: "a", inputs: ["p"], args: { pool_size: 2 } },
        { kind: "max_pool", id: "m", inputs: ["p"], args: { pool_size: 2 } },
        { kind: "concat", inputs: ["a", "m"] },
        { kind: "flatten" },
        { kind: "dense", args: { units: 10 } },
      ],
      {
        data: {
          dataset: "fashion_mnist",
          classes: 10,
          exampleShape: image,
          validation: { kind: "split", fraction: 0.1 },
          augment: {
            rotation: 10,
            widthShift: 0.1,
            heightShift: 0.1,
            zoom: 0.1,
            shear: 5,
            fill: "reflect",
            cval: 0,
          },
          shuffle: false,
        },
        labels: "sparse",
        loss: ref("sparse_categorical_crossentropy", { from_logits: true }),
        optimizer: ref("rmsprop", {
          lr: 0.001,
          rho: 0.9,
          momentum: 0.5,
          epsilon: 1e-7,
          centered: true,
        }),
        schedule: ref("piecewise_constant", {
          boundaries: [10, 20],
          values: [0.1, 0.01, 0.001],
        }),
        callbacks: [
          ref("reduce_on_plateau", {
            monitor: "val_loss",
            factor: 0.5,
            patience: 1,
            min_delta: 0,
            cooldown: 0,
            min_lr: 0,
            mode: "min",
          }),
          ref("checkpoint", {
            monitor: "val_accuracy",
            save_best_only: false,
            mode: "max",
            path: "ckpt",
          }),
          ref("tensorboard", { dir: "tb", update_freq: "batch" }),
        ],
      },
    ),
    ...["adagrad", "adadelta", "adamax", "nadam"].map((kind) =>
      buildModelIR(
        image,
        [
          { kind: "flatten" },
          { kind: "dense", args: { units: 10, activation: ref("softmax") } },
        ],
        {
          loss: ref(
            kind === "adagrad" ? "huber" : kind === "adadelta" ? "mae" : "mse",
            { delta: 1 },
          ),
          optimizer: ref(kind, { lr: 0.01 }),
          schedule: ref("inverse_time_decay", {
            decay_steps: 5,
            decay_rate: 0.5,
            staircase: false,
          }),
        },
      ),
    ),
  ];
}
