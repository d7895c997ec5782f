// The standalone target's backward code against central finite differences, per catalog entry:
// every layer kind, activation, loss and regularizer, each in a small model.
import { describe, expect, it } from "vitest";
import type { IRRef } from "../../src/compiler/ir.js";
import { buildModelIR, ref, type LayerSpec } from "./ir-builder.js";
import { fillBatch, gradientCheck, loadInternals } from "./harness.js";

const TOL = 5e-2;
const N = 3;

async function check(
  inputShape: number[],
  layers: LayerSpec[],
  opts: { loss?: IRRef; training?: boolean; seed?: number; eps?: number } = {},
): Promise<void> {
  const ir = buildModelIR(
    inputShape,
    layers,
    opts.loss ? { loss: opts.loss } : {},
  );
  const m = await loadInternals(ir);
  m.initializeWeights(opts.seed ?? 3);
  const classes = ir.model.layers[
    ir.model.layers.length - 1
  ]!.outputShape.reduce((p, d) => p * d, 1);
  fillBatch(
    m,
    N,
    inputShape.reduce((p, d) => p * d, 1),
    classes,
  );
  const r = gradientCheck(m, N, {
    training: opts.training ?? true,
    eps: opts.eps ?? 3e-3,
  });
  expect(r.checked).toBeGreaterThan(0);
  expect(r.worst, r.where).toBeLessThan(TOL);
}

const head: LayerSpec[] = [
  { kind: "flatten" },
  { kind: "dense", args: { units: 3, activation: ref("softmax") } },
];
const tanhDense = (units: number): LayerSpec => ({
  kind: "dense",
  args: { units, activation: ref("tanh") },
});
const conv = (
  filters: number,
  k: number,
  extra: Record<string, unknown> = {},
): LayerSpec => ({
  kind: "conv2d",
  args: {
    filters,
    kernel_size: [k, k],
    activation: ref("tanh"),
    ...(extra as object),
  },
});

describe("layers: backward matches finite differences", () => {
  it("dense", () =>
    check(
      [5],
      [
        tanhDense(4),
        { kind: "dense", args: { units: 3, activation: ref("softmax") } },
      ],
    ));
  it("dense without bias", () =>
    check(
      [5],
      [
        {
          kind: "dense",
          args: { units: 4, use_bias: false, activation: ref("tanh") },
        },
        ...head,
      ],
    ));
  it("conv2d valid", () => check([6, 6, 2], [conv(3, 3), ...head]));
  it("conv2d same, strides 2, after a conv (col2im into dx)", () =>
    check(
      [7, 7, 1],
      [
        conv(2, 3, { padding: "same" }),
        conv(3, 3, { padding: "same", strides: [2, 2] }),
        ...head,
      ],
    ));
  it("conv2d 2x2 stride 2 valid", () =>
    check(
      [6, 6, 2],
      [
        conv(2, 3, { padding: "same" }),
        conv(2, 2, { strides: [2, 2] }),
        ...head,
      ],
    ));
  // A finite difference across a window's change of maximum is meaningless: small steps.
  it("max_pool valid", () =>
    check(
      [6, 6, 1],
      [
        conv(2, 3, { padding: "same" }),
        { kind: "max_pool", args: { pool_size: [2, 2] } },
        ...head,
      ],
      { eps: 3e-4 },
    ));
  it("max_pool same, 3x3 stride 2", () =>
    check(
      [7, 7, 1],
      [
        conv(2, 3, { padding: "same" }),
        {
          kind: "max_pool",
          args: { pool_size: [3, 3], strides: [2, 2], padding: "same" },
        },
        ...head,
      ],
      {
        eps: 3e-4,
      },
    ));
  it("avg_pool valid and same", async () => {
    await check(
      [6, 6, 1],
      [
        conv(2, 3, { padding: "same" }),
        { kind: "avg_pool", args: { pool_size: [2, 2] } },
        ...head,
      ],
    );
    await check(
      [5, 5, 1],
      [
        conv(2, 3, { padding: "same" }),
        { kind: "avg_pool", args: { pool_size: [2, 2], padding: "same" } },
        ...head,
      ],
    );
  });
  it("global_avg_pool and global_max_pool", async () => {
    for (const kind of ["global_avg_pool", "global_max_pool"]) {
      await check([5, 4, 1], [conv(3, 3, { padding: "same" }), { kind }, { kind: "dense", args: { units: 3, activation: ref("softmax") } }]);
    }
  });
  it("flatten and reshape", () =>
    check(
      [6],
      [
        tanhDense(8),
        { kind: "reshape", args: { target_shape: [2, 2, 2] } },
        conv(2, 2),
        ...head,
      ],
    ));
  it("dropout (fixed mask)", () =>
    check(
      [5],
      [tanhDense(6), { kind: "dropout", args: { rate: 0.3 } }, ...head],
    ));
  it("batch_norm (training mode) on vectors and images", async () => {
    await check(
      [5],
      [
        { kind: "dense", args: { units: 6 } },
        { kind: "batch_norm" },
        { kind: "tanh" },
        ...head,
      ],
    );
    await check(
      [4, 4, 1],
      [conv(2, 3, { padding: "same" }), { kind: "batch_norm" }, ...head],
    );
  });
  for (const kind of [
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "elu",
    "leaky_relu",
  ]) {
    it(`${kind} layer`, () =>
      check([5], [{ kind: "dense", args: { units: 6 } }, { kind }, ...head]));
  }
  it("prelu", () =>
    check(
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
        ...head,
      ],
    ));
  it("add (a tensor feeding two layers)", () =>
    check(
      [5],
      [
        { kind: "dense", id: "h", args: { units: 4, activation: ref("tanh") } },
        {
          kind: "dense",
          id: "a",
          inputs: ["h"],
          args: { units: 4, activation: ref("tanh") },
        },
        { kind: "dense", id: "b", inputs: ["h"], args: { units: 4 } },
        { kind: "add", inputs: ["a", "b", "h"] },
        ...head,
      ],
    ));
  it("concat", () =>
    check(
      [5],
      [
        { kind: "dense", id: "h", args: { units: 4, activation: ref("tanh") } },
        {
          kind: "dense",
          id: "a",
          inputs: ["h"],
          args: { units: 3, activation: ref("tanh") },
        },
        { kind: "dense", id: "b", inputs: ["h"], args: { units: 2 } },
        { kind: "concat", inputs: ["a", "b"] },
        ...head,
      ],
    ));
});

