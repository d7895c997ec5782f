// Losses, metrics and optimizers of the standalone target: code emitters keyed by catalog name
// (a test checks that every catalog entry has one). Keras's definitions, defaults and update rules.
import type { IRRef, IRTraining } from "../../ir.js";
import type { LossKind, OptimizerKind } from "../../catalog/kinds.js";

export interface LossInput {
  loss: IRRef;
  /** Output buffer (probabilities, or logits with from_logits). */
  P: string;
  /** One-hot targets. */
  Y: string;
  /** Where dL/d(output) goes, or dL/d(pre-activation) when fused. */
  G: string;
  C: number;
  /** The output activation's derivative is folded into the loss gradient (softmax/sigmoid + cross-entropy). */
  fused: boolean;
  fromLogits: boolean;
  outAct: string;
}

const EPS = 1e-7;

/** A computed constant printed without float noise (0.1, not 0.09999999999999998). */
const num = (x: number): string => String(Number(x.toPrecision(12)));

/** A JSON literal that never spans a line (U+2028/U+2029 escaped). */
import { lit } from "../code.js";

function smoothing(loss: IRRef, C: number, binary: boolean): string {
  const ls = Number(loss.args.label_smoothing);
  if (!ls) return "";
  return binary
    ? `const y = ${num(1 - ls)} * yRaw + ${num(ls / 2)}; // label_smoothing ${ls}`
    : `const y = ${num(1 - ls)} * yRaw + ${num(ls / C)}; // label_smoothing ${ls}`;
}

function crossEntropy(kind: string) {
  return (q: LossInput): string => {
    const smooth = smoothing(q.loss, q.C, false);
    const yDecl = smooth ? `const yRaw = ${q.Y}[k];\n      ${smooth}` : `const y = ${q.Y}[k];`;
    const doc = `${kind}: -sum(y * log(p)) per example, averaged over the batch (p clipped to [${EPS}, 1 - ${EPS}])`;
    if (q.fromLogits) {
      return `/** ${doc}; the outputs are logits, turned into probabilities here (softmax). Writes dL/dlogits. */
function computeLoss(n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = i * ${q.C};
    let max = -Infinity;
    for (let j = 0; j < ${q.C}; j++) max = Math.max(max, ${q.P}[o + j]);
    let sum = 0;
    for (let j = 0; j < ${q.C}; j++) {
      probabilities[o + j] = Math.exp(${q.P}[o + j] - max);
      sum += probabilities[o + j];
    }
    for (let j = 0; j < ${q.C}; j++) {
      const k = o + j;
      const p = probabilities[k] / sum;
      ${yDecl}
      if (y !== 0) total -= y * Math.log(Math.min(Math.max(p, ${EPS}), ${num(1 - EPS)}));
      ${q.G}[k] = (p - y) / n;
    }
  }
  return total / n;
}`;
    }
    if (q.fused) {
      return `/** ${doc}. Writes the gradient for backward(). */
function computeLoss(n: number): number {
  let total = 0;
  for (let k = 0; k < n * ${q.C}; k++) {
    const p = ${q.P}[k];
    ${yDecl}
    if (y !== 0) total -= y * Math.log(Math.min(Math.max(p, ${EPS}), ${num(1 - EPS)}));
    // softmax and cross-entropy together: dL/dz = (p - y) / n
    ${q.G}[k] = (p - y) / n;
  }
  return total / n;
}`;
    }
    // Outputs that are not a softmax: Keras first rescales each row to sum to 1.
    return `/**
 * ${doc}. The outputs are not a softmax, so each row is first divided by its sum, as Keras does.
 * Writes dL/d(output) for backward().
 */
function computeLoss(n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = i * ${q.C};
    let sum = 0;
    for (let j = 0; j < ${q.C}; j++) sum += ${q.P}[o + j];
    // dL/dq_j = -y_j / q_j where q_j is not clipped; dL/dp_k = (dL/dq_k - sum_j dL/dq_j q_j) / sum
    let dot = 0;
    for (let j = 0; j < ${q.C}; j++) {
      const k = o + j;
      const p = ${q.P}[k] / sum;
      ${yDecl}
      const clipped = p < ${EPS} || p > ${num(1 - EPS)};
      if (y !== 0) total -= y * Math.log(Math.min(Math.max(p, ${EPS}), ${num(1 - EPS)}));
      const g = clipped ? 0 : -y / p;
      ${q.G}[k] = g;
      dot += g * p;
    }
    for (let j = 0; j < ${q.C}; j++) ${q.G}[o + j] = (${q.G}[o + j] - dot) / (sum * n);
  }
  return total / n;
}`;
  };
}

