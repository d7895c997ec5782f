// What the user sees while an engine trains. On a terminal: one live line per phase, redrawn in
// place (at most ten times a second, and synchronously, so it moves even while an engine computes
// without yielding):
//   epoch 3/10 [######------] 120/469 | loss 0.1234 | 7374 samples/s | accuracy 0.9612 | 17.4 ms/step | ETA 12.0s
//   validation [#############-------] 8192/12000 | 45120 samples/s | ETA 0.1s
//   test [#####---------------] 2048/10000 | 51200 samples/s | ETA 0.2s
// The line fits the terminal's width: the statistics go from the end (step time, accuracy,
// samples/s, loss) and the bar shrinks before the ETA would be cut; the label, count and ETA
// always show. Otherwise (not a terminal, --quiet, --json): one plain line per epoch on stderr.
// Implements the engines' TrainHooks.
import type { EpochLogs, TrainHooks } from "../engine.js";

export interface ProgressOptions {
  /** Show live lines (a terminal, and not --quiet). */
  interactive: boolean;
  /** Where lines go; stderr by default. */
  stream?: NodeJS.WritableStream & { columns?: number };
  /** A prefix for every line, e.g. "[width=64] " during a sweep. */
  prefix?: string;
  /** The terminal's width (default: the stream's columns, else 80). */
  columns?: () => number;
  /** The clock, in milliseconds (tests). */
  now?: () => number;
}

