// `nnc export RUN_DIR --format onnx|safetensors|tfjs [-o PATH]`: the trained model of a run
// directory in another format (src/runtime/export/).
import { Option, type Command } from "commander";
import { relative } from "node:path";
import { CliError, EXIT_DIAGNOSTICS, EXIT_USAGE } from "../errors.js";

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("write the trained model of a run directory as ONNX, safetensors or TensorFlow.js")
    .argument("<run_dir>", "run directory written by `nnc run` (or its model/ folder)")
    .addOption(new Option("--format <format>", "output format").choices(["onnx", "safetensors", "tfjs"]).makeOptionMandatory())
    .option("-o, --output <path>", "output file (a folder for tfjs); default RUN_DIR/model.onnx, RUN_DIR/model.safetensors or RUN_DIR/tfjs/")
    .option("--json", "print {format, path, files, bytes} as JSON")
    .action(async (runDir: string, flags: { format: "onnx" | "safetensors" | "tfjs"; output?: string; json?: boolean }) => {
      const { exportRun } = await import("../../runtime/export/index.js");
      const { SavedModelError } = await import("../../runtime/export/saved-model.js");
      const { OnnxExportError } = await import("../../runtime/export/onnx.js");
      let result;
      try {
        result = await exportRun(runDir, flags.format, flags.output);
      } catch (err) {
        if (err instanceof CliError) throw err;
        // a model with a layer ONNX cannot express is the model's limit (1); an unreadable folder is an I/O problem (2)
        if (err instanceof OnnxExportError) throw new CliError(`cannot export to ONNX: ${err.message}`, EXIT_DIAGNOSTICS);
        if (err instanceof SavedModelError) throw new CliError(err.message, EXIT_USAGE);
        throw new CliError((err as Error).message, EXIT_USAGE);
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        const rel = relative(process.cwd(), result.path);
        const shown = rel === "" ? "." : rel.startsWith("..") ? result.path : rel;
        process.stdout.write(`wrote ${shown} (${flags.format}, ${(result.bytes / 1024).toFixed(1)} KiB)\n`);
      }
    });
}
