// The PyTorch target's training tables: losses, optimizers, schedules and initializers, each typed
// by the catalog's kinds (an entry without a PyTorch implementation fails the typecheck). Keras's
// definitions and update rules, written out in Python where PyTorch's own differ (Adam's epsilon
// is added to sqrt(v) after Keras's bias correction of the rate, not to sqrt(v_hat); RMSprop's
// epsilon sits inside the square root in TensorFlow; Nadam's momentum schedule), so that a step
// here is the step the other engines take.
import type { InitializerArgs, InitializerKind, LossArgs, LossKind, OptimizerArgs, OptimizerKind, ScheduleArgs, ScheduleKind } from "../../catalog/kinds.js";
import type { IRRef, IRWeight } from "../../ir.js";
import { pyStr } from "../code.js";
import { pyBool, pyNum } from "./layers.js";

const EPS = 1e-7;
/** A computed constant without float noise (0.1, not 0.09999999999999998). */
const c = (x: number): string => pyNum(Number(x.toPrecision(12)));

// ------------------------------------------------------------------ losses

/**
 * Each loss as the body of `loss_per_example(out, y)`: one value per example (Keras averages these
 * over the batch). `fold`: the output's softmax/sigmoid was left out of the model's forward pass
 * (logits=True) and is applied inside the loss, where PyTorch's log-softmax is exact.
 */
type LossEmitter<K extends LossKind> = (args: LossArgs<K>, fold: boolean, classes: number) => string[];

const smoothCategorical = (ls: number, C: number): string[] => (ls ? [`y = y * ${c(1 - ls)} + ${c(ls / C)}  # label_smoothing ${ls}`] : []);
const smoothBinary = (ls: number): string[] => (ls ? [`y = y * ${c(1 - ls)} + ${c(ls / 2)}  # label_smoothing ${ls}`] : []);

function crossEntropy(ls: number, fromLogits: boolean, fold: boolean, C: number): string[] {
  const smooth = smoothCategorical(ls, C);
  if (fold || fromLogits) {
    return [
      ...smooth,
      fold
        ? "# the model's softmax is folded in here: -sum(y * log_softmax(logits)), dL/dlogits = p - y"
        : "# from_logits: the outputs are logits",
      "return -(y * F.log_softmax(out, dim=-1)).sum(dim=-1)",
    ];
  }
  return [
    ...smooth,
    "# the outputs are not a softmax: Keras divides each row by its sum, then clips to [1e-7, 1 - 1e-7]",
    "q = out / out.sum(dim=-1, keepdim=True)",
    `q = q.clamp(${pyNum(EPS)}, ${c(1 - EPS)})`,
    "return -(y * torch.log(q)).sum(dim=-1)",
  ];
}

export const PY_LOSSES: { [K in LossKind]: LossEmitter<K> } = {
  categorical_crossentropy: (a, fold, C) => crossEntropy(a.label_smoothing, a.from_logits, fold, C),
  sparse_categorical_crossentropy: (a, fold, C) => crossEntropy(0, a.from_logits, fold, C),
  binary_crossentropy: (a, fold) => [
    ...smoothBinary(a.label_smoothing),
    ...(fold || a.from_logits
      ? [
          fold ? "# the model's sigmoid is folded in here (binary cross-entropy on logits)" : "# from_logits: the outputs are logits",
          'return F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(dim=-1)',
        ]
      : [
          `p = out.clamp(${pyNum(EPS)}, ${c(1 - EPS)})`,
          "return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean(dim=-1)",
        ]),
  ],
  mse: () => ["return ((out - y) ** 2).mean(dim=-1)"],
  mae: () => ["return (out - y).abs().mean(dim=-1)"],
  huber: (a) => {
    const d = a.delta;
    return [
      "e = (out - y).abs()",
      `quadratic = e.clamp(max=${pyNum(d)})`,
      `return (0.5 * quadratic ** 2 + ${pyNum(d)} * (e - quadratic)).mean(dim=-1)`,
    ];
  },
};

