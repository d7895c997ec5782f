// `nnc compile --target tfjs`: golden programs for every example, `tsc --strict --noEmit` over
// all of them at once, and the mlp program actually training one batch on the cpu backend.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { generateTfjs } from "../../src/compiler/targets/tfjs/index.js";
import type { IR, IRRef, IRTraining, IRValue } from "../../src/compiler/ir.js";
import { dataDir, exampleIr, exampleNames, fixtureIr, repoRoot, tempDir } from "./helpers.js";

const goldenDir = join(repoRoot, "test/golden/tfjs");

const ref = (kind: string, args: Record<string, IRValue> = {}): IRRef => ({ kind, args });
/** Settings no example uses, so that every branch of the generator is type-checked (and one runs). */
function variants(): Record<string, IR> {
  const edit = (name: string, f: (ir: IR, t: IRTraining) => void): IR => {
    const ir: IR = JSON.parse(JSON.stringify(exampleIr(name)));
    f(ir, ir.training!);
    return ir;
  };
  return {
    variant_nadam_schedule: edit("mlp", (_ir, t) => {
      t.optimizer = ref("nadam", { lr: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
      t.schedule = ref("exponential_decay", { decay_steps: 10, decay_rate: 0.5, staircase: false });
      t.callbacks = [
        ref("csv_logger", { path: "log.csv", separator: ";", append: true }),
        ref("terminate_on_nan"),
        ref("early_stopping", { monitor: "val_accuracy", patience: 2, min_delta: 0, mode: "max", restore_best: false }),
      ];
    }),
    variant_sparse_momentum: edit("twolayer", (ir, t) => {
      t.labels = "sparse";
      t.loss = ref("sparse_categorical_crossentropy", { from_logits: false });
      t.optimizer = ref("sgd", { lr: 0.1, momentum: 0.9, nesterov: true });
      t.schedule = ref("piecewise_constant", { boundaries: [100], values: [0.1, 0.01] });
      t.data.validation = { kind: "none" };
      ir.model.layers[2]!.args.kernel_regularizer = ref("l1l2", { l1: 1e-5, l2: 1e-4 });
    }),
    variant_losses: edit("prelu_mlp", (_ir, t) => {
      t.loss = ref("categorical_crossentropy", { from_logits: false, label_smoothing: 0.1 });
      t.optimizer = ref("rmsprop", { lr: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: true });
      t.schedule = ref("reduce_on_plateau", {
        monitor: "val_loss",
        factor: 0.5,
        patience: 1,
        min_delta: 0,
        cooldown: 0,
        min_lr: 0,
        mode: "min",
      });
    }),
    variant_huber: edit("mse_sgd", (_ir, t) => {
      t.loss = ref("huber", { delta: 1 });
      t.optimizer = ref("adadelta", { lr: 1, rho: 0.95, epsilon: 1e-7 });
      t.metrics = ["accuracy", "mse", "precision"];
    }),
    variant_bce_logits: edit("mse_sgd", (_ir, t) => {
      t.loss = ref("binary_crossentropy", { from_logits: true, label_smoothing: 0 });
      t.optimizer = ref("adamax", { lr: 0.002, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    }),
    variant_allkinds: fixtureIr("allkinds"),
    variant_adagrad: edit("cnn", (_ir, t) => {
      t.optimizer = ref("adagrad", { lr: 0.01, initial_accumulator_value: 0.1, epsilon: 1e-7 });
      t.loss = ref("mae");
    }),
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
      const mod = (await import(pathToFileURL(file).href)) as {
        train(s: {
          seed: number;
          epochs: number;
          trainLimit?: number;
          testLimit?: number;
          data?: string;
          outDir: string;
        }): Promise<Record<string, number>>;
      };
      const tf = await import("@tensorflow/tfjs");
      await tf.setBackend("cpu");
      const out = tempDir();
      const logs: string[] = [];
      const log = console.log;
      console.log = (...a: unknown[]) => void logs.push(a.join(" "));
      let result: Record<string, number>;
      try {
        // 128 examples at batch 128: exactly one training step.
        result = await mod.train({ seed: 42, epochs: 1, trainLimit: 128, testLimit: 200, data: dataDir().dir, outDir: out });
      } finally {
        console.log = log;
      }
      expect(tf.getBackend()).toBe("cpu");
      expect(Number.isFinite(result.loss)).toBe(true);
      expect(result.accuracy).toBeGreaterThanOrEqual(0);
      expect(logs.some((l) => l.startsWith("epoch 1/1: loss"))).toBe(true);
      expect(existsSync(join(out, "model/model.json"))).toBe(true);
      expect(existsSync(join(out, "model/weights.bin"))).toBe(true);
      if (label === "mlp") expect(existsSync(join(out, "checkpoint/model.json"))).toBe(true);
      if (label.includes("csv_logger")) expect(existsSync(join(out, "log.csv"))).toBe(true);
    }, 120_000);
});
