// The PyTorch target's layer table: each IR layer kind as a Python module (built in __init__) and
// the expression of its forward pass. Typed `{ [K in LayerKind]: ... }`, so a layer kind without
// a PyTorch implementation fails the typecheck.
//
// Layout: nnc's tensors are Keras's (NHWC images). Inside the generated module a rank-3 tensor
// [h, w, c] is held as PyTorch's NCHW ([batch, c, h, w]) so that convolutions and pools run on
// PyTorch's native layout; every other rank is held as is. Weights keep the Keras layouts (dense
// [in, out], conv2d [kh, kw, in, out], prelu alpha [h, w, c]) so that they travel unchanged to
// and from nnc (safetensors with model.json's names); a conv2d permutes its kernel when it runs.
// Where the layout matters to the values (flatten, reshape, concat's axis, softmax's axis,
// batch_norm's channel axis, prelu's alpha), the code converts so that every value matches Keras.
import type { ActivationKind, LayerKind } from "../../catalog/kinds.js";
import type { IRLayer, IRLayerOf, IRRef, IRValue } from "../../ir.js";
import { activationOf } from "../../ir.js";
import { eachActivationLayer } from "../../catalog/layers.js";

/** A Python float literal (repr-like: integers get ".0", exponents kept). */
export function pyNum(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'float("inf")' : x < 0 ? 'float("-inf")' : 'float("nan")';
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

export const pyBool = (b: boolean): string => (b ? "True" : "False");
const tuple = (xs: number[]): string => (xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(", ")})`);

/** TensorFlow's `same` padding of one spatial axis: [before, after] (after gets the odd pixel). */
export function samePadding(size: number, k: number, s: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** F.pad's argument for a [h, w] window: (left, right, top, bottom), or null when no padding. */
function padsOf(inShape: number[], k: [number, number], s: [number, number], padding: string): number[] | null {
  if (padding !== "same") return null;
  const [top, bottom] = samePadding(inShape[0]!, k[0], s[0]);
  const [left, right] = samePadding(inShape[1]!, k[1], s[1]);
  const pads = [left, right, top, bottom];
  return pads.every((p) => p === 0) ? null : pads;
}

/** What the generator knows while it prints one layer. */
export interface LayerContext {
  /** The Python attribute that holds the layer's module (self.<attr>). */
  attr: string;
  /** The Python variables holding the layer's inputs. */
  inputs: string[];
  /** Whether the model's output activation is folded into the loss and this is the output layer. */
  foldOutput: boolean;
}

/** A layer in Python: the module built in __init__ (or none), and its forward expression. */
export interface PyLayer {
  /** `nn.Module(...)` constructor call assigned to self.<attr>, or null for a stateless layer. */
  module: string | null;
  /** Python expression of the layer's output (in the module's layout). */
  forward: string;
}

/** The tensor axis of nnc's axis `axis` (no batch) of a tensor of rank `rank`, in the module's layout. */
export function torchAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (rank === 3) return a === 2 ? 1 : a + 2; // [h, w, c] -> NCHW: c is dim 1, h dim 2, w dim 3
  return a + 1;
}

// ------------------------------------------------------------------ activations

type ActArgs = Record<string, IRValue>;
const PY_ACTIVATION: { [K in ActivationKind]: (x: string, args: ActArgs, rank: number) => string } = {
  linear: (x) => x,
  relu: (x) => `F.relu(${x})`,
  sigmoid: (x) => `torch.sigmoid(${x})`,
  tanh: (x) => `torch.tanh(${x})`,
  softmax: (x, _a, rank) => `F.softmax(${x}, dim=${torchAxis(-1, rank)})`,
  softplus: (x) => `F.softplus(${x})`,
  elu: (x, a) => `F.elu(${x}, alpha=${pyNum(Number(a.alpha))})`,
  leaky_relu: (x, a) => `F.leaky_relu(${x}, negative_slope=${pyNum(Number(a.alpha))})`,
};

/** The activation `act` applied to the Python expression `x` of a tensor of rank `rank`. */
export function pyActivation(act: IRRef<ActivationKind>, x: string, rank: number): string {
  return PY_ACTIVATION[act.kind](x, act.args, rank);
}

// ------------------------------------------------------------------ layers

function withActivation(l: IRLayer, ctx: LayerContext, x: string): string {
  if (ctx.foldOutput) return x;
  return pyActivation(activationOf(l), x, l.outputShape.length);
}

function pool(kind: "max" | "avg") {
  return (l: IRLayerOf<"max_pool"> | IRLayerOf<"avg_pool">, ctx: LayerContext): PyLayer => {
    const pads = padsOf(l.inputShapes[0]!, l.args.pool_size, l.args.strides, l.args.padding);
    const cls = kind === "max" ? "MaxPool2D" : "AvgPool2D";
    return { module: `${cls}(${tuple(l.args.pool_size)}, ${tuple(l.args.strides)}, ${pads ? tuple(pads) : "None"})`, forward: `self.${ctx.attr}(${ctx.inputs[0]})` };
  };
}

const activationLayer = (l: IRLayer, ctx: LayerContext): PyLayer => ({ module: null, forward: withActivation(l, ctx, ctx.inputs[0]!) });

export const PY_LAYERS: { [K in LayerKind]: (layer: IRLayerOf<K>, ctx: LayerContext) => PyLayer } = {
  // the data arrives as Keras's NHWC; images become NCHW once, here
  input: (l, ctx) => ({ module: null, forward: l.outputShape.length === 3 ? `${ctx.inputs[0]}.permute(0, 3, 1, 2)` : ctx.inputs[0]! }),
  dense: (l, ctx) => ({
    module: `Dense(${l.inputShapes[0]![0]}, ${l.args.units}, bias=${pyBool(l.args.use_bias)})`,
    forward: withActivation(l, ctx, `self.${ctx.attr}(${ctx.inputs[0]})`),
  }),
  conv2d: (l, ctx) => {
    const pads = padsOf(l.inputShapes[0]!, l.args.kernel_size, l.args.strides, l.args.padding);
    const [kh, kw] = l.args.kernel_size;
    return {
      module: `Conv2D(${l.inputShapes[0]![2]}, ${l.args.filters}, ${tuple([kh, kw])}, ${tuple(l.args.strides)}, ${pads ? tuple(pads) : "None"}, bias=${pyBool(l.args.use_bias)})`,
      forward: withActivation(l, ctx, `self.${ctx.attr}(${ctx.inputs[0]})`),
    };
  },
  max_pool: pool("max"),
  avg_pool: pool("avg"),
  // images are NCHW here: one value per channel over height and width
  global_avg_pool: (_l, ctx) => ({ module: null, forward: `${ctx.inputs[0]}.mean(dim=(2, 3))` }),
  global_max_pool: (_l, ctx) => ({ module: null, forward: `${ctx.inputs[0]}.amax(dim=(2, 3))` }),
  // Keras flattens NHWC row-major: back to NHWC first, so the next dense's kernel rows match
  flatten: (l, ctx) => ({
    module: null,
    forward: l.inputShapes[0]!.length === 3 ? `${ctx.inputs[0]}.permute(0, 2, 3, 1).reshape(${ctx.inputs[0]}.shape[0], -1)` : `${ctx.inputs[0]}.reshape(${ctx.inputs[0]}.shape[0], -1)`,
  }),
  reshape: (l, ctx) => {
    const x = ctx.inputs[0]!;
    const from = l.inputShapes[0]!.length === 3 ? `${x}.permute(0, 2, 3, 1)` : x;
    const reshaped = `${from}.reshape(${x}.shape[0], ${l.outputShape.join(", ")})`;
    return { module: null, forward: l.outputShape.length === 3 ? `${reshaped}.permute(0, 3, 1, 2)` : reshaped };
  },
  dropout: (l, ctx) => ({ module: null, forward: `F.dropout(${ctx.inputs[0]}, p=${pyNum(l.args.rate)}, training=self.training)` }),
  batch_norm: (l, ctx) => {
    const rank = l.outputShape.length;
    const c = l.outputShape[rank - 1]!;
    return {
      module: `BatchNorm(${c}, axis=${torchAxis(-1, rank)}, rank=${rank + 1}, momentum=${pyNum(l.args.momentum)}, epsilon=${pyNum(l.args.epsilon)}, center=${pyBool(l.args.center)}, scale=${pyBool(l.args.scale)})`,
      forward: `self.${ctx.attr}(${ctx.inputs[0]})`,
    };
  },
  ...eachActivationLayer(activationLayer),
  prelu: (l, ctx) => ({ module: `PReLU(${tuple(l.inputShapes[0]!)})`, forward: `self.${ctx.attr}(${ctx.inputs[0]})` }),
  add: (_l, ctx) => ({ module: null, forward: ctx.inputs.join(" + ") }),
  concat: (l, ctx) => ({ module: null, forward: `torch.cat([${ctx.inputs.join(", ")}], dim=${torchAxis(l.args.axis, l.outputShape.length)})` }),
};

/** The layer in Python. */
export function pyLayer(layer: IRLayer, ctx: LayerContext): PyLayer {
  return (PY_LAYERS[layer.kind] as (l: IRLayer, c: LayerContext) => PyLayer)(layer, ctx);
}