export function pyLoss(loss: IRRef<LossKind>, fold: boolean, classes: number): string[] {
  return (PY_LOSSES[loss.kind] as LossEmitter<LossKind>)(loss.args as never, fold, classes);
}

// ------------------------------------------------------------------ optimizers

/** The Python class `Optimizer` for each optimizer: `step(lr)` updates every parameter from its .grad. */
type OptimizerEmitter<K extends OptimizerKind> = (args: OptimizerArgs<K>) => { doc: string; state: string[]; init?: string[]; before?: string[]; update: string[] };

export const PY_OPTIMIZERS: { [K in OptimizerKind]: OptimizerEmitter<K> } = {
  sgd: (a) =>
    a.momentum === 0
      ? { doc: "sgd: w -= lr * g.", state: [], update: ["w.sub_(lr * g)"] }
      : {
          doc: `sgd with momentum ${a.momentum}${a.nesterov ? " (Nesterov)" : ""}, as Keras: v = momentum * v - lr * g; ${a.nesterov ? "w += momentum * v - lr * g" : "w += v"}.`,
          state: ["velocity"],
          update: [
            `velocity.mul_(${pyNum(a.momentum)}).sub_(lr * g)`,
            a.nesterov ? `w.add_(velocity * ${pyNum(a.momentum)} - lr * g)` : "w.add_(velocity)",
          ],
        },
  adagrad: (a) => ({
    doc: `adagrad: a += g^2; w -= lr * g / (sqrt(a) + ${a.epsilon}) (accumulators start at ${a.initial_accumulator_value}).`,
    state: ["accumulator"],
    init: [`for a in self.accumulator:`, `    a.fill_(${pyNum(a.initial_accumulator_value)})`],
    update: ["accumulator.add_(g * g)", `w.sub_(lr * g / (accumulator.sqrt() + ${pyNum(a.epsilon)}))`],
  }),
  adadelta: (a) => ({
    doc: `adadelta (rho ${a.rho}): running averages of g^2 and of the squared updates set each weight's step size.`,
    state: ["accumulated_grad", "accumulated_update"],
    update: [
      `accumulated_grad.mul_(${pyNum(a.rho)}).add_(g * g * ${c(1 - a.rho)})`,
      `update = (accumulated_update + ${pyNum(a.epsilon)}).sqrt() / (accumulated_grad + ${pyNum(a.epsilon)}).sqrt() * g`,
      `accumulated_update.mul_(${pyNum(a.rho)}).add_(update * update * ${c(1 - a.rho)})`,
      "w.sub_(lr * update)",
    ],
  }),
  rmsprop: (a) => {
    const denom = a.centered ? `(mean_square - mean_grad * mean_grad + ${pyNum(a.epsilon)}).sqrt()` : `(mean_square + ${pyNum(a.epsilon)}).sqrt()`;
    return {
      doc: `rmsprop (rho ${a.rho}${a.centered ? ", centered" : ""}${a.momentum ? `, momentum ${a.momentum}` : ""}), TensorFlow's update: ms = rho * ms + (1 - rho) * g^2; w -= lr * g / sqrt(ms + eps).`,
      state: ["mean_square", ...(a.centered ? ["mean_grad"] : []), ...(a.momentum ? ["moment"] : [])],
      update: [
        `mean_square.mul_(${pyNum(a.rho)}).add_(g * g * ${c(1 - a.rho)})`,
        ...(a.centered ? [`mean_grad.mul_(${pyNum(a.rho)}).add_(g * ${c(1 - a.rho)})`] : []),
        ...(a.momentum ? [`moment.mul_(${pyNum(a.momentum)}).add_(lr * g / ${denom})`, "w.sub_(moment)"] : [`w.sub_(lr * g / ${denom})`]),
      ],
    };
  },
  adam: (a) => ({
    doc:
      `adam (beta1 ${a.beta1}, beta2 ${a.beta2}, epsilon ${a.epsilon}), Keras's form: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;\n` +
      "w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon). (torch.optim.Adam adds epsilon to sqrt(v) / sqrt(1 - b2^t)\n" +
      "instead, a different step while t is small, so the update is written out here.)",
    state: ["m", "v"],
    before: [`lr_t = lr * math.sqrt(1 - ${pyNum(a.beta2)} ** self.iterations) / (1 - ${pyNum(a.beta1)} ** self.iterations)`],
    update: [
      `m.mul_(${pyNum(a.beta1)}).add_(g * ${c(1 - a.beta1)})`,
      `v.mul_(${pyNum(a.beta2)}).add_(g * g * ${c(1 - a.beta2)})`,
      `w.sub_(lr_t * m / (v.sqrt() + ${pyNum(a.epsilon)}))`,
    ],
  }),
  adamw: (a) => ({
    doc:
      `adamw (weight_decay ${a.weight_decay}, beta1 ${a.beta1}, beta2 ${a.beta2}, epsilon ${a.epsilon}), Keras's form: first w -= lr * weight_decay * w,\n` +
      "then Adam's update (torch.optim.AdamW decays after its own Adam step, so the update is written out here).",
    state: ["m", "v"],
    before: [`lr_t = lr * math.sqrt(1 - ${pyNum(a.beta2)} ** self.iterations) / (1 - ${pyNum(a.beta1)} ** self.iterations)`],
    update: [
      `w.sub_(lr * ${pyNum(a.weight_decay)} * w)`,
      `m.mul_(${pyNum(a.beta1)}).add_(g * ${c(1 - a.beta1)})`,
      `v.mul_(${pyNum(a.beta2)}).add_(g * g * ${c(1 - a.beta2)})`,
      `w.sub_(lr_t * m / (v.sqrt() + ${pyNum(a.epsilon)}))`,
    ],
  }),
  adamax: (a) => ({
    doc: "adamax: m = b1 m + (1 - b1) g; u = max(b2 u, |g|); w -= lr / (1 - b1^t) * m / (u + epsilon).",
    state: ["m", "u"],
    before: [`lr_t = lr / (1 - ${pyNum(a.beta1)} ** self.iterations)`],
    update: [
      `m.mul_(${pyNum(a.beta1)}).add_(g * ${c(1 - a.beta1)})`,
      `torch.maximum(u * ${pyNum(a.beta2)}, g.abs(), out=u)`,
      `w.sub_(lr_t * m / (u + ${pyNum(a.epsilon)}))`,
    ],
  }),
  nadam: (a) => ({
    doc: "nadam, Keras's form: Adam with Nesterov momentum and the momentum schedule mu_t = b1 * (1 - 0.5 * 0.96^(0.004 t)).",
    state: ["m", "v"],
    init: ["self.momentum_product = 1.0"],
    before: [
      `mu = ${pyNum(a.beta1)} * (1 - 0.5 * 0.96 ** (0.004 * self.iterations))`,
      `mu_next = ${pyNum(a.beta1)} * (1 - 0.5 * 0.96 ** (0.004 * (self.iterations + 1)))`,
      "self.momentum_product *= mu",
      "product_next = self.momentum_product * mu_next",
      `v_correction = 1 - ${pyNum(a.beta2)} ** self.iterations`,
    ],
    update: [
      `m.mul_(${pyNum(a.beta1)}).add_(g * ${c(1 - a.beta1)})`,
      `v.mul_(${pyNum(a.beta2)}).add_(g * g * ${c(1 - a.beta2)})`,
      "m_bar = (1 - mu) * g / (1 - self.momentum_product) + mu_next * m / (1 - product_next)",
      `w.sub_(lr * m_bar / ((v / v_correction).sqrt() + ${pyNum(a.epsilon)}))`,
    ],
  }),
};

