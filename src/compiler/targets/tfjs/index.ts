// The tfjs target: IR -> a readable, prettier-formatted TypeScript program, the one `nnc run
// --engine tfjs` runs (src/runtime/engines/tfjs generates, transpiles and calls its exported
// `train(options, hooks)`). It builds the model with tf.layers from the one Keras mapping (keras.ts:
// layer and weight names as in model.json), starts from nnc's seeded initial weights (random.ts),
// reads, shuffles and augments MNIST as nnc does (data/*.ts), and trains with nnc's own batch loop:
// Keras's optimizers, losses, metrics, penalties and the training-mode forward pass
// (training/tfjs.ts), schedules and callbacks (training/callbacks.ts); each piece copied in from
// its embeddable module under src/runtime, only those the model uses.
//
// The program imports only the chosen tfjs package and node:* modules.
import prettier from "prettier";
import type { IR, IRLayer, IRRef, IRTraining } from "../../ir.js";
import { embedRuntime, renderImports, type ModuleImport } from "../standalone/embed.js";
import { TFJS_FACTORY, kerasLayers, kerasTrainingForward, regularizerFactors, tfjsArgs, tfjsNum, type KerasLayer } from "../keras.js";
import { layers } from "../../catalog/layers.js";
import { typesSection } from "../standalone/index.js";
import type { LossKind, OptimizerKind } from "../../catalog/kinds.js";
import { CLASSES, lossCall } from "./losses.js";

export interface TfjsTargetOptions {
  /** The tfjs package the program imports. */
  package?: "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node" | "@tensorflow/tfjs";
  /** The command that runs the written program (`node model.js`), for its header and --help; default `npx tsx <name>.ts`. */
  command?: string;
  /**
   * Format the program with prettier (default true). The tfjs engine, which transpiles it at
   * once, skips it (as the standalone engine does): formatting is for readers.
   */
  format?: boolean;
}

import { comment as lineComment, commentText, lit, programCommand } from "../code.js";
import { checkIR } from "../../ir-check.js";
const num = tfjsNum;
const ident = (id: string): string => id.replace(/[^A-Za-z0-9_$]/g, "_").replace(/^(\d)/, "_$1");

function comment(layer: IRLayer, file: string): string {
  return lineComment(`${layer.source.text}   (${file}:${layer.source.line})`);
}

/** Keras config fields that tf.layers fills by itself the same way: left out of the printed call. */
const IMPLIED: Record<string, unknown> = { trainable: true, dtype: "float32", dataFormat: "channels_last", dilationRate: [1, 1], useBias: true };

/** A value of a tf.layers argument as source: initializers and regularizers as tf calls. */
function valueSource(v: unknown): string {
  if (v !== null && typeof v === "object" && !Array.isArray(v) && "className" in v) {
    const { className, config } = v as { className: string; config: Record<string, unknown> };
    const ns = className === "L1L2" ? "regularizers" : "initializers";
    const fn = className === "L1L2" ? "l1l2" : className[0]!.toLowerCase() + className.slice(1);
    return `tf.${ns}.${fn}(${fn === "zeros" || fn === "ones" ? "" : argsSource(config)})`;
  }
  if (typeof v === "number") return num(v);
  return lit(v);
}

function argsSource(args: Record<string, unknown>): string {
  const parts = Object.entries(args)
    .filter(([k, v]) => !(k in IMPLIED) || JSON.stringify(IMPLIED[k]) !== JSON.stringify(v))
    .map(([k, v]) => `${k}: ${valueSource(v)}`);
  return `{ ${parts.join(", ")} }`;
}

/** One Keras layer as a tf.layers call (ELU with alpha != 1 through the program's own ELU class). */
function kerasLayerSource(k: KerasLayer): string {
  const args = argsSource(tfjsArgs(k.config));
  if (k.className === "ELU" && k.config.alpha !== 1) return `new ELU(${args})`;
  return `tf.layers.${TFJS_FACTORY[k.className]}(${args})`;
}