function elementwise(doc: string, lossExpr: string, gradExpr: string) {
  return (q: LossInput): string => `/** ${doc}, averaged over the ${q.C} outputs and the batch. Writes dL/d(output) for backward(). */
function computeLoss(n: number): number {
  let total = 0;
  const scale = 1 / (n * ${q.C});
  for (let k = 0; k < n * ${q.C}; k++) {
    const e = ${q.P}[k] - ${q.Y}[k];
    total += ${lossExpr};
    ${q.G}[k] = scale * (${gradExpr});
  }
  return total * scale;
}`;
}

export const LOSSES: Record<LossKind, (q: LossInput) => string> = {
  categorical_crossentropy: crossEntropy("categorical_crossentropy"),
  sparse_categorical_crossentropy: crossEntropy("sparse_categorical_crossentropy"),
  binary_crossentropy: (q) => {
    const smooth = smoothing(q.loss, q.C, true);
    const yDecl = smooth ? `const yRaw = ${q.Y}[k];\n    ${smooth}` : `const y = ${q.Y}[k];`;
    const pExpr = q.fromLogits ? `sigmoid(${q.P}[k])` : `${q.P}[k]`;
    const grad =
      q.fused || q.fromLogits
        ? `// sigmoid and binary cross-entropy together: dL/dz = (p - y) / (n * C)\n    ${q.G}[k] = (p - y) * scale;`
        : `${q.G}[k] = pc === p ? ((p - y) / (p * (1 - p))) * scale : 0;`;
    return `/** binary_crossentropy: -(y log p + (1 - y) log(1 - p)), averaged over the ${q.C} outputs and the batch. */
function computeLoss(n: number): number {
  let total = 0;
  const scale = 1 / (n * ${q.C});
  for (let k = 0; k < n * ${q.C}; k++) {
    const p = ${pExpr};
    ${yDecl}
    const pc = Math.min(Math.max(p, ${EPS}), ${num(1 - EPS)});
    total -= y * Math.log(pc) + (1 - y) * Math.log(1 - pc);
    ${grad}
  }
  return total * scale;
}`;
  },
  mse: elementwise("mse: mean of (p - y)²", "e * e", "2 * e"),
  mae: elementwise("mae: mean of |p - y|", "Math.abs(e)", "Math.sign(e)"),
  huber: (q) => {
    const d = Number(q.loss.args.delta);
    return elementwise(
      `huber (delta ${d}): e²/2 where |e| <= ${d}, else ${d} * (|e| - ${num(d / 2)})`,
      `Math.abs(e) <= ${d} ? 0.5 * e * e : ${d} * (Math.abs(e) - ${num(d / 2)})`,
      `Math.abs(e) <= ${d} ? e : ${d} * Math.sign(e)`,
    )(q);
  },
};

export const SUPPORTED_METRICS = ["accuracy", "precision", "recall", "mse", "mae"];

