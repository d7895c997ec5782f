// The Keras model topology of an IR model: the `modelTopology` of a TensorFlow.js layers-format
// model.json, so that `tf.loadLayersModel` rebuilds the network and finds every weight by its
// name `${layer.id}/${role}`. Computed at compile time and embedded as a constant by the
// standalone target; the tfjs target may reuse it.
import type { IR, IRLayer, IRModel, IRRef, IRValue } from "../../ir.js";

type Json = IRValue;

const KERAS_VERSION = "tfjs-layers 4.22.0";

function isRef(v: unknown): v is IRRef {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as IRRef).kind === "string";
}

/** The first of several possible argument names present on a layer. */
export function layerArg(layer: IRLayer, names: string[], fallback?: IRValue | IRRef): IRValue | IRRef | undefined {
  for (const n of names) if (layer.args[n] !== undefined) return layer.args[n];
  return fallback;
}

function num(layer: IRLayer, names: string[], fallback: number): number {
  const v = layerArg(layer, names);
  if (typeof v === "number") return v;
  if (Array.isArray(v) && typeof v[0] === "number") return v[0];
  return fallback;
}

function pair(layer: IRLayer, names: string[], fallback: number[]): [number, number] {
  const v = layerArg(layer, names);
  if (typeof v === "number") return [v, v];
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "number") return [v[0], v[1]];
  return [fallback[0]!, fallback[1]!];
}

const KERAS_ACTIVATION: Record<string, string> = {
  linear: "linear",
  relu: "relu",
  relu6: "relu6",
  sigmoid: "sigmoid",
  hard_sigmoid: "hard_sigmoid",
  tanh: "tanh",
  softmax: "softmax",
  elu: "elu",
  selu: "selu",
  softplus: "softplus",
  softsign: "softsign",
  swish: "swish",
  gelu: "gelu",
  mish: "mish",
};

function activationName(v: unknown): string {
  if (v === null || v === undefined) return "linear";
  const kind = isRef(v) ? v.kind : String(v);
  return KERAS_ACTIVATION[kind] ?? "linear";
}

const KERAS_INITIALIZER: Record<string, string> = {
  zeros: "Zeros",
  ones: "Ones",
  constant: "Constant",
  random_normal: "RandomNormal",
  random_uniform: "RandomUniform",
  truncated_normal: "TruncatedNormal",
  glorot_normal: "GlorotNormal",
  glorot_uniform: "GlorotUniform",
  he_normal: "HeNormal",
  he_uniform: "HeUniform",
  lecun_normal: "LeCunNormal",
  lecun_uniform: "LeCunUniform",
};

function initializer(v: unknown): Json {
  if (!isRef(v)) return { class_name: "Zeros", config: {} };
  const a = v.args;
  const config: Record<string, Json> = {};
  switch (v.kind) {
    case "constant":
      config.value = (a.value ?? a.constant ?? 0) as Json;
      break;
    case "random_normal":
    case "truncated_normal":
      config.mean = (a.mean ?? 0) as Json;
      config.stddev = (a.stddev ?? 0.05) as Json;
      config.seed = null;
      break;
    case "random_uniform":
      config.minval = (a.minval ?? -0.05) as Json;
      config.maxval = (a.maxval ?? 0.05) as Json;
      config.seed = null;
      break;
    case "zeros":
    case "ones":
      break;
    default:
      config.seed = null;
  }
  return { class_name: KERAS_INITIALIZER[v.kind] ?? "Zeros", config };
}

function regularizer(v: unknown): Json {
  if (!isRef(v)) return null;
  const l1 = typeof v.args.l1 === "number" ? v.args.l1 : 0;
  const l2 = typeof v.args.l2 === "number" ? v.args.l2 : 0;
  if (v.kind === "l1") return { class_name: "L1L2", config: { l1: (v.args.l1 ?? v.args.value ?? 0) as Json, l2: 0 } };
  if (v.kind === "l2") return { class_name: "L1L2", config: { l1: 0, l2: (v.args.l2 ?? v.args.value ?? 0) as Json } };
  return { class_name: "L1L2", config: { l1, l2 } };
}

function weightInit(layer: IRLayer, role: string): IRRef | undefined {
  return layer.weights.find((w) => w.role === role)?.initializer;
}
function weightReg(layer: IRLayer, role: string): IRRef | null {
  return layer.weights.find((w) => w.role === role)?.regularizer ?? null;
}

