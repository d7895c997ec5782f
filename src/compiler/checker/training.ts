// The train section: settings resolved against the catalog (data, loss, optimizer, schedule,
// callbacks, metrics, budget), the sweep, and the consistency checks between the model and
// its training (classes, loss vs final activation, monitors, step schedules vs callbacks setting the rate per epoch).
import type { ModelDecl, Span, TrainDecl } from "../../parser/ast.js";
import { activationOf, layerById, passesValuesThrough, type IRAugment, type IRData, type IRModel, type IRRef, type IRTraining, type IRValue } from "../ir.js";
import { allNames, augmentations, catalog, exampleOf, lookup, names, settings, type SettingEntry } from "../catalog/index.js";
import { didYouMean } from "../../parser/suggest.js";
import { bindArgs, checkValue, defaultValue, isInvalid, resolveRef } from "./args.js";
import type { BuiltModel } from "./model.js";
import { callbackPaths, pathProblem } from "./paths.js";
import type { Reporter } from "./report.js";
import { describe, evaluate, type V } from "./values.js";

export interface SweepParam {
  name: string;
  span: Span;
  values: V[];
}

export interface CheckedTraining {
  /** data.exampleShape is filled per model by checkModelAgainstTraining. */
  training: IRTraining;
  sweep: SweepParam[];
  /** The metric that picks the sweep's winner. */
  sweepMonitor: { monitor: string; mode: "max" | "min" } | null;
  lossSpan: Span;
  dataSpan: Span;
  /** The `batch` setting's value, when written. */
  batchSpan?: Span;
}

