// The run directory's resume/ folder: the standalone program writes it whole after every epoch
// (weights, optimizer slots, shuffled order, and state.json: epoch, random streams, callbacks,
// history; see TrainingState in the generated program). `nnc run --resume RUN_DIR` reads it here
// to check the run can go on, and a Ctrl-C'd run writes its completed epochs' files from it.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { EpochLogs } from "../engine.js";
import type { Fingerprint } from "../../compiler/fingerprint.js";

export const RESUME_DIR = "resume";

/** What `nnc run` reads of resume/state.json (the program's TrainingState). */
export interface ResumeState {
  format: "nnc-resume";
  fingerprint: Fingerprint;
  /** Epochs finished, of the epochs asked for. */
  epoch: number;
  epochs: number;
  seed: number;
  trainLimit: number | null;
  testLimit: number | null;
  kernels: string;
  stoppedEarly: boolean;
  history: EpochLogs[];
}

/** resume/state.json of runDir, or null when there is none; throws a message when it cannot be read. */
export function readResumeState(runDir: string): ResumeState | null {
  const path = join(runDir, RESUME_DIR, "state.json");
  if (!existsSync(path)) return null;
  let state: ResumeState;
  try {
    state = JSON.parse(readFileSync(path, "utf8"), (_key, v: unknown) =>
      v === "NaN" || v === "Infinity" || v === "-Infinity" ? Number(v) : v,
    ) as ResumeState;
  } catch (err) {
    throw new Error(`${path} cannot be read: ${(err as Error).message}`);
  }
  if (state?.format !== "nnc-resume" || typeof state.epoch !== "number" || !Array.isArray(state.history)) {
    throw new Error(`${path} is not an nnc training state`);
  }
  return state;
}

/** The resume/ folder's model files (model.json, weights.bin): the model of its last finished epoch. */
export function resumeModelFiles(runDir: string): Record<string, Buffer> {
  return {
    "model.json": readFileSync(join(runDir, RESUME_DIR, "model.json")),
    "weights.bin": readFileSync(join(runDir, RESUME_DIR, "weights.bin")),
  };
}

/** A new run in an old run directory starts without the old run's state. */
export function removeResumeState(runDir: string): void {
  rmSync(join(runDir, RESUME_DIR), { recursive: true, force: true });
}