/** The Python class Optimizer for the IR's optimizer. */
export function pyOptimizer(opt: IRRef<OptimizerKind>): string {
  const { doc, state, init, before, update } = (PY_OPTIMIZERS[opt.kind] as OptimizerEmitter<OptimizerKind>)(opt.args as never);
  const lines = [
    "class Optimizer:",
    `    """${doc.replace(/\n/g, "\n    ")}"""`,
    "",
    "    def __init__(self, params):",
    "        self.params = list(params)",
    "        # optimizer steps taken so far (Keras's optimizer.iterations)",
    "        self.iterations = 0",
    ...state.map((s) => `        self.${s} = [torch.zeros_like(w) for w in self.params]`),
    ...(init ?? []).map((l) => `        ${l}`),
    "",
    "    def zero_grad(self):",
    "        for w in self.params:",
    "            w.grad = None",
    "",
    "    @torch.no_grad()",
    "    def step(self, lr):",
    "        self.iterations += 1",
    ...(before ?? []).map((l) => `        ${l}`),
    state.length ? `        for ${["w", ...state].join(", ")} in zip(self.params${state.map((s) => `, self.${s}`).join("")}):` : "        for w in self.params:",
    "            g = w.grad",
    "            if g is None:",
    "                continue",
    ...update.map((l) => `            ${l}`),
  ];
  return lines.join("\n");
}

