// `nnc run` end to end (src/cli/commands/run.ts parses the flags and calls runFile):
// compile -> diagnostics -> pick the engine -> train (each sweep variant, then the best) ->
// history.json/csv, curves.svg/png, summary.txt, result.json -> the report (--json: one JSON
// object as the last line of stdout). Ctrl-C aborts the engine through options.signal, removes
// temporary files and exits 130.
import { existsSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import type { Engine, EpochLogs, RunOptions, TrainHooks, TrainResult } from "../engine.js";
import type { IR, IRTraining, IRValue } from "../../compiler/ir.js";
import type { CompileOptions, CompileResult } from "../../compiler/index.js";
import type { Limits } from "../../compiler/checker/limits.js";
import type { EngineChoice } from "../engines/select.js";
import { hasErrors } from "../../parser/diagnostics.js";
import { countSummary, renderDiagnostics } from "../../compiler/codeframe.js";
import { checkWritable, createRunDir, defaultRunDir, removeIfEmpty, removeTempFiles, sweepStaleTemps, writeAtomic } from "./files.js";
import { historyCsv, historyJson } from "./history.js";
import { curvesSvg, svgToPng } from "./plots.js";
import { engineHeader } from "./header.js";
import { ProgressReporter } from "./progress.js";
import { EventLog, removeLonelyEventLogs, teeHooks } from "./events.js";
import { DivergenceGuard, divergenceMessage, EXIT_DIVERGED } from "./divergence.js";
import { summaryText } from "./summary.js";
import { callbackPaths, pathProblem } from "../../compiler/checker/paths.js";
import { bytesText, STANDALONE_MAX_MEMORY_BYTES, trainingSize } from "../../compiler/checker/limits.js";
import { fingerprint } from "../../compiler/fingerprint.js";
import { writeModelDir } from "../data/mnist.js";
import { readResumeState, removeResumeState, resumeModelFiles, type ResumeState } from "./resume.js";

export interface RunRequest {
  file: string;
  /** The .nn source (already read by the caller). */
  source: string;
  engine: "auto" | "standalone" | "tfjs" | "pytorch";
  /** pytorch engine: local ranks (DistributedDataParallel). */
  nproc?: number;
  backend: string;
  gpu: boolean;
  dataDir?: string;
  epochs?: number;
  trainLimit?: number;
  testLimit?: number;
  seed?: number;
  kernels?: string;
  out?: string;
  json: boolean;
  quiet: boolean;
  /** Called once the run directory exists, before training (`nnc run --serve` starts its server there). */
  onRunDir?(absOut: string): void | Promise<void>;
  /** Keep training when the loss becomes NaN or infinite (default: stop, exit 3). */
  continueOnNaN?: boolean;
  /** Raised checker limits (`--limit NAME=N`). */
  limits?: Partial<Limits>;
  /** `--resume RUN_DIR`: continue that run (standalone engine) from its resume/ state. */
  resume?: string;
}

export interface RunDeps {
  compileSource(text: string, file: string, options?: CompileOptions): CompileResult;
  selectEngine(
    ir: IR,
    request: { engine: "auto" | "standalone" | "tfjs" | "pytorch"; backend: string; gpu: boolean; nproc?: number },
    options: RunOptions,
  ): Promise<EngineChoice>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Install the Ctrl-C handler (default true; tests may turn it off). */
  handleSigint?: boolean;
}

/** A failure the CLI reports as one paragraph with an exit code. */
export class RunError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "RunError";
  }
}

export const EXIT_INTERRUPTED = 130;

