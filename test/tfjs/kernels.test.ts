// nnc's Conv2DBackpropFilter for tfjs-wasm against tfjs-backend-cpu's, through tf.grad.
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { initBackend } from "../../src/runtime/engines/tfjs/backends.js";
import { exampleIr } from "./helpers.js";

describe("wasm Conv2DBackpropFilter", () => {
  const cases: [number[], number[], number | [number, number], "same" | "valid"][] = [
    [[2, 9, 9, 3], [3, 3, 3, 4], 1, "same"],
    [[2, 9, 9, 3], [5, 5, 3, 4], 2, "same"],
    [[3, 10, 8, 2], [3, 2, 2, 5], [2, 1], "valid"],
  ];
  for (const [xs, fs, strides, pad] of cases) {
    it(`x ${xs}, filter ${fs}, strides ${strides}, ${pad}: same gradient as the cpu backend`, async () => {
      await initBackend(exampleIr("cnn"), "wasm");
      const grad = async (backend: string) => {
        await tf.setBackend(backend);
        const x = tf.randomNormal(xs, 0, 1, "float32", 1).relu() as tf.Tensor4D;
        const f0 = tf.zeros(fs) as tf.Tensor4D;
        const dy = tf.randomNormal(tf.conv2d(x, f0, strides, pad).shape, 0, 1, "float32", 2);
        return tf
          .grad((f: tf.Tensor) =>
            tf
              .conv2d(x, f as tf.Tensor4D, strides, pad)
              .mul(dy)
              .sum(),
          )(f0)
          .dataSync();
      };
      const wasm = await grad("wasm");
      const cpu = await grad("cpu");
      expect(wasm.length).toBe(cpu.length);
      let d = 0;
      for (let i = 0; i < cpu.length; i++) d = Math.max(d, Math.abs(wasm[i]! - cpu[i]!));
      expect(d).toBeLessThan(1e-4);
    });
  }
});