/** Metric slots and functions. Slot 0 always counts argmax hits (the result's test accuracy). */
export function METRICS(t: IRTraining, C: number, P: string): string {
  const slots: string[] = ["correct"];
  const slot = (name: string): number => {
    if (!slots.includes(name)) slots.push(name);
    return slots.indexOf(name);
  };
  const binary = t.loss.kind === "binary_crossentropy";
  const body: string[] = [];
  const cases: string[] = [];
  for (const m of t.metrics) {
    if (m === "accuracy") {
      if (binary) {
        const s = slot("binaryHits");
        body.push(`      if ((p > 0.5 ? 1 : 0) === y) sums[${s}] += 1;`);
        cases.push(`case "accuracy": // binary accuracy, as Keras picks for binary_crossentropy
      return sums[${s}]! / (count * ${C});`);
      } else {
        cases.push(`case "accuracy":
      return sums[0]! / count;`);
      }
    } else if (m === "precision" || m === "recall") {
      const tp = slot("truePositives");
      const other = slot(m === "precision" ? "falsePositives" : "falseNegatives");
      if (!body.some((b) => b.includes(`sums[${tp}]`))) body.push(`      if (p > 0.5 && y === 1) sums[${tp}] += 1;`);
      body.push(
        m === "precision"
          ? `      if (p > 0.5 && y === 0) sums[${other}] += 1;`
          : `      if (p <= 0.5 && y === 1) sums[${other}] += 1;`,
      );
      cases.push(`case ${lit(m)}: // thresholded at 0.5, over every output
      return sums[${tp}]! / Math.max(sums[${tp}]! + sums[${other}]!, 1);`);
    } else if (m === "mse" || m === "mae") {
      const s = slot(m === "mse" ? "squaredError" : "absoluteError");
      body.push(m === "mse" ? `      sums[${s}] += (p - y) * (p - y);` : `      sums[${s}] += Math.abs(p - y);`);
      cases.push(`case ${lit(m)}:
      return sums[${s}]! / (count * ${C});`);
    } else {
      throw new Error(`standalone target: no implementation of metric "${m}"`);
    }
  }
  const perOutput =
    body.length > 0
      ? `
    for (let j = 0; j < ${C}; j++) {
      const p = ${P}[o + j];
      const y = target[o + j];
${body.join("\n")}
    }`
      : "";
  return `/** Running sums behind the metrics: ${slots.join(", ")}. */
const METRIC_SLOTS = ${slots.length};

/** Adds the batch's counts to sums (predictions in ${P}, labels in target). */
function accumulateMetrics(n: number, sums: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * ${C};
    let best = 0;
    for (let j = 1; j < ${C}; j++) if (${P}[o + j] > ${P}[o + best]) best = j;
    if (target[o + best] === 1) sums[0] += 1;${perOutput}
  }
}

/** A metric's value from the sums over \`count\` examples. */
function metricValue(name: string, sums: Float64Array, count: number): number {
  switch (name) {
    ${cases.join("\n    ")}
    default:
      return NaN;
  }
}`;
}

export interface ParamBuffers {
  name: string;
  value: string;
  grad: string | null;
  shape: number[];
}

/** kernel: whether the kernel runtime defines a function (e.g. "adamUpdate"). */
type OptimizerEmitter = (opt: IRRef, params: ParamBuffers[], kernel: (name: string) => boolean) => string;

