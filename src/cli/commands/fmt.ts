// `nnc fmt FILE... [--check | --write]`: print the canonical layout of .nn files.
// Default: the formatted text on stdout. --check: exit 1 (naming each file) when a file is not
// formatted. --write: rewrite files in place, atomically (temporary file + rename).
// A file with syntax errors is never formatted: its errors are printed and the exit code is 1.
import type { Command } from "commander";
import { CliError, EXIT_DIAGNOSTICS, EXIT_USAGE, setExitCode } from "../errors.js";
import { format } from "../../compiler/format.js";
import { countSummary, renderDiagnostics } from "../../compiler/codeframe.js";
import { isSourceError, readSourceArg, STDIN_NAME, useColor } from "./check.js";
import { writeAtomic } from "../write-atomic.js";

export function registerFmt(program: Command): void {
  program
    .command("fmt")
    .description("print .nn files in canonical layout (comments kept); --check to verify, --write to rewrite in place")
    .argument("<files...>", ".nn files to format (`-`: standard input, formatted to standard output)")
    .option("--check", "list the files that are not formatted and exit 1 if there are any")
    .option("--write", "rewrite the files in place")
    .option("--stdin-filename <name>", "the name standard input (`-`) goes by in messages", STDIN_NAME)
    .action(async (files: string[], opts: { check?: boolean; write?: boolean; stdinFilename?: string }) => {
      if (opts.check && opts.write) throw new CliError("--check and --write cannot be used together", EXIT_USAGE);
      if (files.filter((f) => f === "-").length > 1) throw new CliError("`-` (standard input) can be given only once", EXIT_USAGE);
      if (opts.write && files.includes("-")) throw new CliError("--write cannot rewrite standard input; leave out --write to print the formatted text", EXIT_USAGE);
      const color = useColor(process.stderr);
      const stdin = { stdinRead: false };
      for (const arg of files) {
        const src = await readSourceArg(arg, opts.stdinFilename, stdin);
        const file = src.file;
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
            process.stdout.write(`${file}: not formatted (run \`${arg === "-" ? "nnc fmt -` for the formatted text" : `nnc fmt --write ${file}\``})\n`);
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
