// `nnc fmt FILE... [--check | --write]`: print the canonical layout of .nn files.
// Default: the formatted text on stdout. --check: exit 1 (naming each file) when a file is not
// formatted. --write: rewrite files in place, atomically (temporary file + rename).
// A file with syntax errors is never formatted: its errors are printed and the exit code is 1.
import { renameSync, unlinkSync, writeFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import { CliError, EXIT_DIAGNOSTICS, EXIT_USAGE, setExitCode } from "../errors.js";
import { format } from "../../compiler/format.js";
import { countSummary, renderDiagnostics } from "../../compiler/codeframe.js";
import { isSourceError, readSource, useColor } from "./check.js";

/** Writes `text` to `file` through a temporary file in the same folder, so it is never half-written. */
export function writeAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    let mode: number | undefined;
    try {
      mode = statSync(file).mode & 0o777;
    } catch {
      mode = undefined;
    }
    writeFileSync(tmp, text, mode === undefined ? undefined : { mode });
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "EACCES" || code === "EPERM" ? "permission denied" : err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new CliError(`cannot write ${file}: ${why}`, EXIT_USAGE);
  }
}

export function registerFmt(program: Command): void {
  program
    .command("fmt")
    .description("print .nn files in canonical layout (comments kept); --check to verify, --write to rewrite in place")
    .argument("<files...>", ".nn files to format")
    .option("--check", "list the files that are not formatted and exit 1 if there are any")
    .option("--write", "rewrite the files in place")
    .action((files: string[], opts: { check?: boolean; write?: boolean }) => {
      if (opts.check && opts.write) throw new CliError("--check and --write cannot be used together", EXIT_USAGE);
      const color = useColor(process.stderr);
      for (const file of files) {
        const src = readSource(file);
        if (isSourceError(src)) {
          process.stderr.write(`nnc: ${src.message}\n`);
          setExitCode(EXIT_USAGE);
          continue;
        }
        const result = format(src.text);
        if (result.diagnostics.some((d) => d.severity === "error")) {
          process.stderr.write(
            `${renderDiagnostics(result.diagnostics, src.text, file, { color })}\n\n${file}: ${countSummary(result.diagnostics)}; not formatted\n`,
          );
          setExitCode(EXIT_DIAGNOSTICS);
          continue;
        }
        if (opts.check) {
          if (result.text !== src.text) {
            process.stdout.write(`${file}: not formatted (run \`nnc fmt --write ${file}\`)\n`);
            setExitCode(EXIT_DIAGNOSTICS);
          }
        } else if (opts.write) {
          if (result.text !== src.text) {
            writeAtomic(file, result.text);
            process.stdout.write(`formatted ${file}\n`);
          }
        } else {
          process.stdout.write(result.text);
        }
      }
    });
}
