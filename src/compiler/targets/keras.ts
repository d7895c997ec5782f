// The one Keras mapping: every IR layer, activation, initializer and regularizer in Keras terms
// (class name + config, as a TensorFlow.js layers-format model.json stores them). Read by
//   - the model.json topology writer (kerasTopology, below; embedded by the standalone target),
//   - the tfjs target (src/compiler/targets/tfjs/, which prints each layer as a tf.layers call: the
//     program the tfjs engine runs, and whose saved model.json carries this topology),
//   - src/runtime/engines/tfjs/model.ts (a tf.LayersModel from this topology with tfjs's own
//     deserializer: the model tf.loadLayersModel reads back).
// A layer whose tf.layers class cannot compute its training-mode forward as nnc does carries that
// forward too (`trainingForward`: the tfjs program's line for it), so the tfjs target has one
// place per layer.
// Each table is typed by the catalog's kinds: an entry without a Keras mapping fails the typecheck.
//
// Axes: nnc counts a layer's axes without the batch dimension (`concat(a, b, axis: 0)` joins
// along height); Keras counts the batch as axis 0. `kerasAxis` converts; negative axes agree.
import type { ActivationKind, InitializerArgs, InitializerKind, LayerKind, RegularizerKind } from "../catalog/kinds.js";
import { eachActivationLayer } from "../catalog/layers.js";
import type { IRLayer, IRLayerOf, IRModel, IRRef, IRValue } from "../ir.js";
import { checkIRModel } from "../ir-check.js";

export type Json = IRValue;
export type JsonObject = { [key: string]: Json };

/** One Keras layer: its class and its config (snake_case keys, as model.json stores them). */
export interface KerasLayer {
  className: KerasClass;
  config: JsonObject;
}

/** The Keras classes nnc writes, and the tf.layers factory that builds each in TensorFlow.js. */
export const TFJS_FACTORY = {
  InputLayer: "inputLayer",
  Dense: "dense",
  Conv2D: "conv2d",
  MaxPooling2D: "maxPooling2d",
  AveragePooling2D: "averagePooling2d",
  GlobalAveragePooling2D: "globalAveragePooling2d",
  GlobalMaxPooling2D: "globalMaxPooling2d",
  Flatten: "flatten",
  Reshape: "reshape",
  Dropout: "dropout",
  BatchNormalization: "batchNormalization",
  ReLU: "reLU",
  Softmax: "softmax",
  ELU: "elu",
  LeakyReLU: "leakyReLU",
  PReLU: "prelu",
  Activation: "activation",
  Add: "add",
  Concatenate: "concatenate",
} as const;
export type KerasClass = keyof typeof TFJS_FACTORY;

export const KERAS_VERSION = "tfjs-layers 4.22.0";

// ------------------------------------------------------------------ activations

const base = (name: string): JsonObject => ({ name, trainable: true, dtype: "float32" });

/**
 * Each activation in Keras terms: `string`, its Keras activation string, or null where Keras's
 * string would compute something else (Keras has no string taking leaky relu's alpha; elu's
 * string has alpha 1 only): such an activation on dense/conv2d is saved as a linear layer
 * followed by an activation layer of its own; `layer`, that activation layer (the default: an
 * `Activation` layer with the string).
 */
const KERAS_ACTIVATION: { [K in ActivationKind]: { string: (args: Record<string, IRValue>) => string | null; layer?: (name: string, args: Record<string, IRValue>) => KerasLayer } } = {
  linear: { string: () => "linear" },
  relu: { string: () => "relu", layer: (name) => ({ className: "ReLU", config: { ...base(name), max_value: null } }) },
  sigmoid: { string: () => "sigmoid" },
  tanh: { string: () => "tanh" },
  softmax: { string: () => "softmax", layer: (name) => ({ className: "Softmax", config: { ...base(name), axis: -1 } }) },
  softplus: { string: () => "softplus" },
  elu: { string: (a) => (a.alpha === 1 ? "elu" : null), layer: (name, a) => ({ className: "ELU", config: { ...base(name), alpha: a.alpha as number } }) },
  leaky_relu: { string: () => null, layer: (name, a) => ({ className: "LeakyReLU", config: { ...base(name), alpha: a.alpha as number } }) },
};