/** counters: the optimizer's scalar state besides `iterations` (nadam's momentumProduct). */
function paramTable(params: ParamBuffers[], state: string[], counters: string[] = []): string {
  void params; // the trainable weights are those of WEIGHTS with a gradient
  const fields = state.map((s) => `${s}: Float32Array`).join("; ");
  return `/** Every trainable weight (those of WEIGHTS with a gradient)${state.length ? `, with the optimizer's ${state.join(", ")}` : ""}. */
const PARAMS: { name: string; value: Float32Array; grad: Float32Array${fields ? "; " + fields : ""} }[] = WEIGHTS.flatMap((w) =>
  w.grad ? [{ name: w.name, value: w.value, grad: w.grad${state.map((s) => `, ${s}: allocF32(w.value.length)`).join("")} }] : [],
);

/** Optimizer steps taken so far (Keras's optimizer.iterations). */
let iterations = 0;

/** The optimizer's per-weight state${state.length ? ` (${state.join(", ")} of every weight)` : " (none: plain sgd keeps none)"}, saved in resume/ with its counters. */
const OPTIMIZER_SLOTS: Float32Array[] = ${state.length ? `PARAMS.flatMap((p) => [${state.map((s) => `p.${s}`).join(", ")}])` : "[]"};

/** The optimizer's counters, saved in resume/ so that a resumed run continues exactly. */
function optimizerCounters(): Record<string, number> {
  return { ${["iterations", ...counters].join(", ")} };
}

function restoreOptimizerCounters(counters: Record<string, number>): void {
${["iterations", ...counters].map((c) => `  ${c} = counters.${c}!;`).join("\n")}
}`;
}


/** Adam, and AdamW when weightDecay > 0 (Keras decays every weight by lr * weight_decay before the update). */
function adamUpdate(opt: IRRef, params: ParamBuffers[], kernel: (name: string) => boolean, weightDecay: number): string {
    const b1 = (opt.args.beta1 as number);
    const b2 = (opt.args.beta2 as number);
    const eps = (opt.args.epsilon as number);
    return `${paramTable(params, ["m", "v"])}

/**
 * ${weightDecay > 0 ? `adamw (weight_decay ${num(weightDecay)}, ` : "adam ("}beta1 ${b1}, beta2 ${b2}, epsilon ${eps}), Keras's form: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g²;
 * w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon).
 */
function applyGradients(lr: number): void {
  iterations++;${
    weightDecay > 0
      ? `
  // decoupled weight decay (AdamW): w -= lr * ${num(weightDecay)} * w, before the Adam step
  for (let k = 0; k < PARAMS.length; k++) {
    const w = PARAMS[k]!.value;
    for (let i = 0; i < w.length; i++) w[i] -= lr * ${num(weightDecay)} * w[i];
  }`
      : ""
  }
  const lrT = (lr * Math.sqrt(1 - Math.pow(${b2}, iterations))) / (1 - Math.pow(${b1}, iterations));
${
    kernel("adamUpdate")
      ? `  // the kernels' adamUpdate runs the three lines below over a whole parameter
  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    adamUpdate(p.value, p.grad, p.m, p.v, lrT, ${b1}, ${b2}, ${eps});
  }`
      : `  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    for (let i = 0; i < p.value.length; i++) {
      const g = p.grad[i];
      p.m[i] = ${b1} * p.m[i] + ${num(1 - b1)} * g;
      p.v[i] = ${b2} * p.v[i] + ${num(1 - b2)} * g * g;
      p.value[i] -= (lrT * p.m[i]) / (Math.sqrt(p.v[i]) + ${eps});
    }
  }`
  }
}`;
  }

/** Every optimizer's update, written out: an optimizer without one fails the typecheck. */
export const OPTIMIZERS: Record<OptimizerKind, OptimizerEmitter> = {
  sgd(opt, params, kernel) {
    const momentum = (opt.args.momentum as number);
    const nesterov = opt.args.nesterov === true;
    if (momentum === 0) {
      return `${paramTable(params, [])}

/** sgd: w -= lr * g. */
function applyGradients(lr: number): void {
  iterations++;
${
  kernel("sgdUpdate")
    ? `  // the kernels' loop: value[i] -= lr * grad[i] (an index loop: for-of allocates an iterator until optimized)
  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    sgdUpdate(p.value, p.grad, lr);
  }`
    : `  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    for (let i = 0; i < p.value.length; i++) p.value[i] -= lr * p.grad[i];
  }`
}
}`;
    }
    return `${paramTable(params, ["velocity"])}

/** sgd with momentum ${momentum}${nesterov ? " (Nesterov)" : ""}, as Keras: v = momentum * v - lr * g; ${nesterov ? "w += momentum * v - lr * g" : "w += v"}. */
function applyGradients(lr: number): void {
  iterations++;
  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    for (let i = 0; i < p.value.length; i++) {
      const v = ${momentum} * p.velocity[i] - lr * p.grad[i];
      p.velocity[i] = v;
      p.value[i] += ${nesterov ? `${momentum} * v - lr * p.grad[i]` : "v"};
    }
  }
}`;
  },
  adagrad(opt, params) {
    const init = (opt.args.initial_accumulator_value as number);
    const eps = (opt.args.epsilon as number);
    return `${paramTable(params, ["accumulator"])}

/** Starts each accumulator at ${init} (Keras's initial_accumulator_value). */
for (const p of PARAMS) p.accumulator.fill(${init});

/** adagrad: a += g²; w -= lr * g / (sqrt(a) + ${eps}). */
function applyGradients(lr: number): void {
  iterations++;
  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    for (let i = 0; i < p.value.length; i++) {
      const g = p.grad[i];
      p.accumulator[i] += g * g;
      p.value[i] -= (lr * g) / (Math.sqrt(p.accumulator[i]) + ${eps});
    }
  }
}`;
  },
  adadelta(opt, params) {
    const rho = (opt.args.rho as number);
    const eps = (opt.args.epsilon as number);
    return `${paramTable(params, ["accumulatedGrad", "accumulatedUpdate"])}