// ------------------------------------------------------------------ schedules

/** The learning rate at step `iterations` (steps taken so far) as a Python expression, from the optimizer's lr `base_lr`. */
type ScheduleEmitter<K extends ScheduleKind> = (args: ScheduleArgs<K>) => string;
export const PY_SCHEDULES: { [K in ScheduleKind]: ScheduleEmitter<K> } = {
  piecewise_constant: (a) => `piecewise_constant([${a.boundaries.join(", ")}], [${a.values.map(pyNum).join(", ")}], iterations)`,
  exponential_decay: (a) => `base_lr * ${pyNum(a.decay_rate)} ** ${a.staircase ? `math.floor(iterations / ${a.decay_steps})` : `(iterations / ${a.decay_steps})`}`,
  inverse_time_decay: (a) => `base_lr / (1 + ${pyNum(a.decay_rate)} * ${a.staircase ? `math.floor(iterations / ${a.decay_steps})` : `(iterations / ${a.decay_steps})`})`,
};

export function pySchedule(s: IRRef<ScheduleKind> | null): string {
  return s === null ? "base_lr" : (PY_SCHEDULES[s.kind] as ScheduleEmitter<ScheduleKind>)(s.args as never);
}

// ------------------------------------------------------------------ initializers

/** The Keras initializers as Python calls on (shape, generator); the variance-scaling ones compute their fans in the program. */
type InitEmitter<K extends InitializerKind> = (args: InitializerArgs<K>) => string;

/** Keras's VarianceScaling, computed by the program's variance_scaling() on the weight's Keras shape. */
function varianceScaling(scale: number, mode: "fan_in" | "fan_avg", uniform: boolean): () => string {
  return () => `variance_scaling(shape, ${c(scale)}, ${pyStr(mode)}, ${pyStr(uniform ? "uniform" : "truncated_normal")}, g)`;
}

export const PY_INITIALIZERS: { [K in InitializerKind]: InitEmitter<K> } = {
  zeros: () => "torch.zeros(shape)",
  ones: () => "torch.ones(shape)",
  constant: (a) => `torch.full(shape, ${pyNum(a.value)})`,
  random_normal: (a) => `normal(shape, ${pyNum(a.mean)}, ${pyNum(a.stddev)}, g)`,
  random_uniform: (a) => `uniform(shape, ${pyNum(a.minval)}, ${pyNum(a.maxval)}, g)`,
  truncated_normal: (a) => `truncated_normal(shape, ${pyNum(a.mean)}, ${pyNum(a.stddev)}, g)`,
  glorot_normal: varianceScaling(1, "fan_avg", false),
  glorot_uniform: varianceScaling(1, "fan_avg", true),
  he_normal: varianceScaling(2, "fan_in", false),
  he_uniform: varianceScaling(2, "fan_in", true),
  lecun_normal: varianceScaling(1, "fan_in", false),
  lecun_uniform: varianceScaling(1, "fan_in", true),
};

export function pyInitializer(w: IRWeight): string {
  return (PY_INITIALIZERS[w.initializer.kind] as InitEmitter<InitializerKind>)(w.initializer.args as never);
}

export { pyBool };