/** The Keras string for an activation, or null when it needs a layer of its own. */
export function kerasActivationString(act: IRRef<ActivationKind>): string | null {
  return KERAS_ACTIVATION[act.kind].string(act.args);
}

/** The activation as a layer of its own (an activation layer, or the one after a dense/conv2d). */
export function kerasActivationLayer(name: string, act: IRRef<ActivationKind>): KerasLayer {
  const layer = KERAS_ACTIVATION[act.kind].layer;
  return layer ? layer(name, act.args) : { className: "Activation", config: { ...base(name), activation: kerasActivationString(act)! } };
}

// ------------------------------------------------------------------ initializers, regularizers

const seedless = (className: string) => (): JsonObject => ({ class_name: className, config: { seed: null } });
const KERAS_INITIALIZER: { [K in InitializerKind]: (args: InitializerArgs<K>) => JsonObject } = {
  zeros: () => ({ class_name: "Zeros", config: {} }),
  ones: () => ({ class_name: "Ones", config: {} }),
  constant: (a) => ({ class_name: "Constant", config: { value: a.value } }),
  random_normal: (a) => ({ class_name: "RandomNormal", config: { mean: a.mean, stddev: a.stddev, seed: null } }),
  random_uniform: (a) => ({ class_name: "RandomUniform", config: { minval: a.minval, maxval: a.maxval, seed: null } }),
  truncated_normal: (a) => ({ class_name: "TruncatedNormal", config: { mean: a.mean, stddev: a.stddev, seed: null } }),
  glorot_normal: seedless("GlorotNormal"),
  glorot_uniform: seedless("GlorotUniform"),
  he_normal: seedless("HeNormal"),
  he_uniform: seedless("HeUniform"),
  lecun_normal: seedless("LeCunNormal"),
  lecun_uniform: seedless("LeCunUniform"),
};

/** The Keras initializer `{class_name, config}` of an IR initializer. */
export function kerasInitializer(init: IRRef<InitializerKind>): JsonObject {
  return (KERAS_INITIALIZER[init.kind] as (a: unknown) => JsonObject)(init.args);
}

const KERAS_REGULARIZER: { [K in RegularizerKind]: (args: Record<string, IRValue>) => { l1: number; l2: number } } = {
  l1: (a) => ({ l1: a.l1 as number, l2: 0 }),
  l2: (a) => ({ l1: 0, l2: a.l2 as number }),
  l1l2: (a) => ({ l1: a.l1 as number, l2: a.l2 as number }),
};

/** The L1/L2 factors of an IR regularizer (zeros for none). */
export function regularizerFactors(reg: IRRef<RegularizerKind> | null): { l1: number; l2: number } {
  return reg === null ? { l1: 0, l2: 0 } : KERAS_REGULARIZER[reg.kind](reg.args);
}

/** The Keras regularizer of an IR regularizer (`L1L2`), or null. */
export function kerasRegularizer(reg: IRRef<RegularizerKind> | null): Json {
  return reg === null ? null : { class_name: "L1L2", config: regularizerFactors(reg) };
}

// ------------------------------------------------------------------ layers

const hasWeight = (layer: IRLayer, role: string) => layer.weights.some((w) => w.role === role);

/** Keras counts the batch dimension as axis 0; nnc does not. Negative axes count from the end in both. */
export function kerasAxis(axis: number): number {
  return axis < 0 ? axis : axis + 1;
}

/** The dense/conv2d fields after the layer's own: activation, bias, initializers, regularizers. */
function weighted(layer: IRLayerOf<"dense"> | IRLayerOf<"conv2d">): JsonObject {
  const a = layer.args;
  return {
    activation: kerasActivationString(a.activation) ?? "linear",
    use_bias: a.use_bias,
    kernel_initializer: kerasInitializer(a.kernel_initializer),
    bias_initializer: kerasInitializer(a.bias_initializer),
    kernel_regularizer: kerasRegularizer(a.kernel_regularizer),
    bias_regularizer: kerasRegularizer(a.bias_regularizer),
    activity_regularizer: null,
    kernel_constraint: null,
    bias_constraint: null,
  };
}

function pool(className: "MaxPooling2D" | "AveragePooling2D") {
  return (l: IRLayerOf<"max_pool"> | IRLayerOf<"avg_pool">): KerasLayer => ({
    className,
    config: { ...base(l.id), pool_size: l.args.pool_size, strides: l.args.strides, padding: l.args.padding, data_format: "channels_last" },
  });
}

