// Builds small IRs by hand (via the catalog's shape and weight rules), for tests that need models
// the examples do not cover: one layer kind, activation, loss or optimizer at a time.
import type { IR, IRRef, IRTraining, IRValue } from "../../src/compiler/ir.js";
import { lookup } from "../../src/compiler/catalog/index.js";
import { compileSource } from "../../src/compiler/index.js";
import { defaultRef } from "../../src/compiler/checker/args.js";

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

/** A value as .nn source: refs as calls, strings as bare names (enums), lists in brackets. */
function nnValue(v: IRValue | IRRef): string {
  if (Array.isArray(v)) return `[${v.map(nnValue).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    const r = v as IRRef;
    const args = Object.entries(r.args ?? {});
    return args.length === 0 ? r.kind : `${r.kind}(${args.map(([k, a]) => `${k}: ${nnValue(a)}`).join(", ")})`;
  }
  if (typeof v === "string") return v;
  return String(v);
}

/** A ref with the catalog's defaults under the given arguments (what the checker would resolve). */
function complete(category: "loss" | "optimizer" | "schedule" | "callback", r: IRRef): IRRef {
  return { kind: r.kind, args: { ...defaultRef(category, r.kind).args, ...r.args } };
}

/**
 * A model written as .nn source from layer specs and checked by the real checker (so the IR is
 * exactly what nnc builds), with the training section's values set as given (refs completed with
 * the catalog's defaults, as the checker fills them).
 */
export function buildModelIR(
  inputShape: number[],
  specs: LayerSpec[],
  training: Partial<IRTraining> = {},
  name = "test_model",
): IR {
  const input = inputShape.length === 3 ? `image(${inputShape.join(", ")})` : `vector(${inputShape.join(", ")})`;
  const lines = [`model ${name} {`, `  input ${input}`];
  let previous = "input_1";
  for (const spec of specs) {
    const entry = lookup("layer", spec.kind);
    if (!entry) throw new Error(`no layer ${spec.kind}`);
    const args = Object.entries(spec.args ?? {}).map(([k, v]) => `${k}: ${nnValue(v)}`);
    let call: string;
    if (entry.arity === "many") call = `${spec.kind}(${[...(spec.inputs ?? []), ...args].join(", ")})`;
    else {
      const own = args.length ? `${spec.kind}(${args.join(", ")})` : spec.kind;
      const from = spec.inputs?.[0];
      call = from !== undefined && from !== previous ? `${from} -> ${own}` : own;
    }
    lines.push(`  ${spec.id !== undefined ? `${spec.id} = ` : ""}${call}`);
    previous = spec.id ?? "";
  }
  lines.push("}");
  const source = lines.join("\n") + "\n";
  const { ir, diagnostics } = compileSource(source, "test.nn");
  if (!ir) throw new Error(`test model does not check:\n${source}\n${diagnostics.map((d) => `${d.code} ${d.message}`).join("\n")}`);
  // The model alone is checked (a train section would tie it to MNIST's shapes); the training
  // values are the test's, with every ref completed as the checker completes it.
  const t: IRTraining = {
    data: { dataset: "mnist", classes: 0, exampleShape: inputShape, validation: { kind: "none" }, augment: null, shuffle: true },
    labels: "onehot",
    loss: ref("categorical_crossentropy") as IRTraining["loss"],
    optimizer: ref("sgd") as IRTraining["optimizer"],
    schedule: null,
    callbacks: [],
    metrics: ["accuracy"],
    epochs: 1,
    batchSize: 4,
    stepsPerEpoch: null,
    seed: 1,
  };
  const merged = { ...t, ...training } as IRTraining;
  merged.loss = complete("loss", merged.loss) as IRTraining["loss"];
  merged.optimizer = complete("optimizer", merged.optimizer) as IRTraining["optimizer"];
  merged.schedule = merged.schedule && (complete("schedule", merged.schedule) as IRTraining["schedule"]);
  merged.callbacks = merged.callbacks.map((c) => complete("callback", c)) as IRTraining["callbacks"];
  merged.data = { ...merged.data, classes: prod(ir.model.layers[ir.model.layers.length - 1]!.outputShape) };
  if (training.data) merged.data = { ...training.data };
  return { ...ir, training: merged };
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
          loss: kind === "adagrad" ? ref("huber", { delta: 1 }) : ref(kind === "adadelta" ? "mae" : "mse"),
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
