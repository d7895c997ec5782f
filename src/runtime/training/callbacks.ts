// EMBEDDABLE MODULE: imports nothing. The standalone generator copies the functions and classes a
// model uses into generated programs; the tfjs engine imports them. Plain numbers in, decisions
// out: engines own the weights (snapshot, restore, save).
//
// Every rule follows Keras (tf.keras 2.x / Keras 3) exactly; comments cite the Keras class.

/** "min": smaller is better; "max": larger is better; "auto": max for accuracy-like names, else min. */
export type MonitorMode = "min" | "max" | "auto";

/** Resolves "auto" as Keras does: max for accuracy-like metrics, else min. */
export function resolveMonitorMode(monitor: string, mode: MonitorMode | string | undefined): "min" | "max" {
  if (mode === "min" || mode === "max") return mode;
  return /acc|precision|recall|auc/.test(monitor) ? "max" : "min";
}

// ------------------------------------------------------------------ step-based schedules
// `step` is the optimizer's iteration count before the update (0 for the first batch), as in
// Keras's LearningRateSchedule.__call__(optimizer.iterations).

/** keras.optimizers.schedules.PiecewiseConstantDecay: values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i], the last value after. */
export function piecewiseConstant(boundaries: number[], values: number[], step: number): number {
  for (let i = 0; i < boundaries.length; i++) {
    if (step <= boundaries[i]) return values[i];
  }
  return values[boundaries.length];
}

/** keras.optimizers.schedules.ExponentialDecay: lr0 * rate ^ (step / decaySteps), the exponent floored when staircase. */
export function exponentialDecay(
  initialLr: number,
  decaySteps: number,
  decayRate: number,
  staircase: boolean,
  step: number,
): number {
  let p = step / decaySteps;
  if (staircase) p = Math.floor(p);
  return initialLr * Math.pow(decayRate, p);
}

/** keras.optimizers.schedules.InverseTimeDecay: lr0 / (1 + rate * step / decaySteps), step / decaySteps floored when staircase. */
export function inverseTimeDecay(
  initialLr: number,
  decaySteps: number,
  decayRate: number,
  staircase: boolean,
  step: number,
): number {
  let p = step / decaySteps;
  if (staircase) p = Math.floor(p);
  return initialLr / (1 + decayRate * p);
}

/** The learning rate at `step` for an IR schedule ({kind, args}) starting from the optimizer's lr; lr0 when there is none. */
export function scheduledLearningRate(
  schedule: { kind: string; args: Record<string, unknown> } | null,
  initialLr: number,
  step: number,
): number {
  if (schedule === null) return initialLr;
  const a = schedule.args;
  switch (schedule.kind) {
    case "piecewise_constant":
      return piecewiseConstant(a.boundaries as number[], a.values as number[], step);
    case "exponential_decay":
      return exponentialDecay(initialLr, a.decay_steps as number, a.decay_rate as number, Boolean(a.staircase), step);
    case "inverse_time_decay":
      return inverseTimeDecay(initialLr, a.decay_steps as number, a.decay_rate as number, Boolean(a.staircase), step);
    default:
      throw new Error(`unknown learning-rate schedule ${schedule.kind}`);
  }
}

// ------------------------------------------------------------------ reduce_on_plateau

export interface ReduceLROnPlateauArgs {
  monitor: string;
  factor: number;
  patience: number;
  min_delta: number;
  cooldown: number;
  min_lr: number;
  mode: MonitorMode | string;
}

/** keras.callbacks.ReduceLROnPlateau, one call per epoch end: returns the new lr (and a message) when it changes. */
export class ReduceLROnPlateau {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  readonly mode: "min" | "max";
  best: number;
  wait = 0;
  cooldownCounter = 0;

  constructor(args: ReduceLROnPlateauArgs) {
    if (!(args.factor < 1)) throw new Error("reduce_on_plateau: factor must be < 1");
    this.monitor = args.monitor;
    this.factor = args.factor;
    this.patience = args.patience;
    this.minDelta = args.min_delta;
    this.cooldown = args.cooldown;
    this.minLr = args.min_lr;
    this.mode = resolveMonitorMode(args.monitor, args.mode);
    this.best = this.mode === "min" ? Infinity : -Infinity;
  }

  private improved(current: number): boolean {
    return this.mode === "min" ? current < this.best - this.minDelta : current > this.best + this.minDelta;
  }

  /** Given this epoch's logs and the current lr: the lr to use from now on, and a line for the user when it changed. */
  onEpochEnd(logs: Record<string, number>, lr: number): { lr: number; message?: string; warning?: string } {
    const current = logs[this.monitor];
    if (current === undefined) {
      return {
        lr,
        warning: `reduce_on_plateau: ${this.monitor} is not available (logs have ${Object.keys(logs).join(", ")}); lr unchanged`,
      };
    }
    const inCooldown = this.cooldownCounter > 0;
    if (inCooldown) {
      this.cooldownCounter -= 1;
      this.wait = 0;
    }
    if (this.improved(current)) {
      this.best = current;
      this.wait = 0;
    } else if (!inCooldown) {
      this.wait += 1;
      if (this.wait >= this.patience && lr > this.minLr) {
        const newLr = Math.max(lr * this.factor, this.minLr);
        this.cooldownCounter = this.cooldown;
        this.wait = 0;
        return {
          lr: newLr,
          message: `reduce_on_plateau: ${this.monitor} has not improved for ${this.patience} epochs; lr ${formatLr(lr)} -> ${formatLr(newLr)}`,
        };
      }
    }
    return { lr };
  }
}

