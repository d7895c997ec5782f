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

// ------------------------------------------------------------------ the runner
// Both standalone engines (the CPU program, which embeds this, and the GPU engine) run a train
// section's callbacks through CallbackRunner, so neither names a callback kind: each kind is a
// factory below (CALLBACK_FACTORIES, named <camelCase kind>Callback), and the catalog's
// `callbackNeeds` says which CallbackHost members it calls.

/** TensorBoard event files as Keras's TensorBoard callback writes them (KerasTensorBoard, src/runtime/tensorboard.ts). */
export interface EventFiles {
  batch(logs: Record<string, number | undefined>, learningRate?: number): void;
  epoch(epoch: number, logs: Record<string, number>): void;
  close(): void;
  readonly paths: string[];
}

/** What the callbacks ask of the engine running them, which owns the weights and the run directory. */
export interface CallbackHost {
  /** A line for the user. */
  say(message: string): void;
  /** Copies the weights as the best so far (catalog callbackNeeds.bestWeights). */
  snapshotWeights?(): void;
  /** Puts that copy back. */
  restoreWeights?(): void;
  /** Saves the model to dir, a path in the run directory, after `epoch` (from 0) with its logs (callbackNeeds.savesModel). */
  saveModel?(dir: string, epoch: number, logs: Record<string, number>): void | Promise<void>;
  /** Writes a text file of the run directory whole, atomically, creating its folder (callbackNeeds.textFiles). */
  writeText?(path: string, text: string): void;
  /** TensorBoard event files under dir, a path in the run directory (callbackNeeds.eventFiles). */
  eventFiles?(dir: string, updateFreq: "epoch" | "batch"): EventFiles;
}

/** What an epoch's end decides: the learning rate from now on, and whether training stops. */
export interface EpochDecision {
  lr: number;
  stop: boolean;
}

/** A callback as the runner drives it. */
export interface RunningCallback {
  /** The object whose number and boolean fields resume/ keeps (its counters and best values). */
  state?: object;
  /** The text lines it has written so far (a CSV log's rows), which resume/ keeps. */
  lines?: string[];
  /** After each training batch, with the batch's loss, and the running logs and learning rate where it asked for them (callbackNeeds.batches): true stops training now. */
  onBatchEnd?(
    epoch: number,
    step: number,
    batchLoss: number,
    logs?: Record<string, number | undefined>,
    lr?: number,
  ): boolean;
  /** At each epoch's end (epoch counted from 0). */
  onEpochEnd?(epoch: number, logs: Record<string, number>, decision: EpochDecision): void | Promise<void>;
  /** After training and the final save: the files it wrote (absolute paths). */
  onTrainEnd?(): string[];
}

/** Makes a callback from its resolved IR arguments. */
export type CallbackFactory = (args: Record<string, unknown>, host: CallbackHost) => RunningCallback;

export function reduceOnPlateauCallback(args: Record<string, unknown>, host: CallbackHost): RunningCallback {
  const plateau = new ReduceLROnPlateau(args as unknown as ReduceLROnPlateauArgs);
  return {
    state: plateau,
    onEpochEnd(_epoch, logs, decision) {
      const d = plateau.onEpochEnd(logs, decision.lr);
      if (d.warning) host.say(d.warning);
      if (d.message) host.say(d.message);
      decision.lr = d.lr;
    },
  };
}

export function earlyStoppingCallback(args: Record<string, unknown>, host: CallbackHost): RunningCallback {
  const early = new EarlyStopping(args as unknown as EarlyStoppingArgs);
  return {
    state: early,
    onEpochEnd(epoch, logs, decision) {
      const d = early.onEpochEnd(epoch, logs);
      if (d.warning) host.say(d.warning);
      if (d.snapshot && early.restoreBest) host.snapshotWeights!();
      if (d.stop) {
        if (d.message) host.say(d.message);
        if (d.restore && early.restoreBest) host.restoreWeights!();
        decision.stop = true;
      }
    },
  };
}

export function checkpointCallback(args: Record<string, unknown>, host: CallbackHost): RunningCallback {
  const checkpoint = new CheckpointDecider(args as unknown as CheckpointArgs);
  return {
    state: checkpoint,
    async onEpochEnd(epoch, logs) {
      const d = checkpoint.onEpochEnd(logs);
      if (d.warning) host.say(d.warning);
      if (d.message) host.say(d.message);
      if (d.save) await host.saveModel!(args.path as string, epoch, logs);
    },
  };
}

/** keras.callbacks.CSVLogger: a header of the log names, then one row per epoch; the whole file rewritten each epoch. */
export function csvLoggerCallback(args: Record<string, unknown>, host: CallbackHost): RunningCallback {
  const path = args.path as string;
  const separator = args.separator as string;
  const rows: string[] = [];
  return {
    lines: rows,
    onEpochEnd(epoch, logs) {
      if (rows.length === 0) rows.push(["epoch", ...Object.keys(logs)].join(separator));
      rows.push([epoch, ...Object.values(logs)].join(separator));
      host.writeText!(path, rows.join("\n") + "\n");
    },
  };
}

