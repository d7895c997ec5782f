// `nnc evaluate RUN_DIR [--data DIR] [--test-limit N] [--json] [--misclassified out.png]`: the
// trained model of a run directory on its data set's test images (src/runtime/evaluate.ts).
import type { Command } from "commander";
import { CliError, EXIT_USAGE } from "../errors.js";
import { integer } from "./run.js";

interface EvaluateFlags {
  data?: string;
  testLimit?: number;
  json?: boolean;
  misclassified?: string;
}

export function registerEvaluate(program: Command): void {
  program
    .command("evaluate")
    .description("evaluate a run's trained model on the test set: loss, metrics, confusion matrix, per-class precision and recall")
    .argument("<run_dir>", "run directory written by `nnc run`")
    .option("--data <dir>", "folder with the MNIST idx files (else $NNC_DATA, the cache, or download)")
    .option("--test-limit <n>", "use only the first N test examples", integer("--test-limit", 1))
    .option("--json", "print the evaluation as one JSON object")
    .option("--misclassified <png>", "write a PNG grid of the misclassified test images")
    .action(async (runDir: string, flags: EvaluateFlags) => {
      const { evaluateRun, formatEvaluation } = await import("../../runtime/evaluate.js");
      const tty = Boolean(process.stderr.isTTY) && !flags.json;
      let last = 0;
      let evaluation;
      try {
        evaluation = await evaluateRun({
          runDir,
          dataDir: flags.data,
          testLimit: flags.testLimit,
          misclassified: flags.misclassified,
          onProgress: (done, total) => {
            if (!tty) return;
            const now = performance.now();
            if (done < total && now - last < 100) return;
            last = now;
            process.stderr.write(`\revaluating: ${done}/${total} test images${done === total ? "\n" : ""}`);
          },
        });
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError((err as Error).message, EXIT_USAGE);
      }
      process.stdout.write(`${flags.json ? JSON.stringify(evaluation) : formatEvaluation(evaluation)}\n`);
    });
}