export function checkTraining(decl: TrainDecl, modelDecl: ModelDecl, r: Reporter): CheckedTraining | null {
  const empty = new Map<string, V>();
  const seen = new Map<string, Span>();
  const values = new Map<string, { v: V; entry: SettingEntry; keySpan: Span; span: Span }>();
  const sweep: SweepParam[] = [];
  let ok = true;

  for (const s of decl.body) {
    if (s.kind === "sweep") {
      const param = modelDecl.params.find((p) => p.name === s.variable);
      if (!param) {
        const ps = modelDecl.params.map((p) => p.name);
        r.error(
          "E210",
          s.variableSpan,
          `\`${s.variable}\` is not a parameter of model \`${modelDecl.name}\``,
          didYouMean(s.variable, ps) ?? (ps.length > 0 ? `its parameters: ${ps.map((p) => `\`${p}\``).join(", ")}` : `declare it: \`model ${modelDecl.name}(${s.variable} = ...)\``),
        );
        ok = false;
        continue;
      }
      if (sweep.some((p) => p.name === s.variable)) {
        r.error("E209", s.variableSpan, `\`${s.variable}\` is swept twice`);
        ok = false;
        continue;
      }
      const list = evaluate(s.values, empty, r);
      if (list === null) {
        ok = false;
        continue;
      }
      if (list.t !== "list" || list.items.length === 0) {
        r.error("E308", s.values.span, "`sweep` needs a non-empty list of values, such as `[100, 200, 300]`");
        ok = false;
        continue;
      }
      sweep.push({ name: s.variable, span: s.variableSpan, values: list.items });
      continue;
    }
    const entry = lookup("setting", s.key);
    if (!entry) {
      r.error("E208", s.keySpan, `unknown training setting \`${s.key}\``, didYouMean(s.key, allNames("setting")) ?? `settings: ${names("setting").map((n) => `\`${n}\``).join(", ")}, sweep`);
      ok = false;
      continue;
    }
    if (seen.has(entry.name)) {
      r.error("E209", s.keySpan, `\`${entry.name}\` is set twice (first at line ${seen.get(entry.name)!.startLine})`);
      ok = false;
      continue;
    }
    seen.set(entry.name, s.keySpan);
    const v = evaluate(s.value, empty, r);
    if (v === null) {
      ok = false;
      continue;
    }
    values.set(entry.name, { v, entry, keySpan: s.keySpan, span: s.span });
  }

  for (const st of settings) {
    if (st.required && !values.has(st.name) && !seen.has(st.name)) {
      r.error("E501", decl.modelSpan, `train \`${decl.model}\` has no \`${st.name}\``, `add e.g. \`${st.name} ${requiredExample(st.name)}\``);
      ok = false;
    }
  }

  // ------------------------------------------------ data
  let data: IRData | null = null;
  const dataV = values.get("data");
  if (dataV) data = checkData(dataV.v, r);
  if (dataV && !data) ok = false;

  // ------------------------------------------------ loss, optimizer
  let loss: IRRef | null = null;
  const lossV = values.get("loss");
  if (lossV) {
    const l = resolveRef(lossV.v, "loss", "`loss`", r);
    if (isInvalid(l) || l === null) ok = false;
    else loss = l;
  }
  let optimizer: IRRef | null = null;
  const optV = values.get("optimizer");
  if (optV) {
    const o = resolveRef(optV.v, "optimizer", "`optimizer`", r);
    if (isInvalid(o) || o === null) ok = false;
    else optimizer = o;
  }

  // ------------------------------------------------ schedule and callbacks
  let schedule: IRRef | null = null;
  const callbacks: { ref: IRRef; offset: number; span: Span; monitorSpan?: Span; kind: string }[] = [];
  const schedV = values.get("schedule");
  if (schedV) {
    const v = schedV.v;
    const name = v.t === "name" ? v.name : v.t === "call" ? v.callee : undefined;
    if (name !== undefined && lookup("callback", name)?.setsLearningRate) {
      const cb = checkCallback(v, r);
      if (cb) callbacks.push({ ...cb, offset: v.span.startOffset, span: calleeSpan(v) });
      else ok = false;
    } else {
      const perEpoch = catalog.callback.filter((c) => c.setsLearningRate).map((c) => c.name);
      const s = resolveRef(v, "schedule", "`schedule`", r, false, perEpoch);
      if (isInvalid(s) || s === null) ok = false;
      else {
        schedule = s;
        if (s.kind === "piecewise_constant") {
          const b = s.args.boundaries as number[];
          const vals = s.args.values as number[];
          if (vals.length !== b.length + 1) {
            r.error("E311", calleeSpan(v), `\`piecewise_constant\` needs one more value than boundaries; got ${b.length} boundaries and ${vals.length} values`);
            ok = false;
          } else if (b.some((x, i) => i > 0 && x <= b[i - 1])) {
            r.error("E311", calleeSpan(v), "`piecewise_constant` boundaries must increase");
            ok = false;
          }
        }
      }
    }
  }
  const cbV = values.get("callbacks");
  if (cbV) {
    const items = cbV.v.t === "list" ? cbV.v.items : [cbV.v];
    for (const it of items) {
      const cb = checkCallback(it, r);
      if (cb) callbacks.push({ ...cb, offset: it.span.startOffset, span: calleeSpan(it) });
      else ok = false;
    }
  }
  callbacks.sort((a, b) => a.offset - b.offset);

  // ------------------------------------------------ metrics
  const metrics: string[] = [];
  const metV = values.get("metrics");
  if (metV) {
    const items = metV.v.t === "list" ? metV.v.items : [metV.v];
    for (const it of items) {
      const name = it.t === "name" ? it.name : it.t === "call" && it.args.length === 0 ? it.callee : undefined;
      if (name === undefined) {
        r.error("E301", it.span, `\`metrics\` takes metric names, such as \`[accuracy]\`; got ${describe(it)}`);
        ok = false;
        continue;
      }
      const e = lookup("metric", name);
      if (!e) {
        r.error("E203", it.span, `unknown metric \`${name}\``, didYouMean(name, allNames("metric")) ?? `metrics: ${names("metric").map((n) => `\`${n}\``).join(", ")}`);
        ok = false;
        continue;
      }
      if (!metrics.includes(e.name)) metrics.push(e.name);
    }
  }

  // ------------------------------------------------ budget
  const num = (key: string): IRValue | undefined => {
    const entry = lookup("setting", key)!;
    const g = values.get(key);
    if (!g) return defaultValue(entry);
    const v = checkValue(entry, g.v, key, r);
    if (isInvalid(v)) {
      ok = false;
      return undefined;
    }
    return v;
  };
  const epochs = num("epochs") as number;
  const batch = num("batch") as number;
  const seed = num("seed") as number;
  const steps = num("steps_per_epoch") as number | undefined;
  const shuffle = num("shuffle") as boolean;

  // ------------------------------------------------ consistency of the section itself
  if (data) {
    const logged = loggedMetrics(metrics, data.validation.kind !== "none");
    for (const cb of callbacks) {
      const monitor = cb.ref.args.monitor;
      if (typeof monitor === "string" && !logged.includes(monitor)) {
        const span = cb.monitorSpan ?? cb.span;
        const valOnly = monitor.startsWith("val_") && logged.includes(monitor.slice(4));
        r.error(
          "E504",
          span,
          valOnly
            ? `\`${cb.kind}\` monitors \`${monitor}\`, which is only logged with validation data`
            : `\`${cb.kind}\` monitors \`${monitor}\`, which is not logged`,
          valOnly
            ? "add `validation: test` or `validation_split: 0.2` to `data`, or monitor the training metric"
            : didYouMean(monitor, logged) ?? `logged: ${logged.map((m) => `\`${m}\``).join(", ")}`,
        );
        ok = false;
      }
    }
  }
  // Callbacks that set the learning rate per epoch exclude a (per-step) schedule and each other.
  const lrSetters = callbacks.filter((c) => lookup("callback", c.kind)?.setsLearningRate);
  if (schedule !== null && lrSetters.length > 0 && schedV) {
    r.error(
      "E505",
      lrSetters[0].span,
      `\`${lrSetters[0].kind}\` and the schedule \`${schedule.kind}\` (line ${schedV.keySpan.startLine}) would both set the learning rate`,
      "keep one of them",
    );
    ok = false;
  }
  if (lrSetters.length > 1) {
    const [a, b] = lrSetters as [(typeof lrSetters)[0], (typeof lrSetters)[0]];
    r.error("E505", b.span, a.kind === b.kind ? `\`${b.kind}\` is given twice; both would set the learning rate` : `\`${a.kind}\` and \`${b.kind}\` would both set the learning rate`, "keep one of them");
    ok = false;
  }

  // ------------------------------------------------ sweep
  let sweepMonitor: CheckedTraining["sweepMonitor"] = null;
  if (sweep.length > 0 && data) {
    if (data.validation.kind === "none") {
      r.error("E507", sweep[0].span, "a sweep picks its winner on validation data, but `data` has none", "add `validation_split: 0.2` (or `validation: test`) to `data`");
      ok = false;
    }
    sweepMonitor = metrics.includes("accuracy") ? { monitor: "val_accuracy", mode: "max" } : { monitor: "val_loss", mode: "min" };
  }

  if (!ok || !data || !loss || !optimizer) return null;
  const training: IRTraining = {
    data,
    labels: loss.kind === "sparse_categorical_crossentropy" ? "sparse" : "onehot",
    // The checker resolved each against its category: the kinds are the catalog's.
    loss: loss as IRTraining["loss"],
    optimizer: optimizer as IRTraining["optimizer"],
    schedule: schedule as IRTraining["schedule"],
    callbacks: callbacks.map((c) => c.ref) as IRTraining["callbacks"],
    metrics: metrics as IRTraining["metrics"],
    epochs,
    batchSize: batch,
    stepsPerEpoch: steps ?? null,
    seed,
  };
  data.shuffle = shuffle;
  const batchV = values.get("batch");
  return { training, sweep, sweepMonitor, lossSpan: calleeSpan(lossV!.v), dataSpan: calleeSpan(dataV!.v), ...(batchV ? { batchSpan: batchV.v.span } : {}) };
}

