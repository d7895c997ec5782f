// The PyTorch target: `nnc compile FILE --target pytorch` -> one readable Python file that trains
// the model with PyTorch, in one process or under torchrun with DistributedDataParallel.
//
//   layers.ts          the layer table ({ [K in LayerKind]: ... }) and activations
//   training.ts        losses, optimizers, schedules, initializers (each typed by its kind)
//   python-runtime.ts  the fixed Python parts: safetensors, idx loader, Keras-semantics modules,
//                      process group and global-batch sampler
//
// What the target cannot express (an IR entry without a PyTorch implementation here) is refused
// with a positioned diagnostic (PytorchTargetError), never dropped: see UNSUPPORTED below.
import type { Diagnostic } from "../../../parser/diagnostics.js";
import type { CallbackKind, LossKind } from "../../catalog/kinds.js";
import type { IR, IRLayer, IRRef } from "../../ir.js";
import { activationOf } from "../../ir.js";
import { checkIR } from "../../ir-check.js";
import { hashComment, pyStr } from "../code.js";
import { pyActivation, pyLayer, pyNum, pyBool } from "./layers.js";
import { pyInitializer, pyLoss, pyOptimizer, pySchedule } from "./training.js";
import { PY_AUGMENT, PY_DATA, PY_DISTRIBUTED, PY_MODULES, PY_SAFETENSORS } from "./python-runtime.js";

export interface PytorchOptions {
  /** The .nn text, to position diagnostics about the train section. */
  sourceText?: string;
  /**
   * The program is run by `nnc run --engine pytorch`, which writes the TensorBoard event files
   * itself from the epoch logs rank 0 reports (the program has no event-file writer).
   */
  hostWritesTensorboard?: boolean;
}

/** The IR asks for something this target cannot express; `diagnostics` say where and why. */
export class PytorchTargetError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => `${d.span.startLine}:${d.span.startColumn}: ${d.message}${d.hint ? ` (${d.hint})` : ""}`).join("\n"));
    this.name = "PytorchTargetError";
  }
}

/** Callbacks: how the PyTorch program runs each, or why it cannot (a Record: a new callback must be decided here). */
const CALLBACKS: Record<CallbackKind, { supported: true } | { supported: false; why: string; hint: string }> = {
  early_stopping: { supported: true },
  reduce_on_plateau: { supported: true },
  terminate_on_nan: { supported: true },
  csv_logger: { supported: true },
  checkpoint: { supported: true },
  tensorboard: {
    supported: false,
    why: "the pytorch target does not write TensorBoard event files yet",
    hint: "remove `tensorboard` from callbacks, or let `nnc run --engine pytorch` run the program (it writes the event files)",
  },
};

/** A line's code: its comment (`#` to the end, outside a string) cut, its strings' contents blanked (offsets kept). */
function codeOf(line: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (!inString && ch === "#") break;
    if (ch === '"') inString = !inString;
    else if (inString && ch === "\\" && i + 1 < line.length) {
      out += "  ";
      i++;
      continue;
    }
    out += inString && ch !== '"' ? " " : ch;
  }
  return out;
}

/**
 * The span of the first match of `pattern` in the source's code (comments and strings left out;
 * after the first match of `after`, e.g. the train section's `{`, when given), 1-based; else line 1.
 */
function spanOf(source: string | undefined, pattern: RegExp, after?: RegExp): Diagnostic["span"] {
  const lines = (source ?? "").split("\n");
  let offset = 0;
  let searching = after === undefined;
  for (let i = 0; i < lines.length; i++) {
    let code = codeOf(lines[i]!);
    if (!searching) {
      const start = after!.exec(code);
      // blank the line up to the end of `after`, and search the rest
      if (start) code = " ".repeat(start.index + start[0].length) + code.slice(start.index + start[0].length);
      searching = start !== null;
    }
    const m = searching ? pattern.exec(code) : null;
    if (m) {
      return { startOffset: offset + m.index, endOffset: offset + m.index + m[0].length, startLine: i + 1, startColumn: m.index + 1, endLine: i + 1, endColumn: m.index + m[0].length + 1 };
    }
    offset += lines[i]!.length + 1;
  }
  return { startOffset: 0, endOffset: 0, startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 };
}

