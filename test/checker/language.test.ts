// Checker semantics on small programs: current tensor, named tensors and merges, ids,
// blocks/for/repeat expansion with arithmetic, training normalisation, sweeps.
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import type { IR } from "../../src/compiler/ir.js";

const TRAIN = (model: string, extra = "", data = "mnist(validation_split: 0.2)") => `
train ${model} {
  data      ${data}
  loss      categorical_crossentropy
  optimizer adam
  metrics   [accuracy]
${extra}}
`;

function ok(text: string): IR {
  const { ir, diagnostics } = compileSource(text, "t.nn");
  expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  expect(ir).not.toBeNull();
  return ir!;
}

describe("model bodies", () => {
  it("expands the ARCHITECTURE example: blocks, for, repeat, named tensors, add", () => {
    const ir = ok(`
block hidden(units, rate = 0.5) {
  dense(units, init: he_normal, regularizer: l2(1e-4))
  leaky_relu(0.1)
  dropout(rate)
}
model deep(width = 128) {
  input image(28, 28, 1)
  flatten
  for units in [1024, 512] { hidden(units) }
  repeat 2 { dense(width / 2, activation: relu) }
  a = dense(64)
  b = a -> dense(64) -> relu
  add(a, b)
  dense(10, activation: softmax)
}
${TRAIN("deep", "  sweep     width in [64, 128, 256]\n")}`);
    const kinds = ir.model.layers.map((l) => l.id);
    expect(kinds).toEqual([
      "input_1", "flatten_1",
      "dense_1", "leaky_relu_1", "dropout_1", "dense_2", "leaky_relu_2", "dropout_2",
      "dense_3", "dense_4", "a", "dense_5", "b", "add_1", "dense_6",
    ]);
    const add = ir.model.layers.find((l) => l.kind === "add")!;
    expect(add.inputs).toEqual(["a", "b"]);
    expect(ir.model.layers.find((l) => l.id === "dense_3")!.outputShape).toEqual([32]); // width 64 / 2 (first variant)
    const d1 = ir.model.layers.find((l) => l.id === "dense_1")!;
    expect(d1.args.kernel_initializer).toEqual({ kind: "he_normal", args: {} });
    expect(d1.weights[0].regularizer).toEqual({ kind: "l2", args: { l2: 1e-4 } });
    expect(d1.weights[1].regularizer).toBeNull();
    expect(ir.model.layers.find((l) => l.id === "dropout_1")!.args).toEqual({ rate: 0.5 });
    expect(ir.sweep!.variants.map((v) => v.model.layers.find((l) => l.id === "dense_3")!.outputShape[0])).toEqual([32, 64, 128]);
  });

  it("names the input and lets a chain start from it; concat joins channels", () => {
    const ir = ok(`
model m {
  input x: image(28, 28, 1)
  a = conv2d(8, kernel: 3, padding: same)
  b = x -> conv2d(4, kernel: 5, padding: same, strides: 1)
  concat(a, b)
  max_pool(2)
  flatten
  dense(10, activation: softmax)
}
${TRAIN("m")}`);
    expect(ir.model.layers[0].id).toBe("x");
    const cat = ir.model.layers.find((l) => l.kind === "concat")!;
    expect(cat.outputShape).toEqual([28, 28, 12]);
    expect(cat.args).toEqual({ axis: -1 });
    expect(ir.model.layers.find((l) => l.kind === "max_pool")!.args).toEqual({ pool_size: [2, 2], strides: [2, 2], padding: "valid" });
    expect(ir.model.layers.find((l) => l.id === "b")!.args.kernel_size).toEqual([5, 5]);
  });

  it("accepts a flat vector input for MNIST", () => {
    const ir = ok(`model v {\n  input vector(784)\n  dense(32, relu)\n  dense(10, softmax)\n}\n${TRAIN("v")}`);
    expect(ir.model.inputShape).toEqual([784]);
    expect(ir.training!.data.exampleShape).toEqual([784]);
    expect(ir.model.layers[1].args.activation).toEqual({ kind: "relu", args: {} });
  });

  it("generated ids skip names the user binds", () => {
    const ir = ok(`model m {\n  input image(28, 28, 1)\n  flatten\n  dense_1 = dense(32)\n  dense(10, activation: softmax)\n}\n${TRAIN("m")}`);
    expect(ir.model.layers.map((l) => l.id)).toEqual(["input_1", "flatten_1", "dense_1", "dense_2"]);
  });

  it("a rebound name gets a generated id the second time", () => {
    const ir = ok(`model m {\n  input image(28, 28, 1)\n  flatten\n  repeat 2 { h = dense(32) }\n  dense(10, activation: softmax)\n}\n${TRAIN("m")}`);
    expect(ir.model.layers.map((l) => l.id)).toEqual(["input_1", "flatten_1", "h", "dense_1", "dense_2"]);
  });
});