/** The --json object. */
export interface RunReport {
  file: string;
  model: string;
  engine: string;
  backend: string;
  reason: string;
  epochs: number;
  trainSamples: number;
  testAccuracy: number | null;
  testLoss: number | null;
  testMetrics: Record<string, number | null>;
  seconds: number;
  samplesPerSecond: number;
  stoppedEarly: boolean;
  /** Ctrl-C (or SIGTERM, SIGHUP) stopped the run after `epochs` of `epochsPlanned` epochs: no test pass; the model is the last finished epoch's. */
  interrupted?: { epochsPlanned: number; model: boolean };
  /** The run continued an earlier one (`nnc run --resume`) after this many epochs. */
  resumedAfter?: number;
  outDir: string;
  files: string[];
  /** How the model is evaluated (what `nnc evaluate RUN_DIR` reads): data set, labels, loss, metrics. */
  evaluation: {
    dataset: IRTraining["data"]["dataset"];
    classes: number;
    labels: IRTraining["labels"];
    loss: IRTraining["loss"];
    metrics: string[];
    /** --test-limit of the run, when given. */
    testLimit: number | null;
  };
  sweep?: {
    monitor: string;
    mode: "max" | "min";
    variants: {
      values: Record<string, IRValue>;
      metric: number | null;
      epochs: number;
      seconds: number;
      outDir: string;
    }[];
    best: Record<string, IRValue>;
  };
}

class Interrupted extends Error {}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

function valuesLabel(values: Record<string, IRValue>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(",");
}

/** The best value of `monitor` over the epochs (by mode), or null when it was never logged. */
export function bestOf(history: EpochLogs[], monitor: string, mode: "max" | "min"): number | null {
  let best: number | null = null;
  for (const row of history) {
    const v = row[monitor];
    if (v === undefined || !Number.isFinite(v)) continue;
    if (best === null || (mode === "max" ? v > best : v < best)) best = v;
  }
  return best;
}

/** Writes history.json, history.csv, curves.svg, curves.png, summary.txt into outDir; returns their names. */
export function writeRunFiles(outDir: string, ir: IR, result: TrainResult): string[] {
  const acc = result.testAccuracy;
  const title = `${ir.model.name}: ${result.epochs} epoch${result.epochs === 1 ? "" : "s"}, ${result.engine} (${result.backend})${Number.isFinite(acc) ? `, test accuracy ${(acc * 100).toFixed(2)}%` : ""}`;
  const svg = curvesSvg(result.history, title);
  writeAtomic(join(outDir, "history.json"), historyJson(result.history));
  writeAtomic(join(outDir, "history.csv"), historyCsv(result.history));
  writeAtomic(join(outDir, "curves.svg"), svg);
  writeAtomic(join(outDir, "curves.png"), svgToPng(svg));
  writeAtomic(join(outDir, "summary.txt"), summaryText(ir.model));
  return ["history.json", "history.csv", "curves.svg", "curves.png", "summary.txt"];
}

/** About what a run writes: the model (and each checkpoint, each sweep variant's), plus 16 MiB of logs and plots. */
function runBytes(ir: IR): number {
  const model = (m: IR["model"]) => m.params.total * 4 + 64 * 1024;
  const checkpoints = ir.training?.callbacks.filter((c) => c.kind === "checkpoint").length ?? 0;
  const variants = ir.sweep?.variants.reduce((n, v) => n + model(v.model) * (1 + checkpoints), 0) ?? 0;
  // (+ resume/: the weights again and the optimizer's slots, about two more copies)
  return model(ir.model) * (3 + checkpoints) + variants + 16 * 2 ** 20;
}