/** The Keras class name and config of one layer. */
export function kerasLayer(layer: IRLayer, model: IRModel): { className: string; config: Record<string, Json> } {
  const name = layer.id;
  const base = { name, trainable: true, dtype: "float32" };
  switch (layer.kind) {
    case "input":
      return {
        className: "InputLayer",
        config: { batch_input_shape: [null, ...model.inputShape], dtype: "float32", sparse: false, name },
      };
    case "dense":
      return {
        className: "Dense",
        config: {
          ...base,
          units: layer.outputShape[layer.outputShape.length - 1]!,
          activation: activationName(layerArg(layer, ["activation"])),
          use_bias: layer.weights.some((w) => w.role === "bias"),
          kernel_initializer: initializer(weightInit(layer, "kernel")),
          bias_initializer: initializer(weightInit(layer, "bias") ?? { kind: "zeros", args: {} }),
          kernel_regularizer: regularizer(weightReg(layer, "kernel")),
          bias_regularizer: regularizer(weightReg(layer, "bias")),
          activity_regularizer: null,
          kernel_constraint: null,
          bias_constraint: null,
        },
      };
    case "conv2d":
      return {
        className: "Conv2D",
        config: {
          ...base,
          filters: layer.outputShape[layer.outputShape.length - 1]!,
          kernel_size: pair(layer, ["kernel_size", "kernel"], [3, 3]),
          strides: pair(layer, ["strides", "stride"], [1, 1]),
          padding: String(layerArg(layer, ["padding"], "valid")),
          data_format: "channels_last",
          dilation_rate: [1, 1],
          activation: activationName(layerArg(layer, ["activation"])),
          use_bias: layer.weights.some((w) => w.role === "bias"),
          kernel_initializer: initializer(weightInit(layer, "kernel")),
          bias_initializer: initializer(weightInit(layer, "bias") ?? { kind: "zeros", args: {} }),
          kernel_regularizer: regularizer(weightReg(layer, "kernel")),
          bias_regularizer: regularizer(weightReg(layer, "bias")),
          activity_regularizer: null,
          kernel_constraint: null,
          bias_constraint: null,
        },
      };
    case "max_pool":
    case "avg_pool": {
      const pool = pair(layer, ["pool_size", "size", "pool"], [2, 2]);
      const stridesArg = layerArg(layer, ["strides", "stride"]);
      return {
        className: layer.kind === "max_pool" ? "MaxPooling2D" : "AveragePooling2D",
        config: {
          ...base,
          pool_size: pool,
          strides: stridesArg === null || stridesArg === undefined ? pool : pair(layer, ["strides", "stride"], pool),
          padding: String(layerArg(layer, ["padding"], "valid")),
          data_format: "channels_last",
        },
      };
    }
    case "flatten":
      return { className: "Flatten", config: { ...base, data_format: "channels_last" } };
    case "reshape":
      return { className: "Reshape", config: { ...base, target_shape: layer.outputShape } };
    case "dropout":
      return {
        className: "Dropout",
        config: { ...base, rate: num(layer, ["rate"], 0.5), noise_shape: null, seed: null },
      };
    case "batch_norm":
      return {
        className: "BatchNormalization",
        config: {
          ...base,
          axis: -1,
          momentum: num(layer, ["momentum"], 0.99),
          epsilon: num(layer, ["epsilon"], 1e-3),
          center: layer.weights.some((w) => w.role === "beta"),
          scale: layer.weights.some((w) => w.role === "gamma"),
          beta_initializer: { class_name: "Zeros", config: {} },
          gamma_initializer: { class_name: "Ones", config: {} },
          moving_mean_initializer: { class_name: "Zeros", config: {} },
          moving_variance_initializer: { class_name: "Ones", config: {} },
          beta_regularizer: null,
          gamma_regularizer: null,
          beta_constraint: null,
          gamma_constraint: null,
        },
      };
    case "relu":
      return { className: "ReLU", config: { ...base, max_value: null } };
    case "softmax":
      return { className: "Softmax", config: { ...base, axis: -1 } };
    case "elu":
      return { className: "ELU", config: { ...base, alpha: num(layer, ["alpha"], 1) } };
    case "leaky_relu":
      return { className: "LeakyReLU", config: { ...base, alpha: num(layer, ["alpha", "negative_slope"], 0.3) } };
    case "prelu":
      return {
        className: "PReLU",
        config: {
          ...base,
          alpha_initializer: initializer(weightInit(layer, "alpha") ?? { kind: "zeros", args: {} }),
          alpha_regularizer: regularizer(weightReg(layer, "alpha")),
          alpha_constraint: null,
          shared_axes: null,
        },
      };
    case "add":
      return { className: "Add", config: { ...base } };
    case "concat":
      return { className: "Concatenate", config: { ...base, axis: -1 } };
    default:
      // Plain activation layers (sigmoid, tanh, ...) and anything else elementwise.
      return { className: "Activation", config: { ...base, activation: activationName(layer.kind) } };
  }
}

/**
 * An activation Keras cannot name as a string on Dense/Conv2D (leaky_relu; elu with alpha != 1):
 * the layer is saved with a linear activation followed by an activation layer of its own,
 * `${id}_activation`, so that tfjs computes the same function. Weights keep their names.
 */
function separateActivation(layer: IRLayer): { className: string; config: Record<string, Json> } | null {
  if (layer.kind !== "dense" && layer.kind !== "conv2d") return null;
  const act = layer.args.activation;
  if (!isRef(act)) return null;
  const alpha = typeof act.args.alpha === "number" ? act.args.alpha : undefined;
  const base = { name: `${layer.id}_activation`, trainable: true, dtype: "float32" };
  if (act.kind === "leaky_relu") return { className: "LeakyReLU", config: { ...base, alpha: alpha ?? 0.3 } };
  if (act.kind === "elu" && alpha !== undefined && alpha !== 1) return { className: "ELU", config: { ...base, alpha } };
  return null;
}

/** The `modelTopology` object of model.json (a functional Keras "Model"). */
export function kerasTopology(ir: IR | { model: IRModel }): Record<string, Json> {
  const model = ir.model;
  /** The Keras layer whose output stands for each IR layer's output. */
  const outputOf = new Map<string, string>();
  const layers: Json[] = [];
  for (const layer of model.layers) {
    const { className, config } = kerasLayer(layer, model);
    const separate = separateActivation(layer);
    if (separate) config.activation = "linear";
    layers.push({
      class_name: className,
      config,
      name: layer.id,
      inbound_nodes: layer.inputs.length === 0 ? [] : [layer.inputs.map((id) => [outputOf.get(id) ?? id, 0, 0, {}])],
    });
    outputOf.set(layer.id, layer.id);
    if (separate) {
      const name = String(separate.config.name);
      layers.push({ class_name: separate.className, config: separate.config, name, inbound_nodes: [[[layer.id, 0, 0, {}]]] });
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
      output_layers: model.outputs.map((id) => [outputOf.get(id) ?? id, 0, 0]),
    },
    keras_version: KERAS_VERSION,
    backend: "tensor_flow.js",
  };
}
