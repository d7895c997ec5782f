// The standalone target: IR -> one dependency-free TypeScript program (Node built-ins only) that
// trains the model from scratch, specialised to its static shapes, prettier-formatted.
//
// The program is assembled from sections: types of the train() API, the kernels (gemm, allocF32:
// ./kernels), the shared runtime copied from src/runtime (./embed.ts: PRNG and initializers, MNIST
// loader, augmentation, callbacks), the model's buffers, forward and backward passes (./layers.ts),
// loss and metrics, optimizer, saving in TensorFlow.js layers format (./topology.ts), and the
// training loop with its `train(options, hooks)` export and command-line main().
//
// Strings that come from the .nn file (names, paths, source lines) only ever enter the program
// through lit() (JSON string literals) or through comment() (as // comments, with line
// terminators removed), so no .nn text can change what the program does.
import prettier from "prettier";
import { activationOf, describeSource, type IR, type IRLayer, type IRLayerOf, type IRRef, type IRTraining } from "../../ir.js";
import { HELPERS, ACTIVATIONS } from "./activations.js";
import { embedRuntime, renderImports, type ModuleImport } from "./embed.js";
import { emitKernelRuntime, KERNEL_FUNCTIONS, type ConvShape, type KernelFunction } from "./kernels/index.js";
import { LAYER_EMITTERS, maxPoolIntoRelu, type InputRef, type LayerCode, type LayerContext, type LayerEmitter } from "./layers.js";
import { callbacks as CALLBACK_ENTRIES, lookup } from "../../catalog/index.js";
import type { CallbackNeeds } from "../../catalog/types.js";
import { comment, commentText, lit, programCommand } from "../code.js";
import { kerasTopology } from "../keras.js";
import { fingerprint } from "../../fingerprint.js";
import { OPTIMIZERS, LOSSES, METRICS, SUPPORTED_METRICS } from "./training.js";
import { destructure, outline } from "./outline.js";
import { checkIR } from "../../ir-check.js";

export { kerasTopology } from "../keras.js";

/** The schedules the training loop implements, by catalog name. */
const SCHEDULE_FUNCTIONS: Record<string, string> = {
  piecewise_constant: "piecewiseConstant",
  exponential_decay: "exponentialDecay",
  inverse_time_decay: "inverseTimeDecay",
};
/**
 * The factory of src/runtime/training/callbacks.ts that makes a callback kind for its
 * CallbackRunner (`some_kind` -> `someKindCallback`): the program embeds those of its
 * callbacks (test/runtime/callbacks.test.ts holds CALLBACK_FACTORIES to this naming).
 */
export function callbackFactoryName(kind: string): string {
  return kind.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()) + "Callback";
}

/** The callbacks a train section runs (the first of each kind, in the catalog's order), with what each asks of the program. */
function callbacksRun(t: IRTraining): { kind: string; args: Record<string, unknown>; needs: CallbackNeeds }[] {
  return CALLBACK_ENTRIES.flatMap((e) => {
    const first = t.callbacks.find((c) => c.kind === e.name);
    return first ? [{ kind: e.name, args: first.args as Record<string, unknown>, needs: e.callbackNeeds! }] : [];
  });
}

/** Whether one of the callbacks run asks for `need`. */
function anyNeeds(run: { needs: CallbackNeeds }[], need: keyof CallbackNeeds): boolean {
  return run.some((c) => c.needs[need] !== undefined);
}

/**
 * What the standalone target implements, per catalog category (a test compares it with the
 * catalog, so that no entry is silently unsupported). Initializers are random.ts's.
 */
export const STANDALONE_SUPPORT: Record<string, string[]> = {
  layer: Object.keys(LAYER_EMITTERS),
  activation: Object.keys(ACTIVATIONS),
  loss: Object.keys(LOSSES),
  optimizer: Object.keys(OPTIMIZERS),
  metric: SUPPORTED_METRICS,
  schedule: Object.keys(SCHEDULE_FUNCTIONS),
  // each through src/runtime/training/callbacks.ts's runner, whose factories a test holds to the catalog
  callback: CALLBACK_ENTRIES.map((e) => e.name),
  regularizer: ["l1", "l2", "l1l2"],
  dataset: ["mnist", "fashion_mnist"],
  augmentation: ["rotation", "width_shift", "height_shift", "shift", "zoom", "shear", "fill", "cval"],
};

export interface StandaloneOptions {
  /** Kernel implementation emitted into the program: readable TypeScript loops, or WebAssembly SIMD. */
  kernels?: "ts" | "simd";
  /** Worker threads for the kernels (default 1). */
  threads?: number;
  /** The .nn source, for comments quoting the lines each section comes from. */
  sourceText?: string;
  /**
   * Tests only: also export `internals` (weights, gradients, forward/backward/loss/optimizer
   * steps) so that gradients and updates can be checked against finite differences and tfjs.
   */
  exposeInternals?: boolean;
  /**
   * Format the program with prettier (default true). The standalone engine, which transpiles it
   * at once, skips it: formatting is for readers, and it is most of the generation's time.
   */
  format?: boolean;
  /** The command that runs the written program (`node model.js`), for its header and --help; default `npx tsx <name>.ts`. */
  command?: string;
}

export { comment, lit } from "../code.js";

/** A JavaScript identifier derived from a layer id (ids are identifiers already; this is belt and braces). */
function identifierFor(id: string, used: Set<string>): string {
  let v = id.replace(/[^A-Za-z0-9_]/g, "_");
  if (!/^[A-Za-z_]/.test(v)) v = "l_" + v;
  v = v.toLowerCase();
  // The layer's buffer object is named after it: an id that does not end in a number (a name the
  // user chose: `a`, `target`, `gemm`) gets `_layer`, so that it never takes a name of the program.
  if (!/_\d+$/.test(v)) v = `${v}_layer`;
  let candidate = v;
  for (let k = 2; used.has(candidate); k++) candidate = `${v}_${k}`;
  used.add(candidate);
  return candidate;
}

const prod = (shape: number[]): number => shape.reduce((p, d) => p * d, 1);

/**
 * The numbers of a layer that have a name, for the parameters of a function shared by layers of
 * one kind (./outline.ts): its numeric arguments, then its size per example, its input's, and
 * its channels (the last axis).
 */
function namedNumbers(layer: IRLayer): [string, number][] {
  const named: [string, number][] = [];
  for (const [k, v] of Object.entries(layer.args)) if (typeof v === "number") named.push([k, v]);
  named.push(["size", prod(layer.outputShape)]);
  if (layer.inputShapes[0]) named.push(["in_size", prod(layer.inputShapes[0])]);
  named.push(["channels", layer.outputShape[layer.outputShape.length - 1] ?? 1]);
  return named;
}

/** "dense_1, dense_2, dense_3" or, for many, "dense_1, dense_2, ..., dense_7 (7 layers)". */
function listOf(ids: string[]): string {
  return ids.length <= 4 ? ids.join(", ") : `${ids[0]}, ${ids[1]}, ..., ${ids[ids.length - 1]} (${ids.length} layers)`;
}

interface WeightBuffer {
  name: string;
  shape: number[];
  value: string;
  grad: string | null;
  trainable: boolean;
  initializer: IRRef;
  regularizer: IRRef | null;
}

interface LayerPlan {
  layer: IRLayer;
  v: string;
  size: number;
  out: string;
  grad: string | null;
  consumers: number;
  needsGrad: boolean;
  code?: LayerCode;
  /** The layer's own buffers, fields of its buffer object `v` (weights first, in IR order). */
  fields: { role: string; init: string; note?: string }[];
}

