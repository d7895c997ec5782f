// `nnc summary FILE [--format text|json]`: the model's layers, output shapes, parameter counts
// (trainable / non-trainable) and FLOPs per sample. For a sweep, the first variant, with a note.
import type { Command } from "commander";
import { CliError, EXIT_DIAGNOSTICS, EXIT_USAGE, setExitCode } from "../errors.js";
import { compileSource } from "../../compiler/index.js";
import { renderDiagnostics } from "../../compiler/codeframe.js";
import { formatSummary, groupDigits, summaryJson } from "../../compiler/summary.js";
import { isSourceError, readSource, useColor } from "./check.js";
import type { IR } from "../../compiler/ir.js";
import type { Limits } from "../../compiler/checker/limits.js";
import { limitOption } from "../limit-option.js";

/** Compiles FILE for a command that needs its IR: prints the diagnostics (warnings too) to stderr. */
export function compileFileOrFail(file: string, limits?: Partial<Limits>): { ir: IR; text: string } {
  const src = readSource(file);
  if (isSourceError(src)) throw new CliError(src.message, EXIT_USAGE);
  const { ir, diagnostics } = compileSource(src.text, file, limits ? { limits } : {});
  if (diagnostics.length > 0) process.stderr.write(`${renderDiagnostics(diagnostics, src.text, file, { color: useColor(process.stderr) })}\n`);
  if (!ir) {
    const n = diagnostics.filter((d) => d.severity === "error").length;
    throw new CliError(`${file} has ${n} error${n === 1 ? "" : "s"}`, EXIT_DIAGNOSTICS);
  }
  return { ir, text: src.text };
}

export function registerSummary(program: Command): void {
  program
    .command("summary")
    .description("print the model's layers, output shapes, parameter counts and FLOPs (Keras-style)")
    .argument("<file>", ".nn file")
    .option("--format <format>", "output format: text or json", "text")
    .addOption(limitOption())
    .action((file: string, opts: { format: string; limit?: Partial<Limits> }) => {
      if (opts.format !== "text" && opts.format !== "json") {
        throw new CliError(`unknown --format \`${opts.format}\`: use text or json`, EXIT_USAGE);
      }
      const { ir } = compileFileOrFail(file);
      if (opts.format === "json") {
        process.stdout.write(`${JSON.stringify(summaryJson(ir.model), null, 2)}\n`);
      } else {
        let text = formatSummary(ir.model);
        if (ir.sweep) {
          const values = Object.entries(ir.sweep.variants[0].values).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(", ");
          const all = ir.sweep.parameters.map((p) => `${p.name} in ${JSON.stringify(p.values)}`).join(", ");
          text += `Sweep: ${all} (${ir.sweep.variants.length} variants); shown: ${values}\n`;
          for (const v of ir.sweep.variants) {
            const vals = Object.entries(v.values).map(([k, x]) => `${k} = ${JSON.stringify(x)}`).join(", ");
            text += `  ${vals}: ${groupDigits(v.model.params.total)} params\n`;
          }
        }
        process.stdout.write(text);
      }
      setExitCode(0);
    });
}