/** Runs `nnc run`; returns the exit code (0, 1 on diagnostics/failed run, 130 on Ctrl-C). */
export async function runFile(req: RunRequest, deps: RunDeps): Promise<number> {
  const { stdout, stderr } = deps;
  const say = (text: string) => (req.json ? stderr : stdout).write(`${text}\n`);

  // 1. compile
  const { ir, diagnostics } = deps.compileSource(req.source, req.file, req.limits ? { limits: req.limits } : {});
  if (diagnostics.length > 0) {
    const color = Boolean(stderr.isTTY) && !process.env.NO_COLOR;
    stderr.write(`${renderDiagnostics(diagnostics, req.source, req.file, { color })}\n`);
  }
  if (ir === null || hasErrors(diagnostics)) {
    stderr.write(`${req.file}: ${countSummary(diagnostics)}; not running\n`);
    return 1;
  }
  if (ir.training === null) {
    throw new RunError(
      `${req.file} has no train section, so there is nothing to run (add \`train ${ir.model.name} { ... }\`)`,
      1,
    );
  }

  // Paths the file names stay in the run directory (the checker refuses others: E314).
  for (const [kind, arg, value] of callbackPaths(ir.training.callbacks as { kind: string; args: Record<string, unknown> }[])) {
    const problem = pathProblem(value);
    if (problem !== null) throw new RunError(`${req.file}: \`${arg}\` of \`${kind}\` must be a path inside the run directory; "${value}" ${problem}`, 1);
  }

  // --resume: the run directory's state must be this model's and training's, on the standalone engine
  const resumed = req.resume === undefined ? null : checkResume(req, ir);

  // 2. run directory and Ctrl-C
  const outDir = req.resume ?? req.out ?? defaultRunDir(ir.model.name);
  const existed = existsSync(outDir);
  let absOut: string;
  try {
    absOut = createRunDir(outDir);
  } catch (err) {
    throw new RunError(`cannot create the run directory ${outDir}: ${(err as Error).message}`, 2);
  }
  // Temporary files and folders that a killed run left behind (its own --out, or under runs/).
  const swept = sweepStaleTemps(req.out === undefined ? dirname(absOut) : absOut);
  if (swept.length > 0) stderr.write(`removed ${swept.length} unfinished file${swept.length === 1 ? "" : "s"} an interrupted run left behind\n`);
  try {
    checkWritable(absOut, runBytes(ir));
  } catch (err) {
    if (!existed) removeIfEmpty(absOut);
    throw new RunError((err as Error).message, 2);
  }
  // a new run in an old run's directory must not leave that run's state to be resumed
  if (resumed === null) removeResumeState(absOut);
  else stderr.write(`resuming ${outDir} after epoch ${resumed.epoch} of ${req.epochs ?? resumed.epochs}\n`);
  const controller = new AbortController();
  let interrupts = 0;
  /** The exit code of the first signal: 130 for SIGINT, 128 + its number for SIGTERM and SIGHUP. */
  let signalExit = EXIT_INTERRUPTED;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1;
    if (interrupts === 1) {
      signalExit = 128 + (osConstants.signals[signal] ?? 2);
      stderr.write(`\ninterrupted${signal === "SIGINT" ? "" : ` (${signal})`}: stopping after this batch (${signal === "SIGINT" ? "Ctrl-C" : `${signal}`} again to quit now)\n`);
      controller.abort();
    } else {
      removeTempFiles(absOut);
      if (!existed) removeIfEmpty(absOut);
      stderr.write("interrupted\n");
      process.exit(signalExit);
    }
  };
  const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  // One handler per signal (the name is not always passed: process.emit("SIGINT") gives none).
  const handlers = SIGNALS.map((s) => [s, () => onSignal(s)] as const);
  if (deps.handleSigint !== false) for (const [s, h] of handlers) process.on(s, h);
  // the event log of the training in progress (a sweep's variant, then the final run)
  const log: { events: EventLog | null } = { events: null };

  const interactive = Boolean(stdout.isTTY) && !req.quiet && !req.json;
  const baseOptions = (dir: string): RunOptions => ({
    dataDir: req.dataDir,
    epochs: req.epochs,
    trainLimit: req.trainLimit,
    testLimit: req.testLimit,
    seed: req.seed,
    outDir: dir,
    backend: req.backend,
    kernels: req.kernels,
    quiet: req.quiet,
    signal: controller.signal,
    // a resumed run goes on with the settings it was started with (checkResume refused others)
    ...(resumed
      ? {
          epochs: req.epochs ?? resumed.epochs,
          trainLimit: resumed.trainLimit ?? undefined,
          testLimit: req.testLimit ?? resumed.testLimit ?? undefined,
          seed: resumed.seed,
          kernels: resumed.kernels,
          resume: true,
        }
      : {}),
  });
  // only the standalone engine resumes (checkResume refused an explicit other one)
  const engineRequest = { engine: resumed ? ("standalone" as const) : req.engine, backend: req.backend, gpu: req.gpu, nproc: req.nproc };

  let lastReason = "";
  const choose = async (variant: IR, options: RunOptions): Promise<EngineChoice> => {
    let choice: EngineChoice;
    try {
      choice = await deps.selectEngine(variant, engineRequest, options);
    } catch (err) {
      throw new RunError((err as Error).message, 1);
    }
    if (choice.reason !== lastReason) stderr.write(`${await engineHeader(choice, options)}\n`);
    lastReason = choice.reason;
    if (choice.engine.name === "tfjs" && req.kernels !== undefined) {
      throw new RunError(`--kernels chooses the standalone engine's kernels, but this run uses the tfjs engine (${choice.reason}); drop --kernels, or add --engine standalone`, 2);
    }
    if (choice.engine.name === "standalone" && variant.training) {
      const size = trainingSize(variant.model, variant.training);
      if (size.bytes > STANDALONE_MAX_MEMORY_BYTES) {
        throw new RunError(
          `${req.file}: training ${variant.model.name} with batch ${variant.training.batchSize} needs about ${bytesText(size.bytes)}, more than the standalone engine's ${bytesText(STANDALONE_MAX_MEMORY_BYTES)} of WebAssembly memory; use a smaller \`batch\`, or run with --engine tfjs`,
          1,
        );
      }
    }
    return choice;
  };

  /** The final training (not a sweep's variant), once it has started: what a Ctrl-C'd run saves from. */
  let final: { ir: IR; choice: EngineChoice; options: RunOptions; started: number; completed: EpochLogs[]; trainSamples: number } | null = null;
  const train = async (engine: Engine, variant: IR, options: RunOptions, prefix: string): Promise<TrainResult> => {
    const reporter = new ProgressReporter({ interactive, stream: stderr, prefix });
    // events.jsonl in the variant's own directory: what `nnc serve` streams while it trains
    const events = (log.events = new EventLog(options.outDir, {
      file: req.file,
      ir: variant,
      variant: prefix.slice(1, -2) || undefined,
    }));
    const guard = req.continueOnNaN ? null : new DivergenceGuard(reporter);
    const signal = guard ? AbortSignal.any([controller.signal, guard.controller.signal]) : controller.signal;
    try {
      // the final training's finished epochs, for a Ctrl-C
      const collect: TrainHooks =
        final !== null && final.options === options
          ? {
              onTrainBegin: (info) => void (final!.trainSamples = info.trainSamples),
              onEpochEnd: (_epoch, logs) => void final!.completed.push({ ...logs }),
            }
          : {};
      const result = await engine.train(variant, { ...options, signal }, teeHooks(teeHooks(guard ?? reporter, events), collect));
      if (controller.signal.aborted) throw new Interrupted();
      if (guard?.diverged) throw new RunError(`${prefix}${divergenceMessage(guard.diverged)}`, EXIT_DIVERGED);
      return result;
    } catch (err) {
      if (controller.signal.aborted) throw new Interrupted();
      if (guard?.diverged) throw new RunError(`${prefix}${divergenceMessage(guard.diverged)}`, EXIT_DIVERGED);
      throw err;
    } finally {
      reporter.stop();
    }
  };

  try {
    await req.onRunDir?.(absOut);
    let finalIr: IR = ir;
    let sweepReport: RunReport["sweep"];
    // 3. sweep: every variant on the validation split, then the best
    if (ir.sweep !== null) {
      const sweep = ir.sweep;
      const training = ir.training;
      let validation = training.data.validation;
      if (validation.kind !== "split") {
        validation = { kind: "split", fraction: 0.1 };
        stderr.write(
          `sweep: the variants are compared on a validation split of 10% of the training data (the file validates on ${training.data.validation.kind === "test" ? "the test set" : "nothing"})\n`,
        );
      }
      const rows: NonNullable<RunReport["sweep"]>["variants"] = [];
      for (let i = 0; i < sweep.variants.length; i++) {
        const v = sweep.variants[i];
        const label = valuesLabel(v.values);
        const dir = join(absOut, "sweep", `${i + 1}-${label.replace(/[^A-Za-z0-9_.=,-]/g, "_")}`);
        const variantIr: IR = {
          ...ir,
          model: v.model,
          sweep: null,
          training: { ...training, data: { ...training.data, validation } },
        };
        const options = baseOptions(dir);
        createRunDir(dir);
        const choice = await choose(variantIr, options);
        stderr.write(`sweep ${i + 1}/${sweep.variants.length}: ${label}\n`);
        const result = await train(choice.engine, variantIr, options, `[${label}] `);
        log.events?.end("done");
        const metric = bestOf(result.history, sweep.monitor, sweep.mode);
        if (metric === null) stderr.write(`sweep: ${sweep.monitor} was not logged for ${label}\n`);
        rows.push({ values: v.values, metric, epochs: result.epochs, seconds: result.seconds, outDir: dir });
      }
      let bestIndex = -1;
      rows.forEach((r, i) => {
        if (r.metric === null) return;
        const b = bestIndex < 0 ? null : rows[bestIndex].metric;
        if (b === null || (sweep.mode === "max" ? r.metric > b : r.metric < b)) bestIndex = i;
      });
      if (bestIndex < 0) throw new RunError(`sweep: no variant logged ${sweep.monitor}, so none can be picked`, 1);
      say(
        sweepTable(
          sweep.parameters.map((p) => p.name),
          rows,
          sweep.monitor,
          bestIndex,
        ),
      );
      const best = sweep.variants[bestIndex];
      say(`training the best variant (${valuesLabel(best.values)}) with the file's own validation`);
      finalIr = { ...ir, model: best.model, sweep: null };
      sweepReport = { monitor: sweep.monitor, mode: sweep.mode, variants: rows, best: best.values };
      writeAtomic(join(absOut, "sweep.json"), `${JSON.stringify(sweepReport, null, 2)}\n`);
    }

    // 4. train
    const options = baseOptions(absOut);
    const choice = await choose(finalIr, options);
    final = { ir: finalIr, choice, options, started: performance.now(), completed: [], trainSamples: 0 };
    const result = await train(choice.engine, finalIr, options, "");

    // 5. files and report
    const mine = writeRunFiles(absOut, finalIr, result);
    const files = [...new Set([...result.files, ...mine, ...(sweepReport ? ["sweep.json"] : []), "result.json"])];
    const report = runReport(req, finalIr, choice, result, options, relative(process.cwd(), absOut) || ".", files, {
      ...(sweepReport ? { sweep: sweepReport } : {}),
      ...(resumed ? { resumedAfter: resumed.epoch } : {}),
    });
    writeAtomic(join(absOut, "result.json"), `${JSON.stringify(report, null, 2)}\n`);
    log.events?.end("done");
    if (req.json) {
      stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      const acc = report.testAccuracy === null ? "n/a" : `${(report.testAccuracy * 100).toFixed(2)}%`;
      const loss = report.testLoss === null ? "n/a" : report.testLoss.toFixed(4);
      stdout.write(
        `test accuracy ${acc}  test loss ${loss}\n` +
          `${report.epochs} epoch${report.epochs === 1 ? "" : "s"}${report.stoppedEarly ? " (stopped early)" : ""} in ${report.seconds.toFixed(1)}s, ` +
          `${Math.round(report.samplesPerSecond)} samples/s, ${report.engine} engine (${report.backend})\n` +
          `run directory: ${report.outDir}\n`,
      );
    }
    return 0;
  } catch (err) {
    if (err instanceof Interrupted || controller.signal.aborted) {
      log.events?.end("interrupted");
      const removed = removeTempFiles(absOut);
      // the completed epochs' history, curves, result.json and model
      let saved: ReturnType<typeof saveInterrupted> = null;
      if (final !== null) {
        try {
          saved = saveInterrupted(req, absOut, relative(process.cwd(), absOut) || ".", final, resumed);
        } catch (e) {
          stderr.write(`interrupted: the completed epochs could not be saved: ${(e as Error).message}\n`);
        }
      }
      if (!existed) removeLonelyEventLogs(absOut);
      const gone = !existed && removeIfEmpty(absOut);
      const unfinished = removed.length ? `removed ${removed.length} unfinished file${removed.length === 1 ? "" : "s"}; ` : "";
      if (saved !== null) {
        stderr.write(
          `interrupted after epoch ${saved.epochs} of ${saved.planned}: ${unfinished}history, curves${saved.model ? ", the model of epoch " + saved.epochs : ""} and result.json are in ${outDir}\n` +
            (saved.model ? `continue it with: nnc run ${req.file} --resume ${outDir}\n` : ""),
        );
      } else {
        stderr.write(`interrupted: ${unfinished}${gone ? `nothing was written` : `finished files are in ${outDir}`}\n`);
      }
      return signalExit;
    }
    log.events?.end("failed", (err as Error)?.message);
    removeTempFiles(absOut);
    if (!existed) {
      removeLonelyEventLogs(absOut);
      removeIfEmpty(absOut);
    }
    if (err instanceof RunError) throw err;
    // an engine's own failure (missing data, unsupported backend, ...): one paragraph, exit 1
    throw new RunError((err as Error).message ?? String(err), 1);
  } finally {
    if (deps.handleSigint !== false) for (const [s, h] of handlers) process.removeListener(s, h);
  }
}

