// IR model -> tf.LayersModel. Layer names are the IR layer ids, so weight names are
// `${id}/${role}` (dense_1/kernel, batch_norm_1/moving_mean, prelu_1/alpha), as in the IR.
// Initial weights come from src/runtime/random.ts (initialWeights), the same values the
// standalone engine starts from; tfjs's own initializers are kept in the layer configs only so
// the saved model.json says what the .nn file said.
import type * as tfTypes from "@tensorflow/tfjs";
import type { IRLayer, IRModel, IRRef } from "../../../compiler/ir.js";
import { initialWeights } from "../../random.js";
import {
  TFJS_ACTIVATIONS,
  activationOfLayer,
  activationRef,
  arg,
  isPlainActivation,
  boolArg,
  leakyAlpha,
  numArg,
  pairArg,
  paddingArg,
  regularizerFactors,
  tfjsInitializer,
} from "./layers.js";
import type { Tf } from "./backends.js";

type Layer = tfTypes.layers.Layer;
type Initializer = ReturnType<typeof tfTypes.initializers.ones>;
type Regularizer = ReturnType<typeof tfTypes.regularizers.l1l2>;
type SymbolicTensor = tfTypes.SymbolicTensor;

export interface BuiltModel {
  model: tfTypes.LayersModel;
  /** For each IR layer id, the tfjs layers that compute it, in order (a layer, then maybe its separate activation). */
  chains: Map<string, Layer[]>;
  ir: IRModel;
}

/** A kind the tfjs engine cannot build (the catalog test catches these before users do). */
export class UnsupportedError extends Error {}

function makeInitializer(tf: Tf, className: string, config: Record<string, unknown>): Initializer {
  const ini = tf.initializers as unknown as Record<string, (c: unknown) => Initializer>;
  const name =
    className === "LeCunNormal"
      ? "leCunNormal"
      : className === "LeCunUniform"
        ? "leCunUniform"
        : className[0]!.toLowerCase() + className.slice(1);
  const f = ini[name];
  if (!f) throw new UnsupportedError(`tf.initializers has no ${name}`);
  return f(config);
}

function initializerOf(tf: Tf, ref: unknown): Initializer | undefined {
  if (ref === null || ref === undefined || typeof ref !== "object") return undefined;
  const { className, config } = tfjsInitializer(ref as IRRef);
  return makeInitializer(tf, className, config);
}

function regularizerOf(tf: Tf, ref: unknown): Regularizer | undefined {
  if (ref === null || ref === undefined || typeof ref !== "object") return undefined;
  const { l1, l2 } = regularizerFactors(ref as IRRef);
  if (l1 === 0 && l2 === 0) return undefined;
  return tf.regularizers.l1l2({ l1, l2 });
}

/** The activation config for a tfjs layer, and a separate layer when tfjs has no such activation string. */
function splitActivation(tf: Tf, id: string, ref: unknown): { activation: string; extra: Layer | null } {
  const act = activationRef(ref);
  if (act === null) return { activation: "linear", extra: null };
  if (isPlainActivation(act)) return { activation: TFJS_ACTIVATIONS[act.kind]!, extra: null };
  return { activation: "linear", extra: activationLayer(tf, `${id}_activation`, act) };
}

function activationLayer(tf: Tf, name: string, act: IRRef): Layer {
  if (act.kind === "leaky_relu") return tf.layers.leakyReLU({ alpha: leakyAlpha(act.args), name });
  if (act.kind === "elu") return eluLayer(tf, name, numArg(act.args, ["alpha"], 1));
  const tfName = TFJS_ACTIVATIONS[act.kind];
  if (tfName === undefined) throw new UnsupportedError(`the tfjs engine has no activation "${act.kind}"`);
  return tf.layers.activation({ activation: tfName as never, name });
}

/**
 * ELU with any alpha. tfjs's own ELU layer refuses alpha != 1 ("not supported yet"), so nnc
 * registers an ELU class of its own under the same class name: model.json then reads exactly as
 * Keras writes it ({"class_name": "ELU", "config": {"alpha": 0.5}}).
 */
function eluLayer(tf: Tf, name: string, alpha: number): Layer {
  if (alpha === 1) return tf.layers.elu({ name });
  const Elu = eluClass(tf);
  return new Elu({ name, alpha });
}

/**
 * Registers nnc's layer classes with tfjs's serialization (ELU with any alpha), so that
 * tf.loadLayersModel reads every model nnc saves. Call before loading a model.json.
 */
