// EMBEDDABLE MODULE (with TensorFlow.js): the layer classes nnc adds to tf.layers, so that every
// model.json nnc writes reads back as Keras writes it. The tfjs target copies what a model uses into
// its program; the tfjs engine, `nnc predict`, `nnc serve`'s page and the tests register them
// through registerNncLayers (src/runtime/engines/tfjs/model.ts). Each takes the tfjs module it
// extends: the engine, the page and a program each bring their own.

/**
 * ELU with any alpha, registered under Keras's class name "ELU" ({"class_name": "ELU", "config":
 * {"alpha": 0.5}}): tfjs's own ELU layer refuses alpha != 1 ("not supported yet").
 */
export function eluLayer(tf: typeof import("@tensorflow/tfjs")) {
  class ELU extends tf.layers.Layer {
    static className = "ELU";
    readonly alpha: number;

    constructor(args: { name?: string; alpha: number }) {
      super(args);
      this.alpha = args.alpha;
    }

    override call(inputs: import("@tensorflow/tfjs").Tensor | import("@tensorflow/tfjs").Tensor[]): import("@tensorflow/tfjs").Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      // relu(x) + alpha * (exp(min(x, 0)) - 1): x above 0, alpha * (e^x - 1) below, differentiable ops only
      return tf.tidy(() => tf.add(tf.relu(x), tf.mul(this.alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1))));
    }

    override computeOutputShape(shape: import("@tensorflow/tfjs").Shape | import("@tensorflow/tfjs").Shape[]): import("@tensorflow/tfjs").Shape | import("@tensorflow/tfjs").Shape[] {
      return shape;
    }

    override getConfig(): import("@tensorflow/tfjs").serialization.ConfigDict {
      return { ...super.getConfig(), alpha: this.alpha };
    }
  }
  tf.serialization.registerClass(ELU);
  return ELU;
}
