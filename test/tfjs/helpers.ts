// Shared by the tfjs tests: compile an example to IR, find MNIST (or write synthetic idx files).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileSource } from "../../src/compiler/index.js";
import type { IR } from "../../src/compiler/ir.js";
import { mnistDir, writeSyntheticMnist } from "../helpers/data.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function exampleIr(name: string): IR {
  const file = `examples/${name}.nn`;
  const { ir, diagnostics } = compileSource(readFileSync(join(repoRoot, file), "utf8"), file);
  if (!ir) throw new Error(`${file} does not compile: ${JSON.stringify(diagnostics)}`);
  return ir;
}

/** test/tfjs/fixtures/NAME.nn: allkinds.nn has every layer kind and regularizer family. */
export function fixtureIr(name: string): IR {
  const file = `test/tfjs/fixtures/${name}.nn`;
  const { ir, diagnostics } = compileSource(readFileSync(join(repoRoot, file), "utf8"), file);
  if (!ir) throw new Error(`${file} does not compile: ${JSON.stringify(diagnostics)}`);
  return ir;
}

export function exampleNames(): string[] {
  return ["alexnet", "cnn", "deep", "mlp", "mse_sgd", "prelu_mlp", "regularized", "scratch_sweep", "tf1_cnn", "twolayer"];
}

/** Real MNIST when ../shared/data/mnist has it; else small synthetic idx files (and says so). */
export function dataDir(synthetic = { train: 2000, test: 500 }): { dir: string; real: boolean } {
  const real = mnistDir();
  if (real) return { dir: real, real: true };
  console.log("../shared/data/mnist is absent: using synthetic idx files instead of MNIST");
  return { dir: writeSyntheticMnist(mkdtempSync(join(tmpdir(), "nnc-tfjs-data-")), synthetic), real: false };
}

export function tempDir(prefix = "nnc-tfjs-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
