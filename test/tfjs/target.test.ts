// `nnc compile --target tfjs`: golden programs for every example, `tsc --strict --noEmit` over
// all of them at once, and the mlp program actually training one batch on the cpu backend.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { generateTfjs } from "../../src/compiler/targets/tfjs/index.js";
import type { IR } from "../../src/compiler/ir.js";
import { compileSource } from "../../src/compiler/index.js";
import { dataDir, exampleIr, exampleNames, fixtureIr, repoRoot, tempDir } from "./helpers.js";
import type { EpochLogs } from "../../src/runtime/engine.js";
import { createTfjsEngine, initBackend } from "../../src/runtime/engines/tfjs/index.js";
import type { TrainingProgram as TfjsProgram } from "../../src/runtime/engines/program.js";

const goldenDir = join(repoRoot, "test/golden/tfjs");

/**
 * Settings no example uses, so that every branch of the generator is type-checked (and one runs):
 * an example's source with its train section (and, for one, a model line) rewritten, checked by
 * the real checker: no test builds IR by hand.
 */
function variants(): Record<string, IR> {
  const edit = (name: string, train: string, model: [string, string] | null = null): IR => {
    let text = readFileSync(join(repoRoot, "examples", `${name}.nn`), "utf8");
    if (model) {
      if (!text.includes(model[0])) throw new Error(`examples/${name}.nn has no line ${model[0]}`);
      text = text.replace(model[0], model[1]);
    }
    text = text.replace(/^train \w+ \{[\s\S]*?^\}/m, `train ${name} {\n${train}\n}`);
    const file = `examples/${name}.nn (variant)`;
    const { ir, diagnostics } = compileSource(text, file);
    const errors = diagnostics.filter((d) => d.severity === "error");
    if (!ir || errors.length > 0) throw new Error(`${file} does not check: ${errors.map((d) => `${d.code} ${d.message}`).join("; ")}`);
    return ir;
  };
  return {
    variant_nadam_schedule: edit(
      "mlp",
      `  data      mnist(validation: test)
  loss      categorical_crossentropy
  optimizer nadam(lr: 0.002)
  schedule  exponential_decay(decay_steps: 10, decay_rate: 0.5)
  metrics   [accuracy]
  callbacks [csv_logger(path: "log.csv", separator: ";", append: true), terminate_on_nan, early_stopping(monitor: val_accuracy, patience: 2, mode: max, restore_best: false)]
  epochs    10
  batch     128`,
    ),
    variant_sparse_momentum: edit(
      "twolayer",
      `  data      mnist
  loss      sparse_categorical_crossentropy
  optimizer sgd(lr: 0.1, momentum: 0.9, nesterov: true)
  schedule  piecewise_constant(boundaries: [100], values: [0.1, 0.01])
  metrics   [accuracy]
  epochs    34
  batch     100`,
      [
        "dense(50, activation: sigmoid, init: random_normal(stddev: 0.01), bias_init: zeros)",
        "dense(50, activation: sigmoid, init: random_normal(stddev: 0.01), bias_init: zeros, regularizer: l1l2(l1: 1e-5, l2: 1e-4))",
      ],
    ),
    variant_losses: edit(
      "prelu_mlp",
      `  data      mnist(validation: test)
  loss      categorical_crossentropy(label_smoothing: 0.1)
  optimizer rmsprop(lr: 0.001, centered: true)
  metrics   [accuracy]
  callbacks [reduce_on_plateau(monitor: val_loss, factor: 0.5, patience: 1)]
  epochs    9
  batch     64`,
    ),
    variant_huber: edit(
      "mse_sgd",
      `  data      mnist(validation: test)
  loss      huber(delta: 1)
  optimizer adadelta(lr: 1)
  metrics   [accuracy, mse, precision]
  epochs    50
  batch     512`,
    ),
    variant_bce_logits: edit(
      "mse_sgd",
      `  data      mnist(validation: test)
  loss      binary_crossentropy(from_logits: true)
  optimizer adamax(lr: 0.002)
  metrics   [accuracy]
  epochs    50
  batch     512`,
      ["dense(10, activation: softmax)", "dense(10)"],
    ),
    variant_allkinds: fixtureIr("allkinds"),
    variant_adagrad: edit(
      "cnn",
      `  data      mnist(validation_split: 0.2)
  loss      mae
  optimizer adagrad(lr: 0.01)
  metrics   [accuracy]
  epochs    10
  batch     128`,
    ),
  };
}
// Generated code must resolve @tensorflow/tfjs from the repository's node_modules.
const runDir = join(repoRoot, "test/tfjs/.generated");

