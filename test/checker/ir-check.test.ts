// checkIR, where an IR enters a target: what the checker produces passes; an IR that lacks a
// resolved parameter, uses an alias or an unknown kind, or breaks ir.schema.json is refused with
// the path of the problem, by every target (never read with a default).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { IRCheckError, checkIR } from "../../src/compiler/ir-check.js";
import type { IR } from "../../src/compiler/ir.js";
import { generatePytorch } from "../../src/compiler/targets/pytorch/index.js";
import { generateStandalone } from "../../src/compiler/targets/standalone/index.js";
import { generateTfjs } from "../../src/compiler/targets/tfjs/index.js";
import { kerasTopology } from "../../src/compiler/targets/keras.js";

const root = join(import.meta.dirname, "../..");
const mlp = (): IR => {
  const { ir } = compileSource(readFileSync(join(root, "examples/mlp.nn"), "utf8"), "examples/mlp.nn");
  return JSON.parse(JSON.stringify(ir)) as IR;
};

describe("checkIR: the IR at a target's boundary", () => {
  it("passes what the checker produces", () => {
    expect(() => checkIR(mlp(), "test")).not.toThrow();
  });

  it("refuses a missing resolved parameter, naming where", () => {
    const ir = mlp();
    delete (ir.training!.optimizer.args as Record<string, unknown>).beta1;
    expect(() => checkIR(ir, "standalone target")).toThrow(/standalone target.*training\.optimizer: adam lacks its parameter "beta1"/);
  });

  it("refuses an alias (std for stddev) and a parameter the entry does not have", () => {
    const ir = mlp();
    const dense = ir.model.layers.find((l) => l.kind === "dense")!;
    dense.weights[0]!.initializer = { kind: "random_normal", args: { mean: 0, std: 0.1 } };
    expect(() => checkIR(ir, "test")).toThrow(/random_normal lacks its parameter "stddev".*random_normal has no parameter "std"/);
  });

  it("refuses an unknown kind inside a layer's arguments and a structural break of ir.schema.json", () => {
    const ir = mlp();
    (ir.model.layers.find((l) => l.kind === "dense")!.args as Record<string, unknown>).activation = { kind: "swish", args: {} };
    expect(() => checkIR(ir, "test")).toThrow(/activation: no activation named "swish"/);
    const broken = mlp() as unknown as { model: { layers: unknown } };
    broken.model.layers = "none";
    expect(() => checkIR(broken as unknown as IR, "test")).toThrow(/ir\.schema\.json/);
  });

  it("every target checks the IR it is given", async () => {
    const ir = mlp();
    delete (ir.training!.loss.args as Record<string, unknown>).label_smoothing;
    await expect(generateStandalone(ir)).rejects.toThrow(IRCheckError);
    await expect(generateTfjs(ir)).rejects.toThrow(IRCheckError);
    expect(() => generatePytorch(ir)).toThrow(IRCheckError);
    const model = mlp().model;
    model.layers.find((l) => l.kind === "dropout")!.kind = "spatial_dropout" as never;
    expect(() => kerasTopology(model)).toThrow(/Keras topology writer.*no layer named "spatial_dropout"/);
  });
});