function fmt(v: number | undefined, digits = 4): string {
  return v === undefined ? "-" : Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

/** "41.3s", "1m03s", "835m59s": rounded to the second first, so it never reads "m60s". */
export function seconds(s: number): string {
  if (s < 59.95) return `${s.toFixed(1)}s`;
  const total = Math.round(s);
  const m = Math.floor(total / 60);
  return `${m}m${String(total - m * 60).padStart(2, "0")}s`;
}

/** "loss 0.1234  accuracy 0.9612  val_loss 0.1100  val_accuracy 0.9650  lr 0.001" in history column order. */
export function formatLogs(logs: EpochLogs): string {
  const keys = Object.keys(logs);
  const order = (k: string) =>
    k === "loss" ? 0 : k === "val_loss" ? 2 : k.startsWith("val_") ? 3 : k === "lr" ? 4 : 1;
  keys.sort((a, b) => order(a) - order(b));
  return keys.map((k) => `${k} ${k === "lr" ? Number(logs[k].toPrecision(4)) : fmt(logs[k])}`).join("  ");
}

export interface ProgressLine {
  /** "epoch 3/10", "validation", "test". */
  label: string;
  done: number;
  total: number;
  /** Seconds left, or null before there is a rate to tell. */
  eta: number | null;
  /** Statistics in order of importance: the last ones are left out first when the line is too long. */
  stats: string[];
}

const MIN_BAR = 10;
const MAX_BAR = 30;

/**
 * One progress line in at most `columns - 1` characters (a line that fills the last column wraps
 * on some terminals). The count and the ETA always show; statistics are dropped from the end and
 * the bar narrows (or goes) when the terminal is narrow.
 */
export function renderProgressLine(p: ProgressLine, columns: number): string {
  const width = Math.max(10, columns - 1);
  const count = `${p.done}/${p.total}`;
  const eta = `ETA ${p.eta === null ? "--" : seconds(p.eta)}`;
  const bar = (n: number) => {
    const filled = p.total > 0 ? Math.min(n, Math.round((n * p.done) / p.total)) : 0;
    return `[${"#".repeat(filled)}${"-".repeat(n - filled)}] `;
  };
  const build = (stats: string[], barWidth: number) =>
    `${p.label} ${barWidth > 0 ? bar(barWidth) : ""}${[count, ...stats, eta].join(" | ")}`;
  for (let k = p.stats.length; k >= 0; k--) {
    const stats = p.stats.slice(0, k);
    const room = width - build(stats, 0).length - 3; // "[" + "] "
    if (room >= MIN_BAR) return build(stats, Math.min(MAX_BAR, room));
  }
  for (const short of [build([], 0), `${count} | ${eta}`, `${count} ${eta}`]) if (short.length <= width) return short;
  return eta;
}

const ERASE = "\r\x1b[K";

export class ProgressReporter implements TrainHooks {
  private epochs = 0;
  private steps = 0;
  private trainSamples = 0;
  private epochStart = 0;
  private currentEpoch = 0;
  private training = false;
  /** The live line on screen, if any (redrawn after a message). */
  private live: ProgressLine | null = null;
  private lastDraw = -Infinity;
  private evalStart = 0;
  private evalFirst = 0;
  private readonly stream: NodeJS.WritableStream & { columns?: number };
  private readonly prefix: string;
  private readonly now: () => number;
  /** Every line logged by the engine (also shown to the user). */
  readonly messages: string[] = [];

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.prefix = options.prefix ?? "";
    this.now = options.now ?? (() => performance.now());
  }

  private columns(): number {
    return this.options.columns?.() ?? this.stream.columns ?? 80;
  }

  /** Draws `line` in place (throttled to ten a second unless `force`). */
  private draw(line: ProgressLine, force = false): void {
    if (!this.options.interactive) return;
    this.live = line;
    const t = this.now();
    if (!force && t - this.lastDraw < 100) return;
    this.lastDraw = t;
    this.stream.write(`${ERASE}${renderProgressLine({ ...line, label: `${this.prefix}${line.label}` }, this.columns())}`);
  }

  private erase(): void {
    if (this.live && this.options.interactive) this.stream.write(ERASE);
    this.live = null;
  }

  /** A finished line: the live line is erased, the text written, the live line drawn again below it. */
  private line(text: string): void {
    const live = this.live;
    this.erase();
    this.stream.write(`${this.prefix}${text}\n`);
    if (live) this.draw(live, true);
  }

  onTrainBegin(info: { epochs: number; stepsPerEpoch: number; trainSamples: number; validationSamples: number; initialEpoch?: number }): void {
    this.epochs = info.epochs;
    this.steps = info.stepsPerEpoch;
    this.trainSamples = info.trainSamples;
    this.currentEpoch = info.initialEpoch ?? 0;
    this.training = true;
    const from = this.currentEpoch > 0 ? ` (resumed after epoch ${this.currentEpoch})` : "";
    this.stream.write(
      `${this.prefix}training on ${info.trainSamples} samples${info.validationSamples ? `, validating on ${info.validationSamples}` : ""}: ${info.epochs} epoch${info.epochs === 1 ? "" : "s"} of ${info.stepsPerEpoch} steps${from}\n`,
    );
    this.epochStart = this.now();
    this.draw(this.epochLine(0, {}), true);
  }

  private epochLine(done: number, logs: { loss?: number; accuracy?: number }): ProgressLine {
    const elapsed = (this.now() - this.epochStart) / 1000;
    const samples = this.steps > 0 ? (done / this.steps) * this.trainSamples : 0;
    const rate = elapsed > 0 && done > 0 ? samples / elapsed : null;
    // in order of importance: a narrow terminal drops them from the end
    const stats: string[] = [];
    if (logs.loss !== undefined) stats.push(`loss ${fmt(logs.loss)}`);
    if (rate !== null) stats.push(`${Math.round(rate)} samples/s`);
    if (logs.accuracy !== undefined) stats.push(`accuracy ${fmt(logs.accuracy)}`);
    if (rate !== null) stats.push(`${((elapsed * 1000) / done).toFixed(1)} ms/step`);
    return {
      label: `epoch ${this.currentEpoch + 1}/${this.epochs}`,
      done,
      total: this.steps,
      eta: done > 0 ? (elapsed / done) * (this.steps - done) : null,
      stats,
    };
  }

  onBatchEnd(step: number, logs: { loss: number; accuracy?: number }): void {
    if (!this.options.interactive || !this.training) return;
    const inEpoch = this.steps > 0 ? (step % this.steps) + 1 : step + 1;
    const done = Math.min(inEpoch, this.steps);
    this.draw(this.epochLine(done, logs), done === this.steps);
  }

  onEvaluate(phase: "validation" | "test", done: number, total: number): void {
    if (!this.options.interactive) return;
    // the rate counts from the first report (its batch's time is unknown)
    if (this.live?.label !== phase || done < this.evalFirst) {
      this.evalStart = this.now();
      this.evalFirst = done;
    }
    const elapsed = (this.now() - this.evalStart) / 1000;
    const rate = elapsed > 0 && done > this.evalFirst ? (done - this.evalFirst) / elapsed : null;
    const line: ProgressLine = {
      label: phase,
      done,
      total,
      eta: rate ? (total - done) / rate : null,
      stats: rate ? [`${Math.round(rate)} samples/s`] : [],
    };
    // the first batch sets the clock; from the second on the rate and ETA show
    if (this.live?.label !== phase) this.lastDraw = -Infinity;
    this.draw(line);
    if (done >= total) this.erase();
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    const took = (this.now() - this.epochStart) / 1000;
    this.erase();
    const remaining = this.epochs - epoch - 1;
    const eta = remaining > 0 ? `  ETA ${seconds(took * remaining)}` : "";
    this.stream.write(`${this.prefix}epoch ${epoch + 1}/${this.epochs}  ${formatLogs(logs)}  ${seconds(took)}${eta}\n`);
    this.currentEpoch = epoch + 1;
    this.epochStart = this.now();
    this.training = remaining > 0;
    if (this.training) this.draw(this.epochLine(0, {}), true);
  }

  log(message: string): void {
    this.messages.push(message);
    this.line(message);
  }

  /** Erases the live line (end of training, error or Ctrl-C). */
  stop(): void {
    this.erase();
    this.training = false;
  }
}