/** Each example's program, generated once for its golden and the tsc run. */
const programs = new Map<string, Promise<string>>();
function exampleProgram(name: string): Promise<string> {
  let p = programs.get(name);
  if (!p) programs.set(name, (p = generateTfjs(exampleIr(name))));
  return p;
}

describe("tfjs target", () => {
  afterAll(() => rmSync(runDir, { recursive: true, force: true }));

  for (const name of exampleNames()) {
    it(`golden: ${name}`, async () => {
      const code = await exampleProgram(name);
      expect(code).toContain('import * as tf from "@tensorflow/tfjs";'); // the default: runs wherever nnc does
      // Only tfjs and node built-ins.
      for (const m of code.matchAll(/^import .* from "([^"]+)";$/gm)) expect(m[1]).toMatch(/^(node:|@tensorflow\/tfjs)/);
      await expect(code).toMatchFileSnapshot(join(goldenDir, `${name}.ts`));
    });
  }

  it("every generated program passes tsc --strict --noEmit (one tsc run for all examples and variants)", async () => {
    // Freshly generated (the programs the goldens were compared with), in a folder inside the
    // repository so @tensorflow/tfjs and @types/node resolve; the tsconfig is the goldens' one.
    const dir = join(runDir, "typecheck");
    mkdirSync(dir, { recursive: true });
    for (const name of exampleNames()) writeFileSync(join(dir, `${name}.ts`), await exampleProgram(name));
    for (const [name, ir] of Object.entries(variants())) writeFileSync(join(dir, `${name}.ts`), await generateTfjs(ir));
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({ extends: "../../../golden/tfjs/tsconfig.json", include: ["*.ts", "../../types/*.d.ts"] }),
    );
    const tsc = join(repoRoot, "node_modules/.bin/tsc");
    let out = "";
    try {
      execFileSync(tsc, ["-p", join(dir, "tsconfig.json")], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(out).toBe("");
  }, 120_000);

  it("nnc compile --target tfjs prints the same program", async () => {
    const r = spawnSync(process.execPath, ["bin/nnc.js", "compile", "examples/mlp.nn", "--target", "tfjs", "-o", "-"], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(await generateTfjs(exampleIr("mlp")));
  }, 120_000);

  it("the package option changes the import", async () => {
    const code = await generateTfjs(exampleIr("mlp"), { package: "@tensorflow/tfjs-node-gpu" });
    expect(code).toContain('import * as tf from "@tensorflow/tfjs-node-gpu";');
    expect(code).toContain("CUDA 11.2");
    expect(code).not.toContain('from "@tensorflow/tfjs";');
  });

  it("the program runs as its header says (npx tsx mlp.ts ...): --help prints its usage, a run prints its epochs and test line and saves the weights nnc run --engine tfjs saves", async () => {
    mkdirSync(runDir, { recursive: true });
    const file = join(runDir, "mlp.ts");
    writeFileSync(file, await generateTfjs(exampleIr("mlp")));
    const tsx = join(repoRoot, "node_modules/.bin/tsx");
    const help = spawnSync(tsx, [file, "--help"], { cwd: runDir, encoding: "utf8" });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: npx tsx mlp\.ts \[--data DIR\] \[--epochs N\]/);
    const out = tempDir();
    const args = [file, "--data", dataDir().dir, "--epochs", "1", "--train-limit", "128", "--test-limit", "100", "--out", out];
    const r = spawnSync(tsx, args, { cwd: runDir, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^epoch 1: loss \d/m);
    expect(r.stdout).toMatch(/^test loss \d+\.\d+, test accuracy \d/m);
    expect(existsSync(join(out, "model/model.json"))).toBe(true);
    // One tfjs path: `nnc run --engine tfjs` runs this very program, so on the same backend (cpu)
    // it trains to the same weights, byte for byte.
    const ir = exampleIr("mlp");
    const engine = createTfjsEngine({ choice: await initBackend(ir, "cpu") });
    const viaEngine = tempDir();
    await engine.train(ir, { dataDir: dataDir().dir, epochs: 1, trainLimit: 128, testLimit: 100, outDir: viaEngine }, {});
    expect(readFileSync(join(viaEngine, "model/weights.bin")).equals(readFileSync(join(out, "model/weights.bin")))).toBe(true);
  }, 120_000);

  it("--backend: cpu or wasm (a conv2d model's program brings nnc's Conv2DBackpropFilter); another name exits 2; wasm without its package says what to install", async () => {
    const code = await generateTfjs(exampleIr("cnn"));
    expect(code).toContain("[--backend cpu|wasm]");
    expect(code).toContain("registerWasmKernels(tf);");
    expect(await generateTfjs(exampleIr("mlp"))).not.toContain("registerWasmKernels");
    expect(await generateTfjs(exampleIr("mlp"), { package: "@tensorflow/tfjs-node-gpu" })).not.toContain("--backend");
    // a folder whose node_modules has everything but @tensorflow/tfjs-backend-wasm
    const dir = tempDir();
    const modules = join(dir, "node_modules");
    mkdirSync(join(modules, "@tensorflow"), { recursive: true });
    for (const name of readdirSync(join(repoRoot, "node_modules"))) {
      if (name !== "@tensorflow") symlinkSync(join(repoRoot, "node_modules", name), join(modules, name));
    }
    for (const name of readdirSync(join(repoRoot, "node_modules/@tensorflow"))) {
      if (name !== "tfjs-backend-wasm") symlinkSync(join(repoRoot, "node_modules/@tensorflow", name), join(modules, "@tensorflow", name));
    }
    const file = join(dir, "cnn.mjs");
    writeFileSync(file, (await transform(code, { loader: "ts", format: "esm", target: "node20" })).code);
    const wrong = spawnSync(process.execPath, [file, "--backend", "gpu"], { cwd: dir, encoding: "utf8" });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("--backend gpu: expected cpu or wasm");
    const missing = spawnSync(process.execPath, [file, "--backend", "wasm", "--data", dataDir().dir], { cwd: dir, encoding: "utf8" });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("--backend wasm needs @tensorflow/tfjs-backend-wasm (npm install @tensorflow/tfjs-backend-wasm)");
  }, 120_000);

  for (const [label, make] of [
    ["mlp", () => exampleIr("mlp")],
    ["mlp with nadam, a schedule, csv_logger, terminate_on_nan and early_stopping", () => variants().variant_nadam_schedule],
    ["allkinds (every layer kind, elu(0.5))", () => variants().variant_allkinds],
  ] as const)
    it(`the generated ${label} program trains one batch on the cpu backend`, async () => {
      const code = await generateTfjs(make(), { package: "@tensorflow/tfjs" });
      const js = (await transform(code, { loader: "ts", format: "esm", target: "node20" })).code;
      mkdirSync(runDir, { recursive: true });
      const file = join(runDir, `${label.split(" ")[0]}-${label.length}.mjs`);
      writeFileSync(file, js);
      const mod = (await import(pathToFileURL(file).href)) as { train: TfjsProgram["train"] };
      const tf = await import("@tensorflow/tfjs");
      await tf.setBackend("cpu");
      const out = tempDir();
      const epochs: EpochLogs[] = [];
      // 128 examples at batch 128: exactly one training step.
      const result = await mod.train(
        { seed: 42, epochs: 1, trainLimit: 128, testLimit: 200, dataDir: dataDir().dir, outDir: out },
        { onEpochEnd: (_epoch, logs) => void epochs.push(logs) },
      );
      expect(tf.getBackend()).toBe("cpu");
      expect(result.engine).toBe("tfjs");
      expect(result.backend).toBe("cpu");
      expect(Number.isFinite(result.testLoss)).toBe(true);
      expect(result.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(epochs).toHaveLength(1);
      expect(Number.isFinite(epochs[0]!.loss)).toBe(true);
      expect(result.files).toContain("model/model.json");
      expect(existsSync(join(out, "model/model.json"))).toBe(true);
      expect(existsSync(join(out, "model/weights.bin"))).toBe(true);
      if (label === "mlp") expect(existsSync(join(out, "checkpoint/model.json"))).toBe(true);
      if (label.includes("csv_logger")) expect(existsSync(join(out, "log.csv"))).toBe(true);
    }, 120_000);
});
