// `nnc run FILE [--engine auto|standalone|tfjs|pytorch] [--nproc N] [--backend auto|cpu|wasm|node|gpu|webgpu] [--gpu]
//               [--data DIR] [--epochs N] [--train-limit N] [--test-limit N] [--seed N]
//               [--kernels ts|simd] [--out DIR | --resume RUN_DIR] [--json] [--quiet] [--continue-on-nan] [--limit NAME=N]
//               [--serve [--port N] [--host ADDR]]`
// Flags are parsed and validated here; src/runtime/run/ does the work.
import { InvalidArgumentError, Option, type Command } from "commander";
import { CliError, EXIT_USAGE, setExitCode } from "../errors.js";
import { compileSource } from "../../compiler/index.js";
import type { RunDeps } from "../../runtime/run/index.js";
import { isSourceError, readSource } from "./check.js";
import { hostOption, portOption, startServing, untilStopped } from "./serve.js";
import type { RunningServer } from "../../serve/server.js";
import type { Limits } from "../../compiler/checker/limits.js";
import { limitOption } from "../limit-option.js";

/** Replaceable by tests (a fake engine, a fixed IR). */
export const runDeps: RunDeps = {
  compileSource: (text, file, options) => compileSource(text, file, options),
  // The engines (tfjs, esbuild, ...) load only when a run starts, to keep other commands quick.
  selectEngine: async (ir, request, options) =>
    (await import("../../runtime/engines/select.js")).selectEngine(ir, request, options),
  stdout: process.stdout,
  stderr: process.stderr,
};

export function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^\s*[+-]?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${flag} must be ${min === 0 ? "a non-negative" : min === 1 ? "a positive" : `an integer >= ${min},`} integer${max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ""}, not "${value}"`,
      );
    }
    return n;
  };
}

interface RunFlags {
  engine: "auto" | "standalone" | "tfjs" | "pytorch";
  nproc?: number;
  backend: string;
  gpu?: boolean;
  data?: string;
  epochs?: number;
  trainLimit?: number;
  testLimit?: number;
  seed?: number;
  kernels?: string;
  out?: string;
  json?: boolean;
  quiet?: boolean;
  serve?: boolean;
  port: number;
  host: string;
  limit?: Partial<Limits>;
  continueOnNan?: boolean;
  resume?: string;
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("train the model of a .nn file and write a run directory (model, history, curves, summary)")
    .argument("<file>", "the .nn file")
    .addOption(
      new Option("--engine <engine>", "which engine trains").choices(["auto", "standalone", "tfjs", "pytorch"]).default("auto"),
    )
    .addOption(
      new Option("--backend <backend>", "tfjs engine backend")
        .choices(["auto", "cpu", "wasm", "node", "gpu", "webgpu"])
        .default("auto"),
    )
    .option("--gpu", "train on the GPU (tfjs-node-gpu, else WebGPU; pytorch: CUDA), or fail")
    .option("--nproc <n>", "pytorch engine: local processes (ranks) training together with DistributedDataParallel", integer("--nproc", 1, 1024))
    .option("--data <dir>", "folder with the MNIST idx files (else $NNC_DATA, the cache, or download)")
    .option("--epochs <n>", "override the file's epochs", integer("--epochs", 1))
    .option("--train-limit <n>", "use only the first N training examples", integer("--train-limit", 1))
    .option("--test-limit <n>", "use only the first N test examples", integer("--test-limit", 1))
    .option("--seed <n>", "override the file's seed", integer("--seed", 0, 0xffffffff))
    .addOption(new Option("--kernels <mode>", "standalone engine kernels").choices(["ts", "simd"]))
    .option("--out <dir>", "run directory (default runs/<model>-<YYYYMMDD-HHMMSS>)")
    .option("--resume <run_dir>", "continue that run (stopped, or finished: with a larger --epochs) from its last finished epoch, in place; standalone engine")
    .option("--json", "print one JSON object with the results as the last line of stdout")
    .option("--quiet", "no progress bar: one line per epoch on stderr")
    .option("--serve", "show the training live in a browser (nnc serve on this run), and keep serving after it")
    .addOption(portOption("with --serve: "))
    .addOption(hostOption("with --serve: "))
    .option("--continue-on-nan", "keep training when the loss becomes NaN or infinite (default: stop and exit 3; a model with NaN weights is never saved)")
    .addOption(limitOption())
    .action(async (file: string, flags: RunFlags) => {
      if (flags.kernels !== undefined && flags.engine === "tfjs") {
        throw new CliError("--kernels chooses the standalone engine's kernels; it does not apply with --engine tfjs (drop it, or use --engine standalone)", EXIT_USAGE);
      }
      // (--gpu does apply: --engine standalone --gpu runs nnc's own WGSL kernels on WebGPU.)
      if (flags.engine === "standalone" && flags.backend !== "auto") {
        throw new CliError("--backend chooses how the tfjs engine runs; it does not apply with --engine standalone (drop it, or use --engine tfjs)", EXIT_USAGE);
      }
      if (flags.nproc !== undefined && flags.engine !== "pytorch") {
        throw new CliError(`--nproc applies to the pytorch engine only; add --engine pytorch, or drop --nproc`, EXIT_USAGE);
      }
      const src = readSource(file);
      if (isSourceError(src)) throw new CliError(src.message, EXIT_USAGE);
      const { runFile, RunError } = await import("../../runtime/run/index.js");
      // `--serve`: the server of this run, started once the run directory exists
      const serving: { server: RunningServer | null } = { server: null };
      let code = 0;
      try {
        code = await runFile(
          {
            file,
            source: src.text,
            engine: flags.engine,
            backend: flags.backend,
            gpu: Boolean(flags.gpu),
            nproc: flags.nproc,
            dataDir: flags.data,
            epochs: flags.epochs,
            trainLimit: flags.trainLimit,
            testLimit: flags.testLimit,
            seed: flags.seed,
            kernels: flags.kernels,
            out: flags.out,
            json: Boolean(flags.json),
            quiet: Boolean(flags.quiet),
            onRunDir: flags.serve
              ? async (dir) => {
                  const server = await startServing({ roots: [dir], port: flags.port, host: flags.host, view: "runs" });
                  serving.server = server;
                  runDeps.stderr.write(`nnc serve: ${server.url}  (live view of this run)\n`);
                }
              : undefined,
            ...(flags.limit ? { limits: flags.limit } : {}),
            continueOnNaN: Boolean(flags.continueOnNan),
            ...(flags.resume !== undefined ? { resume: flags.resume } : {}),
          },
          runDeps,
        );
        setExitCode(code);
      } catch (err) {
        await serving.server?.close();
        if (err instanceof RunError) throw new CliError(err.message, err.exitCode);
        throw err;
      }
      const s = serving.server;
      if (s !== null) {
        if (code === 130) {
          await s.close(); // Ctrl-C during training stops the server too
          return;
        }
        runDeps.stderr.write(`nnc serve: still serving ${s.url} (Ctrl-C to stop)\n`);
        await untilStopped(s);
      }
    });
}