/** Every IR entry the target cannot express, as positioned diagnostics (empty: the program can be generated). */
export function pytorchDiagnostics(ir: IR, sourceText?: string, hostWritesTensorboard = false): Diagnostic[] {
  const out: Diagnostic[] = [];
  const err = (pattern: RegExp, message: string, hint: string, inTrain = true): void => {
    out.push({ severity: "error", code: "E701", message, hint, span: spanOf(sourceText, pattern, inTrain ? /^\s*train\b[^{]*\{/ : undefined), file: ir.source.file });
  };
  const t = ir.training;
  if (t === null) {
    err(/\bmodel\b/, `the pytorch target generates a training program, and ${ir.source.file} has no train section`, `add \`train ${ir.model.name} { ... }\``, false);
    return out;
  }
  for (const cb of t.callbacks) {
    const how = CALLBACKS[cb.kind];
    if (cb.kind === "tensorboard" && hostWritesTensorboard) continue;
    if (!how.supported) err(new RegExp(`\\b${cb.kind}\\b`), how.why, how.hint);
  }
  if (ir.sweep !== null) {
    err(/\bsweep\b/, "the pytorch target trains one model; this file sweeps over several", "run it with `nnc run --engine pytorch`, which trains each variant as a program of its own");
  }
  return out.sort((a, b) => a.span.startOffset - b.span.startOffset);
}

const PY_KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda " +
    "nonlocal not or pass raise return try while with yield match case type " +
    // names the generated forward() and nn.Module use
    "x logits self torch nn F math training forward train eval to cuda cpu float double half parameters buffers modules children apply " +
    "state_dict load_state_dict zero_grad register_buffer register_parameter add_module named_parameters named_buffers requires_grad_ " +
    "input_shape output dump_patches call_super_init")
    .split(" "),
);

/** Python names for the layers: the layer id when it is a plain identifier and no keyword, else layer_<n>. */
function pythonNames(layers: IRLayer[]): Map<string, string> {
  const names = new Map<string, string>();
  const used = new Set<string>();
  layers.forEach((l, i) => {
    let name = /^[A-Za-z][A-Za-z0-9_]*$/.test(l.id) && !PY_KEYWORDS.has(l.id) ? l.id : `layer_${i}`;
    while (used.has(name)) name = `${name}_`;
    used.add(name);
    names.set(l.id, name);
  });
  return names;
}

/** Whether the output activation goes into the loss (softmax + cross-entropy, sigmoid + binary cross-entropy). */
export function foldsOutput(ir: IR): boolean {
  const t = ir.training;
  if (t === null) return false;
  const out = ir.model.layers.find((l) => l.id === ir.model.outputs[0])!;
  if (out.outputShape.length !== 1) return false;
  const act = activationOf(out).kind;
  const loss: LossKind = t.loss.kind;
  const fromLogits = (t.loss.args as { from_logits?: boolean }).from_logits === true;
  if (fromLogits) return false;
  if (act === "softmax") return loss === "categorical_crossentropy" || loss === "sparse_categorical_crossentropy";
  if (act === "sigmoid") return loss === "binary_crossentropy";
  return false;
}

function indent(text: string, n: number): string {
  const pad = " ".repeat(n);
  return text
    .split("\n")
    .map((l) => (l.length ? pad + l : l))
    .join("\n");
}

