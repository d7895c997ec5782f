// Divergence stops the run (issue 12): a batch whose loss is NaN or infinite means the weights
// are (or are about to be) NaN, and every later batch too. DivergenceGuard wraps the hooks the
// engine reports progress through (both engines call onBatchEnd with the epoch's running mean
// loss, which stays non-finite once one batch was), and at the first non-finite loss aborts the
// training through its own signal, before the engine saves anything more. `nnc run` then exits
// 3 with the epoch and batch; `--continue-on-nan` opts out. (Saving refuses non-finite weights
// in any case: writeModelDir in src/runtime/data/mnist.ts.)
import type { EpochLogs, TrainHooks } from "../engine.js";

export const EXIT_DIVERGED = 3;

export interface Divergence {
  /** 1-based. */
  epoch: number;
  /** 1-based, within the epoch. */
  batch: number;
  stepsPerEpoch: number;
  loss: number;
}

export class DivergenceGuard implements TrainHooks {
  readonly controller = new AbortController();
  diverged: Divergence | null = null;
  private epoch = 0;
  private steps = 0;

  constructor(private readonly inner: TrainHooks) {}

  private trip(batch: number, loss: number): void {
    if (this.diverged !== null) return;
    this.diverged = { epoch: this.epoch + 1, batch, stepsPerEpoch: this.steps, loss };
    this.controller.abort(Object.assign(new Error(divergenceMessage(this.diverged)), { name: "AbortError" }));
  }

  onTrainBegin(info: { epochs: number; stepsPerEpoch: number; trainSamples: number; validationSamples: number; initialEpoch?: number }): void {
    this.steps = info.stepsPerEpoch;
    this.epoch = info.initialEpoch ?? 0;
    this.inner.onTrainBegin?.(info);
  }

  onEvaluate(phase: "validation" | "test", done: number, total: number): void {
    this.inner.onEvaluate?.(phase, done, total);
  }

  onBatchEnd(step: number, logs: { loss: number; accuracy?: number }): void {
    this.inner.onBatchEnd?.(step, logs);
    // The tfjs engine counts steps over the whole run, the standalone engine within the epoch.
    if (!Number.isFinite(logs.loss)) this.trip(this.steps > 0 ? (step % this.steps) + 1 : step + 1, logs.loss);
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    this.inner.onEpochEnd?.(epoch, logs);
    this.epoch = epoch + 1;
    if (logs.loss !== undefined && !Number.isFinite(logs.loss)) {
      this.epoch = epoch;
      this.trip(this.steps, logs.loss);
    }
  }

  log(message: string): void {
    this.inner.log?.(message);
  }
}

export function divergenceMessage(d: Divergence): string {
  return `training diverged: the loss became ${d.loss} at epoch ${d.epoch}, batch ${d.batch}${d.stepsPerEpoch > 0 ? ` of ${d.stepsPerEpoch}` : ""}; stopped without saving the model (a smaller learning rate usually helps; --continue-on-nan keeps training)`;
}
