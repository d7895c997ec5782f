// Every example checks clean, reaches Keras's parameter counts, produces IR valid against
// src/compiler/ir.schema.json, and matches its golden summaries (test/golden/summary/) and,
// for a few, its golden IR (test/golden/ir/). Update goldens with `npx vitest run -u`.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { formatSummary, summaryJson } from "../../src/compiler/summary.js";
import type { IR } from "../../src/compiler/ir.js";

const root = join(import.meta.dirname, "../..");
const examples = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".nn")).sort();
const irSchema = JSON.parse(readFileSync(join(root, "src/compiler/ir.schema.json"), "utf8")) as object;
const validateIR = new Ajv({ allErrors: true, strict: true }).compile(irSchema);

function compileExample(name: string): IR {
  const file = `examples/${name}`;
  const { ir, diagnostics } = compileSource(readFileSync(join(root, file), "utf8"), file);
  expect(diagnostics).toEqual([]);
  expect(ir).not.toBeNull();
  return ir!;
}

// Keras's model.summary() totals for the seed models.
const keras: Record<string, { total: number; nonTrainable: number }> = {
  "mlp.nn": { total: 407_050, nonTrainable: 0 },
  "regularized.nn": { total: 671_754, nonTrainable: 1_024 },
  "cnn.nn": { total: 82_934, nonTrainable: 0 },
  "tf1_cnn.nn": { total: 3_274_634, nonTrainable: 0 },
  "twolayer.nn": { total: 39_760, nonTrainable: 0 },
  "deep.nn": { total: 2_565_290, nonTrainable: 6_080 },
  "alexnet.nn": { total: 27_672_714, nonTrainable: 0 },
  "mse_sgd.nn": { total: 407_050, nonTrainable: 0 },
  "prelu_mlp.nn": { total: 203_786, nonTrainable: 0 },
  "scratch_sweep.nn": { total: 79_510, nonTrainable: 0 },
};

describe("examples", () => {
  it("are all here", () => {
    expect(examples).toEqual(Object.keys(keras).sort());
  });

  for (const name of examples) {
    const base = name.slice(0, -3);
    describe(name, () => {
      it("checks clean and matches Keras's parameter counts", () => {
        const ir = compileExample(name);
        expect(ir.model.params.total).toBe(keras[name].total);
        expect(ir.model.params.nonTrainable).toBe(keras[name].nonTrainable);
        expect(ir.model.params.trainable).toBe(keras[name].total - keras[name].nonTrainable);
        expect(ir.model.layers.reduce((a, l) => a + l.params, 0)).toBe(ir.model.params.total);
      });

      it("produces IR valid against ir.schema.json", () => {
        const ir = compileExample(name);
        const ok = validateIR(ir);
        expect(validateIR.errors ?? []).toEqual([]);
        expect(ok).toBe(true);
        // Plain JSON: survives a round trip unchanged.
        expect(JSON.parse(JSON.stringify(ir))).toEqual(ir);
        // Ids are unique, inputs refer to earlier layers, weights are named id/role.
        const seen = new Set<string>();
        for (const l of ir.model.layers) {
          for (const i of l.inputs) expect(seen.has(i)).toBe(true);
          expect(seen.has(l.id)).toBe(false);
          seen.add(l.id);
          for (const w of l.weights) expect(w.name).toBe(`${l.id}/${w.role}`);
        }
        expect(ir.model.layers[0].kind).toBe("input");
        expect(ir.training?.data.exampleShape).toEqual(ir.model.inputShape);
      });

      it("matches its golden summaries", async () => {
        const ir = compileExample(name);
        await expect(formatSummary(ir.model)).toMatchFileSnapshot(join(root, "test/golden/summary", `${base}.txt`));
        await expect(`${JSON.stringify(summaryJson(ir.model), null, 2)}\n`).toMatchFileSnapshot(join(root, "test/golden/summary", `${base}.json`));
      });
    });
  }

  for (const name of ["mlp.nn", "deep.nn", "tf1_cnn.nn", "scratch_sweep.nn"]) {
    it(`${name} matches its golden IR`, async () => {
      const ir = compileExample(name);
      const stable = { ...ir, nncVersion: "<version>", source: { ...ir.source, sha256: "<sha256 of the example>" } };
      await expect(`${JSON.stringify(stable, null, 2)}\n`).toMatchFileSnapshot(join(root, "test/golden/ir", `${name.slice(0, -3)}.ir.json`));
    });
  }

  it("fills every default: adam, reduce_on_plateau under callbacks, augmentation, seed", () => {
    const ir = compileExample("deep.nn");
    const t = ir.training!;
    expect(t.optimizer).toEqual({ kind: "adam", args: { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } });
    expect(t.callbacks.map((c) => c.kind)).toEqual(["reduce_on_plateau", "early_stopping", "checkpoint"]);
    expect(t.callbacks[0].args).toMatchObject({ monitor: "val_loss", factor: 0.5, patience: 10, min_lr: 1e-6, mode: "min" });
    expect(t.data.augment).toEqual({ rotation: 30, widthShift: 0.3, heightShift: 0.3, zoom: 0.5, shear: 0.5, fill: "nearest", cval: 0 });
    expect(t.seed).toBe(42);
    expect(t.labels).toBe("onehot");
    // Layers from the block repeat with their own ids.
    expect(ir.model.layers.filter((l) => l.kind === "batch_norm").map((l) => l.id)).toEqual(
      ["batch_norm_1", "batch_norm_2", "batch_norm_3", "batch_norm_4", "batch_norm_5", "batch_norm_6", "batch_norm_7"],
    );
  });

  it("sweeps: one checked variant per value, monitor val_accuracy", () => {
    const ir = compileExample("scratch_sweep.nn");
    expect(ir.sweep!.monitor).toBe("val_accuracy");
    expect(ir.sweep!.mode).toBe("max");
    expect(ir.sweep!.parameters).toEqual([{ name: "latent", values: [100, 200, 300] }]);
    expect(ir.sweep!.variants.map((v) => [v.values.latent, v.model.params.total])).toEqual([[100, 79_510], [200, 159_010], [300, 238_510]]);
    expect(ir.model).toEqual(ir.sweep!.variants[0].model);
  });
});
