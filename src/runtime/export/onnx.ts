// ONNX export of a saved Keras/TensorFlow.js layers model, written by nnc itself: the Keras
// topology of model.json becomes an ONNX graph (opset 13) with the trained weights as
// initializers, encoded with the protobuf helpers nnc shares with its TensorBoard writer.
//
// Layouts. Keras computes in NHWC; ONNX's Conv, MaxPool, AveragePool and BatchNormalization work
// in NCHW. The graph keeps the Keras input (NHWC) and output layouts, and every rank-4 tensor
// carries its current layout: a layer that needs the other one gets a Transpose in front (made
// once per tensor). Flatten, Dense, Reshape, PReLU, Softmax, Concatenate and global pooling see
// NHWC, as in Keras, so the flattened order and every weight's meaning are unchanged. Conv2D
// kernels are stored transposed from Keras's [kh, kw, in, out] to ONNX's [out, in, kh, kw].
//
// A layer or option with no ONNX translation here is an error naming it, never dropped.
//
// The messages (onnx.proto, proto2; field numbers):
//   ModelProto      ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8, metadata_props 14
//   OperatorSetId   domain 1, version 2
//   GraphProto      node 1, name 2, initializer 5, doc_string 10, input 11, output 12
//   NodeProto       input 1, output 2, name 3, op_type 4, attribute 5, doc_string 6
//   AttributeProto  name 1, f 2, i 3, s 4, ints 8, type 20 (FLOAT 1, INT 2, STRING 3, INTS 7)
//   TensorProto     dims 1, data_type 2 (FLOAT 1, INT64 7), name 8, raw_data 9, doc_string 12
//   ValueInfoProto  name 1, type 2;  TypeProto tensor_type 1;  TypeProto.Tensor elem_type 1, shape 2
//   TensorShapeProto dim 1;  Dimension dim_value 1, dim_param 2
import {
  protoBytesField,
  protoFloatField,
  protoMessage,
  protoStringField,
  protoVarintField,
} from "../protobuf.js";
import type { KerasLayer, SavedModel, SavedWeight } from "./saved-model.js";

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;

/** A model that has no ONNX translation (an unsupported layer or option). */
export class OnnxExportError extends Error {}

type Attr = { name: string } & ({ f: number } | { i: number } | { s: string } | { ints: number[] });

function attribute(a: Attr): Uint8Array {
  const fields = [protoStringField(1, a.name)];
  if ("f" in a) fields.push(protoFloatField(2, a.f), protoVarintField(20, 1));
  else if ("i" in a) fields.push(protoVarintField(3, a.i), protoVarintField(20, 2));
  else if ("s" in a) fields.push(protoStringField(4, a.s), protoVarintField(20, 3));
  else fields.push(...a.ints.map((v) => protoVarintField(8, v)), protoVarintField(20, 7));
  return protoMessage(fields);
}

function tensorProto(name: string, dims: number[], data: Float32Array | BigInt64Array, doc?: string): Uint8Array {
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return protoMessage([
    ...dims.map((d) => protoVarintField(1, d)),
    protoVarintField(2, data instanceof Float32Array ? 1 : 7),
    protoStringField(8, name),
    protoBytesField(9, raw),
    ...(doc ? [protoStringField(12, doc)] : []),
  ]);
}

/** A float tensor's ValueInfo with a symbolic batch dimension. */
function valueInfo(name: string, shape: (number | string)[]): Uint8Array {
  const dims = shape.map((d) =>
    protoBytesField(1, typeof d === "number" ? protoVarintField(1, d) : protoStringField(2, d)),
  );
  const tensorType = protoMessage([protoVarintField(1, 1), protoBytesField(2, protoMessage(dims))]);
  return protoMessage([protoStringField(1, name), protoBytesField(2, protoBytesField(1, tensorType))]);
}

/** A tensor of the graph: its name, rank, and for rank 4 its layout. */
interface Value {
  name: string;
  rank: number;
  layout: "nhwc" | "nchw" | null;
  /** Its transposes, made once. */
  other?: Value;
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

/** Activation names as tfjs and Keras write them, normalized (lower case, no underscores). */
const norm = (s: string) => s.toLowerCase().replace(/_/g, "");

class GraphBuilder {
  readonly nodes: Uint8Array[] = [];
  readonly initializers: Uint8Array[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly weights: Map<string, SavedWeight>) {}

