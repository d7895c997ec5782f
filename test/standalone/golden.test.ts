// Golden generated programs for every example (test/golden/standalone/<name>.ts; update with
// `npx vitest run -u` and review the diff), and one `tsc --strict --noEmit` over all of them.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { generateStandalone } from "../../src/compiler/targets/standalone/index.js";
import { buildModelIR, ref } from "./ir-builder.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const examples = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".nn")).sort();
const generated = new Map<string, string>();

async function generate(file: string): Promise<string> {
  const text = readFileSync(join(root, "examples", file), "utf8");
  const { ir, diagnostics } = compileSource(text, `examples/${file}`);
  if (!ir) throw new Error(`examples/${file} does not check: ${JSON.stringify(diagnostics)}`);
  return generateStandalone(ir, { sourceText: text });
}

describe("golden standalone programs", () => {
  for (const file of examples) {
    it(file, async () => {
      const code = await generate(file);
      generated.set(file, code);
      await expect(code).toMatchFileSnapshot(join(root, "test", "golden", "standalone", file.replace(/\.nn$/, ".ts")));
    });
  }

  // Programs for the features no example uses, type-checked in the same tsc run.
  it("feature programs (every optimizer, schedule, callback, metric, loss option)", async () => {
    const image = [8, 8, 1];
    const features = [
      buildModelIR(
        image,
        [{ kind: "flatten" }, { kind: "dense", args: { units: 10, activation: ref("sigmoid"), kernel_regularizer: ref("l1l2", { l1: 0.01, l2: 0.01 }) } }],
        {
          loss: ref("binary_crossentropy", { from_logits: false, label_smoothing: 0.1 }),
          optimizer: ref("sgd", { lr: 0.1, momentum: 0.9, nesterov: true }),
          schedule: ref("exponential_decay", { decay_steps: 10, decay_rate: 0.9, staircase: true }),
          callbacks: [
            ref("csv_logger", { path: "log.csv", separator: ";", append: false }),
            ref("terminate_on_nan"),
            ref("early_stopping", { monitor: "loss", patience: 2, min_delta: 0, restore_best: false, mode: "min" }),
          ],
          metrics: ["accuracy", "precision", "recall", "mse", "mae"],
          stepsPerEpoch: 5,
        },
      ),
      buildModelIR(
        image,
        [
          { kind: "conv2d", id: "c", args: { filters: 4, kernel_size: 3, padding: "same" } },
          { kind: "batch_norm" },
          { kind: "prelu", id: "p" },
          { kind: "avg_pool", id: "a", inputs: ["p"], args: { pool_size: 2 } },
          { kind: "max_pool", id: "m", inputs: ["p"], args: { pool_size: 2 } },
          { kind: "concat", inputs: ["a", "m"] },
          { kind: "flatten" },
          { kind: "dense", args: { units: 10 } },
        ],
        {
          data: {
            dataset: "fashion_mnist",
            classes: 10,
            exampleShape: image,
            validation: { kind: "split", fraction: 0.1 },
            augment: { rotation: 10, widthShift: 0.1, heightShift: 0.1, zoom: 0.1, shear: 5, fill: "reflect", cval: 0 },
            shuffle: false,
          },
          labels: "sparse",
          loss: ref("sparse_categorical_crossentropy", { from_logits: true }),
          optimizer: ref("rmsprop", { lr: 0.001, rho: 0.9, momentum: 0.5, epsilon: 1e-7, centered: true }),
          schedule: ref("piecewise_constant", { boundaries: [10, 20], values: [0.1, 0.01, 0.001] }),
          callbacks: [
            ref("reduce_on_plateau", { monitor: "val_loss", factor: 0.5, patience: 1, min_delta: 0, cooldown: 0, min_lr: 0, mode: "min" }),
            ref("checkpoint", { monitor: "val_accuracy", save_best_only: false, mode: "max", path: "ckpt" }),
            ref("tensorboard", { dir: "tb", update_freq: "epoch" }),
          ],
        },
      ),
      ...["adagrad", "adadelta", "adamax", "nadam"].map((kind) =>
        buildModelIR(image, [{ kind: "flatten" }, { kind: "dense", args: { units: 10, activation: ref("softmax") } }], {
          loss: ref(kind === "adagrad" ? "huber" : kind === "adadelta" ? "mae" : "mse", { delta: 1 }),
          optimizer: ref(kind, { lr: 0.01 }),
          schedule: ref("inverse_time_decay", { decay_steps: 5, decay_rate: 0.5, staircase: false }),
        }),
      ),
    ];
    for (const [i, ir] of features.entries()) generated.set(`feature_${i}.nn`, await generateStandalone(ir, { kernels: i % 2 ? "simd" : "ts" }));
  });

  it("all of them pass tsc --strict --noEmit (one tsc run)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-standalone-tsc-"));
    try {
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
      symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
      const files: string[] = [];
      for (const [file, code] of generated) {
        const path = join(dir, file.replace(/\.nn$/, ".ts"));
        writeFileSync(path, code);
        files.push(path);
      }
      expect(files.length).toBe(examples.length + 6);
      const tsc = join(root, "node_modules", ".bin", "tsc");
      const args = ["--ignoreConfig", "--strict", "--noEmit", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node", ...files];
      let output = "";
      try {
        execFileSync(tsc, args, { cwd: dir, encoding: "utf8", stdio: "pipe" });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        output = `${e.stdout ?? ""}${e.stderr ?? ""}`;
      }
      expect(output).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

afterAll(() => generated.clear());
