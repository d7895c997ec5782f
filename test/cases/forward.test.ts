// Per-feature cases: the standalone forward pass against the Keras model tfjs builds from nnc's topology.
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { kerasTopology } from "../../src/compiler/targets/keras.js";
import { N, casesIn, relDiff, standaloneForward } from "./cases.js";
import "./engines.js";

describe("forward: standalone vs the Keras model of nnc's topology", () => {
  for (const c of casesIn("layers", "activations")) {
    it(`${c.folder}/${c.name}`, async () => {
      const { out, x, m } = await standaloneForward(c.ir, null);
      const model = await tf.models.modelFromJSON({ modelTopology: kerasTopology(c.ir.model) } as never);
      model.setWeights(model.weights.map((w) => tf.tensor(m.weights[w.originalName]!, w.shape)));
      const theirs = (model.predict(tf.tensor(x, [N, 28, 28, 1])) as tf.Tensor).dataSync();
      expect(relDiff(out, theirs)).toBeLessThan(1e-5);
    });
  }
});