/** The generated Python program for `ir`. Throws PytorchTargetError for what the target cannot express. */
export function generatePytorch(ir: IR, options: PytorchOptions = {}): string {
  checkIR(ir, "pytorch target");
  const diagnostics = pytorchDiagnostics(ir, options.sourceText, options.hostWritesTensorboard === true);
  if (diagnostics.length > 0) throw new PytorchTargetError(diagnostics);
  const t = ir.training!;
  const model = ir.model;
  const names = pythonNames(model.layers);
  const fold = foldsOutput(ir);
  const outId = model.outputs[0]!;
  const outLayer = model.layers.find((l) => l.id === outId)!;
  const classes = outLayer.outputShape.reduce((a, b) => a * b, 1);

  // ---- the module
  const init: string[] = [];
  const forward: string[] = [];
  for (const layer of model.layers) {
    const name = names.get(layer.id)!;
    const isOut = layer.id === outId;
    const inputs = layer.kind === "input" ? ["x"] : layer.inputs.map((id) => names.get(id)!);
    const py = pyLayer(layer, { attr: name, inputs, foldOutput: isOut && fold });
    const where = hashComment(`line ${layer.source.line}: ${layer.source.text} -> [${layer.outputShape.join(", ")}]`);
    if (py.module) {
      init.push(where, `self.${name} = ${py.module}`);
    }
    forward.push(where, `${name} = ${py.forward}`);
    if (isOut && fold) {
      forward.push(
        "if not logits:",
        `    ${name} = ${pyActivation(activationOf(layer), name, layer.outputShape.length)}`,
      );
    }
  }
  const outName = names.get(outId)!;
  if (outLayer.outputShape.length === 1) forward.push(`return ${outName}`);
  else {
    // the targets are flat [n, ${classes}]: the output in Keras's (NHWC) order, flattened
    forward.push(
      hashComment(`the output [${outLayer.outputShape.join(", ")}] flattened in Keras's order, as the labels are`),
      `return ${outLayer.outputShape.length === 3 ? `${outName}.permute(0, 2, 3, 1)` : outName}.reshape(${outName}.shape[0], -1)`,
    );
  }

  const weights = model.layers.flatMap((l) => l.weights.map((w) => ({ w, attr: `${names.get(l.id)}.${w.role}` })));
  const trainable = weights.filter((x) => x.w.trainable);
  const regularized = weights.filter((x) => x.w.regularizer !== null);

  const weightTable = weights.map(({ w, attr }) => `    (${pyStr(w.name)}, ${pyStr(attr)}, (${w.shape.join(", ")}${w.shape.length === 1 ? "," : ""})),`).join("\n");
  const initLines = weights
    .map(({ w, attr }) => `    ${hashComment(`${w.name}: ${w.initializer.kind}`)}\n    shape = (${w.shape.join(", ")}${w.shape.length === 1 ? "," : ""})\n    state[${pyStr(attr)}].copy_(${pyInitializer(w)})`)
    .join("\n");

  const penaltyLines = regularized.length
    ? regularized
        .map(({ w, attr }) => {
          const a = w.regularizer!.args as Record<string, number>;
          const l1 = w.regularizer!.kind === "l2" ? 0 : Number(a.l1);
          const l2 = w.regularizer!.kind === "l1" ? 0 : Number(a.l2);
          const terms = [l1 ? `${pyNum(l1)} * w.abs().sum()` : "", l2 ? `${pyNum(l2)} * (w * w).sum()` : ""].filter(Boolean);
          return `    w = state[${pyStr(attr)}]  ${hashComment(`${w.name}: ${w.regularizer!.kind}`)}\n    penalty = penalty + ${terms.join(" + ") || "0.0"}`;
        })
        .join("\n")
    : "";

  // ---- metrics: running sums [count, argmax hits, then one slot per metric quantity]
  const binary = t.loss.kind === "binary_crossentropy";
  const metricSlots: string[] = ["count", "hits"];
  const slot = (s: string): number => {
    if (!metricSlots.includes(s)) metricSlots.push(s);
    return metricSlots.indexOf(s);
  };
  const accLines: string[] = [];
  const valueLines: string[] = [];
  for (const m of t.metrics) {
    if (m === "accuracy") {
      if (binary) {
        const s = slot("binary_hits");
        accLines.push(`sums[${s}] += ((p > 0.5).to(y.dtype) == y).sum()`);
        valueLines.push(`"accuracy": sums[${s}] / max(count * CLASSES, 1),  # binary accuracy, as Keras picks for binary_crossentropy`);
      }
    } else if (m === "precision" || m === "recall") {
      const tp = slot("true_positives");
      const other = slot(m === "precision" ? "false_positives" : "false_negatives");
      if (!accLines.some((l) => l.startsWith(`sums[${tp}]`))) accLines.push(`sums[${tp}] += ((p > 0.5) & (y == 1)).sum()`);
      accLines.push(m === "precision" ? `sums[${other}] += ((p > 0.5) & (y == 0)).sum()` : `sums[${other}] += ((p <= 0.5) & (y == 1)).sum()`);
      valueLines.push(`${pyStr(m)}: sums[${tp}] / max(sums[${tp}] + sums[${other}], 1),  # thresholded at 0.5, over every output`);
    } else if (m === "mse" || m === "mae") {
      const s = slot(m === "mse" ? "squared_error" : "absolute_error");
      accLines.push(m === "mse" ? `sums[${s}] += ((p - y) ** 2).sum()` : `sums[${s}] += (p - y).abs().sum()`);
      valueLines.push(`${pyStr(m)}: sums[${s}] / max(count * CLASSES, 1),`);
    } else {
      const never: never = m;
      throw new Error(`pytorch target: no metric ${String(never)}`);
    }
  }

  const cb = <K extends CallbackKind>(kind: K) => t.callbacks.find((c) => c.kind === kind) as IRRef<K> | undefined;
  const early = cb("early_stopping");
  const plateau = cb("reduce_on_plateau");
  const nanStop = cb("terminate_on_nan");
  const csv = cb("csv_logger");
  const checkpoint = cb("checkpoint");
  const lrArg = Number((t.optimizer.args as { lr: number }).lr);
  const v = t.data.validation;
  const src = ir.source;
  const metricNames = t.metrics.map((m) => (m === "accuracy" ? "accuracy" : m));

  const quoted = options.sourceText
    ? options.sourceText
        .replace(/\n$/, "")
        .split("\n")
        .map((line) => (line.trim() ? hashComment(`  ${line}`) : "#"))
        .join("\n")
    : hashComment(`  (source text not given; sha256 ${src.sha256})`);

  const callbackState: string[] = [];
  const epochEnd: string[] = [];
  if (csv) {
    const a = csv.args as { path: string; separator: string; append: boolean };
    callbackState.push(`csv_rows = []  ${hashComment(`csv_logger(${a.path})`)}`);
    epochEnd.push(
      "# csv_logger: the whole file rewritten each epoch (atomically), on rank 0",
      "if rank == 0:",
      `    if not csv_rows:`,
      `        csv_rows.append(${pyStr(a.separator)}.join(["epoch", *logs.keys()]))`,
      `    csv_rows.append(${pyStr(a.separator)}.join([str(epoch), *(repr(float(v)) for v in logs.values())]))`,
      `    csv_path = os.path.join(args.out, ${pyStr(a.path)})`,
      "    os.makedirs(os.path.dirname(csv_path) or \".\", exist_ok=True)",
      `    write_atomic(csv_path, ("\\n".join(csv_rows) + "\\n").encode("utf-8"))`,
      `    add_file(${pyStr(a.path)})`,
    );
  }
  if (checkpoint) {
    const a = checkpoint.args as { monitor: string; save_best_only: boolean; mode: string; path: string };
    callbackState.push(`checkpoint_best = ${a.mode === "max" ? 'float("-inf")' : 'float("inf")'}  ${hashComment(`checkpoint(monitor: ${a.monitor})`)}`);
    epochEnd.push(
      hashComment(`checkpoint: the weights as safetensors in ${a.path}/ (nnc run turns them into a tfjs model there too)`),
      `current = logs.get(${pyStr(a.monitor)})`,
      a.save_best_only
        ? `save_now = current is not None and current ${a.mode === "max" ? ">" : "<"} checkpoint_best`
        : "save_now = True",
      "if current is not None and save_now:",
      "    checkpoint_best = current",
      "if save_now and rank == 0:",
      `    folder = os.path.join(args.out, ${pyStr(a.path)})`,
      "    os.makedirs(folder, exist_ok=True)",
      `    write_safetensors(os.path.join(folder, "weights.safetensors"), weights_of(raw), metadata(epoch=epoch + 1))`,
      `    add_file(os.path.join(${pyStr(a.path)}, "weights.safetensors"))`,
    );
  }
  if (plateau) {
    const a = plateau.args as { monitor: string; factor: number; patience: number; min_delta: number; cooldown: number; min_lr: number; mode: string };
    callbackState.push(
      `plateau = {"best": ${a.mode === "max" ? 'float("-inf")' : 'float("inf")'}, "wait": 0, "cooldown": 0}  ${hashComment(`reduce_on_plateau(monitor: ${a.monitor})`)}`,
    );
    const improved = a.mode === "max" ? `current > plateau["best"] + ${pyNum(a.min_delta)}` : `current < plateau["best"] - ${pyNum(a.min_delta)}`;
    epochEnd.push(
      "# reduce_on_plateau, as Keras",
      `current = logs.get(${pyStr(a.monitor)})`,
      "if current is None:",
      `    say("reduce_on_plateau: " + ${pyStr(a.monitor)} + f" is not available (logs have {', '.join(logs)}); lr unchanged")`,
      "else:",
      '    in_cooldown = plateau["cooldown"] > 0',
      "    if in_cooldown:",
      '        plateau["cooldown"] -= 1',
      '        plateau["wait"] = 0',
      `    if ${improved}:`,
      '        plateau["best"] = current',
      '        plateau["wait"] = 0',
      "    elif not in_cooldown:",
      '        plateau["wait"] += 1',
      `        if plateau["wait"] >= ${a.patience} and base_lr > ${pyNum(a.min_lr)}:`,
      `            new_lr = max(base_lr * ${pyNum(a.factor)}, ${pyNum(a.min_lr)})`,
      `            say("reduce_on_plateau: " + ${pyStr(a.monitor)} + f" has not improved for ${a.patience} epochs; lr {base_lr:.4g} -> {new_lr:.4g}")`,
      "            base_lr = new_lr",
      `            plateau["cooldown"] = ${a.cooldown}`,
      '            plateau["wait"] = 0',
    );
  }
  if (early) {
    const a = early.args as { monitor: string; patience: number; min_delta: number; restore_best: boolean; mode: string };
    const d = Math.abs(a.min_delta);
    callbackState.push(
      `early = {"best": ${a.mode === "max" ? 'float("-inf")' : 'float("inf")'}, "best_epoch": 0, "wait": 0, "weights": None}  ${hashComment(`early_stopping(monitor: ${a.monitor})`)}`,
    );
    const improved = a.mode === "max" ? `current - ${pyNum(d)} > early["best"]` : `current + ${pyNum(d)} < early["best"]`;
    epochEnd.push(
      "# early_stopping, as Keras",
      `current = logs.get(${pyStr(a.monitor)})`,
      "if current is None:",
      `    say("early_stopping: " + ${pyStr(a.monitor)} + f" is not available (logs have {', '.join(logs)}); not stopping")`,
      "else:",
      ...(a.restore_best ? ['    if early["weights"] is None:', '        early["weights"] = {k: t.clone() for k, t in weights_of(raw).items()}'] : []),
      '    early["wait"] += 1',
      `    if ${improved}:`,
      '        early["best"], early["best_epoch"], early["wait"] = current, epoch, 0',
      ...(a.restore_best ? ['        early["weights"] = {k: t.clone() for k, t in weights_of(raw).items()}'] : []),
      `    elif early["wait"] >= ${a.patience} and epoch > 0:`,
      `        say("early_stopping: " + ${pyStr(a.monitor)} + f" has not improved for {early['wait']} epochs (best {early['best']:.4g} at epoch {early['best_epoch'] + 1}); stopping${a.restore_best ? ", restoring the weights of epoch {early['best_epoch'] + 1}" : ""}")`,
      ...(a.restore_best ? ['        load_tensors(raw, early["weights"], "the best epoch")'] : []),
      "        stopped_early = True",
    );
  }

  const valSetup =
    v.kind === "split"
      ? `# validation_split: the last ${v.fraction} of the training examples (as Keras takes them)
    train_count = int(train_pixels.shape[0] * (1 - ${pyNum(v.fraction)}))
    val_pixels, val_labels = train_pixels[train_count:], train_labels[train_count:]`
      : v.kind === "test"
        ? `# validation on the test set
    train_count = train_pixels.shape[0]
    val_pixels, val_labels = test_pixels, test_labels`
        : `# no validation data
    train_count = train_pixels.shape[0]
    val_pixels = None`;

  const script = `${model.name.replace(/[^A-Za-z0-9_-]/g, "_")}.py`;
  const aug = t.data.augment;
  const header = `#!/usr/bin/env python3
${hashComment(`${model.name}: a PyTorch training program generated by nnc ${ir.nncVersion} from ${src.file}`)}
${hashComment(`(sha256 ${src.sha256}). Regenerate with: nnc compile ${src.file} --target pytorch`)}
#
# One process:     python3 ${script} --data DIR --out DIR
# One machine:     torchrun --nproc_per_node N ${script} --data DIR --out DIR
# Several:         torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT ${script} ...
#                  (Debian's torchrun, PyTorch 1.13 on Python 3.11, also needs --redirects 1 --tee 1)
# Flags: --data DIR, --out DIR, --epochs N, --train-limit N, --test-limit N, --seed N,
#        --init FILE.safetensors (start from these weights; else initialised here from the seed),
#        --device auto|cpu|cuda, --compile (torch.compile where this PyTorch has it), --events, --quiet.
# Writes (rank 0): OUT/weights.safetensors, OUT/history.json, OUT/history.csv, OUT/result.json.
# Needs only PyTorch (and the numpy it ships with).
#
# The .nn source:
${quoted}
"""PyTorch training program for the nnc model ${model.name.replace(/[^A-Za-z0-9_ -]/g, "_")} (DistributedDataParallel-ready)."""
import argparse
import gzip
import json
import math
import os
import struct
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

SOURCE_FILE = ${pyStr(src.file)}
SOURCE_SHA256 = ${pyStr(src.sha256)}
NNC_VERSION = ${pyStr(ir.nncVersion)}
MODEL_NAME = ${pyStr(model.name)}
DATASET = ${pyStr(t.data.dataset)}
# one example as the model sees it (Keras's NHWC for images)
EXAMPLE_SHAPE = (${t.data.exampleShape.join(", ")}${t.data.exampleShape.length === 1 ? "," : ""})
CLASSES = ${classes}
BATCH = ${t.batchSize}
EPOCHS = ${t.epochs}
SEED = ${t.seed}
# steps per epoch fixed by the train section (else one pass over the training examples)
STEPS_PER_EPOCH = ${t.stepsPerEpoch ?? "None"}
SHUFFLE = ${pyBool(t.data.shuffle)}
# the data section's on-the-fly augmentation (degrees, fractions of the image, zoom range, fill), or None
AUGMENT = ${aug ? `{"rotation": ${pyNum(aug.rotation)}, "width_shift": ${pyNum(aug.widthShift)}, "height_shift": ${pyNum(aug.heightShift)}, "zoom": ${pyNum(aug.zoom)}, "shear": ${pyNum(aug.shear)}, "fill": ${pyStr(aug.fill)}, "cval": ${pyNum(aug.cval)}}` : "None"}
# the idx images' height and width
IMAGE = (28, 28)
# the output's ${activationOf(outLayer).kind} is folded into the loss: the model returns logits when asked (logits=True)
FOLD = ${pyBool(fold)}
`;

  const program = `${header}
${PY_SAFETENSORS}
${PY_DATA}${aug ? `
${PY_AUGMENT}` : ""}
${PY_MODULES}
# ---------------------------------------------------------------- the model


class Model(nn.Module):
    """${model.name.replace(/[^A-Za-z0-9_]/g, "_")}: ${model.params.total} weights (${model.params.trainable} trainable)."""

    def __init__(self):
        super().__init__()
${indent(init.join("\n"), 8)}

    def forward(self, x, logits=False):
        """x: a batch of examples in Keras's layout [n, ${t.data.exampleShape.join(", ")}]; returns [n, ${outLayer.outputShape.join(", ")}]${fold ? " (logits with logits=True)" : ""}."""
${indent(forward.join("\n"), 8)}


# Every weight: model.json's name (Keras layout), where it lives in Model, its shape.
WEIGHTS = [
${weightTable}
]


def tensors_of(model):
    state = dict(model.named_parameters())
    state.update(dict(model.named_buffers()))
    return state


def weights_of(model):
    """{model.json name: tensor} of every weight."""
    state = tensors_of(model)
    return {name: state[attr].detach() for name, attr, _ in WEIGHTS}


@torch.no_grad()
def load_tensors(model, tensors, where):
    state = tensors_of(model)
    missing = [name for name, _, _ in WEIGHTS if name not in tensors]
    if missing:
        raise SystemExit(f"{where}: no weight {', '.join(missing)}")
    for name, attr, shape in WEIGHTS:
        if tuple(tensors[name].shape) != shape:
            raise SystemExit(f"{where}: {name} has shape {list(tensors[name].shape)}, the model's is {list(shape)}")
        state[attr].copy_(tensors[name])


def load_weights(model, path):
    """Sets every weight from a safetensors file with model.json's names (e.g. nnc's seeded initial weights)."""
    try:
        tensors = read_safetensors(path)
    except (OSError, ValueError) as e:
        raise SystemExit(f"--init {path}: {e}")
    load_tensors(model, tensors, path)


@torch.no_grad()
def initialize(model, seed):
    """Keras's initializers, drawn from one generator seeded by seed (not nnc's streams: pass --init for those)."""
    g = torch.Generator()
    g.manual_seed(seed)
    state = tensors_of(model)
${initLines || "    pass"}


def regularization_penalty(model):
    """The L1/L2 penalties of the weights that have a regularizer, added to the loss."""
    penalty = torch.zeros((), device=next((w.device for w in model.parameters()), torch.device("cpu")))
${penaltyLines ? `    state = tensors_of(model)\n${penaltyLines}` : ""}
    return penalty


# ---------------------------------------------------------------- loss, metrics, optimizer


def loss_per_example(out, y):
    """${t.loss.kind}: one value per example (the loss is their mean over the batch)."""
${indent(pyLoss(t.loss, fold, classes).join("\n"), 4)}


def probabilities(out):
    """The model's outputs as Keras returns them (the folded ${activationOf(outLayer).kind} applied)."""
    return ${fold ? pyActivation(activationOf(outLayer), "out", 1) : "out"}


# running sums behind the metrics: ${metricSlots.join(", ")}
METRIC_SLOTS = ${metricSlots.length}


def accumulate_metrics(sums, out, y):
    p = probabilities(out)
    sums[0] += y.shape[0]
    sums[1] += (p.argmax(dim=-1) == y.argmax(dim=-1)).sum()
${indent(accLines.join("\n"), 4)}


def metric_values(sums):
    """Metric values from the (all-reduced) sums: {name: float}."""
    sums = sums.tolist()
    count = sums[0]
    values = {"accuracy": sums[1] / max(count, 1)}  # argmax hits${valueLines.length ? `
    values.update({
${indent(valueLines.join("\n"), 8)}
    })` : ""}
    return values


${pyOptimizer(t.optimizer)}


def train_step(model, raw, optimizer, x, y, n_global, world, lr):
    """One optimizer step on this rank's slice (x, y) of a global batch of n_global examples. The loss
    is scaled so that DistributedDataParallel's mean over the ranks is the gradient of the global
    batch's mean loss (plus the penalties). Returns (per-example losses, outputs, penalty)."""
    out = model(x, logits=FOLD)
    per_example = loss_per_example(out, y)
    penalty = regularization_penalty(raw)
    loss = per_example.sum() * (world / n_global) + penalty
    optimizer.zero_grad()
    loss.backward()
    optimizer.step(lr)
    return per_example.detach(), out.detach(), penalty.detach()


@torch.no_grad()
def evaluate(raw, pixels, labels, rank, world, device):
    """Loss and metrics over a data set: each rank takes a contiguous shard, the sums are all-reduced."""
    raw.eval()
    count = pixels.shape[0]
    lo, hi = count * rank // world, count * (rank + 1) // world
    sums = torch.zeros(METRIC_SLOTS, dtype=torch.float64, device=device)
    loss_sum = torch.zeros(1, dtype=torch.float64, device=device)
    for start in range(lo, hi, BATCH):
        index = torch.arange(start, min(start + BATCH, hi))
        x, y = batch_of(pixels, labels, index, device)
        out = raw(x, logits=FOLD)
        loss_sum += loss_per_example(out, y).sum()
        accumulate_metrics(sums, out, y)
    all_reduce_sum(sums, world)
    all_reduce_sum(loss_sum, world)
    raw.train()
    loss = float(loss_sum) / max(count, 1) + float(regularization_penalty(raw))
    return loss, metric_values(sums)


${PY_DISTRIBUTED}

# ---------------------------------------------------------------- training


@torch.no_grad()
def rank_divergence(raw, world):
    """The largest |w - w on rank 0| over every weight and rank (0.0 in one process)."""
    if world == 1:
        return 0.0
    worst = torch.zeros(1, dtype=torch.float64, device=next(iter(tensors_of(raw).values())).device)
    for _, attr, _ in WEIGHTS:
        mine = tensors_of(raw)[attr]
        theirs = mine.clone()
        dist.broadcast(theirs, src=0)
        worst = torch.maximum(worst, (mine - theirs).abs().max().to(torch.float64).reshape(1))
    dist.all_reduce(worst, op=dist.ReduceOp.MAX)
    return float(worst)


def history_columns(history):
    """loss, the metrics, val_loss, the val_ metrics, lr, then anything else (as nnc orders them)."""
    keys = []
    for row in history:
        keys += [k for k in row if k not in keys]

    def rank(k):
        if k == "loss":
            return (0, k)
        if k == "val_loss":
            return (2, k)
        if k.startswith("val_"):
            return (3, k[4:])
        if k == "lr":
            return (4, k)
        return (1, k)

    return sorted(keys, key=rank)


def write_history(out, history):
    """history.json ({epochs, columns, history}: nnc's format, null for missing or non-finite) and history.csv."""
    columns = history_columns(history)
    rows = []
    for i, row in enumerate(history):
        rows.append({"epoch": i + 1, **{c: row[c] if c in row and math.isfinite(row[c]) else None for c in columns}})
    text = json.dumps({"epochs": len(history), "columns": ["epoch", *columns], "history": rows}, indent=2)
    write_atomic(os.path.join(out, "history.json"), (text + "\\n").encode("utf-8"))

    def cell(v):
        if v is None:
            return ""
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(float(v))

    lines = [",".join(["epoch", *columns])] + [",".join([str(i + 1), *(cell(row.get(c)) for c in columns)]) for i, row in enumerate(history)]
    write_atomic(os.path.join(out, "history.csv"), ("\\n".join(lines) + "\\n").encode("utf-8"))


def metadata(**extra):
    return {"sourceFile": SOURCE_FILE, "sourceSha256": SOURCE_SHA256, "nncVersion": NNC_VERSION, "engine": "pytorch", **extra}


def train(args, rank, world, device):
    started = time.time()
    files = []

    def add_file(name):
        if name not in files:
            files.append(name)

    def say(message):
        if rank == 0 and not args.quiet:
            if args.events:
                print("@nnc " + json.dumps({"event": "log", "message": message}), flush=True)
            else:
                print(message, flush=True)

    def event(kind, **fields):
        if rank == 0 and args.events:
            print("@nnc " + json.dumps({"event": kind, **fields}), flush=True)

    seed = SEED if args.seed is None else args.seed
    epochs = EPOCHS if args.epochs is None else args.epochs
    # seeds on every rank: the same initial weights everywhere, each rank its own dropout stream
    torch.manual_seed(seed * 1000 + rank)
    augment_with = None
    if AUGMENT is not None:
        augment_with = torch.Generator()
        augment_with.manual_seed(seed * 1000 + 500 + rank)
    folder = find_data_dir(args.data, DATASET)
    train_pixels, train_labels = load_split(folder, "train", args.train_limit)
    test_pixels, test_labels = load_split(folder, "test", args.test_limit)
    # the examples stay bytes on the device; each batch becomes floats as it is gathered
    train_pixels, train_labels = train_pixels.to(device), train_labels.to(device)
    test_pixels, test_labels = test_pixels.to(device), test_labels.to(device)
    ${valSetup}
    fixed_steps = STEPS_PER_EPOCH is not None
    steps = STEPS_PER_EPOCH if fixed_steps else math.ceil(train_count / BATCH)
    if not fixed_steps and steps > 1 and 0 < train_count % BATCH < world:
        steps -= 1  # a last global batch smaller than the number of ranks would leave a rank empty: dropped
    if train_count == 0 or steps == 0:
        raise SystemExit(f"no training examples to train on ({train_count} after the validation split)")

    raw = Model().to(device)
    if args.init is not None:
        load_weights(raw, args.init)
    else:
        initialize(raw, seed)
    # DDP broadcasts rank 0's weights and then averages every gradient over the ranks
    if world > 1:
        model = DistributedDataParallel(raw, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        model = raw
    if args.compile:
        if hasattr(torch, "compile"):
            model = torch.compile(model)
        else:
            say(f"--compile: torch.compile is not available in PyTorch {torch.__version__}; running eagerly")
    state = tensors_of(raw)
    optimizer = Optimizer([state[attr] for _, attr, _ in WEIGHTS if state[attr].requires_grad])
    sampler = GlobalBatchSampler(train_count, BATCH, steps, fixed_steps, SHUFFLE, seed, rank, world)
    base_lr = ${pyNum(lrArg)}
    lr = base_lr
    stopped_early = False
    history = []
    ${callbackState.join("\n    ")}
    trained = 0
    train_seconds = 0.0
    event("begin", epochs=epochs, stepsPerEpoch=steps, trainSamples=train_count, validationSamples=0 if val_pixels is None else val_pixels.shape[0], world=world, device=str(device))
    epoch = 0
    while epoch < epochs and not stopped_early:
        sampler.set_epoch(epoch)
        raw.train()
        sums = torch.zeros(METRIC_SLOTS, dtype=torch.float64, device=device)
        loss_sum = torch.zeros(1, dtype=torch.float64, device=device)
        epoch_started = time.time()
        for step, (index, n_global) in enumerate(sampler):
            iterations = optimizer.iterations
            lr = ${pySchedule(t.schedule)}
            x, y = batch_of(train_pixels, train_labels, index.to(device), device, augment_with)
            per_example, out, penalty = train_step(model, raw, optimizer, x, y, n_global, world, lr)
            loss_sum += per_example.sum() + penalty * per_example.shape[0]
            accumulate_metrics(sums, out, y)
            trained += n_global
            if args.events and rank == 0 and (step % 10 == 9 or step == steps - 1):
                event("batch", step=step, loss=float(loss_sum) / max(float(sums[0]), 1), accuracy=float(sums[1]) / max(float(sums[0]), 1))${
                  nanStop
                    ? `
            # terminate_on_nan (every rank sees the same all-reduced verdict)
            bad = torch.tensor([0.0 if math.isfinite(float(per_example.sum())) else 1.0], dtype=torch.float64, device=device)
            if float(all_reduce_sum(bad, world)) > 0:
                say(f"terminate_on_nan: the loss is not finite at epoch {epoch + 1}, step {step + 1}; stopping")
                stopped_early = True
                break`
                    : ""
                }
        train_seconds += time.time() - epoch_started
        all_reduce_sum(sums, world)
        all_reduce_sum(loss_sum, world)
        logs = {"loss": float(loss_sum) / max(float(sums[0]), 1)}
        train_metrics = metric_values(sums)
        for name in ${JSON.stringify(metricNames)}:
            logs[name] = train_metrics[name]
        if val_pixels is not None:
            val_loss, val_metrics = evaluate(raw, val_pixels, val_labels, rank, world, device)
            logs["val_loss"] = val_loss
            for name in ${JSON.stringify(metricNames)}:
                logs["val_" + name] = val_metrics[name]
        logs["lr"] = lr
        history.append(logs)
        event("epoch", epoch=epoch, logs=logs)
        if rank == 0 and not args.events and not args.quiet:
            print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4g}" for k, v in logs.items()), flush=True)
${indent(epochEnd.join("\n"), 8)}
        epoch += 1

    test_loss, test_metrics = evaluate(raw, test_pixels, test_labels, rank, world, device)
    divergence = rank_divergence(raw, world)
    if divergence > 0:
        say(f"warning: the ranks' weights differ by up to {divergence:.3g} (rank 0's are saved)")
    if args.save_every_rank and world > 1:
        os.makedirs(args.out, exist_ok=True)
        write_safetensors(os.path.join(args.out, f"weights.rank{rank}.safetensors"), weights_of(raw), metadata(rank=rank))
    seconds = time.time() - started
    result = {
        "engine": "pytorch",
        "backend": device.type,
        "world": world,
        # the largest difference between a rank's weights and rank 0's (0: DDP kept them identical)
        "rankDivergence": divergence,
        "history": history,
        "epochs": len(history),
        "trainSamples": train_count,
        "testLoss": test_loss,
        "testAccuracy": test_metrics["accuracy"],
        "testMetrics": test_metrics,
        "seconds": seconds,
        "samplesPerSecond": trained / max(train_seconds, 1e-9),
        "stoppedEarly": stopped_early,
        "files": files,
    }
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        write_safetensors(os.path.join(args.out, "weights.safetensors"), weights_of(raw), metadata())
        add_file("weights.safetensors")
        write_history(args.out, history)
        add_file("history.json")
        add_file("history.csv")
        add_file("result.json")
        write_atomic(os.path.join(args.out, "result.json"), (json.dumps(result, indent=2) + "\\n").encode("utf-8"))
    return result


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", help="folder with the idx files (else $NNC_DATA or nnc's cache dir)")
    p.add_argument("--out", default=os.path.join("runs", MODEL_NAME), help="run directory (rank 0 writes it)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--train-limit", type=int, help="only the first N training examples")
    p.add_argument("--test-limit", type=int, help="only the first N test examples")
    p.add_argument("--seed", type=int)
    p.add_argument("--init", help="initial weights (safetensors with model.json's names)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the model where available")
    p.add_argument("--events", action="store_true", help="progress as '@nnc {json}' lines on stdout (for nnc run)")
    p.add_argument("--save-every-rank", action="store_true", help="each rank also writes weights.rank<R>.safetensors")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rank, world, device = setup_distributed(args.device)
    try:
        result = train(args, rank, world, device)
        if rank == 0 and not args.events:
            print(f"test loss {result['testLoss']:.4f}, test accuracy {result['testAccuracy'] * 100:.2f}% "
                  f"({result['seconds']:.1f} s, {result['samplesPerSecond']:.0f} samples/s, {world} process{'es' if world > 1 else ''} on {device.type})")
    finally:
        if world > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
`;
  return program;
}