  /** A fresh tensor name from a base. */
  fresh(base: string): string {
    let name = base;
    while (this.used.has(name)) name = `${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  node(op: string, inputs: string[], outputs: string[], attrs: Attr[] = [], name?: string): void {
    this.nodes.push(
      protoMessage([
        ...inputs.map((i) => protoStringField(1, i)),
        ...outputs.map((o) => protoStringField(2, o)),
        protoStringField(3, name ?? outputs[0]!),
        protoStringField(4, op),
        ...attrs.map((a) => protoBytesField(5, attribute(a))),
      ]),
    );
  }

  /** One op with one output named after `base`. */
  op(op: string, inputs: string[], base: string, attrs: Attr[] = []): string {
    const out = this.fresh(base);
    this.node(op, inputs, [out], attrs);
    return out;
  }

  floatConst(base: string, dims: number[], values: number[] | Float32Array, doc?: string): string {
    const name = this.fresh(base);
    this.initializers.push(tensorProto(name, dims, Float32Array.from(values), doc));
    return name;
  }

  int64Const(base: string, values: number[]): string {
    const name = this.fresh(base);
    this.initializers.push(tensorProto(name, [values.length], BigInt64Array.from(values.map((v) => BigInt(v)))));
    return name;
  }

  /** A weight of the manifest, by Keras name (`${layer}/${role}`); optionally re-laid out. */
  weight(layer: KerasLayer, role: string, relayout?: (w: SavedWeight) => { dims: number[]; data: Float32Array; doc: string }): string {
    const w = this.weights.get(`${layer.name}/${role}`);
    if (!w) throw new OnnxExportError(`layer ${layer.name} (${layer.class_name}) has no weight ${layer.name}/${role} in model.json's manifest`);
    if (w.dtype !== "float32") throw new OnnxExportError(`weight ${w.name} is ${w.dtype}; only float32 weights are exported`);
    const name = this.fresh(w.name);
    const r = relayout ? relayout(w) : { dims: w.shape, data: w.data as Float32Array, doc: "" };
    this.initializers.push(tensorProto(name, r.dims, r.data, r.doc || undefined));
    return name;
  }

  /** `v` in the wanted rank-4 layout (a Transpose, made once). */
  layout(v: Value, want: "nhwc" | "nchw"): Value {
    if (v.rank !== 4 || v.layout === want) return v;
    if (!v.other) {
      const name = this.op("Transpose", [v.name], `${v.name}_${want}`, [{ name: "perm", ints: want === "nchw" ? NHWC_TO_NCHW : NCHW_TO_NHWC }]);
      v.other = { name, rank: 4, layout: want, other: v };
    }
    return v.other;
  }
}

function pair(v: unknown, fallback: [number, number]): [number, number] {
  if (typeof v === "number") return [v, v];
  if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])];
  return fallback;
}

/** ONNX padding attributes for Keras's "valid" / "same" (TF's same: the extra pixel at the end, as SAME_UPPER). */
function padAttr(layer: KerasLayer): Attr {
  const padding = String(layer.config.padding ?? "valid");
  if (padding === "valid") return { name: "auto_pad", s: "VALID" };
  if (padding === "same") return { name: "auto_pad", s: "SAME_UPPER" };
  throw new OnnxExportError(`layer ${layer.name} (${layer.class_name}): padding "${padding}" has no ONNX translation`);
}

function channelsLast(layer: KerasLayer): void {
  const f = layer.config.data_format;
  if (f !== undefined && f !== null && f !== "channels_last") {
    throw new OnnxExportError(`layer ${layer.name} (${layer.class_name}): data_format ${String(f)} is not supported (only channels_last)`);
  }
}

