// `nnc run` end to end (src/cli/commands/run.ts parses the flags and calls runFile):
// compile -> diagnostics -> pick the engine -> train (each sweep variant, then the best) ->
// history.json/csv, curves.svg/png, summary.txt, result.json -> the report (--json: one JSON
// object as the last line of stdout). Ctrl-C aborts the engine through options.signal, removes
// temporary files and exits 130.
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import type { Engine, EpochLogs, RunOptions, TrainResult } from "../engine.js";
import type { IR, IRValue } from "../../compiler/ir.js";
import type { CompileResult } from "../../compiler/index.js";
import type { EngineChoice } from "../engines/select.js";
import { hasErrors } from "../../compiler/diagnostics.js";
import { countSummary, renderDiagnostics } from "../../compiler/codeframe.js";
import { createRunDir, defaultRunDir, removeIfEmpty, removeTempFiles, writeAtomic } from "./files.js";
import { historyCsv, historyJson } from "./history.js";
import { curvesSvg, svgToPng } from "./plots.js";
import { ProgressReporter } from "./progress.js";
import { summaryText } from "./summary.js";

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
}

export interface RunDeps {
  compileSource(text: string, file: string): CompileResult;
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
  outDir: string;
  files: string[];
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

/** Runs `nnc run`; returns the exit code (0, 1 on diagnostics/failed run, 130 on Ctrl-C). */
export async function runFile(req: RunRequest, deps: RunDeps): Promise<number> {
  const { stdout, stderr } = deps;
  const say = (text: string) => (req.json ? stderr : stdout).write(`${text}\n`);

  // 1. compile
  const { ir, diagnostics } = deps.compileSource(req.source, req.file);
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

  // 2. run directory and Ctrl-C
  const outDir = req.out ?? defaultRunDir(ir.model.name);
  const existed = existsSync(outDir);
  let absOut: string;
  try {
    absOut = createRunDir(outDir);
  } catch (err) {
    throw new RunError(`cannot create the run directory ${outDir}: ${(err as Error).message}`, 2);
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      stderr.write("\ninterrupted: stopping after this batch (Ctrl-C again to quit now)\n");
      controller.abort();
    } else {
      removeTempFiles(absOut);
      if (!existed) removeIfEmpty(absOut);
      stderr.write("interrupted\n");
      process.exit(EXIT_INTERRUPTED);
    }
  };
  if (deps.handleSigint !== false) process.on("SIGINT", onSigint);

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
  });
  const engineRequest = { engine: req.engine, backend: req.backend, gpu: req.gpu, nproc: req.nproc };

  let lastReason = "";
  const choose = async (variant: IR, options: RunOptions): Promise<EngineChoice> => {
    let choice: EngineChoice;
    try {
      choice = await deps.selectEngine(variant, engineRequest, options);
    } catch (err) {
      throw new RunError((err as Error).message, 1);
    }
    if (choice.reason !== lastReason) stderr.write(`${choice.reason}\n`);
    lastReason = choice.reason;
    return choice;
  };

  const train = async (engine: Engine, variant: IR, options: RunOptions, prefix: string): Promise<TrainResult> => {
    const reporter = new ProgressReporter({ interactive, stream: stderr, prefix });
    try {
      const result = await engine.train(variant, options, reporter);
      if (controller.signal.aborted) throw new Interrupted();
      return result;
    } catch (err) {
      if (controller.signal.aborted) throw new Interrupted();
      throw err;
    } finally {
      reporter.stop();
    }
  };

  try {
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
    const result = await train(choice.engine, finalIr, options, "");

    // 5. files and report
    const mine = writeRunFiles(absOut, finalIr, result);
    const files = [...new Set([...result.files, ...mine, ...(sweepReport ? ["sweep.json"] : []), "result.json"])];
    const report: RunReport = {
      file: req.file,
      model: finalIr.model.name,
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
      outDir: req.out ?? (relative(process.cwd(), absOut) || "."),
      files,
      ...(sweepReport ? { sweep: sweepReport } : {}),
    };
    writeAtomic(join(absOut, "result.json"), `${JSON.stringify(report, null, 2)}\n`);
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
      const removed = removeTempFiles(absOut);
      const gone = !existed && removeIfEmpty(absOut);
      stderr.write(
        `interrupted: ${removed.length ? `removed ${removed.length} unfinished file${removed.length === 1 ? "" : "s"}; ` : ""}${gone ? `nothing was written` : `finished files are in ${outDir}`}\n`,
      );
      return EXIT_INTERRUPTED;
    }
    removeTempFiles(absOut);
    if (!existed) removeIfEmpty(absOut);
    if (err instanceof RunError) throw err;
    // an engine's own failure (missing data, unsupported backend, ...): one paragraph, exit 1
    throw new RunError((err as Error).message ?? String(err), 1);
  } finally {
    if (deps.handleSigint !== false) process.removeListener("SIGINT", onSigint);
  }
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