export async function generateStandalone(ir: IR, options: StandaloneOptions = {}): Promise<string> {
  checkIR(ir, "standalone target");
  const training = ir.training;
  if (!training) throw new Error("standalone target: the file has no train section to compile");
  const model = ir.model;
  const used = new Set<string>();
  const weights: WeightBuffer[] = [];
  const plans = new Map<string, LayerPlan>();
  const BATCH = training.batchSize;

  // The kernel runtime (kernels/index.ts) is emitted last, with only the functions the model calls.
  const usedKernels = new Set<KernelFunction>();
  /** The direct convolutions' shapes, each given a specialised WebAssembly body (ctx.convShape). */
  const convShapes: ConvShape[] = [];
  /** Whether the kernel runtime has a function (adamUpdate, kernelIm2col, ...); marks it as used. */
  const kernelHas = (name: string): boolean => {
    if (!(KERNEL_FUNCTIONS as readonly string[]).includes(name)) return false;
    usedKernels.add(name as KernelFunction);
    return true;
  };
  // ---- which layers need gradients, and how many layers read each one
  const consumers = new Map<string, number>();
  for (const l of model.layers) for (const i of l.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const needsGrad = new Map<string, boolean>();
  for (const l of model.layers) {
    const own = l.weights.some((w) => w.trainable);
    needsGrad.set(l.id, own || l.inputs.some((i) => needsGrad.get(i)));
  }
  const outputId = model.outputs[0]!;
  const outputLayer = model.layers.find((l) => l.id === outputId)!;
  // relu layers whose only reader, a max_pool, writes their dz (maxPoolIntoRelu), with the pool's
  // window size (its gradient reaches one value of each window)
  const poolWritesDz = new Map<string, number>();
  const layerById = new Map(model.layers.map((l) => [l.id, l]));
  for (const l of model.layers) {
    const producer = l.inputs.length === 1 ? layerById.get(l.inputs[0]!) : undefined;
    if (producer && consumers.get(producer.id) === 1 && producer.id !== outputId && needsGrad.get(producer.id) && maxPoolIntoRelu(options.kernels ?? "ts", producer, l)) {
      const [PH, PW] = (l as IRLayerOf<"max_pool">).args.pool_size;
      poolWritesDz.set(producer.id, PH * PW);
    }
  }

  // ---- the loss: fused with a softmax/sigmoid output when the combination allows it
  const loss = training.loss;
  const outAct = activationOf(outputLayer);
  const fromLogits = loss.args.from_logits === true;
  const fused =
    !fromLogits &&
    ((outAct.kind === "softmax" &&
      (loss.kind === "categorical_crossentropy" || loss.kind === "sparse_categorical_crossentropy")) ||
      (outAct.kind === "sigmoid" && loss.kind === "binary_crossentropy"));

  // ---- plan buffers and emit each layer
  for (const layer of model.layers) {
    const v = identifierFor(layer.id, used);
    const size = prod(layer.outputShape);
    const plan: LayerPlan = {
      layer,
      v,
      size,
      out: `${v}_out`,
      grad: null,
      consumers: consumers.get(layer.id) ?? 0,
      needsGrad: needsGrad.get(layer.id) ?? false,
      fields: [],
    };
    plans.set(layer.id, plan);
    const emitter = LAYER_EMITTERS[layer.kind];
    if (!emitter) throw new Error(`standalone target: no implementation of layer "${layer.kind}"`);
    const inputs: InputRef[] = layer.inputs.map((id, k) => {
      const p = plans.get(id)!;
      const reluGrad = poolWritesDz.has(id) ? { dz: p.code!.preGrad!, biasGrad: p.code!.biasGrad ?? null } : undefined;
      return { out: p.out, grad: p.needsGrad ? p.grad : null, acc: p.consumers > 1, shape: layer.inputShapes[k]!, size: p.size, reluGrad };
    });
    const isOutput = layer.id === outputId;
    const layerFused = isOutput && fused;
    // dL/d(out): allocated when this layer needs a gradient, except where the fused loss skips it.
    const isView = lookup("layer", layer.kind)!.traits.view === true;
    if (plan.needsGrad && !(layerFused && layer.kind !== "input") && !poolWritesDz.has(layer.id)) {
      if (isView && inputs[0]!.grad && !inputs[0]!.acc) plan.grad = inputs[0]!.grad;
      else plan.grad = `${v}_grad`;
    }
    const ctx: LayerContext = {
      layer,
      v,
      inputs,
      out: plan.out,
      grad: plan.grad,
      size,
      shape: layer.outputShape,
      fused: layerFused,
      poolWritesDz: poolWritesDz.has(layer.id),
      dzShare: 1 / (poolWritesDz.get(layer.id) ?? 1),
      needsGrad: plan.needsGrad,
      kernels: options.kernels ?? "ts",
      buffer(name, sizeExpr, note) {
        plan.fields.push({ role: name.slice(v.length + 1), init: `allocF32(${sizeExpr})`, note });
        return name;
      },
      intBuffer(name, sizeExpr, note) {
        kernelHas("allocI32");
        plan.fields.push({ role: name.slice(v.length + 1), init: `allocI32(${sizeExpr})`, note });
        return name;
      },
      weight(role) {
        const w = layer.weights.find((x) => x.role === role);
        if (!w) throw new Error(`standalone target: layer ${layer.id} has no ${role} weight`);
        const value = `${v}_${role}`;
        const grad = w.trainable ? `${v}_${role}_grad` : null;
        if (!weights.some((x) => x.name === w.name)) {
          weights.push({ name: w.name, shape: w.shape, value, grad, trainable: w.trainable, initializer: w.initializer, regularizer: w.regularizer });
          plan.fields.push({ role, init: `allocF32(${w.shape.join(" * ")})` });
          if (grad) plan.fields.push({ role: `${role}_grad`, init: `allocF32(${w.shape.join(" * ")})` });
        }
        return { value, grad: grad ?? `${v}_${role}_unused` };
      },
      helper(name) {
        // A function of the kernel runtime (im2col -> kernelIm2col, biasRelu -> kernelBiasRelu, ...).
        const kernel = `kernel${name[0]!.toUpperCase()}${name.slice(1)}`;
        if (!kernelHas(kernel)) throw new Error(`standalone: the kernel runtime has no ${kernel}`);
        return kernel;
      },
      convShape(shape) {
        if (!convShapes.some((t) => (Object.keys(shape) as (keyof ConvShape)[]).every((k) => t[k] === shape[k]))) convShapes.push(shape);
      },
    };
    // Register weights in IR order first, so that the weight list (and model.json) follows the IR.
    for (const w of layer.weights) ctx.weight(w.role);
    const code = (emitter as LayerEmitter)(ctx);
    plan.code = code;
    if (code.alias) {
      plan.out = code.alias;
    } else {
      const weightFields = layer.weights.reduce((k, w) => k + (w.trainable ? 2 : 1), 0);
      plan.fields.splice(weightFields, 0, { role: "out", init: `allocF32(BATCH * ${size})` });
    }
    if (plan.grad && plan.grad === `${v}_grad`) plan.fields.push({ role: "grad", init: `allocF32(BATCH * ${size})` });
    // A view whose input feeds several layers: copy its gradient back.
    if (isView && plan.grad === `${v}_grad` && inputs[0]!.grad) {
      code.backward = `for (let i = 0; i < n * ${size}; i++) ${inputs[0]!.grad}[i] ${inputs[0]!.acc ? "+=" : "="} ${plan.grad}[i];`;
    }
  }
  const outPlan = plans.get(outputId)!;
  const C = outPlan.size;
  // Where the loss writes its gradient.
  let lossGrad: string;
  if (fused) {
    const pg = outPlan.code!.preGrad;
    if (!pg) throw new Error("standalone target: fused loss without a pre-activation gradient buffer");
    lossGrad = pg;
  } else {
    lossGrad = outPlan.grad ?? `${outPlan.v}_grad`;
  }

  // ---- sections ----------------------------------------------------------------------------
  const run = callbacksRun(training);
  const needs = (need: keyof CallbackNeeds) => anyNeeds(run, need);
  const imports: ModuleImport[] = [
    { from: "node:fs", named: new Map([["mkdirSync", "mkdirSync"], ["readFileSync", "readFileSync"]]), namespace: null, defaultName: null },
    {
      from: "node:path",
      named: new Map([
        ["join", "join"],
        ...(needs("eventFiles") ? [["relative", "relative"] as [string, string]] : []),
        ...(needs("textFiles") ? [["dirname", "dirname"] as [string, string]] : []),
      ]),
      namespace: null,
      defaultName: null,
    },
    { from: "node:url", named: new Map([["pathToFileURL", "pathToFileURL"]]), namespace: null, defaultName: null },
  ];
  const embedded: string[] = [];
  const embed = (file: string, names: string[], title: string) => {
    const e = embedRuntime(file, names);
    imports.push(...e.imports);
    embedded.push(`// ---- ${title} (from src/runtime/${file})\n\n${e.code}`);
  };
  embed("random.ts", ["Random", "hashSeed", "fillInitializer"], "Seeded random numbers and weight initializers");
  // The program reads the idx files where nnc keeps them; nnc (not the program) downloads them.
  const mnistNames = ["loadLocalMnist", "writeModelDir", ...(needs("textFiles") ? ["writeFileAtomic"] : [])];
  embed("data/mnist.ts", mnistNames, "MNIST / Fashion-MNIST idx loader");
  const augment = training.data.augment;
  if (augment) embed("data/augment.ts", ["augmentBatch"], "On-the-fly image augmentation");
  const cbNames: string[] = [];
  if (training.schedule) {
    const fn = SCHEDULE_FUNCTIONS[training.schedule.kind];
    if (!fn) throw new Error(`standalone target: no implementation of schedule "${training.schedule.kind}"`);
    cbNames.push(fn);
  }
  if (run.length > 0) cbNames.push("CallbackRunner", ...run.map((c) => callbackFactoryName(c.kind)));
  if (cbNames.length > 0) embed("training/callbacks.ts", cbNames, "Learning-rate schedules and callbacks");
  if (needs("eventFiles")) embed("tensorboard.ts", ["KerasTensorBoard"], "TensorBoard event files");



  const quoted = options.sourceText
    ? "\n//\n// The .nn file it was compiled from:\n//\n" +
      options.sourceText
        .replace(/\s+$/, "")
        .split(/\r?\n/)
        .map((line) => (line.trim() ? comment(`  ${line}`) : "//"))
        .join("\n")
    : "";
  const src = ir.source;
  const header = `// ${model.name}: a standalone training program generated by nnc ${ir.nncVersion} (do not edit; regenerate).
${comment(`Source: ${src.file} (sha256 ${src.sha256})`)}
//
// Trains the model from scratch with nothing but Node.js: forward and backward passes written
// out for this model's shapes, ${training.optimizer.kind} updates, the MNIST loader and the training
// loop. Run it with \`${commentText(programCommand(ir.source.file, options.command))} --data DIR --epochs N --out DIR\`, or import it and call
// train(options, hooks). Trained weights are saved in TensorFlow.js layers format (model/).${quoted}`;

  const apiTypes = typesSection(true, true);

  // ---- model constants and buffers: one object per layer (`dense_2.kernel`, `dense_2.out`, ...)
  // The layer code is written with flat names (`dense_2_kernel`); the rest of the program uses the
  // objects' fields.
  const external = new Map<string, string>();
  for (const plan of plans.values()) for (const f of plan.fields) external.set(`${plan.v}_${f.role}`, `${plan.v}.${f.role}`);
  const flatNames = new RegExp(`\\b(?:${[...external.keys()].sort((a, b) => b.length - a.length).join("|") || "(?!)"})\\b`, "g");
  const externalize = (text: string): string => text.replace(flatNames, (name) => external.get(name)!);
  const order = [...plans.values()];
  const planByV = new Map(order.map((p) => [p.v, p]));
  const withBuffers = order.filter((p) => p.fields.length > 0);
  const modelLines: string[] = [];
  modelLines.push(`/** Examples per training batch; every buffer is sized for one full batch. */
const BATCH = ${BATCH};`);
  const declarations = outline(
    withBuffers.map((plan) => ({
      v: plan.v,
      text: `{\n${plan.fields.map((f) => `${f.note ? `/** ${f.note} */\n` : ""}${f.role}: ${f.init},`).join("\n")}\n}`,
      roles: new Map(),
      inputRoles: new Set(),
      named: namedNumbers(plan.layer),
      kind: plan.layer.kind,
      shapeKey: "",
    })),
  );
  const declarationOf = new Map<string, string>();
  const functionNames = new Set<string>();
  const uniqueName = (base: string): string => {
    let name = base;
    for (let k = 2; functionNames.has(name); k++) name = `${base}_${k}`;
    functionNames.add(name);
    return name;
  };
  for (const d of declarations) {
    if (d.instances.length === 1) {
      declarationOf.set(d.instances[0]!.v, d.body);
      continue;
    }
    const kind = planByV.get(d.instances[0]!.v)!.layer.kind;
    const name = uniqueName(`${kind}_buffers`);
    modelLines.push("");
    modelLines.push(`/** The buffers of a ${kind} layer (${listOf(d.instances.map((i) => planByV.get(i.v)!.layer.id))}). */
function ${name}(${d.params.map((p) => `${p.name}: number`).join(", ")}) {
  return ${d.body};
}`);
    d.instances.forEach((inst, i) => declarationOf.set(inst.v, `${name}(${d.params.map((p) => p.values[i]).join(", ")})`));
  }
  // One paragraph per block call (or loop pass) whose layers each take one line.
  let paragraph: string | null = null;
  for (const plan of order) {
    const l = plan.layer;
    const decl = declarationOf.get(plan.v);
    const oneLine = decl === undefined || !decl.includes("\n");
    const via = l.source.via?.length && oneLine ? JSON.stringify(l.source.via) : null;
    if (via === null || via !== paragraph) modelLines.push("");
    paragraph = via;
    modelLines.push(comment(`${l.id}: ${describeSource(l.source)} -> [${l.outputShape.join(", ")}]`));
    if (decl) modelLines.push(`const ${plan.v} = ${decl};`);
    else if (plan.out !== `${plan.v}_out`) modelLines.push(`// (no buffers of its own: its output is ${externalize(plan.out)})`);
  }
  modelLines.push("");
  modelLines.push(`/** The labels of the current batch, one-hot: [n, ${C}]. */
const target = allocF32(BATCH * ${C});`);
  if (fromLogits) {
    modelLines.push(`/** Probabilities computed by the loss from the output logits. */
const probabilities = allocF32(BATCH * ${C});`);
  }
  if (!fused && !outPlan.grad) {
    modelLines.push(`const ${lossGrad} = allocF32(BATCH * ${C});`);
  }

  // ---- forward and backward: a function per distinct layer code (./outline.ts), called per layer
  const passInstances = (pass: "forward" | "backward") =>
    order
      .filter((plan) => plan.code && plan.code[pass] && !/^\/\/[^\n]*$/.test(plan.code[pass]))
      .map((plan) => {
        const roles = new Map<string, string>();
        const inputRoles = new Set<string>();
        const many = plan.layer.inputs.length > 1;
        plan.layer.inputs.forEach((id, k) => {
          const p = plans.get(id)!;
          const suffix = many ? String(k + 1) : "";
          if (!roles.has(p.out)) roles.set(p.out, `x${suffix}`);
          inputRoles.add(`x${suffix}`);
          if (p.needsGrad && p.grad && !roles.has(p.grad)) {
            roles.set(p.grad, `dx${suffix}`);
            inputRoles.add(`dx${suffix}`);
          }
          // a relu layer whose gradients this layer writes (maxPoolIntoRelu): its dz and bias gradient
          if (poolWritesDz.has(id)) {
            roles.set(p.code!.preGrad!, `dz${suffix}`);
            inputRoles.add(`dz${suffix}`);
            if (p.code!.biasGrad) {
              roles.set(p.code!.biasGrad, `db${suffix}`);
              inputRoles.add(`db${suffix}`);
            }
          }
        });
        for (const f of plan.fields) roles.set(`${plan.v}_${f.role}`, f.role);
        return {
          v: plan.v,
          text: plan.code![pass],
          roles,
          inputRoles,
          named: namedNumbers(plan.layer),
          kind: plan.layer.kind,
          shapeKey: plan.fields.map((f) => `${f.role}:${f.init.startsWith("new Int32Array") ? "i" : "f"}`).join(","),
        };
      });
  const layerFunctions: string[] = [];
  const callOf = { forward: new Map<string, string>(), backward: new Map<string, string>() };
  for (const pass of ["forward", "backward"] as const) {
    for (const f of outline(passInstances(pass))) {
      const firstPlan = planByV.get(f.instances[0]!.v)!;
      const many = f.instances.length > 1;
      const name = many ? uniqueName(`${firstPlan.layer.kind}_${pass}`) : uniqueName(`${firstPlan.v}_${pass}`);
      const args = [
        "n: number",
        ...(f.usesTraining ? ["training: boolean"] : []),
        ...f.inputsUsed.map((u) => `${u.name}: Float32Array`),
        ...(many && f.ownUsed.length ? [`layer: typeof ${firstPlan.v}`] : []),
        ...f.params.map((p) => `${p.name}: number`),
      ];
      const src = firstPlan.layer.source;
      const sameLine = f.instances.every((i) => planByV.get(i.v)!.layer.source.line === src.line);
      const title = many
        ? comment(`${sameLine ? `${src.text} (line ${src.line})` : firstPlan.layer.kind}, ${pass === "forward" ? "forward" : "backward"}: ${listOf(f.instances.map((i) => planByV.get(i.v)!.layer.id))}`)
        : comment(`${firstPlan.layer.id}: ${describeSource(src)}`);
      const unpack = f.ownUsed.length ? `const ${destructure(f.ownUsed)} = ${many ? "layer" : firstPlan.v};\n` : "";
      layerFunctions.push(`${title}\nfunction ${name}(${args.join(", ")}): void {\n${unpack}${f.body}\n}`);
      f.instances.forEach((inst, i) => {
        const byRole = new Map([...inst.roles].map(([flat, role]) => [role, flat]));
        const callArgs = [
          "n",
          ...(f.usesTraining ? ["training"] : []),
          ...f.inputsUsed.map((u) => externalize(byRole.get(u.role)!)),
          ...(many && f.ownUsed.length ? [inst.v] : []),
          ...f.params.map((p) => p.values[i]!),
        ];
        callOf[pass].set(inst.v, `${name}(${callArgs.join(", ")});`);
      });
    }
  }
  const forwardCalls: string[] = [];
  const backwardCalls: string[] = [];
  for (const plan of order) {
    if (!plan.code) continue;
    const fwd = plan.code.forward;
    if (fwd && /^\/\/[^\n]*$/.test(fwd)) {
      // Only a remark (flatten, reshape): nothing to run.
      forwardCalls.push(`${comment(`${plan.layer.id}: ${plan.layer.source.text} (line ${plan.layer.source.line})`)}\n${fwd}`);
    }
    const call = callOf.forward.get(plan.v);
    if (call) forwardCalls.push(call);
    const back = callOf.backward.get(plan.v);
    if (back) backwardCalls.unshift(back);
  }
  const zeroFirst = order.filter((p) => p.consumers > 1 && p.needsGrad && p.grad);
  if (zeroFirst.length > 0) {
    backwardCalls.unshift(
      `// these tensors feed several layers: their gradients are sums, so start from zero\n` +
        zeroFirst.map((p) => `${externalize(p.grad!)}.fill(0, 0, n * ${p.size});`).join("\n"),
    );
  }
  const passes = `${layerFunctions.join("\n\n")}

/** Runs the network on the first n examples in ${externalize(plans.get(model.layers[0]!.id)!.out)}; training turns on dropout and batch statistics. */
function forward(n: number, training: boolean): void {
${forwardCalls.join("\n")}${forwardCalls.some((c) => /\(n, training\b/.test(c)) ? "" : "\nvoid training; // no layer behaves differently in training"}
}

/** Backpropagation: from the loss gradient to every weight's gradient (call after computeLoss). */
function backward(n: number): void {
${backwardCalls.join("\n")}
}`;

  // ---- loss, metrics, regularization, optimizer
  const lossCode = LOSSES[loss.kind];
  if (!lossCode) throw new Error(`standalone target: no implementation of loss "${loss.kind}"`);
  const lossSection = lossCode({ loss, P: outPlan.out, Y: "target", G: lossGrad, C, fused, fromLogits, outAct: outAct.kind });
  const metricsSection = METRICS(training, C, outPlan.out);
  const regularized = weights.filter((w) => w.regularizer && w.trainable);
  const regSection = regularized.length > 0 ? regularizationSection(regularized) : "";
  const optimizer = OPTIMIZERS[training.optimizer.kind];
  if (!optimizer) throw new Error(`standalone target: no implementation of optimizer "${training.optimizer.kind}"`);
  const trainable = weights.filter((w) => w.trainable && w.grad);
  const optSection = optimizer(training.optimizer, trainable, kernelHas);

  // ---- weights table, initialisation and saving
  // One line per weight: the initializers it uses are named once, above the table.
  const initializers = new Map<string, string>();
  for (const w of weights) {
    const key = lit(w.initializer);
    if (!initializers.has(key)) {
      const base = w.initializer.kind.toUpperCase();
      const taken = new Set(initializers.values());
      let name = base;
      for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
      initializers.set(key, name);
    }
  }
  const weightTable = `/** The initializers of the weights below (random.ts's fillInitializer reads them). */
${[...initializers].map(([spec, name]) => `const ${name}: InitializerSpec = ${spec};`).join("\n")}

/**
 * Every weight in model.json order: TensorFlow.js name, shape, buffer, its gradient (null: not
 * trained) and initializer.
 */
const WEIGHTS: { name: string; shape: number[]; value: Float32Array; grad: Float32Array | null; initializer: InitializerSpec }[] = [
${weights.map((w) => `  weight(${lit(w.name)}, [${w.shape.join(", ")}], ${w.value}, ${w.grad ?? "null"}, ${initializers.get(lit(w.initializer))}),`).join("\n")}
];

/** One entry of WEIGHTS. */
function weight(name: string, shape: number[], value: Float32Array, grad: Float32Array | null, initializer: InitializerSpec) {
  return { name, shape, value, grad, initializer };
}

/** Sets every weight from the seed: weight w draws from Random(hashSeed(seed, w.name)), as in the tfjs engine. */
function initializeWeights(seed: number): void {
  for (const w of WEIGHTS) fillInitializer(w.initializer, w.shape, new Random(hashSeed(seed, w.name)), w.value);
}`;
  const topology = kerasTopology(ir.model);
  // Data, not code: compact JSON with a line per layer (prettier would give every value a line).
  const topologyText = (function print(value: unknown, indent: string): string {
    if (Array.isArray(value)) return `[\n${value.map((v) => `${indent}  ${lit(v)},`).join("\n")}\n${indent}]`;
    const entries = Object.entries(value as Record<string, unknown>);
    return `{\n${entries.map(([k, v]) => `${indent}  ${lit(k)}: ${k === "config" || k === "layers" ? print(v, indent + "  ") : lit(v)},`).join("\n")}\n${indent}}`;
  })(topology, "");
  const saveSection = `/** The Keras topology of the model (computed by nnc at compile time), one layer per line. */
// prettier-ignore
const MODEL_TOPOLOGY = ${topologyText};

/**
 * The model in TensorFlow.js layers format: model.json and weights.bin (float32, little-endian,
 * in WEIGHTS order).
 */
function modelFiles(): { "model.json": string; "weights.bin": Uint8Array } {
  const modelJson = {
    format: "layers-model",
    generatedBy: ${lit(`nnc ${ir.nncVersion}`)},
    convertedBy: null,
    modelTopology: MODEL_TOPOLOGY,
    weightsManifest: [
      { paths: ["weights.bin"], weights: WEIGHTS.map((w) => ({ name: w.name, shape: w.shape, dtype: "float32" })) },
    ],
    userDefinedMetadata: {
      sourceSha256: ${lit(src.sha256)},
      sourceFile: ${lit(src.file)},
      nncVersion: ${lit(ir.nncVersion)},
      engine: "standalone",
      backend: KERNELS,
    },
  };
  const weights = floatBytes(WEIGHTS.map((w) => w.value));
  return { "model.json": JSON.stringify(modelJson, null, 2), "weights.bin": weights };
}

/** Float32 arrays end to end, as bytes. */
function floatBytes(arrays: Float32Array[]): Uint8Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return new Uint8Array(out.buffer);
}

/** Saves the model into dir (model.json, weights.bin), the folder written whole or not at all (writeModelDir). */
function saveModel(dir: string): void {
  writeModelDir(dir, modelFiles());
}`;

  kernelHas("kernelBytesToFloats"); // the training loop's batches: pixel bytes to floats
  const loop = trainingLoop(ir, training, {
    C,
    inputBuffer: plans.get(model.layers[0]!.id)!.out,
    regularized: regularized.length > 0,
    dropout: model.layers.some((l) => l.kind === "dropout"),
    kernels: options.kernels ?? "ts",
    command: programCommand(ir.source.file, options.command),
  });

  const internals = options.exposeInternals
    ? `
/** For tests: the program's state and steps. */
export const internals = {
  weights: { ${weights.map((w) => `${lit(w.name)}: ${w.value}`).join(", ")} } as Record<string, Float32Array>,
  grads: { ${trainable.map((w) => `${lit(w.name)}: ${w.grad}`).join(", ")} } as Record<string, Float32Array>,
  input: ${plans.get(model.layers[0]!.id)!.out},
  output: ${outPlan.out},
  target,
  initializeWeights,
  forward,
  backward,
  computeLoss,${regularized.length > 0 ? "\n  regularizationPenalty,\n  addRegularizationGradients," : ""}
  applyGradients,${model.layers.some((l) => l.kind === "dropout") ? "\n  reseed(seed: number): void {\n    random = new Random(seed);\n  }," : ""}
  initKernels,
  shutdownKernels,
};`
    : "";

  const kernelText = emitKernelRuntime({ mode: options.kernels ?? "ts", threads: options.threads ?? 1, uses: usedKernels, convShapes });
  // The kernel runtime may start with import lines: hoist them.
  const kernelImports: string[] = [];
  const kernelCode = kernelText
    .split("\n")
    .filter((line) => {
      if (/^import\s.+from\s+["']node:[^"']+["'];?\s*$/.test(line)) {
        kernelImports.push(line);
        return false;
      }
      return true;
    })
    .join("\n");

  // Top-down, as a tutorial reads: the model, its passes, loss, optimizer and training loop, then
  // an appendix with the train() API types, the kernels and the runtime copied from nnc. Module-level
  // code before the appendix only allocates buffers, so the kernels' memory is declared up front;
  // everything else in the appendix is used from functions, which run after the module has loaded
  // (the command-line entry point is the file's last statement).
  const memoryDecl = /\/\*\* The memory every buffer lives in;[^\n]*\n(?:const kernelMemory = [^\n]*\n)(?:let kernelHeapTop = [^\n]*\n)/.exec(kernelCode);
  const appendixKernels = memoryDecl ? kernelCode.replace(memoryDecl[0], "") : kernelCode;
  const entry = /\nif \(process\.argv\[1\] && import\.meta\.url[\s\S]*$/.exec(loop);
  const randomDecl = /\/\*\* The stream dropout masks draw from \(reseeded by train\(\)\)\. \*\/\nlet random = new Random\(0\);\n/.exec(loop);
  let loopBody = entry ? loop.slice(0, entry.index) : loop;
  if (randomDecl) loopBody = loopBody.replace(randomDecl[0], "");
  // The helpers (sigmoid, softplus) the code calls, comments left out: an activation's loop
  // expressions and a loss from logits call them; an activation the kernel runtime computes does not.
  const callers = [passes, lossSection, metricsSection, regSection ?? "", loopBody]
    .join("\n")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/[^\n]*/g, "");
  const usedHelpers = Object.entries(HELPERS)
    .filter(([name]) => new RegExp(`[^\\w.]${name}\\(`).test(callers))
    .map(([, code]) => code);
  const program = [
    header,
    renderImports([...imports]) + (kernelImports.length ? "\n" + kernelImports.join("\n") : ""),
    `// ==== The model: ${comment(model.name).slice(3)} ====\n\n` + (memoryDecl ? memoryDecl[0] + "\n" : "") + modelLines.join("\n"),
    usedHelpers.length ? "// ==== Helpers ====\n\n" + usedHelpers.join("\n\n") : "",
    "// ==== Forward and backward passes ====\n\n" + passes,
    externalize("// ==== Loss and metrics ====\n\n" + lossSection + "\n\n" + metricsSection + (regSection ? "\n\n" + regSection : "")),
    externalize("// ==== Weights: initialisation and saving ====\n\n" + weightTable) + "\n\n" + saveSection,
    externalize("// ==== Optimizer ====\n\n" + optSection),
    externalize("// ==== Training ====\n\n" + loopBody),
    externalize(internals),
    "// ==== Appendix: the train() API types, the kernels, and the runtime copied from nnc ====\n\n" + apiTypes,
    appendixKernels,
    "// ==== Shared runtime, copied from nnc's sources ====\n\n" + embedded.join("\n\n") + (randomDecl ? "\n\n" + randomDecl[0] : ""),
    entry ? "// ==== Run as a program ====\n" + entry[0] : "",
  ]
    .filter(Boolean)
    .join("\n\n");
  return options.format === false ? program : prettier.format(program, { parser: "typescript", printWidth: 110 });
}

function regularizationSection(ws: WeightBuffer[]): string {
  const pen: string[] = [];
  const grad: string[] = [];
  for (const w of ws) {
    const r = w.regularizer!;
    const l1 = r.kind === "l1" || r.kind === "l1l2" ? Number(r.args.l1) : 0;
    const l2 = r.kind === "l2" || r.kind === "l1l2" ? Number(r.args.l2) : 0;
    const terms: string[] = [];
    const gterms: string[] = [];
    if (l1) {
      terms.push(`${l1} * Math.abs(${w.value}[i])`);
      gterms.push(`${l1} * Math.sign(${w.value}[i])`);
    }
    if (l2) {
      terms.push(`${l2} * ${w.value}[i] * ${w.value}[i]`);
      gterms.push(`${2 * l2} * ${w.value}[i]`);
    }
    pen.push(`${comment(`${w.name}: ${r.kind}(${Object.entries(r.args).map(([k, v]) => `${k}: ${v}`).join(", ")})`)}
for (let i = 0; i < ${w.value}.length; i++) penalty += ${terms.join(" + ")};`);
    grad.push(`for (let i = 0; i < ${w.grad}.length; i++) ${w.grad}[i] += ${gterms.join(" + ")};`);
  }
  return `/** The weight penalties added to the loss (Keras: l1 * sum|w| + l2 * sum w²). */
function regularizationPenalty(): number {
  let penalty = 0;
${pen.join("\n")}
  return penalty;
}

/** Adds the penalties' gradients to the weight gradients. */
function addRegularizationGradients(): void {
${grad.join("\n")}
}`;
}

const RESUME_OPTION = `  /** Continue the run in outDir from its resume/ folder (written after every epoch) instead of starting anew. */
  resume?: boolean;
`;

const TRAINING_STATE = `/**
 * resume/state.json: where training stood when an epoch ended. With the weights (weights.bin), the
 * optimizer's slots (optimizer.bin), the shuffled order (order.bin) and, where a callback keeps
 * them, the best epoch's weights (best.bin) beside it, train({ resume: true }) continues
 * the run exactly where it stopped.
 */
export interface TrainingState {
  format: "nnc-resume";
  /** The model's and the training section's fingerprints (FINGERPRINT). */
  fingerprint: { model: string; training: string };
  /** Epochs finished, of the epochs the run was asked for. */
  epoch: number;
  epochs: number;
  seed: number;
  trainLimit: number | null;
  testLimit: number | null;
  kernels: string;
  stoppedEarly: boolean;
  /** The learning rate the schedule starts from (a callback that sets the learning rate lowers it). */
  baseLr: number;
  /** The optimizer's counters (iterations, ...). */
  optimizer: Record<string, number>;
  /** Each random stream's position: shuffle, dropout, augment. */
  random: Record<string, [number, number | null]>;
  /** The callbacks' counters and best values. */
  callbacks: Record<string, Record<string, number | boolean>>;
  history: EpochLogs[];
  /** The text lines the callbacks wrote so far (a CSV log's rows). */
  csvRows: string[];
  /** Examples trained on, and seconds spent training, so far. */
  trained: number;
  trainSeconds: number;
  files: string[];
}

`;

/**
 * The train() API's types, declared by every program that exports train() (the standalone and the
 * tfjs target's); `resume`: the program can continue a run from its resume/ folder (standalone);
 * `localData`: it reads the idx files where nnc keeps them and never downloads (standalone).
 */
export function typesSection(resume: boolean, localData = false): string {
  return `// ==== The train() API (the same shapes as nnc's RunOptions, TrainHooks and TrainResult) ====

export interface RunOptions {
  /** Where the MNIST idx files are; else $NNC_DATA, ${localData ? "nnc's cache dir (\`nnc run\` downloads into it), ../shared/data" : "the cache dir, ../shared/data, then download"}. */
  dataDir?: string;
  epochs?: number;
  trainLimit?: number;
  testLimit?: number;
  seed?: number;
  /** The run directory; the trained model goes to \`\${outDir}/model/\`. */
  outDir: string;
  backend?: string;
  kernels?: string;
  quiet?: boolean;
  /** Aborting stops training at the next batch. */
  signal?: AbortSignal;
${resume ? RESUME_OPTION : ""}}

export type EpochLogs = Record<string, number>;

${resume ? TRAINING_STATE : ""}export interface TrainHooks {
  /** initialEpoch: the epochs already done (a resumed run starts after them). */
  onTrainBegin?(info: { epochs: number; stepsPerEpoch: number; trainSamples: number; validationSamples: number; initialEpoch?: number }): void;
  onBatchEnd?(step: number, logs: { loss: number; accuracy?: number }): void;
  onEpochEnd?(epoch: number, logs: EpochLogs): void;
  /** Progress of an evaluation pass: examples done of total. */
  onEvaluate?(phase: "validation" | "test", done: number, total: number): void;
  log?(message: string): void;
}

export interface TrainResult {
  engine: "standalone" | "tfjs";
  backend: string;
  history: EpochLogs[];
  epochs: number;
  trainSamples: number;
  testLoss: number;
  testAccuracy: number;
  testMetrics: Record<string, number>;
  seconds: number;
  samplesPerSecond: number;
  stoppedEarly: boolean;
  files: string[];
}`;
}

interface LoopInfo {
  C: number;
  inputBuffer: string;
  regularized: boolean;
  dropout: boolean;
  kernels: string;
  /** The command that runs the program (its usage line). */
  command: string;
}

function trainingLoop(ir: IR, t: IRTraining, info: LoopInfo): string {
  const { C, inputBuffer } = info;
  const exampleSize = prod(t.data.exampleShape);
  const [H, W] = t.data.exampleShape.length === 3 ? t.data.exampleShape : [28, 28];
  const lrArg = Number(t.optimizer.args.lr);
  const run = callbacksRun(t);
  const needs = (need: keyof CallbackNeeds) => anyNeeds(run, need);
  const restoreBest = run.some((c) => c.needs.bestWeights?.(c.args) === true);
  const validation = t.data.validation;
  const metricNames = t.metrics;
  const aug = t.data.augment;
  const s = t.schedule;

  let lrExpr = "baseLr";
  if (s) {
    const a = s.args;
    if (s.kind === "piecewise_constant") lrExpr = `piecewiseConstant(${lit(a.boundaries)}, ${lit(a.values)}, iterations)`;
    else if (s.kind === "exponential_decay") lrExpr = `exponentialDecay(baseLr, ${a.decay_steps}, ${a.decay_rate}, ${Boolean(a.staircase)}, iterations)`;
    else lrExpr = `inverseTimeDecay(baseLr, ${a.decay_steps}, ${a.decay_rate}, ${Boolean(a.staircase)}, iterations)`;
  }

  const setup: string[] = [];
  if (run.length > 0) {
    const factories = run.map((c) => `${c.kind}: ${callbackFactoryName(c.kind)}`).join(", ");
    const host = [
      "say,",
      ...(restoreBest
        ? [
            "snapshotWeights: () => { for (let k = 0; k < WEIGHTS.length; k++) bestWeights[k]!.set(WEIGHTS[k]!.value); },",
            "restoreWeights: () => { for (let k = 0; k < WEIGHTS.length; k++) WEIGHTS[k]!.value.set(bestWeights[k]!); },",
          ]
        : []),
      ...(needs("savesModel")
        ? [`saveModel: (dir: string) => {
  saveModel(join(options.outDir, dir));
  addFile(join(dir, "model.json"));
  addFile(join(dir, "weights.bin"));
},`]
        : []),
      ...(needs("textFiles")
        ? [`writeText: (path: string, text: string) => {
  mkdirSync(dirname(join(options.outDir, path)), { recursive: true });
  writeFileAtomic(join(options.outDir, path), text);
  addFile(path);
},`]
        : []),
      ...(needs("eventFiles") ? [`eventFiles: (dir: string, updateFreq: "epoch" | "batch") => new KerasTensorBoard(join(options.outDir, dir), updateFreq),`] : []),
    ];
    setup.push(`// The train section's callbacks, run by CallbackRunner (src/runtime/training/callbacks.ts) with
    // what they ask of this program.
    const callbacks = new CallbackRunner(${lit(run.map(({ kind, args }) => ({ kind, args })))}, { ${factories} }, {
      ${host.join("\n")}
    });`);
  }

  // resume/: the random streams and buffers the loop has (what a resumed run restores, with the callbacks' state)
  const streams: [string, string][] = [
    ...(t.data.shuffle ? [["shuffle", "shuffleRandom"] as [string, string]] : []),
    ...(info.dropout ? [["dropout", "random"] as [string, string]] : []),
    ...(aug ? [["augment", "augmentStream"] as [string, string]] : []),
  ];
  // the callbacks that also watch every batch (on its loss, or on the running logs too): one may stop training there
  const batchLogs = run.some((c) => c.needs.batches === "logs")
    ? `, { loss: lossSum / seen${metricNames.map((m) => `, ${JSON.stringify(m)}: metricValue(${lit(m)}, trainSums, seen)`).join("")} }, lr`
    : "";
  const batchCallbacks = needs("batches")
    ? `
        if (callbacks.onBatchEnd(epoch, step, batchLoss${batchLogs})) {
          stoppedEarly = true;
          break;
        }`
    : "";
  const snapshotBuffers = restoreBest
    ? `/** The best epoch's weights, which a callback keeps and may restore. */
const bestWeights = WEIGHTS.map((w) => allocF32(w.value.length));\n\n`
    : "";

  const valSetup =
    validation.kind === "split"
      ? `// validation_split: the last ${validation.fraction} of the training examples (as Keras takes them), before shuffling
const trainCount = Math.floor(trainSet.count * (1 - ${validation.fraction}));
const validationCount = trainSet.count - trainCount;
const validation = { pixels: trainSet.pixels.subarray(trainCount * EXAMPLE), labels: trainSet.labels.subarray(trainCount), count: validationCount };`
      : validation.kind === "test"
        ? `// validation on the test set
const trainCount = trainSet.count;
const validation = { pixels: testSet.pixels, labels: testSet.labels, count: testSet.count };`
        : `// no validation data
const trainCount = trainSet.count;`;
  const hasValidation = validation.kind !== "none";

  const stepsExpr = t.stepsPerEpoch ? `${t.stepsPerEpoch}` : "Math.ceil(trainCount / BATCH)";
  const gather = aug
    ? `// gather the batch, then augment it on the fly into the input buffer
gatherBatch(trainSet.pixels, trainSet.labels, order, cursor, trainCount, n, rawBatch);
augmentBatch(rawBatch, ${inputBuffer}, n, ${H}, ${W}, AUGMENT, augmentRandom);`
    : `gatherBatch(trainSet.pixels, trainSet.labels, order, cursor, trainCount, n, ${inputBuffer});`;
  const augConsts = aug
    ? `/** The augmentation of the data section: a random affine transform per image, every batch. */
const AUGMENT = ${lit(aug)} as const;
/** The raw (un-augmented) batch. */
const rawBatch = allocF32(BATCH * EXAMPLE);\n\n`
    : "";

  const metricLogs = metricNames.map((m) => `logs[${lit(m)}] = metricValue(${lit(m)}, trainSums, seen);`).join("\n");
  const valMetricLogs = metricNames.map((m) => `logs[${lit("val_" + m)}] = v.metrics[${lit(m)}]!;`).join("\n");

  const usage = `${info.command} [--data DIR] [--epochs N] [--train-limit N] [--test-limit N] [--seed N] [--out DIR] [--resume] [--quiet]`;
  const text = `/** The kernels this program was generated with. */
const KERNELS = ${lit(info.kernels)};

/** Values per example (the model's input shape [${t.data.exampleShape.join(", ")}]). */
const EXAMPLE = ${exampleSize};

/** Writes the one-hot label of batch row b into target. */
function setTarget(b: number, label: number): void {
  target.fill(0, b * ${C}, (b + 1) * ${C});
  target[b * ${C} + label] = 1;
}

/**
 * Copies the examples order[from], order[from + 1], ... (n of them, wrapping around at count) into
 * dst, and their one-hot labels into target. Pixel bytes become [0, 1] as they are copied (the data
 * stays in bytes: a quarter of the memory), by kernelBytesToFloats.
 */
function gatherBatch(pixels: Uint8Array, labels: Uint8Array, order: Int32Array, from: number, count: number, n: number, dst: Float32Array): void {
  for (let b = 0; b < n; b++) {
    const k = order[(from + b) % count]!;
    kernelBytesToFloats(pixels, k * EXAMPLE, dst, b * EXAMPLE, EXAMPLE);
    setTarget(b, labels[k]!);
  }
}

${augConsts}${snapshotBuffers}/** Loss and metrics over a whole data set, in batches, without training. */
function evaluate(
  pixels: Uint8Array,
  labels: Uint8Array,
  count: number,
  progress?: (done: number) => void,
): { loss: number; metrics: Record<string, number> } {
  const sums = new Float64Array(METRIC_SLOTS);
  let lossSum = 0;
  for (let start = 0; start < count; start += BATCH) {
    const n = Math.min(BATCH, count - start);
    kernelBytesToFloats(pixels, start * EXAMPLE, ${inputBuffer}, 0, n * EXAMPLE);
    for (let b = 0; b < n; b++) setTarget(b, labels[start + b]!);
    forward(n, false);
    lossSum += computeLoss(n) * n;
    accumulateMetrics(n, sums);
    progress?.(start + n);
  }
  const loss = lossSum / Math.max(count, 1)${info.regularized ? " + regularizationPenalty()" : ""};
  const metrics: Record<string, number> = { accuracy: sums[0]! / Math.max(count, 1) };
  for (const name of ${lit(metricNames)}) metrics[name] = metricValue(name, sums, count);
  return { loss, metrics };
}

/** The error train() stops with when options.signal is aborted (Ctrl-C): nothing is evaluated or saved. */
function aborted(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error("training aborted"), { name: "AbortError" });
}

/**
 * Trains the model (${t.epochs} epochs of batches of ${t.batchSize} unless options say otherwise), evaluates it
 * on the test set and saves it to \`\${options.outDir}/model/\`.
 */
export async function train(options: RunOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const started = performance.now();
  const say = (message: string): void => hooks.log?.(message);
  const files: string[] = [];
  const addFile = (file: string): void => {
    if (!files.includes(file)) files.push(file);
  };
  await initKernels();
  try {
    // options.resume: continue from resume/, which the last finished epoch left (weights, optimizer,
    // random streams, callbacks, history), so that the run ends as an uninterrupted one would.
    const resumeDir = join(options.outDir, "resume");
    const resumed = options.resume ? readTrainingState(resumeDir) : null;
    const seed = options.seed ?? resumed?.seed ?? ${t.seed};
    const epochs = options.epochs ?? resumed?.epochs ?? ${t.epochs};
    const trainLimit = options.trainLimit ?? resumed?.trainLimit ?? undefined;
    const testLimit = options.testLimit ?? resumed?.testLimit ?? undefined;
    if (resumed && (seed !== resumed.seed || (trainLimit ?? null) !== resumed.trainLimit)) {
      throw new Error(\`cannot resume: \${resumeDir} was trained with seed \${resumed.seed} and train limit \${resumed.trainLimit ?? "none"}, not \${seed} and \${trainLimit ?? "none"}\`);
    }
    const trainSet = loadLocalMnist({ dataset: ${lit(t.data.dataset)}, split: "train", dataDir: options.dataDir, limit: trainLimit, floats: false });
    const testSet = loadLocalMnist({ dataset: ${lit(t.data.dataset)}, split: "test", dataDir: options.dataDir, limit: testLimit, floats: false });
    // The pixels go where kernelBytesToFloats reads them${info.kernels === "simd" ? " (the kernels' WebAssembly memory)" : ""}.
    trainSet.pixels = kernelBytes(trainSet.pixels);
    testSet.pixels = kernelBytes(testSet.pixels);
    ${valSetup}
    const stepsPerEpoch = ${stepsExpr};
    mkdirSync(options.outDir, { recursive: true });

    initializeWeights(seed);${info.dropout ? `
    random = new Random(hashSeed(seed, "dropout"));` : ""}
${t.data.shuffle ? `    const shuffleRandom = new Random(hashSeed(seed, "shuffle"));` : ""}${aug ? `\n    const augmentStream = new Random(hashSeed(seed, "augment"));\n    const augmentRandom = (): number => augmentStream.next();` : ""}
    const order = new Int32Array(trainCount);
    for (let i = 0; i < trainCount; i++) order[i] = i;
    ${setup.join("\n    ")}
    let baseLr = ${lrArg};
    let lr = baseLr;
    let stoppedEarly = false;
    const history: EpochLogs[] = [];
    const trainSums = new Float64Array(METRIC_SLOTS);
    let trained = 0;
    /** Seconds spent in training steps (not loading, validation or saving): the throughput's denominator. */
    let trainSeconds = 0;
    let epoch = 0;
    if (resumed) {
      restoreTrainingBuffers(resumeDir, order);
      restoreOptimizerCounters(resumed.optimizer);
      epoch = resumed.epoch;
      baseLr = resumed.baseLr;
      stoppedEarly = resumed.stoppedEarly;
      history.push(...resumed.history);
      trained = resumed.trained;
      trainSeconds = resumed.trainSeconds;
      for (const file of resumed.files) addFile(file);${streams.map(([k, v]) => `
      ${v}.setState(resumed.random[${lit(k)}]!);`).join("")}${run.length > 0 ? "\n      callbacks.restore(resumed.callbacks, resumed.csvRows);" : ""}
    }
    hooks.onTrainBegin?.({ epochs, stepsPerEpoch, trainSamples: trainCount, validationSamples: ${hasValidation ? "validation.count" : "0"}, initialEpoch: epoch });

    let lastYield = performance.now();
    for (; epoch < epochs && !stoppedEarly; epoch++) {
      ${t.data.shuffle ? "shuffleRandom.shuffle(order);" : "// (no shuffling: the data section says shuffle: false)"}
      trainSums.fill(0);
      let lossSum = 0;
      let seen = 0;
      let cursor = 0;
      const epochStarted = performance.now();
      for (let step = 0; step < stepsPerEpoch; step++) {
        const n = Math.min(BATCH, ${t.stepsPerEpoch ? "BATCH" : "trainCount - cursor"});
        ${gather}
        cursor += n;
        lr = ${lrExpr};
        forward(n, true);
        const batchLoss = computeLoss(n)${info.regularized ? " + regularizationPenalty()" : ""};
        backward(n);${info.regularized ? "\n        addRegularizationGradients();" : ""}
        applyGradients(lr);
        accumulateMetrics(n, trainSums);
        lossSum += batchLoss * n;
        seen += n;
        trained += n;
        hooks.onBatchEnd?.(step, { loss: lossSum / seen, accuracy: trainSums[0]! / seen });${
          batchCallbacks
        }
        // Let Ctrl-C (options.signal) and progress output through, about ten times a second.
        if (performance.now() - lastYield > 100) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = performance.now();
        }
        if (options.signal?.aborted) throw aborted(options.signal);
      }
      trainSeconds += (performance.now() - epochStarted) / 1000;
      const logs: EpochLogs = { loss: lossSum / Math.max(seen, 1) };
      ${metricLogs}
      ${
        hasValidation
          ? `const v = evaluate(validation.pixels, validation.labels, validation.count, (done) =>
        hooks.onEvaluate?.("validation", done, validation.count),
      );
      logs.val_loss = v.loss;
      ${valMetricLogs}`
          : ""
      }
      logs.lr = lr;
      history.push(logs);
      hooks.onEpochEnd?.(epoch, logs);
      ${
        run.length > 0
          ? `// the callbacks decide: the learning rate from now on, and whether to stop
      const decided = await callbacks.onEpochEnd(epoch, logs, baseLr);
      baseLr = decided.lr;
      if (decided.stop) stoppedEarly = true;`
          : ""
      }
      // resume/: all it takes to continue after this epoch (nnc run --resume)
      try {
        saveTrainingState(
          resumeDir,
          {
            format: "nnc-resume",
            fingerprint: FINGERPRINT,
            epoch: epoch + 1,
            epochs,
            seed,
            trainLimit: trainLimit ?? null,
            testLimit: testLimit ?? null,
            kernels: KERNELS,
            stoppedEarly,
            baseLr,
            optimizer: optimizerCounters(),
            random: { ${streams.map(([k, v]) => `${k}: ${v}.getState()`).join(", ")} },
            callbacks: ${run.length > 0 ? "callbacks.state()" : "{}"},
            history,
            csvRows: ${run.length > 0 ? "callbacks.lines()" : "[]"},
            trained,
            trainSeconds,
            files,
          },
          order,
        );
        for (const file of ["state.json", "model.json", "weights.bin", "optimizer.bin", "order.bin"${restoreBest ? ', "best.bin"' : ""}]) addFile(join("resume", file));
      } catch (err) {
        say(\`resume/ not updated after epoch \${epoch + 1}: \${(err as Error).message}\`);
      }
      if (options.signal?.aborted) throw aborted(options.signal);
    }

    const test = evaluate(testSet.pixels, testSet.labels, testSet.count, (done) => hooks.onEvaluate?.("test", done, testSet.count));
    saveModel(join(options.outDir, "model"));
    addFile(join("model", "model.json"));
    addFile(join("model", "weights.bin"));${needs("eventFiles") ? `\n    for (const path of callbacks.onTrainEnd()) addFile(relative(options.outDir, path));` : ""}
    const seconds = (performance.now() - started) / 1000;
    return {
      engine: "standalone",
      backend: KERNELS,
      history,
      epochs: history.length,
      trainSamples: trainCount,
      testLoss: test.loss,
      testAccuracy: test.metrics.accuracy!,
      testMetrics: test.metrics,
      seconds,
      samplesPerSecond: trained / Math.max(trainSeconds, 1e-9),
      stoppedEarly,
      files,
    };
  } finally {
    shutdownKernels();
  }
}

// ==== Resuming a run: resume/, written after every epoch ====

/** What makes a run this one (sha256 of the model, and of the training section but its epochs): resume/ must carry the same. */
const FINGERPRINT = ${lit(fingerprint(ir))};

/** state.json keeps NaN and ±Infinity (a best value before any epoch, a NaN loss) as strings. */
function stateJson(state: TrainingState): string {
  return JSON.stringify(state, (_key, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2);
}

/** Fills Float32 arrays end to end from a file of floats. */
function readFloats(path: string, arrays: Float32Array[]): void {
  const bytes = readFileSync(path);
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let offset = 0;
  for (const a of arrays) {
    a.set(floats.subarray(offset, offset + a.length));
    offset += a.length;
  }
  if (offset !== floats.length) throw new Error(\`\${path} holds \${floats.length} values; this model's state has \${offset}\`);
}

/** Writes dir (resume/) whole or not at all: the model, the optimizer's slots, the shuffled order and state.json. */
function saveTrainingState(dir: string, state: TrainingState, order: Int32Array): void {
  writeModelDir(dir, {
    ...modelFiles(),
    "optimizer.bin": floatBytes(OPTIMIZER_SLOTS),${restoreBest ? `
    "best.bin": floatBytes(bestWeights),` : ""}
    "order.bin": new Uint8Array(order.buffer, order.byteOffset, order.byteLength),
    "state.json": stateJson(state),
  });
}

/** Reads dir/state.json (resume/) and checks that it is a state of this model and training. */
function readTrainingState(dir: string): TrainingState {
  let state: TrainingState;
  try {
    state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8"), (_key, v: unknown) =>
      v === "NaN" || v === "Infinity" || v === "-Infinity" ? Number(v) : v,
    ) as TrainingState;
  } catch (err) {
    throw new Error(\`cannot resume: \${join(dir, "state.json")} cannot be read (\${(err as Error).message})\`);
  }
  if (state.format !== "nnc-resume") throw new Error(\`cannot resume: \${join(dir, "state.json")} is not a training state\`);
  if (state.fingerprint.model !== FINGERPRINT.model) throw new Error(\`cannot resume: \${dir} is the state of a different model\`);
  if (state.fingerprint.training !== FINGERPRINT.training) throw new Error(\`cannot resume: \${dir} is the state of a different training section\`);
  if (state.kernels !== KERNELS) throw new Error(\`cannot resume: \${dir} was trained with the \${state.kernels} kernels and this program has the \${KERNELS} kernels (the result would differ)\`);
  return state;
}

/** Sets the weights, the optimizer's slots${restoreBest ? ", the best epoch's weights" : ""} and the shuffled order from dir (resume/). */
function restoreTrainingBuffers(dir: string, order: Int32Array): void {
  readFloats(join(dir, "weights.bin"), WEIGHTS.map((w) => w.value));
  readFloats(join(dir, "optimizer.bin"), OPTIMIZER_SLOTS);${restoreBest ? `
  readFloats(join(dir, "best.bin"), bestWeights);` : ""}
  const saved = readFileSync(join(dir, "order.bin"));
  if (saved.byteLength !== order.byteLength) throw new Error(\`cannot resume: \${dir} shuffled \${saved.byteLength / 4} examples; this run has \${order.length}\`);
  new Uint8Array(order.buffer, order.byteOffset, order.byteLength).set(saved);
}

${info.dropout ? `/** The stream dropout masks draw from (reseeded by train()). */
let random = new Random(0);

` : ""}/** ${commentText(usage)} */
async function main(argv: string[]): Promise<void> {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(${lit(`usage: ${usage}`)});
    return;
  }
  const int = (name: string): number | undefined => (flag(name) === undefined ? undefined : Number(flag(name)));
  const quiet = argv.includes("--quiet");
  const result = await train(
    {
      dataDir: flag("--data"),
      epochs: int("--epochs"),
      trainLimit: int("--train-limit"),
      testLimit: int("--test-limit"),
      seed: int("--seed"),
      outDir: flag("--out") ?? ${lit(`runs/${ir.model.name}`)},
      // --resume: continue the run in --out from its resume/ folder (written after every epoch)
      resume: argv.includes("--resume"),
    },
    {
      onEpochEnd(epoch, logs) {
        if (!quiet) console.log(\`epoch \${epoch + 1}: \${Object.entries(logs).map(([k, v]) => \`\${k} \${v.toPrecision(4)}\`).join(", ")}\`);
      },
      log(message) {
        if (!quiet) console.log(message);
      },
    },
  );
  console.log(
    \`test loss \${result.testLoss.toFixed(4)}, test accuracy \${(result.testAccuracy * 100).toFixed(2)}% (\${result.seconds.toFixed(1)} s, \${result.samplesPerSecond.toFixed(0)} samples/s)\`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}`;
  // say() only where something says something (no unused function in the program).
  const sayDef = "  const say = (message: string): void => hooks.log?.(message);\n";
  return /\bsay\(/.test(text.replace(sayDef, "")) ? text : text.replace(sayDef, "");
}