/** The --json object and result.json of a run. */
function runReport(
  req: RunRequest,
  ir: IR,
  choice: EngineChoice,
  result: TrainResult,
  options: RunOptions,
  outDir: string,
  files: string[],
  extra: Partial<RunReport>,
): RunReport {
  const training = ir.training!;
  return {
    file: req.file,
    model: ir.model.name,
    engine: result.engine,
    backend: result.backend,
    reason: choice.reason,
    epochs: result.epochs,
    trainSamples: result.trainSamples,
    testAccuracy: finiteOrNull(result.testAccuracy),
    testLoss: finiteOrNull(result.testLoss),
    testMetrics: Object.fromEntries(Object.entries(result.testMetrics).map(([k, v]) => [k, finiteOrNull(v)])),
    seconds: result.seconds,
    samplesPerSecond: result.samplesPerSecond,
    stoppedEarly: result.stoppedEarly,
    ...extra,
    outDir: req.resume ?? req.out ?? outDir,
    files,
    evaluation: {
      dataset: training.data.dataset,
      classes: training.data.classes,
      labels: training.labels,
      loss: training.loss,
      metrics: training.metrics,
      testLimit: options.testLimit ?? null,
    },
  };
}

/**
 * `nnc run --resume RUN_DIR`: the state in RUN_DIR/resume/, checked against this run (the same
 * model and training, the standalone engine, settings that do not change the result, epochs left
 * to train). Throws a usage error (exit 2) naming what differs.
 */