describe("train sections", () => {
  const model = "model m {\n  input image(28, 28, 1)\n  flatten\n  dense(10, activation: softmax)\n}\n";

  it("normalises reduce_on_plateau written as the schedule into callbacks, in source order", () => {
    const ir = ok(model + TRAIN("m", "  schedule  reduce_on_plateau(patience: 2)\n  callbacks [early_stopping(patience: 5)]\n"));
    expect(ir.training!.schedule).toBeNull();
    expect(ir.training!.callbacks.map((c) => c.kind)).toEqual(["reduce_on_plateau", "early_stopping"]);
    expect(ir.training!.callbacks[0].args).toEqual({ monitor: "val_loss", factor: 0.1, patience: 2, min_delta: 1e-4, cooldown: 0, min_lr: 0, mode: "min" });
  });

  it("fills Keras defaults and nnc's defaults", () => {
    const ir = ok(model + TRAIN("m"));
    const t = ir.training!;
    expect(t.optimizer).toEqual({ kind: "adam", args: { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } });
    expect(t.epochs).toBe(1);
    expect(t.batchSize).toBe(32);
    expect(t.seed).toBe(42);
    expect(t.stepsPerEpoch).toBeNull();
    expect(t.data.shuffle).toBe(true);
    expect(t.data.validation).toEqual({ kind: "split", fraction: 0.2 });
    expect(t.data.augment).toBeNull();
  });

  it("accepts aliases: learning_rate, batch_size, restore_best_weights, shift", () => {
    const ir = ok(model + TRAIN("m", "  batch_size 64\n  callbacks [early_stopping(restore_best_weights: true)]\n  steps_per_epoch 937\n  shuffle false\n  seed 7\n",
      "fashion_mnist(validation: test, augment: { shift: 0.1, width_shift: 0.2 })").replace("optimizer adam", "optimizer sgd(learning_rate: 0.1, momentum: 0.9, nesterov: true)"));
    const t = ir.training!;
    expect(t.optimizer).toEqual({ kind: "sgd", args: { lr: 0.1, momentum: 0.9, nesterov: true } });
    expect(t.batchSize).toBe(64);
    expect(t.callbacks[0].args.restore_best).toBe(true);
    expect(t.data.dataset).toBe("fashion_mnist");
    expect(t.data.augment).toMatchObject({ widthShift: 0.2, heightShift: 0.1 });
    expect(t.stepsPerEpoch).toBe(937);
    expect(t.data.shuffle).toBe(false);
    expect(t.seed).toBe(7);
  });

  it("sparse labels for sparse_categorical_crossentropy; step schedules kept", () => {
    const ir = ok(model + TRAIN("m", "  schedule  piecewise_constant(boundaries: [100, 200], values: [0.1, 0.01, 0.001])\n").replace("loss      categorical_crossentropy", "loss      sparse_categorical_crossentropy"));
    expect(ir.training!.labels).toBe("sparse");
    expect(ir.training!.schedule).toEqual({ kind: "piecewise_constant", args: { boundaries: [100, 200], values: [0.1, 0.01, 0.001] } });
  });

  it("a file without a train section still compiles (training null)", () => {
    const ir = ok(model);
    expect(ir.training).toBeNull();
    expect(ir.sweep).toBeNull();
  });
});