export function tensorboardCallback(args: Record<string, unknown>, host: CallbackHost): RunningCallback {
  const files = host.eventFiles!(args.dir as string, args.update_freq as "epoch" | "batch");
  return {
    state: files,
    onBatchEnd(_epoch, _step, _batchLoss, logs, lr) {
      files.batch(logs!, lr);
      return false;
    },
    onEpochEnd(epoch, logs) {
      files.epoch(epoch, logs);
    },
    onTrainEnd() {
      files.close();
      return files.paths;
    },
  };
}

export function terminateOnNanCallback(_args: Record<string, unknown>, host: CallbackHost): RunningCallback {
  return {
    onBatchEnd(epoch, step, batchLoss) {
      if (!shouldTerminateOnNaN(batchLoss)) return false;
      host.say(`terminate_on_nan: the loss is ${batchLoss} at epoch ${epoch + 1}, step ${step + 1}; stopping`);
      return true;
    },
  };
}

/** Every callback kind's factory, in the catalog's order (resume/'s state.json lists their state in it). */
export const CALLBACK_FACTORIES = {
  reduce_on_plateau: reduceOnPlateauCallback,
  early_stopping: earlyStoppingCallback,
  checkpoint: checkpointCallback,
  csv_logger: csvLoggerCallback,
  tensorboard: tensorboardCallback,
  terminate_on_nan: terminateOnNanCallback,
};

/** The order the callbacks decide in at an epoch's end: the loggers see the epoch before a checkpoint, the learning rate or a stop changes anything. */
const EPOCH_END_ORDER = [
  "tensorboard",
  "csv_logger",
  "checkpoint",
  "reduce_on_plateau",
  "early_stopping",
  "terminate_on_nan",
];

/** An object's number and boolean fields (a callback's counters and best value), for state.json. */
function fieldsOf(object: object): Record<string, number | boolean> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => typeof v === "number" || typeof v === "boolean"));
}

/**
 * A train section's callbacks (the first of each kind), made by `factories` (CALLBACK_FACTORIES, or
 * the part of it a program embeds, in its order) and run at each batch's and epoch's end.
 */
export class CallbackRunner {
  /** By kind, in the factories' order. */
  private readonly running: [string, RunningCallback][] = [];

  constructor(
    callbacks: { kind: string; args: Record<string, unknown> }[],
    factories: Record<string, CallbackFactory>,
    host: CallbackHost,
  ) {
    for (const [kind, make] of Object.entries(factories)) {
      const first = callbacks.find((c) => c.kind === kind);
      if (first) this.running.push([kind, make(first.args, host)]);
    }
  }

  /** After each training batch: true when a callback stops training now. */
  onBatchEnd(
    epoch: number,
    step: number,
    batchLoss: number,
    logs?: Record<string, number | undefined>,
    lr?: number,
  ): boolean {
    for (const [, c] of this.running) if (c.onBatchEnd?.(epoch, step, batchLoss, logs, lr)) return true;
    return false;
  }

  /** At each epoch's end, given the learning rate the schedule starts from: it, possibly lowered, and whether to stop. */
  async onEpochEnd(epoch: number, logs: Record<string, number>, lr: number): Promise<EpochDecision> {
    const decision: EpochDecision = { lr, stop: false };
    for (const kind of EPOCH_END_ORDER) {
      const c = this.running.find(([k]) => k === kind)?.[1];
      if (c?.onEpochEnd) await c.onEpochEnd(epoch, logs, decision);
    }
    return decision;
  }

  /** After training: the files the callbacks wrote (absolute paths). */
  onTrainEnd(): string[] {
    return this.running.flatMap(([, c]) => c.onTrainEnd?.() ?? []);
  }

  /** The callbacks' counters and best values, by kind, for resume/. */
  state(): Record<string, Record<string, number | boolean>> {
    return Object.fromEntries(this.running.flatMap(([kind, c]) => (c.state ? [[kind, fieldsOf(c.state)]] : [])));
  }

  /** The text lines the callbacks wrote (a CSV log's rows), for resume/. */
  lines(): string[] {
    return this.running.flatMap(([, c]) => c.lines ?? []);
  }

  /** Continues from resume/: the counters and best values of state(), the lines of lines(). */
  restore(state: Record<string, Record<string, number | boolean>>, lines: string[]): void {
    for (const [kind, c] of this.running) {
      if (c.state) Object.assign(c.state, state[kind]);
      c.lines?.push(...lines);
    }
  }
}