function checkResume(req: RunRequest, ir: IR): ResumeState {
  const dir = req.resume!;
  const refuse = (message: string) => new RunError(`--resume: ${message}`, 2);
  if (req.out !== undefined && resolve(req.out) !== resolve(dir)) throw refuse(`the run goes on in ${dir} itself; drop --out ${req.out}`);
  if (req.engine === "tfjs" || req.engine === "pytorch") {
    throw refuse(`only the standalone engine can resume a run (it saves the training state after every epoch); the ${req.engine} engine cannot yet. Drop --engine ${req.engine} (or use --engine standalone)`);
  }
  if (req.gpu) throw refuse(`only the standalone engine on the CPU can resume a run; drop --gpu`);
  if (ir.sweep !== null) throw refuse(`${req.file} is a sweep, and a sweep cannot be resumed; run it anew`);
  if (!existsSync(dir)) throw refuse(`${dir} does not exist`);
  let state: ResumeState | null;
  try {
    state = readResumeState(dir);
  } catch (err) {
    throw refuse((err as Error).message);
  }
  if (state === null) {
    throw refuse(
      `${dir} has no ${join("resume", "state.json")}, so there is nothing to continue (the standalone engine writes it after every epoch: this run stopped before its first epoch ended, or another engine trained it)`,
    );
  }
  const mine = fingerprint(ir);
  if (state.fingerprint.model !== mine.model) {
    throw refuse(`${dir} was trained from a different model than ${ir.model.name} in ${req.file} (its layers or their settings differ); resume it with the .nn file it was made from, or start a new run`);
  }
  if (state.fingerprint.training !== mine.training) {
    throw refuse(
      `${dir} was trained with a different train section than ${req.file}'s (data, loss, optimizer, schedule, callbacks, metrics, batch or seed; only the epochs may change); resume it with the .nn file it was made from, or start a new run`,
    );
  }
  if (req.seed !== undefined && req.seed !== state.seed) throw refuse(`${dir} was trained with seed ${state.seed}; drop --seed ${req.seed}`);
  if (req.trainLimit !== undefined && req.trainLimit !== state.trainLimit) {
    throw refuse(`${dir} was trained on ${state.trainLimit === null ? "all the training examples" : `--train-limit ${state.trainLimit}`}; drop --train-limit ${req.trainLimit}`);
  }
  if (req.kernels !== undefined && req.kernels !== state.kernels) {
    throw refuse(`${dir} was trained with --kernels ${state.kernels} (other kernels round differently); drop --kernels ${req.kernels}`);
  }
  if (state.stoppedEarly) throw refuse(`${dir} stopped early after epoch ${state.epoch} (a callback ended it), so there is nothing to continue`);
  const epochs = req.epochs ?? state.epochs;
  if (state.epoch >= epochs) {
    throw refuse(
      `${dir} has already trained ${state.epoch} epoch${state.epoch === 1 ? "" : "s"}${req.epochs === undefined ? ", all it was asked for" : ""}; to train further, add --epochs N with N > ${state.epoch}`,
    );
  }
  return state;
}