/** The span of a call's name (`mnist` in `mnist(validation: test)`), or of the whole value. */
function calleeSpan(v: V): Span {
  return v.t === "call" ? v.calleeSpan : v.span;
}

/** A value for a required setting, for the hint when it is missing: its category's example. */
function requiredExample(name: string): string {
  const category = lookup("setting", name)?.valueCategory;
  return category ? exampleOf(category) : "";
}

/** Metric names as they appear in the logs: loss, accuracy, ... and val_* with validation data. */
export function loggedMetrics(metrics: string[], validation: boolean): string[] {
  const base = ["loss", ...metrics];
  return validation ? [...base, ...base.map((m) => `val_${m}`)] : base;
}

function checkCallback(v: V, r: Reporter): { ref: IRRef; monitorSpan?: Span; kind: string } | null {
  if (v.t !== "name" && v.t !== "call") {
    r.error("E301", v.span, `\`callbacks\` takes callbacks, such as \`early_stopping(patience: 3)\`; got ${describe(v)}`);
    return null;
  }
  const name = v.t === "name" ? v.name : v.callee;
  const span = v.t === "name" ? v.span : v.calleeSpan;
  const entry = lookup("callback", name);
  if (!entry) {
    r.error("E203", span, `unknown callback \`${name}\``, didYouMean(name, allNames("callback")) ?? `callbacks: ${names("callback").map((n) => `\`${n}\``).join(", ")}`);
    return null;
  }
  const bound = bindArgs(entry, v.t === "call" ? v.args : null, { callee: name, span }, r);
  if (!bound) return null;
  for (const [, arg, value] of callbackPaths([{ kind: entry.name, args: bound.args }])) {
    const problem = pathProblem(value);
    if (problem !== null) {
      r.error("E314", bound.spans[arg] ?? span, `\`${arg}\` of \`${entry.name}\` must be a path inside the run directory; "${value.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, "?")}" ${problem}`, `write a relative path such as \`${arg}: "${entry.name === "tensorboard" ? "logs" : entry.name === "checkpoint" ? "checkpoint" : "log.csv"}"\`; it is created in the run directory (--out)`);
      return null;
    }
  }
  return { ref: { kind: entry.name, args: bound.args }, monitorSpan: bound.spans.monitor, kind: entry.name };
}

