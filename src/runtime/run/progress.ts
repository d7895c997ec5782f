// What the user sees while an engine trains: on a terminal, a progress bar per epoch (cli-progress)
// with loss, accuracy and ETA; otherwise (stdout not a TTY, or --quiet) one plain line per epoch
// on stderr. Implements the engines' TrainHooks.
import cliProgress from "cli-progress";
import type { EpochLogs, TrainHooks } from "../engine.js";

export interface ProgressOptions {
  /** Show the bar (a terminal, and not --quiet). */
  interactive: boolean;
  /** Where lines go; stderr by default. */
  stream?: NodeJS.WritableStream;
  /** A prefix for every line, e.g. "[width=64] " during a sweep. */
  prefix?: string;
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

export class ProgressReporter implements TrainHooks {
  private bar: cliProgress.SingleBar | null = null;
  private epochs = 0;
  private steps = 0;
  private epochStart = 0;
  private currentEpoch = 0;
  private lastValue = 0;
  private lastPayload: Record<string, string> = { loss: "-", accuracy: "-" };
  private readonly stream: NodeJS.WritableStream;
  private readonly prefix: string;
  /** Every line logged by the engine (also shown to the user). */
  readonly messages: string[] = [];

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.prefix = options.prefix ?? "";
  }

  private line(text: string): void {
    if (this.bar) {
      // keep the bar on its own line: print above it
      this.bar.stop();
      this.stream.write(`${this.prefix}${text}\n`);
      this.bar = null;
      this.startBar();
    } else {
      this.stream.write(`${this.prefix}${text}\n`);
    }
  }

  private startBar(): void {
    if (!this.options.interactive) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `${this.prefix}epoch {epoch}/{epochs} [{bar}] {value}/{total} | loss {loss} | accuracy {accuracy} | ETA {eta_formatted}`,
        stream: this.stream as NodeJS.WriteStream,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 10,
        barsize: 24,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(this.steps, this.lastValue, {
      epoch: this.currentEpoch + 1,
      epochs: this.epochs,
      ...this.lastPayload,
    });
  }

  onTrainBegin(info: { epochs: number; stepsPerEpoch: number; trainSamples: number; validationSamples: number }): void {
    this.epochs = info.epochs;
    this.steps = info.stepsPerEpoch;
    this.currentEpoch = 0;
    this.stream.write(
      `${this.prefix}training on ${info.trainSamples} samples${info.validationSamples ? `, validating on ${info.validationSamples}` : ""}: ${info.epochs} epoch${info.epochs === 1 ? "" : "s"} of ${info.stepsPerEpoch} steps\n`,
    );
    this.epochStart = performance.now();
    this.startBar();
  }

  onBatchEnd(step: number, logs: { loss: number; accuracy?: number }): void {
    if (!this.bar) return;
    const inEpoch = this.steps > 0 ? (step % this.steps) + 1 : step + 1;
    this.lastValue = Math.min(inEpoch, this.steps);
    this.lastPayload = { loss: fmt(logs.loss), accuracy: fmt(logs.accuracy) };
    this.bar.update(this.lastValue, this.lastPayload);
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    const took = (performance.now() - this.epochStart) / 1000;
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
    const remaining = this.epochs - epoch - 1;
    const eta = remaining > 0 ? `  ETA ${seconds(took * remaining)}` : "";
    this.stream.write(`${this.prefix}epoch ${epoch + 1}/${this.epochs}  ${formatLogs(logs)}  ${seconds(took)}${eta}\n`);
    this.currentEpoch = epoch + 1;
    this.lastValue = 0;
    this.lastPayload = { loss: "-", accuracy: "-" };
    this.epochStart = performance.now();
    if (remaining > 0) this.startBar();
  }

  log(message: string): void {
    this.messages.push(message);
    this.line(message);
  }

  /** Stops the bar (end of training, error or Ctrl-C). */
  stop(): void {
    if (this.bar) this.bar.stop();
    this.bar = null;
  }
}