function formatLr(lr: number): string {
  return Number(lr.toPrecision(4)).toString();
}

// ------------------------------------------------------------------ early_stopping

export interface EarlyStoppingArgs {
  monitor: string;
  patience: number;
  min_delta: number;
  mode: MonitorMode | string;
  restore_best: boolean;
}

export interface EarlyStoppingDecision {
  /** Copy the current weights as the best so far (only with restore_best). */
  snapshot: boolean;
  /** Stop training after this epoch. */
  stop: boolean;
  /** Put the snapshot back before evaluating and saving (only with restore_best, when stopping). */
  restore: boolean;
  message?: string;
  warning?: string;
}

/** keras.callbacks.EarlyStopping, one call per epoch end (epoch counts from 0). */
export class EarlyStopping {
  readonly monitor: string;
  readonly patience: number;
  readonly minDelta: number;
  readonly mode: "min" | "max";
  readonly restoreBest: boolean;
  best: number;
  bestEpoch = 0;
  wait = 0;
  stoppedEpoch = 0;
  private hasSnapshot = false;

  constructor(args: EarlyStoppingArgs) {
    this.monitor = args.monitor;
    this.patience = args.patience;
    this.minDelta = Math.abs(args.min_delta);
    this.mode = resolveMonitorMode(args.monitor, args.mode);
    this.restoreBest = args.restore_best;
    this.best = this.mode === "min" ? Infinity : -Infinity;
  }

  private improved(current: number, reference: number): boolean {
    // Keras: monitor_op(current - min_delta, reference) with min_delta negated for "min".
    return this.mode === "min" ? current + this.minDelta < reference : current - this.minDelta > reference;
  }

  onEpochEnd(epoch: number, logs: Record<string, number>): EarlyStoppingDecision {
    const current = logs[this.monitor];
    if (current === undefined) {
      return {
        snapshot: false,
        stop: false,
        restore: false,
        warning: `early_stopping: ${this.monitor} is not available (logs have ${Object.keys(logs).join(", ")}); not stopping`,
      };
    }
    // Keras keeps the first epoch's weights even when they are not an improvement (e.g. NaN).
    let snapshot = this.restoreBest && !this.hasSnapshot;
    this.wait += 1;
    if (this.improved(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      this.wait = 0;
      snapshot = this.restoreBest;
      if (snapshot) this.hasSnapshot = true;
      return { snapshot, stop: false, restore: false };
    }
    if (snapshot) this.hasSnapshot = true;
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      const restore = this.restoreBest && this.hasSnapshot;
      return {
        snapshot,
        stop: true,
        restore,
        message:
          `early_stopping: ${this.monitor} has not improved for ${this.wait} epochs (best ${this.best.toPrecision(4)} at epoch ${this.bestEpoch + 1}); stopping` +
          (restore ? `, restoring the weights of epoch ${this.bestEpoch + 1}` : ""),
      };
    }
    return { snapshot, stop: false, restore: false };
  }
}

// ------------------------------------------------------------------ checkpoint

export interface CheckpointArgs {
  monitor: string;
  save_best_only: boolean;
  mode: MonitorMode | string;
}

/** keras.callbacks.ModelCheckpoint's decision: save after every epoch, or only when `monitor` improves (strictly). */
export class CheckpointDecider {
  readonly monitor: string;
  readonly saveBestOnly: boolean;
  readonly mode: "min" | "max";
  best: number;

  constructor(args: CheckpointArgs) {
    this.monitor = args.monitor;
    this.saveBestOnly = args.save_best_only;
    this.mode = resolveMonitorMode(args.monitor, args.mode);
    this.best = this.mode === "min" ? Infinity : -Infinity;
  }

  onEpochEnd(logs: Record<string, number>): { save: boolean; message?: string; warning?: string } {
    if (!this.saveBestOnly) return { save: true };
    const current = logs[this.monitor];
    if (current === undefined) {
      return { save: false, warning: `checkpoint: can save best model only with ${this.monitor} available, skipping` };
    }
    if (this.mode === "min" ? current < this.best : current > this.best) {
      const previous = this.best;
      this.best = current;
      return {
        save: true,
        message: `checkpoint: ${this.monitor} improved from ${Number.isFinite(previous) ? previous.toPrecision(5) : previous} to ${current.toPrecision(5)}, saving`,
      };
    }
    return { save: false };
  }
}

// ------------------------------------------------------------------ terminate_on_nan

/** keras.callbacks.TerminateOnNaN: true when a batch loss is NaN or infinite (stop training now). */
export function shouldTerminateOnNaN(loss: number): boolean {
  return Number.isNaN(loss) || !Number.isFinite(loss);
}