function modelSource(ir: IR): string {
  const m = ir.model;
  const file = ir.source.file.split("/").pop()!;
  const lines: string[] = [];
  const names = new Map<string, string>();
  for (const layer of m.layers) {
    const v = ident(layer.id);
    names.set(layer.id, v);
    if (layer.kind === "input") {
      lines.push(`const ${v} = tf.input({ name: ${lit(layer.id)}, shape: ${lit(layer.outputShape)} });`);
      continue;
    }
    const ins = layer.inputs.map((i) => names.get(i)!);
    let x = ins.length === 1 ? ins[0]! : `[${ins.join(", ")}]`;
    const exprs = kerasLayers(layer).map(kerasLayerSource);
    lines.push(comment(layer, file));
    for (const e of exprs) x = `${e}.apply(${x})`;
    lines.push(`const ${v} = ${x} as tf.SymbolicTensor;`);
  }
  const weights = m.layers.flatMap((l) => l.weights.map((w) => ({ name: w.name, shape: w.shape, initializer: w.initializer })));
  return `
/** The model of \`model ${m.name}\`: layer names are nnc's, so weights are named \`<layer>/<role>\`. */
export function buildModel(): tf.LayersModel {
  ${lines.join("\n")}
  return tf.model({ name: ${lit(m.name)}, inputs: ${names.get(m.layers[0]!.id)}, outputs: ${names.get(m.outputs[0]!)} });
}

/** Every weight and the initializer nnc draws it from (Keras layouts). */
const WEIGHTS: WeightedModel = {
  layers: [{ weights: ${JSON.stringify(weights)} }],
};

/** Sets the initial weights nnc starts from for this seed (src/runtime/random.ts, bit-identical). */
export function setInitialWeights(model: tf.LayersModel, seed: number): void {
  const values = initialWeights(WEIGHTS, seed);
  for (const w of model.weights) {
    const t = tf.tensor(values.get(w.originalName)!, w.shape as number[]);
    w.write(t);
    t.dispose();
  }
}
`;
}

function usesEluAlpha(ir: IR): boolean {
  return ir.model.layers.some((l) => kerasLayers(l).some((k) => k.className === "ELU" && k.config.alpha !== 1));
}



/** Each optimizer as the program creates it: the function of src/runtime/training/tfjs.ts with Keras's update rule. */
const OPTIMIZER_FUNCTION: Record<OptimizerKind, { fn: string; args: string[] }> = {
  sgd: { fn: "sgd", args: ["momentum", "nesterov"] },
  adam: { fn: "adam", args: ["beta1", "beta2", "epsilon"] },
  adamw: { fn: "adam", args: ["beta1", "beta2", "epsilon", "weight_decay"] },
  nadam: { fn: "nadam", args: ["beta1", "beta2", "epsilon"] },
  adamax: { fn: "adamax", args: ["beta1", "beta2", "epsilon"] },
  rmsprop: { fn: "rmsprop", args: ["rho", "momentum", "epsilon", "centered"] },
  adagrad: { fn: "adagrad", args: ["initial_accumulator_value", "epsilon"] },
  adadelta: { fn: "adadelta", args: ["rho", "epsilon"] },
};

function optimizerSource(ref: IRRef<OptimizerKind>): { expr: string; fn: string } {
  const { fn, args } = OPTIMIZER_FUNCTION[ref.kind];
  const a = ref.args as Record<string, unknown>;
  return { fn, expr: `${fn}({ ${args.map((k) => `${k}: ${typeof a[k] === "number" ? num(a[k] as number) : String(a[k])}`).join(", ")} })` };
}

/** The loss as the program creates it, e.g. `categoricalCrossentropy(false, 0, CLASSES)`. */
function lossSource(loss: IRRef<LossKind>): { fn: string; expr: string } {
  const { fn, args } = lossCall(loss);
  return { fn, expr: `${fn}(${args.map((x) => (x === CLASSES ? "CLASSES" : typeof x === "number" ? num(x) : String(x))).join(", ")})` };
}

/** Names the forward pass keeps for itself; a layer id equal to one gets a trailing underscore. */
const FORWARD_NAMES = new Set(["model", "input", "training", "random", "tf"]);

/** The forward pass, layer by layer, with the training-mode pieces tfjs's layers lack (kerasTrainingForward: the Keras mapping's). */
function forwardSource(ir: IR): { code: string; embeds: string[]; random: boolean } {
  const m = ir.model;
  const file = ir.source.file.split("/").pop()!;
  const lines: string[] = [];
  const embeds: string[] = [];
  const notes = new Map<string, string>();
  let random = false;
  const names = new Map<string, string>();
  for (const layer of m.layers) {
    if (layer.kind === "input") {
      names.set(layer.id, "input");
      continue;
    }
    let v = ident(layer.id);
    if (FORWARD_NAMES.has(v)) v += "_";
    names.set(layer.id, v);
    const ins = layer.inputs.map((i) => names.get(i)!);
    lines.push(comment(layer, file));
    const keras = kerasLayers(layer).map((k) => lit(k.config.name as string));
    let x = ins.length === 1 ? ins[0]! : `[${ins.join(", ")}]`;
    for (const k of keras) x = `model.getLayer(${k}).apply(${x}, { training })`;
    const special = kerasTrainingForward(layer, v, ins[0]!, keras, x);
    if (special) {
      lines.push(special.line);
      if (special.embed && !embeds.includes(special.embed)) embeds.push(special.embed);
      if (special.note) notes.set(layer.kind, special.note);
      random ||= special.random === true;
      continue;
    }
    lines.push(`const ${v} = ${x} as tf.Tensor;`);
  }
  // in the catalog's order of layers
  const said = layers.flatMap((l) => notes.get(l.name) ?? []);
  const code = `
/** The forward pass, layer by layer${said.length ? `. In training, ${said.join("; ")}` : ""}. */
function forward(model: tf.LayersModel, input: tf.Tensor, training: boolean${random ? ", random?: Random" : ""}): tf.Tensor {
  ${lines.join("\n")}
  return ${names.get(m.outputs[0]!)};
}
`;
  return { code, embeds, random };
}

