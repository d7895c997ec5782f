// What `nnc run` asks of an engine (standalone or tfjs). The run command
// (src/cli/commands/run.ts + src/runtime/run/) owns the run directory, progress bar,
// history files, plots and --json output; an engine only trains, evaluates and saves.
import type { IR } from "../compiler/ir.js";

export interface RunOptions {
  /** Where the MNIST idx files are; else $NNC_DATA, the cache dir, then download. */
  dataDir?: string;
  /** Overrides of the file's training budget, for quick runs. */
  epochs?: number;
  trainLimit?: number;
  testLimit?: number;
  seed?: number;
  /** The run directory; the engine writes the trained model to `${outDir}/model/` (tfjs layers format). */
  outDir: string;
  /** tfjs engine only: auto|cpu|wasm|node|gpu|webgpu. */
  backend?: string;
  /** standalone engine only: ts|simd. */
  kernels?: string;
  quiet?: boolean;
  /** Aborted on Ctrl-C: the engine stops at the next batch and writes nothing half-done. */
  signal?: AbortSignal;
  /**
   * standalone engine only: continue the run in outDir from its resume/ folder (written after
   * every epoch: weights, optimizer state, random streams, callbacks, history) instead of
   * starting anew.
   */
  resume?: boolean;
}

/** Per-epoch logs, Keras names: loss, accuracy, val_loss, val_accuracy, lr, ... */
export type EpochLogs = Record<string, number>;

export interface TrainHooks {
  /** initialEpoch: the epochs already done (a resumed run starts after them). */
  onTrainBegin?(info: { epochs: number; stepsPerEpoch: number; trainSamples: number; validationSamples: number; initialEpoch?: number }): void;
  onBatchEnd?(step: number, logs: { loss: number; accuracy?: number }): void;
  onEpochEnd?(epoch: number, logs: EpochLogs): void;
  /** Progress of an evaluation pass (the validation set after each epoch, the test set at the end): examples done of total. */
  onEvaluate?(phase: "validation" | "test", done: number, total: number): void;
  /** A line for the user (e.g. a callback's "lr 1e-3 -> 5e-4"). */
  log?(message: string): void;
}

export interface TrainResult {
  engine: "standalone" | "tfjs" | "pytorch";
  /** e.g. "cpu", "wasm", "tensorflow" (tfjs-node), "webgpu", "ts", "simd". */
  backend: string;
  history: EpochLogs[];
  /** Epochs actually run (early stopping may end sooner). */
  epochs: number;
  trainSamples: number;
  testLoss: number;
  testAccuracy: number;
  testMetrics: Record<string, number>;
  seconds: number;
  samplesPerSecond: number;
  stoppedEarly: boolean;
  /** Files written under outDir, relative to it. */
  files: string[];
}

export interface Engine {
  name: "standalone" | "tfjs" | "pytorch";
  train(ir: IR, options: RunOptions, hooks: TrainHooks): Promise<TrainResult>;
}
