// Walks the catalog: every entry has a doc line and a valid parameter schema; every layer has
// a shape rule, a weight rule and a FLOP count; defaults are valid against their own schema.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectGolden } from "../helpers/golden.js";
import { catalog, categories, lookup, paramSchemas, validator, valueCategories, type LayerEntry } from "../../src/compiler/catalog/index.js";
import { defaultRef } from "../../src/compiler/checker/args.js";

const required: Record<string, string[]> = {
  layer: ["input", "dense", "conv2d", "max_pool", "avg_pool", "flatten", "reshape", "dropout", "batch_norm", "relu", "sigmoid", "tanh", "softmax", "elu", "leaky_relu", "prelu", "add", "concat"],
  activation: ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "leaky_relu", "softplus"],
  initializer: ["zeros", "ones", "constant", "random_normal", "random_uniform", "truncated_normal", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal"],
  regularizer: ["l1", "l2", "l1l2"],
  loss: ["categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy", "mse", "mae", "huber"],
  metric: ["accuracy", "precision", "recall", "mse", "mae"],
  optimizer: ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamax", "nadam"],
  schedule: ["piecewise_constant", "exponential_decay", "inverse_time_decay"],
  callback: ["reduce_on_plateau", "early_stopping", "checkpoint", "csv_logger", "tensorboard", "terminate_on_nan"],
  augmentation: ["rotation", "width_shift", "height_shift", "shift", "zoom", "shear", "fill", "cval"],
  dataset: ["mnist", "fashion_mnist"],
};

describe("catalog", () => {
  for (const cat of categories) {
    for (const entry of catalog[cat]) {
      it(`${cat} ${entry.name}: doc, schema${cat === "layer" ? ", shape rule" : ""}`, () => {
        expect(entry.category).toBe(cat);
        expect(entry.doc, "one-line doc").toMatch(/^\S.*\S$/);
        expect(entry.doc).not.toContain("\n");
        expect(entry.schema, "parameter schema").toBeTypeOf("object");
        expect(() => validator(entry), "schema compiles with ajv").not.toThrow();
        if (!valueCategories.has(cat)) {
          expect(entry.schema.type).toBe("object");
          expect(entry.schema.additionalProperties).toBe(false);
          const props = paramSchemas(entry);
          for (const p of entry.positional) expect(props, `positional ${p} is a parameter`).toHaveProperty(p);
          for (const [alias, target] of Object.entries(entry.aliases)) {
            expect(props, `alias ${alias} -> ${target}`).toHaveProperty(target);
            expect(props).not.toHaveProperty(alias);
          }
          // The defaults alone are valid when nothing is required.
          if (!Array.isArray(entry.schema.required)) {
            const args: Record<string, unknown> = {};
            expect(validator(entry)(args)).toBe(true);
          }
        }
        if (cat === "layer") {
          const layer = entry as LayerEntry;
          expect(layer.shape).toBeTypeOf("function");
          expect(layer.weights).toBeTypeOf("function");
          expect(layer.flops).toBeTypeOf("function");
          expect(["one", "many"]).toContain(layer.arity);
        }
      });
    }
  }

  it("has every concept the language promises", () => {
    for (const [cat, names] of Object.entries(required)) {
      for (const name of names) expect(lookup(cat as never, name), `${cat} ${name}`).toBeDefined();
    }
  });

  it("names are unique within a category", () => {
    for (const cat of categories) {
      const names = catalog[cat].flatMap((e) => [e.name, ...(e.names ?? [])]);
      expect(new Set(names).size).toBe(names.length);
    }
  });

  it("optimizers carry the Keras defaults", () => {
    expect(defaultRef("optimizer", "adam")).toEqual({ kind: "adam", args: { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } });
    expect(defaultRef("optimizer", "sgd")).toEqual({ kind: "sgd", args: { lr: 0.01, momentum: 0, nesterov: false } });
    expect(defaultRef("optimizer", "rmsprop").args).toMatchObject({ lr: 0.001, rho: 0.9 });
  });

  it("layer shape rules and weights (Keras layouts)", () => {
    const dense = lookup("layer", "dense")!;
    const args = { units: 10, use_bias: true };
    expect(dense.shape([[784]], args)).toEqual([10]);
    expect(dense.weights([[784]], args).map((w) => w.shape)).toEqual([[784, 10], [10]]);
    expect(dense.shape([[7, 7, 16]], args)).toMatchObject({ hint: expect.stringContaining("flatten") });
    const conv = lookup("layer", "conv2d")!;
    const cargs = { filters: 8, kernel_size: [5, 5], strides: [1, 1], padding: "same", use_bias: true };
    expect(conv.shape([[28, 28, 1]], cargs)).toEqual([28, 28, 8]);
    expect(conv.weights([[28, 28, 1]], cargs).map((w) => w.shape)).toEqual([[5, 5, 1, 8], [8]]);
    expect(conv.shape([[28, 28, 1]], { ...cargs, padding: "valid" })).toEqual([24, 24, 8]);
    const pool = lookup("layer", "max_pool")!;
    expect(pool.shape([[7, 7, 64]], { pool_size: [2, 2], strides: [2, 2], padding: "same" })).toEqual([4, 4, 64]);
    expect(pool.shape([[7, 7, 64]], { pool_size: [2, 2], strides: [2, 2], padding: "valid" })).toEqual([3, 3, 64]);
    const bn = lookup("layer", "batch_norm")!;
    expect(bn.weights([[512]], { center: true, scale: true }).map((w) => [w.role, w.trainable])).toEqual([
      ["gamma", true], ["beta", true], ["moving_mean", false], ["moving_variance", false],
    ]);
    expect(lookup("layer", "concat")!.shape([[4, 4, 3], [4, 4, 5]], { axis: -1 })).toEqual([4, 4, 8]);
    expect(lookup("layer", "reshape")!.shape([[784]], { target_shape: [28, -1, 1] })).toEqual([28, 28, 1]);
  });
});

describe("catalog reference", () => {
  it("lists every entry with its doc", async () => {
    const { catalogReference } = await import("../../src/compiler/catalog/reference.js");
    const md = catalogReference();
    for (const cat of categories) for (const e of catalog[cat]) {
      expect(md).toContain(`\`${e.name}\``);
      expect(md).toContain(e.doc);
    }
    expect(md).toContain("`strides (stride)`: int or [int, int] = pool_size");
    expect(md).toContain("`max_pool` (Keras/PyTorch: `MaxPooling2D`");
  });

  it("grammar/catalog.md is the generated reference, current", async () => {
    const { catalogReference } = await import("../../src/compiler/catalog/reference.js");
    await expectGolden(catalogReference(), join(import.meta.dirname, "../../grammar/catalog.md"));
  });
});
