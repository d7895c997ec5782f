// `nnc predict MODEL_DIR IMAGE.png... [--json]`: the top-3 classes of each hand-drawn digit.
import type { Command } from "commander";
import { CliError, EXIT_USAGE } from "../errors.js";

export function registerPredict(program: Command): void {
  program
    .command("predict")
    .description(
      "classify PNG images of hand-drawn digits with a trained model (a run directory or its model/ folder)",
    )
    .argument("<model_dir>", "run directory written by `nnc run`, or its model/ folder")
    .argument("<images...>", "PNG files")
    .option("--json", "print a JSON array: [{file, top: [{class, label, probability}]}]")
    .action(async (modelDir: string, images: string[], flags: { json?: boolean }) => {
      let predictions;
      try {
        predictions = await (await predictModule()).predictFiles(modelDir, images, 3);
      } catch (err) {
        throw new CliError((err as Error).message, EXIT_USAGE);
      }
      if (flags.json) process.stdout.write(`${JSON.stringify(predictions)}\n`);
      else process.stdout.write(`${predictions.map((await predictModule()).formatPrediction).join("\n")}\n`);
    });
}

/** TensorFlow.js loads only when `nnc predict` runs. */
function predictModule(): Promise<typeof import("../../runtime/predict.js")> {
  return import("../../runtime/predict.js");
}