export function registerNncLayers(tf: Tf): void {
  eluClass(tf);
}

const eluClasses = new WeakMap<object, new (args: { name?: string; alpha: number }) => Layer>();
function eluClass(tf: Tf): new (args: { name?: string; alpha: number }) => Layer {
  let C = eluClasses.get(tf);
  if (C) return C;
  class ELU extends tf.layers.Layer {
    static className = "ELU";
    readonly alpha: number;
    constructor(args: { name?: string; alpha: number }) {
      super(args);
      this.alpha = args.alpha;
    }
    override call(inputs: tfTypes.Tensor | tfTypes.Tensor[]): tfTypes.Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      // relu(x) + alpha * (exp(min(x, 0)) - 1): x above 0, alpha * (e^x - 1) below, differentiable ops only.
      return tf.tidy(() => tf.add(tf.relu(x), tf.mul(this.alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1))));
    }
    override computeOutputShape(shape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape | tfTypes.Shape[] {
      return shape;
    }
    override getConfig(): tfTypes.serialization.ConfigDict {
      return { ...super.getConfig(), alpha: this.alpha };
    }
  }
  tf.serialization.registerClass(ELU);
  C = ELU as unknown as new (args: { name?: string; alpha: number }) => Layer;
  eluClasses.set(tf, C);
  return C;
}

/** The tfjs layers for one IR layer (usually one). */
export function makeLayers(tf: Tf, layer: IRLayer): Layer[] {
  const a = layer.args as Record<string, unknown>;
  const name = layer.id;
  switch (layer.kind) {
    case "dense": {
      const { activation, extra } = splitActivation(tf, name, a.activation);
      const l = tf.layers.dense({
        name,
        units: numArg(a, ["units"], layer.outputShape[layer.outputShape.length - 1]!),
        activation: activation as never,
        useBias: boolArg(a, ["use_bias", "bias"], true),
        kernelInitializer: initializerOf(tf, arg(a, ["kernel_initializer", "init"])),
        biasInitializer: initializerOf(tf, arg(a, ["bias_initializer", "bias_init"])),
        kernelRegularizer: regularizerOf(tf, arg(a, ["kernel_regularizer", "regularizer"])),
        biasRegularizer: regularizerOf(tf, arg(a, ["bias_regularizer"])),
      });
      return extra ? [l, extra] : [l];
    }
    case "conv2d": {
      const { activation, extra } = splitActivation(tf, name, a.activation);
      const kernel = layer.weights.find((w) => w.role === "kernel")!;
      const l = tf.layers.conv2d({
        name,
        filters: kernel.shape[3]!,
        kernelSize: [kernel.shape[0]!, kernel.shape[1]!],
        strides: pairArg(a, ["strides", "stride"], [1, 1])!,
        padding: paddingArg(a),
        dilationRate: pairArg(a, ["dilation", "dilation_rate"], [1, 1])!,
        activation: activation as never,
        useBias: boolArg(a, ["use_bias", "bias"], true),
        kernelInitializer: initializerOf(tf, arg(a, ["kernel_initializer", "init"])),
        biasInitializer: initializerOf(tf, arg(a, ["bias_initializer", "bias_init"])),
        kernelRegularizer: regularizerOf(tf, arg(a, ["kernel_regularizer", "regularizer"])),
        biasRegularizer: regularizerOf(tf, arg(a, ["bias_regularizer"])),
      });
      return extra ? [l, extra] : [l];
    }
    case "max_pool":
    case "avg_pool": {
      const poolSize = pairArg(a, ["pool_size", "size", "pool"], [2, 2])!;
      const strides = pairArg(a, ["strides", "stride"], poolSize)!;
      const cfg = { name, poolSize, strides, padding: paddingArg(a) };
      return [layer.kind === "max_pool" ? tf.layers.maxPooling2d(cfg) : tf.layers.averagePooling2d(cfg)];
    }
    case "flatten":
      return [tf.layers.flatten({ name })];
    case "reshape":
      return [tf.layers.reshape({ name, targetShape: layer.outputShape })];
    case "dropout":
      return [tf.layers.dropout({ name, rate: numArg(a, ["rate"], 0.5) })];
    case "batch_norm": {
      const reg = (r: string) => layer.weights.find((w) => w.role === r);
      return [
        tf.layers.batchNormalization({
          name,
          axis: -1,
          momentum: numArg(a, ["momentum"], 0.99),
          epsilon: numArg(a, ["epsilon"], 1e-3),
          center: reg("beta") !== undefined,
          scale: reg("gamma") !== undefined,
          betaRegularizer: regularizerOf(tf, arg(a, ["beta_regularizer"])),
          gammaRegularizer: regularizerOf(tf, arg(a, ["gamma_regularizer"])),
        }),
      ];
    }
    case "leaky_relu":
      return [tf.layers.leakyReLU({ name, alpha: leakyAlpha(a) })];
    case "prelu": {
      const alpha = layer.weights.find((w) => w.role === "alpha");
      const shared = alpha && alpha.shape.length < layer.outputShape.length ? sharedAxes(alpha.shape, layer.outputShape) : undefined;
      return [
        tf.layers.prelu({
          name,
          alphaInitializer: initializerOf(tf, arg(a, ["alpha_initializer", "init"])) ?? "zeros",
          alphaRegularizer: regularizerOf(tf, arg(a, ["alpha_regularizer", "regularizer"])),
          sharedAxes: shared,
        }),
      ];
    }
    case "add":
      return [tf.layers.add({ name })];
    case "concat":
    case "concatenate":
      return [tf.layers.concatenate({ name, axis: numArg(a, ["axis"], -1) })];
    default: {
      const act = activationOfLayer(layer);
      if (act) return [activationLayer(tf, name, act)];
      throw new UnsupportedError(`the tfjs engine cannot build layer kind "${layer.kind}" (${layer.id})`);
    }
  }
}

