// The `nnc` command-line program. Each command lives in src/cli/commands/<name>.ts and
// registers itself on the commander program; this file only wires them and maps errors
// to exit codes (see errors.ts).
import { Command, CommanderError } from "commander";
import { CliError, EXIT_USAGE, exitStatus } from "./errors.js";
import { registerCheck } from "./commands/check.js";
import { registerFmt } from "./commands/fmt.js";
import { registerSummary } from "./commands/summary.js";
import { registerCompile } from "./commands/compile.js";
import { registerRun } from "./commands/run.js";
import { registerPredict } from "./commands/predict.js";
import { registerExport } from "./commands/export.js";
import { registerEvaluate } from "./commands/evaluate.js";
import { registerLsp } from "./commands/lsp.js";
import { registerServe } from "./commands/serve.js";
import { NNC_VERSION } from "../version.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("nnc")
    .description("Compiler for .nn neural-network files: check, format, summarise, compile and train them.")
    .version(NNC_VERSION)
    .exitOverride()
    .showHelpAfterError("(run `nnc --help` for usage)");
  registerCheck(program);
  registerFmt(program);
  registerSummary(program);
  registerCompile(program);
  registerRun(program);
  registerPredict(program);
  registerEvaluate(program);
  registerExport(program);
  registerLsp(program);
  registerServe(program);
  return program;
}

/** Runs the CLI and returns the exit code. Actions report a non-zero code with setExitCode() or by throwing CliError. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  exitStatus.code = 0;
  try {
    await program.parseAsync(argv);
    return exitStatus.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`nnc: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`nnc: internal error: ${message}\n(this is a bug in nnc; set NNC_DEBUG=1 for the stack trace)\n`);
    if (process.env.NNC_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ""}\n`);
    return 70;
  }
}