function trainSource(ir: IR, t: IRTraining): { code: string; embeds: Record<string, string[]> } {
  const embeds: Record<string, string[]> = {
    "random.ts": ["Random", "hashSeed", "initialWeights", "WeightedModel"],
    "data/mnist.ts": ["loadMnist"],
    "training/tfjs.ts": ["metricSums", "saveModel", "LossFn", "Optimizer"],
  };
  const addEmbed = (mod: string, name: string) => (embeds[mod] ??= []).push(name);
  const opt = optimizerSource(t.optimizer);
  addEmbed("training/tfjs.ts", opt.fn);
  addEmbed("training/tfjs.ts", lossSource(t.loss).fn);
  const forward = forwardSource(ir);
  for (const name of forward.embeds) addEmbed("training/tfjs.ts", name);
  const stochastic = forward.random;
  const schedule = t.schedule;
  const callbacks = t.callbacks;
  const args = (r: IRRef) => r.args as Record<string, unknown>;
  const plateau = callbacks.filter((c) => c.kind === "reduce_on_plateau");
  const stopping = callbacks.filter((c) => c.kind === "early_stopping");
  const checkpoints = callbacks.filter((c) => c.kind === "checkpoint");
  const csv = callbacks.filter((c) => c.kind === "csv_logger");
  const nan = callbacks.some((c) => c.kind === "terminate_on_nan");
  const tensorboard = callbacks.find((c) => c.kind === "tensorboard");
  const restoreBest = stopping.some((s) => args(s).restore_best);
  if (schedule) addEmbed("training/callbacks.ts", "scheduledLearningRate");
  if (plateau.length) addEmbed("training/callbacks.ts", "ReduceLROnPlateau");
  if (stopping.length) addEmbed("training/callbacks.ts", "EarlyStopping");
  if (checkpoints.length) addEmbed("training/callbacks.ts", "CheckpointDecider");
  if (nan) addEmbed("training/callbacks.ts", "shouldTerminateOnNaN");
  if (t.data.augment) addEmbed("data/augment.ts", "augmentBatch");
  if (t.data.augment) addEmbed("data/augment.ts", "AugmentConfig");
  if (tensorboard) addEmbed("tensorboard.ts", "KerasTensorBoard");
  const penalties = ir.model.layers.flatMap((l) =>
    l.weights.flatMap((w) => {
      const { l1, l2 } = regularizerFactors(w.regularizer);
      return l1 > 0 || l2 > 0 ? [{ weight: w.name, l1, l2 }] : [];
    }),
  );
  if (penalties.length) addEmbed("training/tfjs.ts", "penalty");
  const avgPoolSame = ir.model.layers.some((l) => l.kind === "avg_pool" && l.args.padding === "same");
  if (avgPoolSame) addEmbed("training/tfjs.ts", "registerAvgPoolGradient");
  const trainable = ir.model.layers.flatMap((l) => l.weights.filter((w) => w.trainable).map((w) => w.name));

  const lr0 = num(t.optimizer.args.lr as number);
  const sparse = t.labels === "sparse";
  const [h, w, c] = t.data.exampleShape.length === 3 ? t.data.exampleShape : [28, 28, 1];
  const validation = t.data.validation;
  const binary = t.loss.kind === "binary_crossentropy";
  const penaltyArg = penalties.length ? ", penalties" : "";
  const code = `
const SEED = ${t.seed};
const EPOCHS = ${t.epochs};
const BATCH_SIZE = ${t.batchSize};
const CLASSES = ${t.data.classes};
const INPUT_SHAPE = ${lit(t.data.exampleShape)};
/** The metrics of the train section${binary ? " (accuracy is binary accuracy with binary_crossentropy, as in Keras)" : ""}. */
const METRICS = ${lit(t.metrics)};
/** The optimizer's initial learning rate. */
const LR = ${lr0};
${schedule ? `const SCHEDULE = ${lit(schedule)};` : ""}
${t.data.augment ? `const AUGMENT: AugmentConfig = ${lit(t.data.augment)};` : ""}
/** The weights the optimizer updates. */
const TRAINABLE = ${lit(trainable)};
${penalties.length ? `/** L1/L2 penalties added to the loss, per weight (Keras's regularizers). */\nconst PENALTIES = ${lit(penalties)};` : ""}

interface Examples {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** One batch: the examples order[from..to) as tensors (${sparse ? "labels as class indices" : "labels one-hot"})${t.data.augment ? ", augmented when \`augment\` is given" : ""}. */
function batch(d: Examples, order: ArrayLike<number>, from: number, to: number${t.data.augment ? ", augment?: (xs: Float32Array, n: number) => void" : ""}): { x: tf.Tensor; y: tf.Tensor } {
  const n = to - from;
  const size = ${h! * w! * c!};
  const xs = new Float32Array(n * size);
  const ys = new Float32Array(${sparse ? "n" : "n * CLASSES"});
  for (let i = 0; i < n; i++) {
    const k = order[from + i]!;
    xs.set(d.images.subarray(k * size, (k + 1) * size), i * size);
    ${sparse ? "ys[i] = d.labels[k]!;" : "ys[i * CLASSES + d.labels[k]!] = 1;"}
  }
  ${t.data.augment ? "augment?.(xs, n);" : ""}
  return { x: tf.tensor(xs, [n, ...INPUT_SHAPE]), y: tf.tensor(ys, [n, ${sparse ? "1" : "CLASSES"}]) };
}
${forward.code}
/** Loss (with the penalties, as Keras reports it) and metrics of a data set in inference mode, 500 examples at a time. */
async function evaluate(model: tf.LayersModel, d: Examples, loss: LossFn${penalties.length ? ", penalties: Penalties" : ""}, progress?: (done: number) => void): Promise<Record<string, number>> {
  const order = Int32Array.from({ length: d.count }, (_, i) => i);
  let lossSum = 0;
  const sums: Record<string, [number, number]> = {};
  for (let from = 0; from < d.count; from += 500) {
    const to = Math.min(d.count, from + 500);
    const { x, y } = batch(d, order, from, to);
    const out = tf.tidy(() => forward(model, x, false));
    const l = loss(y, out);
    lossSum += (await l.data())[0]! * (to - from);
    for (const [m, [s, c]] of Object.entries(await metricSums(METRICS, ${lit(t.labels)}, CLASSES, y, out${binary ? ", true" : ""}))) {
      const acc = (sums[m] ??= [0, 0]);
      acc[0] += s;
      acc[1] += c;
    }
    tf.dispose([x, y, out, l]);
    progress?.(to);
  }
  ${
    penalties.length
      ? `const p = penalty(penalties);
  const logs: Record<string, number> = { loss: lossSum / Math.max(1, d.count) + (await p.data())[0]! };
  p.dispose();`
      : "const logs: Record<string, number> = { loss: lossSum / Math.max(1, d.count) };"
  }
  for (const [m, [s, c]] of Object.entries(sums)) logs[m] = c > 0 ? s / c : 0;
  return logs;
}
${penalties.length ? "\ntype Penalties = { variable: tf.Variable; l1: number; l2: number }[];\n" : ""}
/** What model.json records about the model (userDefinedMetadata). */
function metadata(extra: Record<string, unknown>) {
  return { sourceSha256: ${lit(ir.source.sha256)}, sourceFile: ${lit(ir.source.file)}, nncVersion: ${lit(ir.nncVersion)}, engine: "tfjs", backend: tf.getBackend(), ...extra };
}

/** The error train() stops with when options.signal is aborted (Ctrl-C): nothing is evaluated or saved. */
function aborted(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error("training aborted"), { name: "AbortError" });
}

/**
 * Trains the model (${t.epochs} epochs of batches of ${t.batchSize} unless options say otherwise) with nnc's own
 * batch loop (not model.fit, so that schedules, callbacks, penalties, optimizers and dropout behave
 * exactly as in \`nnc run\`'s standalone engine), evaluates it on the test set and saves it to
 * \`\${options.outDir}/model/\`.
 */
export async function train(options: RunOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const started = performance.now();
  const say = (message: string): void => hooks.log?.(message);
  const seed = options.seed ?? SEED;
  const epochs = options.epochs ?? EPOCHS;
  const all = await loadMnist({ dataset: ${lit(t.data.dataset)}, split: "train", dataDir: options.dataDir, limit: options.trainLimit });
  const testSet: Examples = await loadMnist({ dataset: ${lit(t.data.dataset)}, split: "test", dataDir: options.dataDir, limit: options.testLimit });
  ${
    validation.kind === "split"
      ? `// validation_split: the last ${validation.fraction} of the training examples, as Keras takes them.
  const splitAt = Math.floor(all.count * (1 - ${validation.fraction}));
  const size = all.rows * all.cols;
  const trainSet: Examples = { images: all.images.subarray(0, splitAt * size), labels: all.labels.subarray(0, splitAt), count: splitAt };
  const validationSet: Examples = { images: all.images.subarray(splitAt * size), labels: all.labels.subarray(splitAt), count: all.count - splitAt };`
      : validation.kind === "test"
        ? `const trainSet: Examples = all;
  const validationSet: Examples = testSet; // validation: test`
        : `const trainSet: Examples = all;`
  }
  const n = trainSet.count;
  if (n === 0) throw new Error("no training examples (check --train-limit and the validation split)");
  ${avgPoolSame ? "registerAvgPoolGradient(); // tfjs's AvgPoolGrad is wrong at the borders with padding same" : ""}

  const model = buildModel();
  setInitialWeights(model, seed);
  const variables = new Map(model.weights.map((w) => [w.originalName, w.read() as tf.Variable]));
  const trainable = TRAINABLE.map((name) => variables.get(name)!);
  ${penalties.length ? "const penalties: Penalties = PENALTIES.map((p) => ({ ...p, variable: variables.get(p.weight)! }));" : ""}
  const loss = ${lossSource(t.loss).expr};
  const optimizer = ${opt.expr};
  ${stochastic ? `const random = new Random(hashSeed(seed, "dropout"));` : ""}
  ${t.data.shuffle ? `const shuffleRandom = new Random(hashSeed(seed, "shuffle"));` : ""}
  ${
    t.data.augment
      ? `const augmentRandom = new Random(hashSeed(seed, "augment"));
  let augmented = new Float32Array(0);
  const augment = (xs: Float32Array, count: number): void => {
    if (augmented.length < xs.length) augmented = new Float32Array(xs.length);
    augmentBatch(xs, augmented, count, ${h}, ${w}, AUGMENT, () => augmentRandom.next(), ${c});
    xs.set(augmented.subarray(0, xs.length));
  };`
      : ""
  }
  ${plateau.map((p, i) => `const plateau${i} = new ReduceLROnPlateau(${callbackArgs(p)});`).join("\n")}
  ${stopping.map((p, i) => `const stopping${i} = new EarlyStopping(${callbackArgs(p)});`).join("\n")}
  ${checkpoints.map((p, i) => `const checkpoint${i} = new CheckpointDecider(${callbackArgs(p)});`).join("\n")}
  ${csv.map((p, i) => `const csv${i} = { file: join(options.outDir, ${lit(args(p).path ?? "log.csv")}), header: null as string[] | null };`).join("\n")}
  ${tensorboard ? `const board = new KerasTensorBoard(join(options.outDir, ${lit(args(tensorboard).dir)}), ${lit(args(tensorboard).update_freq)});` : ""}
  ${restoreBest ? "let best: Map<string, tf.Tensor> | null = null; // early_stopping's best weights" : ""}

  const stepsPerEpoch = ${t.stepsPerEpoch ?? "Math.ceil(n / BATCH_SIZE)"};
  hooks.onTrainBegin?.({ epochs, stepsPerEpoch, trainSamples: n, validationSamples: ${validation.kind === "none" ? "0" : "validationSet.count"} });
  const files: string[] = [];
  const addFile = (file: string): void => {
    if (!files.includes(file)) files.push(file);
  };
  const history: EpochLogs[] = [];
  ${plateau.length ? "let lr = LR; // reduce_on_plateau's current rate (scales the schedule)" : "const lr = LR;"}
  let step = 0;
  ${nan || stopping.length ? "let" : "const"} stoppedEarly = false;
  let trainSeconds = 0;
  let samplesSeen = 0;
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let cursor = n; // position in \`order\`; reshuffled when exhausted
  ${validation.kind === "test" ? "// With \`validation: test\`, the last epoch's validation logs are the test logs (same weights).\n  let lastValidation: Record<string, number> | null = null;" : ""}
  try {
    training: for (let epoch = 0; epoch < epochs; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0;
      let seen = 0;
      const sums: Record<string, [number, number]> = {};
      ${validation.kind === "test" ? "lastValidation = null;" : ""}
      for (let b = 0; b < stepsPerEpoch; b++) {
        if (options.signal?.aborted) throw aborted(options.signal);
        if (cursor >= n) {
          ${t.data.shuffle ? "shuffleRandom.shuffle(order);" : "// (no shuffling: the data section says shuffle: false)"}
          cursor = 0;
        }
        const to = Math.min(n, cursor + BATCH_SIZE);
        const { x, y } = batch(trainSet, order, cursor, to${t.data.augment ? ", augment" : ""});
        const size = to - cursor;
        cursor = to;
        const stepLr = ${schedule ? "scheduledLearningRate(SCHEDULE, LR, step) * (lr / LR)" : "lr"};
        let out: tf.Tensor | null = null;
        const { value, grads } = tf.variableGrads(() => {
          const o = forward(model, x, true${stochastic ? ", random" : ""});
          out = tf.keep(o);
          ${penalties.length ? "return loss(y, o).add(penalty(penalties)) as tf.Scalar;" : "return loss(y, o);"}
        }, trainable);
        optimizer.apply(trainable, trainable.map((v) => grads[v.name]!), stepLr);
        const batchLoss = (await value.data())[0]!;
        const batchMetrics = await metricSums(METRICS, ${lit(t.labels)}, CLASSES, y, out!${binary ? ", true" : ""});
        tf.dispose([x, y, value, out!, ...Object.values(grads)]);
        seen += size;
        lossSum += batchLoss * size;
        for (const [m, [s, c]] of Object.entries(batchMetrics)) {
          const acc = (sums[m] ??= [0, 0]);
          acc[0] += s;
          acc[1] += c;
        }
        // Keras's semantics: the epoch's running means so far.
        hooks.onBatchEnd?.(step, { loss: lossSum / seen, ...(sums.accuracy ? { accuracy: sums.accuracy[0] / Math.max(1, sums.accuracy[1]) } : {}) });
        ${
          tensorboard
            ? `const running: Record<string, number> = { loss: lossSum / seen };
        for (const [m, [s, c]] of Object.entries(sums)) running[m] = s / Math.max(1, c);
        board.batch(running, stepLr);`
            : ""
        }
        step++;
        ${
          nan
            ? `if (shouldTerminateOnNaN(batchLoss)) {
          say(\`terminate_on_nan: batch \${b + 1} of epoch \${epoch + 1} has loss \${batchLoss}; stopping\`);
          stoppedEarly = true;
          trainSeconds += (performance.now() - epochStart) / 1000;
          samplesSeen += seen;
          break training;
        }`
            : ""
        }
        // Let Ctrl-C (options.signal) and progress output through between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      trainSeconds += (performance.now() - epochStart) / 1000;
      samplesSeen += seen;

      const logs: EpochLogs = { loss: lossSum / Math.max(1, seen) };
      for (const [m, [s, c]] of Object.entries(sums)) logs[m] = c > 0 ? s / c : 0;
      ${
        validation.kind === "none"
          ? ""
          : `if (validationSet.count > 0) {
        const v = await evaluate(model, validationSet, loss${penaltyArg}, (done) => hooks.onEvaluate?.("validation", done, validationSet.count));
        for (const [k, value] of Object.entries(v)) logs[\`val_\${k}\`] = value;
        ${validation.kind === "test" ? "lastValidation = v;" : ""}
      }`
      }
      logs.lr = ${schedule ? "scheduledLearningRate(SCHEDULE, LR, Math.max(0, step - 1)) * (lr / LR)" : "lr"};
      history.push(logs);
      ${plateau
        .map(
          (_, i) => `{
        const r = plateau${i}.onEpochEnd(logs, lr);
        if (r.warning) say(r.warning);
        if (r.message) say(r.message);
        lr = r.lr;
      }`,
        )
        .join("\n")}
      ${checkpoints
        .map((p, i) => {
          const path = String(args(p).path ?? "checkpoint");
          return `{
        const r = checkpoint${i}.onEpochEnd(logs);
        if (r.warning) say(r.warning);
        if (r.save) {
          if (r.message) say(r.message);
          for (const f of await saveModel(model, join(options.outDir, ${lit(path)}), metadata({ epoch: epoch + 1, ...logs }))) addFile(${lit(path + "/")} + f);
        }
      }`;
        })
        .join("\n")}
      ${csv
        .map((p, i) => {
          const sep = lit(args(p).separator ?? ",");
          return `{
        const keys = ["epoch", ...Object.keys(logs)];
        mkdirSync(dirname(csv${i}.file), { recursive: true });
        if (csv${i}.header === null) {
          csv${i}.header = keys;
          ${args(p).append ? `if (!existsSync(csv${i}.file)) ` : ""}writeFileSync(csv${i}.file, keys.join(${sep}) + "\\n");
        }
        appendFileSync(csv${i}.file, csv${i}.header.map((k) => (k === "epoch" ? String(epoch) : String(logs[k] ?? ""))).join(${sep}) + "\\n");
        addFile(${lit(args(p).path ?? "log.csv")});
      }`;
        })
        .join("\n")}
      ${tensorboard ? "board.epoch(epoch, logs);" : ""}
      hooks.onEpochEnd?.(epoch, logs);
      ${stopping
        .map((s, i) => {
          const restore = Boolean(args(s).restore_best);
          return `{
        const d = stopping${i}.onEpochEnd(epoch, logs);
        if (d.warning) say(d.warning);
        ${
          restore
            ? `if (d.snapshot) {
          if (best) tf.dispose([...best.values()]);
          best = new Map(model.weights.map((w) => [w.originalName, tf.clone(w.read())]));
        }`
            : ""
        }
        if (d.stop) {
          if (d.message) say(d.message);
          ${
            restore
              ? `if (d.restore && best) {
            for (const w of model.weights) w.write(best.get(w.originalName)!);
            ${validation.kind === "test" ? "lastValidation = null;" : ""}
          }`
              : ""
          }
          stoppedEarly = true;
        }
      }`;
        })
        .join("\n")}
      ${stopping.length ? "if (stoppedEarly) break;" : ""}
    }
    ${tensorboard ? "for (const path of board.paths) addFile(relative(options.outDir, path));" : ""}

    const test = ${validation.kind === "test" ? "lastValidation ?? " : ""}(await evaluate(model, testSet, loss${penaltyArg}, (done) => hooks.onEvaluate?.("test", done, testSet.count)));
    for (const f of await saveModel(model, join(options.outDir, "model"), metadata({ epochs: history.length }))) addFile(\`model/\${f}\`);
    const { loss: testLoss, ...testMetrics } = test;
    return {
      engine: "tfjs",
      backend: tf.getBackend(),
      history,
      epochs: history.length,
      trainSamples: n,
      testLoss: testLoss!,
      testAccuracy: testMetrics.accuracy ?? NaN,
      testMetrics,
      seconds: (performance.now() - started) / 1000,
      samplesPerSecond: trainSeconds > 0 ? samplesSeen / trainSeconds : 0,
      stoppedEarly,
      files,
    };
  } finally {
    // The weights and the optimizer's state are freed: a sweep trains several models in one process.
    optimizer.dispose();
    ${restoreBest ? "if (best) tf.dispose([...best.values()]);" : ""}
    ${tensorboard ? "board.close();" : ""}
    model.dispose();
  }
}
`;
  const sayDef = "  const say = (message: string): void => hooks.log?.(message);\n";
  return { code: /\bsay\(/.test(code.replace(sayDef, "")) ? code : code.replace(sayDef, ""), embeds };
}

/**
 * The program's command line. backends: whether it takes \`--backend cpu|wasm\` (a program for
 * @tensorflow/tfjs, whose own backend in Node is the pure-JavaScript cpu one), and whether wasm then
 * needs nnc's Conv2DBackpropFilter (a conv2d layer: tfjs-wasm has none in Node).
 */
const MAIN = (usage: string, outDir: string, backends: { conv: boolean } | null) => `
/** The command line: \`${usage}\`. */
async function main(argv: string[]): Promise<void> {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(${lit(`usage: ${usage}`)});
    return;
  }${backends ? `
  // --backend wasm: tfjs's WebAssembly backend (XNNPACK), several times faster than its cpu one
  const backend = flag("--backend") ?? "cpu";
  if (backend !== "cpu" && backend !== "wasm") {
    console.error(\`--backend \${backend}: expected cpu or wasm\`);
    process.exit(2);
  }
  if (backend === "wasm") {
    try {
      await import("@tensorflow/tfjs-backend-wasm");
    } catch (err) {
      throw new Error(
        \`--backend wasm needs @tensorflow/tfjs-backend-wasm (npm install @tensorflow/tfjs-backend-wasm): \${(err as Error).message.split("\\n")[0]}\`,
      );
    }${backends.conv ? `
    registerWasmKernels(tf); // the gradient of conv2d's kernel, which tfjs-wasm lacks in Node` : ""}
  }
  if (!(await tf.setBackend(backend))) throw new Error(\`the \${backend} backend failed to initialise\`);` : ""}
  const int = (name: string): number | undefined => (flag(name) === undefined ? undefined : Number(flag(name)));
  const quiet = argv.includes("--quiet");
  const result = await train(
    {
      dataDir: flag("--data"),
      epochs: int("--epochs"),
      trainLimit: int("--train-limit"),
      testLimit: int("--test-limit"),
      seed: int("--seed"),
      outDir: flag("--out") ?? ${lit(outDir)},
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
    \`test loss \${result.testLoss.toFixed(4)}, test accuracy \${(result.testAccuracy * 100).toFixed(2)}% (\${result.seconds.toFixed(1)} s, \${result.samplesPerSecond.toFixed(0)} samples/s, backend \${result.backend})\`,
  );
}

// Last in the file, so that every class and constant above is initialised before it runs.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
`;
function callbackArgs(ref: IRRef): string {
  const keys: Record<string, string[]> = {
    reduce_on_plateau: ["monitor", "factor", "patience", "min_delta", "cooldown", "min_lr", "mode"],
    early_stopping: ["monitor", "patience", "min_delta", "mode", "restore_best"],
    checkpoint: ["monitor", "save_best_only", "mode"],
  };
  const a = ref.args as Record<string, unknown>;
  return lit(Object.fromEntries((keys[ref.kind] ?? Object.keys(a)).map((k) => [k, a[k]])));
}

function sweepNote(ir: IR): string {
  if (!ir.sweep) return "";
  const params = commentText(ir.sweep.parameters.map((p) => `${p.name} in ${JSON.stringify(p.values)}`).join(", "));
  const first = commentText(
    Object.entries(ir.sweep.variants[0]!.values)
      .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
      .join(", "),
  );
  return (
    `\n//\n// The file sweeps ${params}: \`nnc run\` trains each variant, picks the best on\n` +
    `// ${ir.sweep.monitor} and trains it; this program trains one variant, ${first}.`
  );
}


export async function generateTfjs(ir: IR, options: TfjsTargetOptions = {}): Promise<string> {
  checkIR(ir, "tfjs target");
  const pkg = options.package ?? "@tensorflow/tfjs";
  if (!ir.training) throw new Error(`${ir.source.file} has no train section: the tfjs target emits a training program`);
  const t = ir.training;
  const { code: trainCode, embeds } = trainSource(ir, t);
  if (usesEluAlpha(ir)) embeds["training/tfjs-layers.ts"] = ["eluLayer"];
  // --backend cpu|wasm where the package is @tensorflow/tfjs (tfjs-node has its own backend)
  const backends = pkg === "@tensorflow/tfjs" ? { conv: ir.model.layers.some((l) => kerasLayers(l).some((k) => k.className === "Conv2D")) } : null;
  if (backends?.conv) embeds["training/tfjs-wasm.ts"] = ["registerWasmKernels"];
  const pieces: { label: string; code: string; imports: ModuleImport[] }[] = [];
  for (const [mod, names] of Object.entries(embeds)) {
    const e = embedRuntime(mod, names);
    pieces.push({ label: `src/runtime/${mod}`, code: e.code, imports: e.imports });
  }
  const csv = t.callbacks.some((c) => c.kind === "csv_logger");
  const tensorboard = t.callbacks.some((c) => c.kind === "tensorboard");
  const named = (from: string, names: string[]): ModuleImport => ({ from, named: new Map(names.map((n) => [n, n])), namespace: null, defaultName: null });
  const own: ModuleImport[] = [
    ...(csv ? [named("node:fs", ["appendFileSync", "existsSync", "mkdirSync", "writeFileSync"])] : []),
    named("node:path", ["join", ...(csv ? ["dirname"] : []), ...(tensorboard ? ["relative"] : [])]),
    named("node:url", ["pathToFileURL"]),
  ];
  // The embedded runtime uses `tf` from @tensorflow/tfjs: here, the program's own import (of `pkg`).
  const imports = [...own, ...pieces.flatMap((p) => p.imports)].filter((imp) => imp.from !== "@tensorflow/tfjs");
  const file = commentText(ir.source.file);
  const usage = `${commentText(programCommand(ir.source.file, options.command))} [--data DIR] [--epochs N] [--train-limit N] [--test-limit N] [--seed N] [--out DIR] [--quiet]${backends ? " [--backend cpu|wasm]" : ""}`;
  const header = `// ${ir.model.name}: TensorFlow.js training program for \`model ${ir.model.name}\` of ${file},
// generated by nnc ${ir.nncVersion} (\`nnc compile ${file} --target tfjs\`; source sha256 ${ir.source.sha256.slice(0, 12)}).
//
// This is the program \`nnc run ${file} --engine tfjs\` runs.
// It builds the model with tf.layers (layer and weight names as in model.json), starts from
// nnc's seeded initial weights, reads${t.data.augment ? ", shuffles and augments" : " and shuffles"} the data as nnc does, and trains
// with nnc's own batch loop and Keras's optimizers and losses. It exports \`train(options, hooks)\`,
// which the engine calls on the tfjs backend it chose, and runs from the command line.
//
// Run: ${usage}
// It needs ${pkg}${pkg === "@tensorflow/tfjs-node-gpu" ? " (Linux x64, an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1)" : ""}${backends ? `; --backend wasm also needs @tensorflow/tfjs-backend-wasm
// (tfjs's WebAssembly backend: several times faster than its default, pure-JavaScript cpu one)` : ""}.${sweepNote(ir)}`;
  const program = [
    header,
    `import * as tf from ${lit(pkg)};`,
    renderImports(imports),
    usesEluAlpha(ir) ? "/** ELU with any alpha (tfjs's own ELU layer accepts only alpha 1); saved as Keras's \"ELU\". */\nconst ELU = eluLayer(tf);" : "",
    modelSource(ir),
    trainCode,
    typesSection(false),
    `// ${"-".repeat(60)} copied from nnc's runtime (shared with \`nnc run\`)`,
    ...pieces.map((p) => `// ---- ${p.label}\n\n${p.code}`),
    MAIN(usage, `runs/${ir.model.name}-tfjs`, backends),
  ].join("\n\n");
  return options.format === false ? program : prettier.format(program, { parser: "typescript", printWidth: 110 });
}