/** PReLU's shared axes (1-based, batch excluded) from the alpha shape vs the output shape. */
function sharedAxes(alphaShape: number[], out: number[]): number[] | undefined {
  if (alphaShape.length === 1 && out.length > 1) return out.slice(0, -1).map((_, i) => i + 1);
  const axes: number[] = [];
  for (let i = 0; i < out.length; i++) if (alphaShape[i] === 1 && out[i] !== 1) axes.push(i + 1);
  return axes.length ? axes : undefined;
}

/** Builds the tf.LayersModel of an IR model and sets its initial weights from `seed`. */
export function buildModel(tf: Tf, irModel: IRModel, seed: number): BuiltModel {
  const tensors = new Map<string, SymbolicTensor>();
  const chains = new Map<string, Layer[]>();
  const inputs: SymbolicTensor[] = [];
  for (const layer of irModel.layers) {
    if (layer.kind === "input") {
      const t = tf.input({ shape: layer.outputShape, name: layer.id });
      tensors.set(layer.id, t);
      inputs.push(t);
      continue;
    }
    const ins = layer.inputs.map((i) => {
      const t = tensors.get(i);
      if (!t) throw new UnsupportedError(`layer ${layer.id} reads ${i}, which is not defined before it`);
      return t;
    });
    const chain = makeLayers(tf, layer);
    let x: SymbolicTensor | SymbolicTensor[] = ins.length === 1 ? ins[0]! : ins;
    for (const l of chain) x = l.apply(x) as SymbolicTensor;
    chains.set(layer.id, chain);
    tensors.set(layer.id, x as SymbolicTensor);
  }
  const outputs = irModel.outputs.map((o) => tensors.get(o)!);
  const model = tf.model({ inputs, outputs: outputs.length === 1 ? outputs[0]! : outputs, name: irModel.name });
  setInitialWeights(tf, model, irModel, seed);
  return { model, chains, ir: irModel };
}

/** Sets every weight named in the IR from random.ts's initialWeights (the standalone engine's values). */
export function setInitialWeights(tf: Tf, model: tfTypes.LayersModel, irModel: IRModel, seed: number): void {
  const values = initialWeights(irModel, seed);
  const shapes = new Map(irModel.layers.flatMap((l) => l.weights.map((w) => [w.name, w.shape] as const)));
  for (const w of model.weights) {
    const v = values.get(w.originalName);
    if (!v) throw new UnsupportedError(`tfjs weight ${w.originalName} has no counterpart in the IR`);
    const shape = shapes.get(w.originalName)!;
    if (shape.join("x") !== w.shape.join("x")) {
      throw new UnsupportedError(`weight ${w.originalName}: the IR says [${shape}], tfjs built [${w.shape}]`);
    }
    const t = tf.tensor(v, w.shape as number[], "float32");
    w.write(t);
    t.dispose();
  }
}