/** Applies a Keras activation (by name) to x. */
function activation(g: GraphBuilder, x: Value, name: unknown, base: string, where: string): Value {
  const act = norm(String(name ?? "linear"));
  const out = (n: string): Value => ({ name: n, rank: x.rank, layout: x.layout });
  const nhwc = () => g.layout(x, "nhwc");
  switch (act) {
    case "linear":
      return x;
    case "relu":
      return out(g.op("Relu", [x.name], base));
    case "relu6":
      return out(g.op("Clip", [x.name, g.floatConst(`${base}/min`, [], [0]), g.floatConst(`${base}/max`, [], [6])], base));
    case "sigmoid":
      return out(g.op("Sigmoid", [x.name], base));
    case "hardsigmoid":
      // tfjs's hard sigmoid: clip(0.2 x + 0.5, 0, 1)
      return out(g.op("HardSigmoid", [x.name], base, [{ name: "alpha", f: 0.2 }, { name: "beta", f: 0.5 }]));
    case "tanh":
      return out(g.op("Tanh", [x.name], base));
    case "softplus":
      return out(g.op("Softplus", [x.name], base));
    case "softsign":
      return out(g.op("Softsign", [x.name], base));
    case "elu":
      return out(g.op("Elu", [x.name], base, [{ name: "alpha", f: 1 }]));
    case "selu":
      return out(
        g.op("Selu", [x.name], base, [
          { name: "alpha", f: 1.6732632423543772 },
          { name: "gamma", f: 1.0507009873554805 },
        ]),
      );
    case "softmax": {
      const v = nhwc();
      return { name: g.op("Softmax", [v.name], base, [{ name: "axis", i: -1 }]), rank: v.rank, layout: v.layout };
    }
    case "logsoftmax": {
      const v = nhwc();
      return { name: g.op("LogSoftmax", [v.name], base, [{ name: "axis", i: -1 }]), rank: v.rank, layout: v.layout };
    }
    case "swish":
      return out(g.op("Mul", [x.name, g.op("Sigmoid", [x.name], `${base}/sigmoid`)], base));
    case "mish": {
      const sp = g.op("Softplus", [x.name], `${base}/softplus`);
      return out(g.op("Mul", [x.name, g.op("Tanh", [sp], `${base}/tanh`)], base));
    }
    case "gelu": {
      // tfjs: 0.5 x (1 + erf(x / sqrt(2)))
      const erf = g.op("Erf", [g.op("Div", [x.name, g.floatConst(`${base}/sqrt2`, [], [Math.SQRT2])], `${base}/scaled`)], `${base}/erf`);
      const cdf = g.op("Mul", [g.floatConst(`${base}/half`, [], [0.5]), g.op("Add", [g.floatConst(`${base}/one`, [], [1]), erf], `${base}/1+erf`)], `${base}/cdf`);
      return out(g.op("Mul", [x.name, cdf], base));
    }
    default:
      throw new OnnxExportError(`${where}: activation "${String(name)}" has no ONNX translation`);
  }
}

function inputsOf(layer: KerasLayer, previous: string | null, sequential: boolean): string[] {
  if (sequential) return previous === null ? [] : [previous];
  const nodes = layer.inbound_nodes ?? [];
  if (nodes.length === 0) return [];
  if (nodes.length > 1) throw new OnnxExportError(`layer ${layer.name} is called ${nodes.length} times (shared layers are not supported)`);
  const node = nodes[0];
  // Keras 2: [[name, node, tensor, kwargs], ...]; Keras 3 puts {args: ...} objects here: not written by tfjs.
  if (!Array.isArray(node)) throw new OnnxExportError(`layer ${layer.name}: unreadable inbound_nodes`);
  return node.map((entry) => String((entry as unknown[])[0]));
}

export interface OnnxOptions {
  producerVersion: string;
  /** Extra key/value pairs stored in the model's metadata_props (e.g. the .nn source's sha256). */
  metadata?: Record<string, string>;
  docString?: string;
}