describe("activations (as dense's activation)", () => {
  for (const act of [
    ref("linear"),
    ref("relu"),
    ref("sigmoid"),
    ref("tanh"),
    ref("softmax"),
    ref("elu", { alpha: 0.7 }),
    ref("leaky_relu", { alpha: 0.2 }),
    ref("softplus"),
  ]) {
    it(act.kind, () =>
      check(
        [5],
        [{ kind: "dense", args: { units: 6, activation: act } }, ...head],
      ),
    );
  }
});

describe("losses", () => {
  const out = (activation: string): LayerSpec[] => [
    tanhDense(6),
    { kind: "dense", args: { units: 4, activation: ref(activation) } },
  ];
  it("categorical_crossentropy (fused with softmax)", () =>
    check([5], out("softmax"), { loss: ref("categorical_crossentropy") }));
  it("categorical_crossentropy (sigmoid outputs, not fused)", () =>
    check([5], out("sigmoid"), { loss: ref("categorical_crossentropy") }));
  it("categorical_crossentropy from_logits with label_smoothing", () =>
    check([5], out("linear"), {
      loss: ref("categorical_crossentropy", {
        from_logits: true,
        label_smoothing: 0.1,
      }),
    }));
  it("sparse_categorical_crossentropy", () =>
    check([5], out("softmax"), {
      loss: ref("sparse_categorical_crossentropy"),
    }));
  it("binary_crossentropy (fused with sigmoid)", () =>
    check([5], out("sigmoid"), { loss: ref("binary_crossentropy") }));
  it("binary_crossentropy (softmax outputs)", () =>
    check([5], out("softmax"), { loss: ref("binary_crossentropy") }));
  it("binary_crossentropy from_logits", () =>
    check([5], out("linear"), {
      loss: ref("binary_crossentropy", { from_logits: true }),
    }));
  it("mse", () => check([5], out("softmax"), { loss: ref("mse") }));
  it("mae", () => check([5], out("tanh"), { loss: ref("mae") }));
  it("huber", () =>
    check([5], out("linear"), { loss: ref("huber", { delta: 0.5 }) }));
});

describe("outputs that are activation layers (the loss fuses with them)", () => {
  it("dense then softmax layer, categorical_crossentropy", () =>
    check([5], [{ kind: "dense", args: { units: 6, activation: ref("tanh") } }, { kind: "dense", args: { units: 4 } }, { kind: "softmax" }]));
  it("dense then sigmoid layer, binary_crossentropy", () =>
    check([5], [{ kind: "dense", args: { units: 6, activation: ref("tanh") } }, { kind: "dense", args: { units: 4 } }, { kind: "sigmoid" }], {
      loss: ref("binary_crossentropy"),
    }));
});

describe("regularizers", () => {
  for (const reg of [
    ref("l1", { l1: 0.01 }),
    ref("l2", { l2: 0.01 }),
    ref("l1l2", { l1: 0.01, l2: 0.02 }),
  ]) {
    it(reg.kind, () =>
      check(
        [5],
        [
          {
            kind: "dense",
            args: {
              units: 6,
              activation: ref("tanh"),
              kernel_regularizer: reg,
              bias_regularizer: reg,
            },
          },
          ...head,
        ],
      ),
    );
  }
});
