// events.jsonl: the run's training as it happens, one JSON record a line, appended while the
// engine trains, so that `nnc serve` (in this process with `nnc run --serve`, or another process
// watching runs/) can stream it to the browser. Records:
//   {"type":"start","time":ISO,"file","model","params","settings":{...},"pid"}
//   {"type":"begin","epochs","stepsPerEpoch","trainSamples","validationSamples"}
//   {"type":"batch","epoch","step","loss","accuracy"?}   step counts from 0 within its epoch
//   {"type":"epoch","epoch","logs":{loss, accuracy, val_loss, ..., lr}}   epoch counts from 0
//   {"type":"log","message"}
//   {"type":"end","status":"done"|"failed"|"interrupted","message"?}
// Lines are whole when written (one write per flush of complete lines); batch records are
// flushed at most every 200 ms and at each epoch's end, so a fast engine is not slowed by
// a write per batch. This file is a log, not a result: it is appended to, never rewritten.
import { appendFileSync, existsSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { EpochLogs, TrainHooks } from "../engine.js";
import type { IR } from "../../compiler/ir.js";

export const EVENTS_FILE = "events.jsonl";

/** JSON has no NaN or infinity: non-finite numbers become null. */
function finite(logs: Record<string, number | undefined>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(logs)) if (v !== undefined) out[k] = Number.isFinite(v) ? v : null;
  return out;
}

/** The training settings a reader of the run wants to see (from the IR). */
export function runSettings(ir: IR): Record<string, unknown> {
  const t = ir.training;
  if (t === null) return {};
  return {
    data: t.data,
    loss: t.loss,
    optimizer: t.optimizer,
    schedule: t.schedule,
    callbacks: t.callbacks,
    metrics: t.metrics,
    epochs: t.epochs,
    batchSize: t.batchSize,
    seed: t.seed,
  };
}

export class EventLog implements TrainHooks {
  readonly path: string;
  private pending: string[] = [];
  private lastFlush = 0;
  private steps = 0;
  private epochsDone = 0;
  private failed = false;

  constructor(
    dir: string,
    start: { file: string; ir: IR; variant?: string },
    private readonly now: () => number = () => performance.now(),
  ) {
    this.path = join(dir, EVENTS_FILE);
    this.write({
      type: "start",
      time: new Date().toISOString(),
      file: start.file,
      model: start.ir.model.name,
      params: start.ir.model.params,
      ...(start.variant ? { variant: start.variant } : {}),
      settings: runSettings(start.ir),
      pid: process.pid,
    });
    this.flush();
  }

  private write(record: Record<string, unknown>): void {
    this.pending.push(`${JSON.stringify(record)}\n`);
  }

  /** Appends the pending lines. A failing disk never stops the training: the log just ends there. */
  flush(): void {
    if (this.pending.length === 0 || this.failed) return;
    const text = this.pending.join("");
    this.pending = [];
    this.lastFlush = this.now();
    try {
      appendFileSync(this.path, text);
    } catch {
      this.failed = true;
    }
  }

  onTrainBegin(info: { epochs: number; stepsPerEpoch: number; trainSamples: number; validationSamples: number }): void {
    this.steps = info.stepsPerEpoch;
    this.write({ type: "begin", ...info });
    this.flush();
  }

  onBatchEnd(step: number, logs: { loss: number; accuracy?: number }): void {
    // the tfjs engine counts steps over the run, the standalone one within the epoch: the record has both plain
    this.write({
      type: "batch",
      epoch: this.epochsDone,
      step: this.steps > 0 ? step % this.steps : step,
      ...finite(logs),
    });
    if (this.now() - this.lastFlush >= 200) this.flush();
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    this.epochsDone = epoch + 1;
    this.write({ type: "epoch", epoch, logs: finite(logs) });
    this.flush();
  }

  log(message: string): void {
    this.write({ type: "log", message });
    this.flush();
  }

  end(status: "done" | "failed" | "interrupted", message?: string): void {
    this.write({ type: "end", status, time: new Date().toISOString(), ...(message ? { message } : {}) });
    this.flush();
  }
}

/** Both hooks get every call, `a` first. */
export function teeHooks(a: TrainHooks, b: TrainHooks): TrainHooks {
  return {
    onTrainBegin: (info) => {
      a.onTrainBegin?.(info);
      b.onTrainBegin?.(info);
    },
    onBatchEnd: (step, logs) => {
      a.onBatchEnd?.(step, logs);
      b.onBatchEnd?.(step, logs);
    },
    onEpochEnd: (epoch, logs) => {
      a.onEpochEnd?.(epoch, logs);
      b.onEpochEnd?.(epoch, logs);
    },
    onEvaluate: (phase, done, total) => {
      a.onEvaluate?.(phase, done, total);
      b.onEvaluate?.(phase, done, total);
    },
    log: (message) => {
      a.log?.(message);
      b.log?.(message);
    },
  };
}

/**
 * Removes the event logs under `dir` when they are all it holds (a run that failed or was
 * interrupted before writing anything else), so that removeIfEmpty can then remove the folder.
 */
export function removeLonelyEventLogs(dir: string): void {
  const files: string[] = [];
  const walk = (d: string): boolean => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return true;
    }
    for (const name of names) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (!walk(p)) return false;
      } else if (name === EVENTS_FILE) files.push(p);
      else return false;
    }
    return true;
  };
  if (!existsSync(dir) || !walk(dir)) return;
  for (const f of files) unlinkSync(f);
}