const activationLayer = (l: IRLayer): KerasLayer => kerasActivationLayer(l.id, { kind: l.kind as ActivationKind, args: l.args as Record<string, IRValue> });

/** A number as the tfjs program writes it (exponent form below 1e-3). */
export const tfjsNum = (v: number): string => (Number.isInteger(v) || Math.abs(v) >= 1e-3 ? String(v) : v.toExponential());

/** What a layer's training-mode forward needs in the tfjs program beyond its tf.layers class: its line, the embedded function it calls, and why. */
export interface TrainingForward {
  line: string;
  /** A function of src/runtime/training/tfjs.ts the line calls. */
  embed?: string;
  /** For the forward's doc comment. */
  note?: string;
  /** It draws from `random`, the seeded dropout stream. */
  random?: boolean;
}

/**
 * For a layer (`v` its output's name in the tfjs program's forward, `x` its input's, `keras` its
 * Keras layers' names as literals, `applied` their `apply` chain): the line computing it in
 * training, or null where its tf.layers class does.
 */
type TrainingForwardFn<K extends LayerKind> = (layer: IRLayerOf<K>, v: string, x: string, keras: string[], applied: string) => TrainingForward | null;

/** A layer kind in Keras terms, with its tfjs training-mode forward where tf.layers falls short of nnc. */
type KerasLayerEntry<K extends LayerKind> = ((layer: IRLayerOf<K>) => KerasLayer) | { layer: (layer: IRLayerOf<K>) => KerasLayer; trainingForward: TrainingForwardFn<K> };

/** Every layer kind in Keras terms (the layer's own Keras layer; see kerasLayers for the split activation). */
const KERAS_LAYER: { [K in LayerKind]: KerasLayerEntry<K> } = {
  input: (l) => ({ className: "InputLayer", config: { batch_input_shape: [null, ...l.args.shape], dtype: "float32", sparse: false, name: l.id } }),
  dense: (l) => ({ className: "Dense", config: { ...base(l.id), units: l.args.units, ...weighted(l) } }),
  conv2d: (l) => {
    const { activation, use_bias, ...rest } = weighted(l);
    return {
      className: "Conv2D",
      config: {
        ...base(l.id),
        filters: l.args.filters,
        kernel_size: l.args.kernel_size,
        strides: l.args.strides,
        padding: l.args.padding,
        data_format: "channels_last",
        dilation_rate: [1, 1],
        activation: activation!,
        use_bias: use_bias!,
        ...rest,
      },
    };
  },
  max_pool: pool("MaxPooling2D"),
  avg_pool: pool("AveragePooling2D"),
  global_avg_pool: (l) => ({ className: "GlobalAveragePooling2D", config: { ...base(l.id), data_format: "channels_last" } }),
  global_max_pool: (l) => ({ className: "GlobalMaxPooling2D", config: { ...base(l.id), data_format: "channels_last" } }),
  flatten: (l) => ({ className: "Flatten", config: { ...base(l.id), data_format: "channels_last" } }),
  reshape: (l) => ({ className: "Reshape", config: { ...base(l.id), target_shape: l.outputShape } }),
  dropout: {
    layer: (l) => ({ className: "Dropout", config: { ...base(l.id), rate: l.args.rate, noise_shape: null, seed: null } }),
    trainingForward: (l, v, x) =>
      l.args.rate > 0
        ? {
            line: `const ${v} = training && random ? dropout(${x}, ${tfjsNum(l.args.rate)}, random) : ${x};`,
            embed: "dropout",
            note: "dropout masks come from `random`, the one seeded dropout stream (the standalone engine's)",
            random: true,
          }
        : { line: `const ${v} = ${x};` },
  },
  batch_norm: {
    layer: (l) => ({
      className: "BatchNormalization",
      config: {
        ...base(l.id),
        axis: -1,
        momentum: l.args.momentum,
        epsilon: l.args.epsilon,
        center: l.args.center,
        scale: l.args.scale,
        beta_initializer: { class_name: "Zeros", config: {} },
        gamma_initializer: { class_name: "Ones", config: {} },
        moving_mean_initializer: { class_name: "Zeros", config: {} },
        moving_variance_initializer: { class_name: "Ones", config: {} },
        beta_regularizer: null,
        gamma_regularizer: null,
        beta_constraint: null,
        gamma_constraint: null,
      },
    }),
    trainingForward: (l, v, x, keras, applied) => {
      if (l.args.center && l.args.scale) return null;
      const { epsilon, momentum, center, scale } = l.args;
      return {
        line: `const ${v} = training ? batchNormTraining(model.getLayer(${keras[0]}), ${x}, { epsilon: ${tfjsNum(epsilon)}, momentum: ${tfjsNum(momentum)}, center: ${center}, scale: ${scale} }) : (${applied} as tf.Tensor);`,
        embed: "batchNormTraining",
        note: "batch_norm without gamma or beta normalises with the batch's statistics itself (tfjs's layer cannot)",
      };
    },
  },
  ...eachActivationLayer(activationLayer),
  prelu: (l) => ({
    className: "PReLU",
    config: {
      ...base(l.id),
      alpha_initializer: kerasInitializer(l.args.alpha_initializer),
      alpha_regularizer: kerasRegularizer(l.args.alpha_regularizer),
      alpha_constraint: null,
      shared_axes: null,
    },
  }),
  add: (l) => ({ className: "Add", config: base(l.id) }),
  concat: (l) => ({ className: "Concatenate", config: { ...base(l.id), axis: kerasAxis(l.args.axis) } }),
};