/** The ONNX ModelProto bytes of a saved layers model. */
export function savedModelToOnnx(model: SavedModel, options: OnnxOptions): Uint8Array {
  const g = new GraphBuilder(new Map(model.weights.map((w) => [w.name, w])));
  const values = new Map<string, Value>();
  const graphInputs: Uint8Array[] = [];
  const sequential = model.className === "Sequential";
  let previous: string | null = null;

  const one = (layer: KerasLayer, inputs: Value[]): Value => {
    if (inputs.length !== 1) throw new OnnxExportError(`layer ${layer.name} (${layer.class_name}) takes one input, got ${inputs.length}`);
    return inputs[0]!;
  };

  const addInput = (name: string, batchShape: unknown): Value => {
    if (!Array.isArray(batchShape) || batchShape.length < 2) throw new OnnxExportError(`input ${name} has no batch_input_shape`);
    const shape = batchShape.slice(1).map((d) => {
      if (typeof d !== "number") throw new OnnxExportError(`input ${name}: only fixed sizes after the batch dimension can be exported`);
      return d;
    });
    graphInputs.push(valueInfo(name, ["batch", ...shape]));
    g.fresh(name);
    return { name, rank: batchShape.length, layout: batchShape.length === 4 ? "nhwc" : null };
  };

  for (const layer of model.layers) {
    const where = `layer ${layer.name} (${layer.class_name})`;
    const c = layer.config;
    if (sequential && previous === null && layer.class_name !== "InputLayer") {
      // tfjs's Sequential models keep the input's shape on their first layer
      const shape = c.batch_input_shape ?? c.batchInputShape;
      if (shape === undefined) throw new OnnxExportError(`${where}: a Sequential model needs an InputLayer or a batch_input_shape first`);
      values.set("input", addInput("input", shape));
      previous = "input";
    }
    const inputNames = inputsOf(layer, previous, sequential);
    const inputs = inputNames.map((n) => {
      const v = values.get(n);
      if (!v) throw new OnnxExportError(`${where}: its input ${n} comes later in model.json or does not exist`);
      return v;
    });
    let result: Value;
    switch (layer.class_name) {
      case "InputLayer":
        result = addInput(layer.name, c.batch_input_shape ?? c.batchInputShape);
        break;
      case "Dense": {
        const x = g.layout(one(layer, inputs), "nhwc");
        let y = g.op("MatMul", [x.name, g.weight(layer, "kernel")], c.use_bias === false ? layer.name : `${layer.name}/matmul`);
        if (c.use_bias !== false) y = g.op("Add", [y, g.weight(layer, "bias")], `${layer.name}/biased`);
        result = activation(g, { name: y, rank: x.rank, layout: x.layout }, c.activation, layer.name, where);
        break;
      }
      case "Conv2D": {
        channelsLast(layer);
        const x = g.layout(one(layer, inputs), "nchw");
        if (x.rank !== 4) throw new OnnxExportError(`${where}: expects a rank-4 input`);
        const [kh, kw] = pair(c.kernel_size, [3, 3]);
        const kernel = g.weight(layer, "kernel", (w) => {
          const [h, wd, cin, cout] = w.shape as [number, number, number, number];
          const src = w.data as Float32Array;
          const dst = new Float32Array(src.length);
          for (let i = 0; i < h; i++)
            for (let j = 0; j < wd; j++)
              for (let ci = 0; ci < cin; ci++)
                for (let co = 0; co < cout; co++) dst[((co * cin + ci) * h + i) * wd + j] = src[((i * wd + j) * cin + ci) * cout + co]!;
          return { dims: [cout, cin, h, wd], data: dst, doc: "Keras kernel [kh, kw, in, out] transposed to ONNX's [out, in, kh, kw]" };
        });
        const conv = g.op(
          "Conv",
          c.use_bias === false ? [x.name, kernel] : [x.name, kernel, g.weight(layer, "bias")],
          `${layer.name}/conv`,
          [
            { name: "kernel_shape", ints: [kh, kw] },
            { name: "strides", ints: pair(c.strides, [1, 1]) },
            { name: "dilations", ints: pair(c.dilation_rate, [1, 1]) },
            padAttr(layer),
          ],
        );
        result = activation(g, { name: conv, rank: 4, layout: "nchw" }, c.activation, layer.name, where);
        break;
      }
      case "MaxPooling2D":
      case "AveragePooling2D": {
        channelsLast(layer);
        const x = g.layout(one(layer, inputs), "nchw");
        const pool = pair(c.pool_size, [2, 2]);
        const name = g.op(layer.class_name === "MaxPooling2D" ? "MaxPool" : "AveragePool", [x.name], layer.name, [
          { name: "kernel_shape", ints: pool },
          { name: "strides", ints: pair(c.strides ?? pool, pool) },
          padAttr(layer),
        ]);
        result = { name, rank: 4, layout: "nchw" };
        break;
      }
      case "GlobalAveragePooling2D":
      case "GlobalMaxPooling2D": {
        channelsLast(layer);
        const x = g.layout(one(layer, inputs), "nhwc");
        const keep = c.keepdims === true;
        const name = g.op(layer.class_name === "GlobalMaxPooling2D" ? "ReduceMax" : "ReduceMean", [x.name], layer.name, [
          { name: "axes", ints: [1, 2] },
          { name: "keepdims", i: keep ? 1 : 0 },
        ]);
        result = { name, rank: keep ? 4 : 2, layout: keep ? "nhwc" : null };
        break;
      }
      case "Flatten": {
        channelsLast(layer);
        const x = g.layout(one(layer, inputs), "nhwc");
        result = { name: g.op("Flatten", [x.name], layer.name, [{ name: "axis", i: 1 }]), rank: 2, layout: null };
        break;
      }
      case "Reshape": {
        const x = g.layout(one(layer, inputs), "nhwc");
        const target = (c.target_shape ?? c.targetShape) as number[] | undefined;
        if (!Array.isArray(target)) throw new OnnxExportError(`${where}: no target_shape`);
        const shape = g.int64Const(`${layer.name}/shape`, [-1, ...target.map(Number)]);
        result = { name: g.op("Reshape", [x.name, shape], layer.name), rank: target.length + 1, layout: target.length === 3 ? "nhwc" : null };
        break;
      }
      case "Dropout":
      case "SpatialDropout2D":
      case "GaussianNoise":
      case "GaussianDropout":
      case "AlphaDropout": {
        // inference: the identity
        const x = one(layer, inputs);
        result = { ...x, name: g.op("Identity", [x.name], layer.name), other: undefined };
        break;
      }
      case "BatchNormalization": {
        const x0 = one(layer, inputs);
        const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
        if (axis.length !== 1 || (Number(axis[0]) !== -1 && Number(axis[0]) !== x0.rank - 1)) {
          throw new OnnxExportError(`${where}: only normalization over the last axis (channels) is supported, not axis ${JSON.stringify(c.axis)}`);
        }
        if (x0.rank !== 2 && x0.rank !== 4) throw new OnnxExportError(`${where}: inputs of rank ${x0.rank} are not supported (2 or 4)`);
        const x = g.layout(x0, "nchw");
        const mean = g.weight(layer, "moving_mean");
        const variance = g.weight(layer, "moving_variance");
        const channels = channelsOf(model, layer);
        const gamma = c.scale === false ? g.floatConst(`${layer.name}/gamma`, [channels], new Float32Array(channels).fill(1)) : g.weight(layer, "gamma");
        const beta = c.center === false ? g.floatConst(`${layer.name}/beta`, [channels], new Float32Array(channels)) : g.weight(layer, "beta");
        const name = g.op("BatchNormalization", [x.name, gamma, beta, mean, variance], layer.name, [
          { name: "epsilon", f: Number(c.epsilon ?? 1e-3) },
        ]);
        result = { name, rank: x.rank, layout: x.layout };
        break;
      }
      case "Activation":
        result = activation(g, one(layer, inputs), c.activation, layer.name, where);
        break;
      case "ReLU": {
        const x = one(layer, inputs);
        if (c.max_value !== null && c.max_value !== undefined) {
          result = { ...x, other: undefined, name: g.op("Clip", [x.name, g.floatConst(`${layer.name}/min`, [], [0]), g.floatConst(`${layer.name}/max`, [], [Number(c.max_value)])], layer.name) };
        } else {
          result = { ...x, other: undefined, name: g.op("Relu", [x.name], layer.name) };
        }
        break;
      }
      case "Softmax": {
        const axis = c.axis ?? -1;
        if (Number(axis) !== -1) throw new OnnxExportError(`${where}: only axis -1 is supported, not ${JSON.stringify(axis)}`);
        result = activation(g, one(layer, inputs), "softmax", layer.name, where);
        break;
      }
      case "ELU": {
        const x = one(layer, inputs);
        result = { ...x, other: undefined, name: g.op("Elu", [x.name], layer.name, [{ name: "alpha", f: Number(c.alpha ?? 1) }]) };
        break;
      }
      case "LeakyReLU": {
        const x = one(layer, inputs);
        result = { ...x, other: undefined, name: g.op("LeakyRelu", [x.name], layer.name, [{ name: "alpha", f: Number(c.alpha ?? 0.3) }]) };
        break;
      }
      case "PReLU": {
        if (c.shared_axes !== null && c.shared_axes !== undefined) throw new OnnxExportError(`${where}: shared_axes is not supported`);
        const x = g.layout(one(layer, inputs), "nhwc");
        // alpha has the input's shape without the batch dimension: broadcasts over NHWC.
        result = { name: g.op("PRelu", [x.name, g.weight(layer, "alpha")], layer.name), rank: x.rank, layout: x.layout };
        break;
      }
      case "Add": {
        if (inputs.length < 2) throw new OnnxExportError(`${where}: needs at least two inputs`);
        const xs = inputs.map((v) => g.layout(v, "nhwc"));
        result = { name: g.op("Sum", xs.map((v) => v.name), layer.name), rank: xs[0]!.rank, layout: xs[0]!.layout };
        break;
      }
      case "Concatenate": {
        if (inputs.length < 2) throw new OnnxExportError(`${where}: needs at least two inputs`);
        const xs = inputs.map((v) => g.layout(v, "nhwc"));
        const rank = xs[0]!.rank;
        const axis = Number(c.axis ?? -1);
        result = { name: g.op("Concat", xs.map((v) => v.name), layer.name, [{ name: "axis", i: axis < 0 ? axis + rank : axis }]), rank, layout: xs[0]!.layout };
        break;
      }
      default:
        throw new OnnxExportError(
          `${where} has no ONNX translation in nnc (supported: InputLayer, Dense, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Reshape, Dropout, BatchNormalization, Activation, ReLU, Softmax, ELU, LeakyReLU, PReLU, Add, Concatenate)`,
        );
    }
    values.set(layer.name, result);
    previous = layer.name;
  }

  // Outputs in Keras's layout, named after their layers.
  const graphOutputs: Uint8Array[] = [];
  for (const name of model.outputs) {
    const v0 = values.get(name);
    if (!v0) throw new OnnxExportError(`model.json names output layer ${name}, which does not exist`);
    const v = g.layout(v0, "nhwc");
    let outName = v.name;
    if (outName !== name) {
      // the layer's own name for the graph output (its value may be a transpose or an activation's)
      outName = `${name}:output`;
      g.node("Identity", [v.name], [outName]);
    }
    graphOutputs.push(valueInfo(outName, ["batch", ...Array.from({ length: v.rank - 1 }, (_, i) => `d${i + 1}`)]));
  }

  const graph = protoMessage([
    ...g.nodes.map((n) => protoBytesField(1, n)),
    protoStringField(2, model.name),
    ...g.initializers.map((t) => protoBytesField(5, t)),
    ...(options.docString ? [protoStringField(10, options.docString)] : []),
    ...graphInputs.map((v) => protoBytesField(11, v)),
    ...graphOutputs.map((v) => protoBytesField(12, v)),
  ]);
  const metadata = Object.entries(options.metadata ?? {}).map(([k, v]) =>
    protoBytesField(14, protoMessage([protoStringField(1, k), protoStringField(2, v)])),
  );
  return protoMessage([
    protoVarintField(1, ONNX_IR_VERSION),
    protoStringField(2, "nnc"),
    protoStringField(3, options.producerVersion),
    protoBytesField(7, graph),
    protoBytesField(8, protoMessage([protoStringField(1, ""), protoVarintField(2, ONNX_OPSET)])),
    ...metadata,
  ]);
}

/** A BatchNormalization layer's channel count, from its moving mean. */
function channelsOf(model: SavedModel, layer: KerasLayer): number {
  const w = model.weights.find((x) => x.name === `${layer.name}/moving_mean`);
  if (!w) throw new OnnxExportError(`layer ${layer.name} (BatchNormalization) has no weight ${layer.name}/moving_mean`);
  return w.shape[0]!;
}