/** adadelta (rho ${rho}): running averages of g² and of the squared updates set each weight's step size. */
function applyGradients(lr: number): void {
  iterations++;
  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    for (let i = 0; i < p.value.length; i++) {
      const g = p.grad[i];
      p.accumulatedGrad[i] = ${rho} * p.accumulatedGrad[i] + ${num(1 - rho)} * g * g;
      const update = (Math.sqrt(p.accumulatedUpdate[i] + ${eps}) / Math.sqrt(p.accumulatedGrad[i] + ${eps})) * g;
      p.accumulatedUpdate[i] = ${rho} * p.accumulatedUpdate[i] + ${num(1 - rho)} * update * update;
      p.value[i] -= lr * update;
    }
  }
}`;
  },
  rmsprop(opt, params) {
    const rho = (opt.args.rho as number);
    const eps = (opt.args.epsilon as number);
    const momentum = (opt.args.momentum as number);
    const centered = opt.args.centered === true;
    const state = ["meanSquare", ...(centered ? ["meanGrad"] : []), ...(momentum ? ["moment"] : [])];
    const denom = centered ? `Math.sqrt(p.meanSquare[i] - p.meanGrad[i] * p.meanGrad[i] + ${eps})` : `Math.sqrt(p.meanSquare[i] + ${eps})`;
    return `${paramTable(params, state)}

/** rmsprop (rho ${rho}${centered ? ", centered" : ""}${momentum ? `, momentum ${momentum}` : ""}), TensorFlow's update: ms = rho * ms + (1 - rho) * g²; w -= lr * g / sqrt(ms + eps). */
function applyGradients(lr: number): void {
  iterations++;
  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    for (let i = 0; i < p.value.length; i++) {
      const g = p.grad[i];
      p.meanSquare[i] = ${rho} * p.meanSquare[i] + ${num(1 - rho)} * g * g;${centered ? `\n      p.meanGrad[i] = ${rho} * p.meanGrad[i] + ${num(1 - rho)} * g;` : ""}
      ${
        momentum
          ? `p.moment[i] = ${momentum} * p.moment[i] + (lr * g) / ${denom};
      p.value[i] -= p.moment[i];`
          : `p.value[i] -= (lr * g) / ${denom};`
      }
    }
  }
}`;
  },
  adam: (opt, params, kernel) => adamUpdate(opt, params, kernel, 0),
  adamw: (opt, params, kernel) => adamUpdate(opt, params, kernel, opt.args.weight_decay as number),
  adamax(opt, params) {
    const b1 = (opt.args.beta1 as number);
    const b2 = (opt.args.beta2 as number);
    const eps = (opt.args.epsilon as number);
    return `${paramTable(params, ["m", "u"])}

/** adamax: m = b1 m + (1 - b1) g; u = max(b2 u, |g|); w -= lr / (1 - b1^t) * m / (u + epsilon). */
function applyGradients(lr: number): void {
  iterations++;
  const lrT = lr / (1 - Math.pow(${b1}, iterations));
  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    for (let i = 0; i < p.value.length; i++) {
      const g = p.grad[i];
      p.m[i] = ${b1} * p.m[i] + ${num(1 - b1)} * g;
      p.u[i] = Math.max(${b2} * p.u[i], Math.abs(g));
      p.value[i] -= (lrT * p.m[i]) / (p.u[i] + ${eps});
    }
  }
}`;
  },
  nadam(opt, params) {
    const b1 = (opt.args.beta1 as number);
    const b2 = (opt.args.beta2 as number);
    const eps = (opt.args.epsilon as number);
    return `${paramTable(params, ["m", "v"], ["momentumProduct"])}

/** The product of the momentum schedule so far (Keras's m_schedule). */
let momentumProduct = 1;

/**
 * nadam, Keras's form: Adam with Nesterov momentum and the momentum schedule
 * mu_t = b1 * (1 - 0.5 * 0.96^(0.004 t)).
 */
function applyGradients(lr: number): void {
  iterations++;
  const mu = ${b1} * (1 - 0.5 * Math.pow(0.96, 0.004 * iterations));
  const muNext = ${b1} * (1 - 0.5 * Math.pow(0.96, 0.004 * (iterations + 1)));
  momentumProduct *= mu;
  const productNext = momentumProduct * muNext;
  const vCorrection = 1 - Math.pow(${b2}, iterations);
  for (let k = 0; k < PARAMS.length; k++) {
    const p = PARAMS[k]!;
    for (let i = 0; i < p.value.length; i++) {
      const g = p.grad[i];
      p.m[i] = ${b1} * p.m[i] + ${num(1 - b1)} * g;
      p.v[i] = ${b2} * p.v[i] + ${num(1 - b2)} * g * g;
      const mBar = ((1 - mu) * g) / (1 - momentumProduct) + (muNext * p.m[i]) / (1 - productNext);
      p.value[i] -= (lr * mBar) / (Math.sqrt(p.v[i] / vCorrection) + ${eps});
    }
  }
}`;
  },
};