function checkData(v: V, r: Reporter): IRData | null {
  if (v.t !== "name" && v.t !== "call") {
    r.error("E301", v.span, `\`data\` must name a dataset, such as \`mnist(validation: test)\`; got ${describe(v)}`);
    return null;
  }
  const name = v.t === "name" ? v.name : v.callee;
  const span = v.t === "name" ? v.span : v.calleeSpan;
  const entry = lookup("dataset", name);
  if (!entry) {
    r.error("E203", span, `unknown dataset \`${name}\``, didYouMean(name, allNames("dataset")) ?? `datasets: ${names("dataset").map((n) => `\`${n}\``).join(", ")}`);
    return null;
  }
  const args = v.t === "call" ? v.args : [];
  const bound = bindArgs(entry, args, { callee: name, span }, r);
  if (!bound) return null;
  let ok = true;
  let validation: IRData["validation"] = { kind: "none" };
  const split = bound.args.validation_split as number | undefined;
  if (split !== undefined) {
    if (bound.spans.validation !== undefined && bound.args.validation !== "none") {
      r.error("E506", bound.spans.validation_split, "give either `validation: test` or `validation_split`, not both");
      ok = false;
    }
    validation = { kind: "split", fraction: split };
  } else if (bound.args.validation === "test") {
    validation = { kind: "test" };
  }
  let augment: IRAugment | null = null;
  const augArg = args.find((a) => (a.name === "augment"));
  if (augArg) {
    const a = checkAugment(augArg.value, r);
    if (a === null) ok = false;
    else augment = a;
  }
  if (!ok) return null;
  return { dataset: entry.name as IRData["dataset"], classes: entry.classes, exampleShape: [...entry.exampleShape], validation, augment, shuffle: true };
}

function checkAugment(v: V, r: Reporter): IRAugment | null {
  if (v.t !== "obj") {
    r.error("E301", v.span, `\`augment\` must be an object such as \`{ rotation: 30, zoom: 0.1 }\`; got ${describe(v)}`);
    return null;
  }
  const got: Record<string, IRValue> = {};
  let ok = true;
  for (const e of v.entries) {
    const entry = lookup("augmentation", e.key);
    if (!entry) {
      r.error("E202", e.keySpan, `unknown augmentation \`${e.key}\``, didYouMean(e.key, allNames("augmentation")) ?? `augmentations: ${names("augmentation").map((n) => `\`${n}\``).join(", ")}`);
      ok = false;
      continue;
    }
    if (e.key in got) {
      r.error("E206", e.keySpan, `\`${e.key}\` is given twice`);
      ok = false;
      continue;
    }
    const val = checkValue(entry, e.value, e.key, r);
    if (isInvalid(val)) ok = false;
    else got[e.key] = val;
  }
  if (!ok) return null;
  const d = (key: string): IRValue => got[key] ?? defaultValue(augmentations.find((a) => a.name === key)!)!;
  return {
    rotation: d("rotation") as number,
    widthShift: (got.width_shift ?? got.shift ?? 0) as number,
    heightShift: (got.height_shift ?? got.shift ?? 0) as number,
    zoom: d("zoom") as number,
    shear: d("shear") as number,
    fill: d("fill") as IRAugment["fill"],
    cval: d("cval") as number,
  };
}