/**
 * After a Ctrl-C: the history, curves, summary and result.json (marked interrupted) of the epochs
 * the final training finished, and the model of the last of them (from resume/, which the
 * standalone program writes after every epoch; another engine's interrupted run has no model).
 * null when no epoch finished.
 */
function saveInterrupted(
  req: RunRequest,
  absOut: string,
  outDir: string,
  final: { ir: IR; choice: EngineChoice; options: RunOptions; started: number; completed: EpochLogs[]; trainSamples: number },
  resumed: ResumeState | null,
): { epochs: number; planned: number; model: boolean } | null {
  const before = resumed?.epoch ?? 0;
  let state: (ResumeState & { trained?: number; trainSeconds?: number; kernels: string }) | null = null;
  try {
    state = final.choice.engine.name === "standalone" ? readResumeState(absOut) : null;
  } catch {
    state = null;
  }
  // resume/ is this run's when it holds every epoch the hooks saw finish
  if (state !== null && state.epoch !== before + final.completed.length) state = null;
  const history = state?.history ?? [...(resumed?.history ?? []), ...final.completed];
  if (history.length === 0 || history.length === before) return null;
  const planned = final.options.epochs ?? final.ir.training!.epochs;
  const result: TrainResult = {
    engine: final.choice.engine.name,
    backend: state?.kernels ?? final.options.kernels ?? final.options.backend ?? "",
    history,
    epochs: history.length,
    trainSamples: final.trainSamples,
    testLoss: NaN,
    testAccuracy: NaN,
    testMetrics: {},
    seconds: (performance.now() - final.started) / 1000,
    samplesPerSecond: state?.trained && state.trainSeconds ? state.trained / state.trainSeconds : 0,
    stoppedEarly: false,
    files: [],
  };
  const files = writeRunFiles(absOut, final.ir, result);
  const model = state !== null;
  if (model) {
    writeModelDir(join(absOut, "model"), resumeModelFiles(absOut));
    files.push(join("model", "model.json"), join("model", "weights.bin"));
    for (const f of ["state.json", "model.json", "weights.bin", "optimizer.bin", "order.bin"]) files.push(join("resume", f));
  }
  files.push("result.json");
  const report = runReport(req, final.ir, final.choice, result, final.options, outDir, files, {
    interrupted: { epochsPlanned: planned, model },
    ...(resumed ? { resumedAfter: resumed.epoch } : {}),
  });
  writeAtomic(join(absOut, "result.json"), `${JSON.stringify(report, null, 2)}\n`);
  return { epochs: history.length, planned, model };
}

/** The sweep's table: one row per variant, its parameter values and metric, the best marked. */
export function sweepTable(
  names: string[],
  rows: { values: Record<string, IRValue>; metric: number | null }[],
  monitor: string,
  best: number,
): string {
  const head = ["#", ...names, monitor];
  const body = rows.map((r, i) => [
    String(i + 1),
    ...names.map((n) => (typeof r.values[n] === "object" ? JSON.stringify(r.values[n]) : String(r.values[n]))),
    r.metric === null ? "n/a" : r.metric.toFixed(4),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [
    fmt(head),
    fmt(widths.map((w) => "-".repeat(w))),
    ...body.map((b, i) => `${fmt(b)}${i === best ? "  <- best" : ""}`),
  ].join("\n");
}
