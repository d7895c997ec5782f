// The checker's limits: how far a file may expand (repeat counts, `for` lists, nested block
// calls, layers, loop steps, sweep variants, expression size) and how large a model may be
// (parameters, activations per batch, the estimated bytes of training against the machine's
// memory). Past a limit the checker reports E312 (expansion) or E313 (size) where the file
// asks for it, naming the limit, the value and the fix, instead of running out of time or
// memory. Every limit can be raised: `--limit NAME=N` on the CLI, `limits` in CheckOptions.
import { lookup } from "../catalog/index.js";
import { totalmem } from "node:os";
import type { Expr, Span } from "../../parser/ast.js";
import type { IRModel, IRTraining } from "../ir.js";
import type { Reporter } from "./report.js";

export interface Limits {
  /** The count of one `repeat N { ... }`. */
  repeat: number;
  /** The items of one `for x in [...]` list. */
  loop: number;
  /** Blocks calling blocks, this many deep. */
  depth: number;
  /** Layers in a model after expansion. */
  layers: number;
  /** Statements and loop iterations run while expanding one model (loops within loops). */
  steps: number;
  /** Sweep variants (the product of the sweep lists' lengths). */
  variants: number;
  /** Terms of one expression (`1 + 2 * x` has 3). */
  terms: number;
  /** Parameters (weights) of a model. */
  params: number;
  /** Activations (floats) of one batch: every layer's output, times the batch size. */
  activations: number;
  /** Estimated bytes to train the model; default: this machine's memory. */
  memory: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  repeat: 10_000,
  loop: 10_000,
  depth: 64,
  layers: 5_000,
  steps: 25_000,
  variants: 256,
  terms: 1_000,
  params: 1_000_000_000,
  activations: 1_000_000_000,
  memory: totalmem(),
});

/** What each limit bounds, for `--limit` help and messages. */
export const LIMIT_WORDS: Record<keyof Limits, string> = {
  repeat: "the count of one `repeat`",
  loop: "the items of one `for` list",
  depth: "blocks calling blocks, levels deep",
  layers: "layers in a model after expansion",
  steps: "statements and loop iterations expanding one model",
  variants: "sweep variants",
  terms: "terms of one expression",
  params: "parameters of a model",
  activations: "activations of one batch (floats)",
  memory: "estimated bytes to train",
};

/**
 * The most memory the standalone engine's programs can use: every buffer lives in one
 * WebAssembly.Memory of at most 32768 pages of 64 KiB (kernelMemory in
 * src/compiler/targets/standalone/kernels/index.ts; test/checker/limits.test.ts keeps them equal).
 */
export const STANDALONE_MAX_MEMORY_BYTES = 32768 * 65536;

export function resolveLimits(given: Partial<Limits> | undefined): Limits {
  return given === undefined ? { ...DEFAULT_LIMITS } : { ...DEFAULT_LIMITS, ...given };
}

/** Parses `NAME=N` (N may use `_`, `k`, `M`, `G` suffixes for thousands, millions, billions). */
export function parseLimit(text: string): [keyof Limits, number] | string {
  const m = /^\s*([a-z]+)\s*=\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([kKmMgG]?)\s*$/.exec(text);
  const names = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];
  if (!m) return `--limit takes NAME=N, such as layers=50000; got "${text}" (names: ${names.join(", ")})`;
  const name = m[1] as keyof Limits;
  if (!names.includes(name)) return `unknown limit "${m[1]}" (names: ${names.join(", ")})`;
  const scale = { "": 1, k: 1e3, m: 1e6, g: 1e9 }[m[3]!.toLowerCase()]!;
  const n = Number(m[2]!.replace(/_/g, "")) * scale;
  if (!Number.isFinite(n) || n < 1) return `--limit ${name} must be at least 1; got "${text}"`;
  return [name, Math.floor(n)];
}

/** "raise it with `--limit layers=20000`". */
export function raiseHint(name: keyof Limits, value: number): string {
  const want = name === "memory" ? `${Math.ceil(value / 2 ** 30)}G` : String(Math.max(value, 1));
  return `or raise the limit with \`--limit ${name}=${want}\``;
}

/** A size for people: "3.2 GiB". */
export function bytesText(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.ceil(n / 1024)} KiB`;
}

/** A count for people: 1234567 -> "1,234,567". */
export function countText(n: number): string {
  return Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : n.toExponential(2);
}

// ------------------------------------------------------------------ expression size

/** The number of terms of an expression (leaves: numbers, strings, names...), counted without recursion. */
export function exprTerms(e: Expr, stopAt = Infinity): number {
  let n = 0;
  const stack: Expr[] = [e];
  while (stack.length > 0 && n <= stopAt) {
    const x = stack.pop()!;
    switch (x.kind) {
      case "binary":
        stack.push(x.left, x.right);
        break;
      case "unary":
        stack.push(x.operand);
        break;
      case "list":
        n++;
        for (const it of x.items) stack.push(it);
        break;
      case "object":
        n++;
        for (const en of x.entries) stack.push(en.value);
        break;
      case "call":
        n++;
        for (const a of x.args) stack.push(a.value);
        break;
      default:
        n++;
    }
  }
  return n;
}

/** The leftmost leaf of an expression: where a message about the whole of it points. */
export function exprStart(e: Expr): Span {
  let x = e;
  while (x.kind === "binary") x = x.left;
  return x.kind === "call" ? x.calleeSpan : x.kind === "unary" ? { ...x.span, endOffset: x.span.startOffset + 1, endLine: x.span.startLine, endColumn: x.span.startColumn + 1 } : x.span.startLine === x.span.endLine ? x.span : { ...x.span, endOffset: x.span.startOffset + 1, endLine: x.span.startLine, endColumn: x.span.startColumn + 1 };
}

/** Reports an expression over the `terms` limit. Returns false when it is over. */
export function checkExprSize(e: Expr, limits: Limits, r: Reporter): boolean {
  if (exprTerms(e, limits.terms) <= limits.terms) return true;
  const n = exprTerms(e);
  r.error(
    "E312",
    exprStart(e),
    `this expression has ${countText(n)} terms, over the limit of ${countText(limits.terms)} (limit \`terms\`: ${LIMIT_WORDS.terms})`,
    `write a shorter expression or list, ${raiseHint("terms", n)}`,
  );
  return false;
}