// ------------------------------------------------------------------ model vs training

/** The activation the model's output goes through last (through dropout/flatten/reshape). */
export function finalActivation(model: IRModel): { kind: string; layerId: string } {
  let l = layerById(model, model.outputs[0])!;
  for (;;) {
    const act = activationOf(l);
    if (act.kind !== "linear") return { kind: act.kind, layerId: l.id };
    if (passesValuesThrough(l) && l.inputs.length === 1) {
      l = layerById(model, l.inputs[0])!;
      continue;
    }
    if (l.kind === "prelu") return { kind: "prelu", layerId: l.id };
    return { kind: "linear", layerId: l.id };
  }
}

/** Checks one model (one sweep variant) against the training section. */
export function checkModelAgainstTraining(built: BuiltModel, ct: CheckedTraining, r: Reporter): boolean {
  const { model, info } = built;
  const t = ct.training;
  let ok = true;
  const out = layerById(model, model.outputs[0])!;
  const outInfo = info.get(out.id)!;
  const classes = t.data.classes;
  const ds = t.data.dataset;

  // Input vs dataset.
  const inShape = model.inputShape;
  const dsShape = lookup("dataset", ds)!.exampleShape;
  const n = dsShape.reduce((a, b) => a * b, 1);
  const fits =
    (inShape.length === 3 && inShape.every((d, i) => d === dsShape[i])) ||
    (inShape.length === 2 && inShape[0] === dsShape[0] && inShape[1] === dsShape[1]) ||
    (inShape.length === 1 && inShape[0] === n);
  if (!fits) {
    r.error("E508", built.inputSpan ?? outInfo.nameSpan, `the model's input [${inShape.join(", ")}] does not match \`${ds}\` examples [${dsShape.join(", ")}]`, `use \`input image(${dsShape.join(", ")})\` or \`input vector(${n})\``);
    ok = false;
  }

  // Output vs classes.
  if (out.outputShape.length !== 1) {
    r.error("E502", outInfo.nameSpan, `the model's output [${out.outputShape.join(", ")}] is not a vector of ${classes} class scores`, `end the model with \`flatten\` and \`dense(${classes}, activation: softmax)\``);
    ok = false;
  } else if (out.outputShape[0] !== classes) {
    const span = finalUnitsSpan(built) ?? outInfo.nameSpan;
    r.error("E502", span, `the model ends with ${out.outputShape[0]} outputs, but \`${ds}\` has ${classes} classes`, `make the last layer \`dense(${classes}, ...)\``);
    ok = false;
  }

  // Loss vs final activation.
  const act = finalActivation(model);
  const loss = t.loss.kind;
  const logits = t.loss.args.from_logits === true;
  const actLine = info.get(act.layerId)?.nameSpan.startLine;
  if (loss === "categorical_crossentropy" || loss === "sparse_categorical_crossentropy") {
    if (!logits && act.kind !== "softmax") {
      r.error(
        "E503",
        ct.lossSpan,
        `\`${loss}\` expects class probabilities, but the model's output goes through \`${act.kind}\` (line ${actLine})`,
        act.kind === "linear" ? "end with `activation: softmax`, or use `" + loss + "(from_logits: true)`" : "end with `activation: softmax`",
      );
      ok = false;
    } else if (logits && act.kind === "softmax") {
      r.warning("W603", ct.lossSpan, `\`${loss}(from_logits: true)\` applies softmax itself, but the model already ends with \`softmax\` (line ${actLine})`, "drop `from_logits: true`, or end the model with a linear layer");
    }
  } else if (loss === "binary_crossentropy") {
    if (!logits && act.kind !== "sigmoid" && act.kind !== "softmax") {
      r.error("E503", ct.lossSpan, `\`binary_crossentropy\` expects probabilities, but the model's output goes through \`${act.kind}\` (line ${actLine})`, "end with `activation: sigmoid`, or use `binary_crossentropy(from_logits: true)`");
      ok = false;
    } else if (logits && (act.kind === "sigmoid" || act.kind === "softmax")) {
      r.warning("W603", ct.lossSpan, `\`binary_crossentropy(from_logits: true)\` expects raw scores, but the model already ends with \`${act.kind}\` (line ${actLine})`, "drop `from_logits: true`");
    } else if (!logits && act.kind === "softmax" && out.outputShape.length === 1 && out.outputShape[0]! > 1) {
      r.warning(
        "W606",
        ct.lossSpan,
        `\`binary_crossentropy\` scores each of the ${out.outputShape[0]} outputs as a yes/no of its own, but \`softmax\` (line ${actLine}) makes them compete for one class`,
        "for one class per example use `categorical_crossentropy`; for independent yes/no labels end with `activation: sigmoid`",
      );
    }
  }

  // W608: batch-norm moving averages that the run's steps cannot settle. After k steps a moving
  // average still holds momentum^k of its initial value (mean 0, variance 1); inference uses it.
  const dataset = lookup("dataset", t.data.dataset)!;
  const split = t.data.validation.kind === "split" ? t.data.validation.fraction : 0;
  const trainSamples = Math.floor(dataset.trainSamples * (1 - split));
  const steps = t.epochs * (t.stepsPerEpoch ?? Math.ceil(trainSamples / t.batchSize));
  for (const l of model.layers) {
    // layers keeping moving averages of what they see in training (the catalog's stateful trait)
    if (!lookup("layer", l.kind)?.traits.stateful || !("momentum" in l.args)) continue;
    const left = Math.pow(l.args.momentum, steps);
    if (left <= 0.05) continue;
    const enough = Math.floor(Math.pow(0.01, 1 / steps) * 100) / 100;
    r.warning(
      "W608",
      info.get(l.id)!.nameSpan,
      `\`${l.kind}\` (momentum ${l.args.momentum}) keeps ${Math.round(left * 100)}% of its initial moving mean and variance after this run's ${steps} training steps: the trained model is evaluated with statistics that have not settled`,
      enough > 0 ? `lower the momentum (\`${l.kind}(momentum: ${enough})\` settles within ${steps} steps) or train for more steps` : "train for more steps",
    );
  }
  return ok;
}

function finalUnitsSpan(built: BuiltModel): Span | undefined {
  const model = built.model;
  let l = layerById(model, model.outputs[0])!;
  while (l.kind !== "dense" && l.inputs.length === 1 && l.weights.length === 0) l = layerById(model, l.inputs[0])!;
  const info = built.info.get(l.id);
  return info?.argSpans.units ?? info?.nameSpan;
}