/**
 * The Keras layers that compute one IR layer: its own, then (for a dense/conv2d whose activation
 * Keras cannot name as a string) a linear output followed by `${id}_activation`.
 * Weight names stay `${id}/${role}`.
 */
export function kerasLayers(layer: IRLayer): KerasLayer[] {
  const entry = KERAS_LAYER[layer.kind] as KerasLayerEntry<LayerKind>;
  const own = (typeof entry === "function" ? entry : entry.layer)(layer as never);
  if (layer.kind !== "dense" && layer.kind !== "conv2d") return [own];
  const act = layer.args.activation;
  if (kerasActivationString(act) !== null) return [own];
  return [own, kerasActivationLayer(`${layer.id}_activation`, act)];
}

/**
 * The tfjs program's line for a layer's forward in training, where its tf.layers class falls short
 * (`v`, `x`, `keras`, `applied` as TrainingForwardFn says); null where the Keras layers' `apply`
 * chain computes it.
 */
export function kerasTrainingForward(layer: IRLayer, v: string, x: string, keras: string[], applied: string): TrainingForward | null {
  const entry = KERAS_LAYER[layer.kind] as KerasLayerEntry<LayerKind>;
  return typeof entry === "function" ? null : entry.trainingForward(layer as never, v, x, keras, applied);
}

/** The `modelTopology` of model.json (a functional Keras "Model") for an IR model. */
export function kerasTopology(model: IRModel): JsonObject {
  checkIRModel(model, "Keras topology writer");
  /** The Keras layer whose output stands for each IR layer's output. */
  const outputOf = new Map<string, string>();
  const layers: Json[] = [];
  for (const layer of model.layers) {
    let inbound: Json = layer.inputs.length === 0 ? [] : [layer.inputs.map((id) => [outputOf.get(id)!, 0, 0, {}])];
    for (const k of kerasLayers(layer)) {
      const name = k.config.name as string;
      layers.push({ class_name: k.className, config: k.config, name, inbound_nodes: inbound });
      inbound = [[[name, 0, 0, {}]]];
      outputOf.set(layer.id, name);
    }
  }
  const input = model.layers[0]!;
  return {
    class_name: "Model",
    config: {
      name: model.name,
      layers,
      input_layers: [[input.id, 0, 0]],
      output_layers: model.outputs.map((id) => [outputOf.get(id)!, 0, 0]),
    },
    keras_version: KERAS_VERSION,
    backend: "tensor_flow.js",
  };
}

// ------------------------------------------------------------------ the same, in tfjs's terms

const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * A Keras config in tf.layers argument form (camelCase keys; `{class_name, config}` objects as
 * `{className, config}`): what `tf.layers.<factory>(args)` takes. Nulls are left out.
 */
export function tfjsArgs(config: JsonObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (v === null) continue;
    out[camel(k)] = v !== null && typeof v === "object" && !Array.isArray(v) && "class_name" in v ? { className: v.class_name, config: tfjsArgs(v.config as JsonObject) } : v;
  }
  return out;
}