// ------------------------------------------------------------------ model size

export interface TrainingSize {
  params: number;
  /** Floats of every layer's output for one example. */
  activationsPerExample: number;
  /** Floats of im2col buffers for one example (convolutions). */
  scratchPerExample: number;
  /** Estimated bytes: weights, gradients, optimizer slots, activations and their gradients, scratch. */
  bytes: number;
}

function prod(s: readonly number[]): number {
  let p = 1;
  for (const d of s) p *= d;
  return p;
}

/** Optimizer state buffers per weight, as the catalog entry declares them (Adam's m and v; momentum; accumulators). */
function optimizerSlots(kind: string, args: Record<string, unknown>): number {
  return lookup("optimizer", kind)?.stateSlots?.(args) ?? 1;
}

/**
 * An estimate of what training `model` with `training` takes: 4 bytes per float of the weights,
 * their gradients and optimizer slots, and, per example of a batch, every layer's output, its
 * gradient and the convolutions' im2col buffers. The standalone engine allocates these once.
 */
export function trainingSize(model: IRModel, training: Pick<IRTraining, "batchSize" | "optimizer"> | null): TrainingSize {
  let act = 0;
  let scratch = 0;
  for (const l of model.layers) {
    act += prod(l.outputShape);
    if (l.kind === "conv2d" && l.outputShape.length === 3 && l.inputShapes[0]?.length === 3) {
      const k = l.args.kernel_size as number[] | undefined;
      const kk = Array.isArray(k) ? k[0]! * k[1]! : 1;
      scratch += l.outputShape[0]! * l.outputShape[1]! * kk * l.inputShapes[0]![2]!;
    }
  }
  const params = model.params.total;
  const batch = training?.batchSize ?? 1;
  const slots = training ? optimizerSlots(training.optimizer.kind, training.optimizer.args as Record<string, unknown>) : 0;
  const bytes = 4 * (params * (2 + slots) + batch * (2 * act + scratch));
  return { params, activationsPerExample: act, scratchPerExample: scratch, bytes };
}

/**
 * E313 for a model over the `params`, `activations` or `memory` limit; W607 when it fits in
 * memory but not in the standalone engine's WebAssembly memory. Positions: the layer with the
 * most parameters, the `batch` setting (or the model's name).
 */
export function checkModelSize(
  model: IRModel,
  training: IRTraining | null,
  where: { biggestLayer: (id: string) => Span | undefined; batch: Span | undefined; model: Span },
  limits: Limits,
  r: Reporter,
): boolean {
  const size = trainingSize(model, training);
  let biggest = model.layers[0]!;
  for (const l of model.layers) if (l.params > biggest.params) biggest = l;
  const layerSpan = where.biggestLayer(biggest.id) ?? where.model;
  if (size.params > limits.params) {
    r.error(
      "E313",
      layerSpan,
      `the model has ${countText(size.params)} parameters (this \`${biggest.kind}\` alone has ${countText(biggest.params)}), over the limit of ${countText(limits.params)} (limit \`params\`)`,
      `use fewer units or filters, or pool or flatten less before \`${biggest.kind}\`, ${raiseHint("params", size.params)}`,
    );
    return false;
  }
  const batch = training?.batchSize ?? 1;
  const perBatch = size.activationsPerExample * batch;
  const batchSpan = where.batch ?? where.model;
  if (perBatch > limits.activations) {
    r.error(
      "E313",
      batchSpan,
      `one batch of ${countText(batch)} examples holds ${countText(perBatch)} activations (${countText(size.activationsPerExample)} per example), over the limit of ${countText(limits.activations)} (limit \`activations\`)`,
      `use a smaller \`batch\`, ${raiseHint("activations", perBatch)}`,
    );
    return false;
  }
  if (size.bytes > limits.memory) {
    r.error(
      "E313",
      batchSpan,
      `training this model needs about ${bytesText(size.bytes)} (weights, gradients, optimizer state and a batch's activations), over the limit of ${bytesText(limits.memory)}${limits.memory === DEFAULT_LIMITS.memory ? ", this machine's memory" : ""} (limit \`memory\`)`,
      `use a smaller \`batch\` or fewer units, ${raiseHint("memory", size.bytes)}`,
    );
    return false;
  }
  if (training !== null && size.bytes > STANDALONE_MAX_MEMORY_BYTES) {
    r.warning(
      "W607",
      batchSpan,
      `training this model needs about ${bytesText(size.bytes)}, more than the standalone engine's ${bytesText(STANDALONE_MAX_MEMORY_BYTES)} of WebAssembly memory`,
      "use a smaller `batch`, or train with `nnc run --engine tfjs`",
    );
  }
  return true;
}
