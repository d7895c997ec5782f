// IR -> tf.LayersModel for every example: layer names are IR ids, weight names `${id}/${role}`,
// parameter counts as the checker computed them, initial weights exactly random.ts's.
import { describe, expect, it, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { buildModel } from "../../src/runtime/engines/tfjs/model.js";
import { initialWeights } from "../../src/runtime/random.js";
import { adadelta, adagrad, adam, adamax, nadam, rmsprop, sgd, type Optimizer } from "../../src/runtime/training/tfjs.js";
import { defaultRef } from "../../src/compiler/checker/args.js";
import { kerasLayers } from "../../src/compiler/targets/keras.js";
import { exampleIr, exampleNames, fixtureIr } from "./helpers.js";

beforeAll(async () => {
  tf.env().set("PROD", true);
  await tf.setBackend("cpu");
});

describe("tfjs model from IR", () => {
  for (const name of exampleNames().filter((n) => n !== "alexnet")) {
    it(name, async () => {
      const ir = exampleIr(name);
      const { model } = await buildModel(tf, ir.model, 42);
      try {
        const irLayers = ir.model.layers.map((l) => l.id);
        for (const id of irLayers) expect(model.getLayer(id).name).toBe(id);
        const irWeights = ir.model.layers.flatMap((l) => l.weights.map((w) => w.name)).sort();
        expect(model.weights.map((w) => w.originalName).sort()).toEqual(irWeights);
        expect(model.countParams()).toBe(ir.model.params.total);
        const want = initialWeights(ir.model, 42);
        for (const w of model.weights) {
          const got = w.read().dataSync() as Float32Array;
          const exp = want.get(w.originalName)!;
          // Bit-identical: compare the bytes.
          expect(
            Buffer.compare(
              Buffer.from(got.buffer, got.byteOffset, got.byteLength),
              Buffer.from(exp.buffer, exp.byteOffset, exp.byteLength),
            ),
            w.originalName,
          ).toBe(0);
        }
        const out = model.outputs[0]!.shape.slice(1);
        expect(out).toEqual(ir.model.layers.find((l) => l.id === ir.model.outputs[0])!.outputShape);
      } finally {
        model.dispose();
      }
    });
  }

  it("allkinds (fixture): every layer kind, elu(0.5) and leaky_relu as layer arguments, user-named layers", async () => {
    const ir = fixtureIr("allkinds");
    const { model } = await buildModel(tf, ir.model, 3);
    /** The tfjs layers that compute an IR layer, in order (its Keras layers, as model.json names them). */
    const chain = (id: string) => kerasLayers(ir.model.layers.find((l) => l.id === id)!).map((k) => model.getLayer(k.config.name as string).getClassName());
    expect(model.countParams()).toBe(ir.model.params.total);
    expect(model.weights.map((w) => w.originalName).sort()).toEqual(ir.model.layers.flatMap((l) => l.weights.map((w) => w.name)).sort());
    // tfjs has no elu(alpha) / leaky_relu activation string: they follow the layer as their own tfjs layer.
    expect(chain("conv2d_1")).toEqual(["Conv2D", "ELU"]);
    expect(chain("a")).toEqual(["Dense", "LeakyReLU"]);
    const out = model.predict(tf.ones([2, 28, 28, 1])) as tf.Tensor;
    expect(out.shape).toEqual([2, 10]);
    expect(Array.from(out.sum(-1).dataSync()).every((v) => Math.abs(v - 1) < 1e-5)).toBe(true);
    model.dispose();
  });

  it("alexnet builds (names and parameter count only: 20M weights)", async () => {
    const ir = exampleIr("alexnet");
    const { model } = await buildModel(tf, ir.model, 1);
    expect(model.countParams()).toBe(ir.model.params.total);
    model.dispose();
  });
});

describe("optimizers follow Keras's rules", () => {
  // One weight, gradient 0.5 then -0.25; expected values computed by hand from keras/src/optimizers.
  const run = (kind: string, args: Record<string, number | boolean>, lrs = [0.1, 0.1]) => {
    const v = tf.variable(tf.tensor1d([1]));
    // The functions the tfjs program calls (adamw is adam with weight_decay).
    const make: Record<string, (a: never) => Optimizer> = { sgd, adam, adamw: adam, nadam, adamax, rmsprop, adagrad, adadelta };
    const opt = make[kind]!({ ...defaultRef("optimizer", kind).args, ...args } as never);
    [0.5, -0.25].forEach((g, i) => opt.apply([v], [tf.tensor1d([g])], lrs[i]!));
    const out = v.dataSync()[0]!;
    opt.dispose();
    v.dispose();
    return out;
  };

  it("adam: lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)", () => {
    let w = 1,
      m = 0,
      u = 0;
    [0.5, -0.25].forEach((g, i) => {
      const t = i + 1;
      m = 0.9 * m + 0.1 * g;
      u = 0.999 * u + 0.001 * g * g;
      w -= ((0.1 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t)) * (m / (Math.sqrt(u) + 1e-7));
    });
    expect(run("adam", { lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 })).toBeCloseTo(w, 6);
  });

  it("adamw (tfjs has none): decoupled weight decay, then Adam", () => {
    let w = 1,
      m = 0,
      u = 0;
    [0.5, -0.25].forEach((g, i) => {
      const t = i + 1;
      w -= 0.1 * 0.2 * w;
      m = 0.9 * m + 0.1 * g;
      u = 0.999 * u + 0.001 * g * g;
      w -= ((0.1 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t)) * (m / (Math.sqrt(u) + 1e-7));
    });
    expect(run("adamw", { lr: 0.1, weight_decay: 0.2 })).toBeCloseTo(w, 6);
  });

  it("nadam (tfjs has none): Keras 3's momentum schedule", () => {
    let w = 1,
      m = 0,
      u = 0,
      prod = 1;
    [0.5, -0.25].forEach((g, i) => {
      const t = i + 1;
      const ut = 0.9 * (1 - 0.5 * 0.96 ** (0.004 * t));
      const ut1 = 0.9 * (1 - 0.5 * 0.96 ** (0.004 * (t + 1)));
      prod *= ut;
      m = 0.9 * m + 0.1 * g;
      u = 0.999 * u + 0.001 * g * g;
      const mHat = (ut1 * m) / (1 - prod * ut1) + ((1 - ut) * g) / (1 - prod);
      w -= (0.1 * mHat) / (Math.sqrt(u / (1 - 0.999 ** t)) + 1e-7);
    });
    expect(run("nadam", { lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 })).toBeCloseTo(w, 6);
  });

  it("sgd with momentum and nesterov, and a changing learning rate", () => {
    expect(run("sgd", { lr: 0.1, momentum: 0, nesterov: false }, [0.1, 0.05])).toBeCloseTo(1 - 0.05 + 0.0125, 6);
    // v1 = -0.05; w = 1 + 0.9*v1 - 0.05 = 0.905; v2 = 0.9*v1 + 0.025 = -0.02; w += 0.9*v2 + 0.025 = 0.912
    expect(run("sgd", { lr: 0.1, momentum: 0.9, nesterov: true })).toBeCloseTo(0.912, 6);
  });

  it("rmsprop, adagrad, adadelta, adamax run and move the weight against the first gradient", () => {
    for (const kind of ["rmsprop", "adagrad", "adadelta", "adamax"]) expect(run(kind, { lr: 0.1 })).not.toBe(1);
  });
});
