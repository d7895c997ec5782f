// `nnc compile --target tfjs`: golden programs for every example, `tsc --strict --noEmit` over
// all of them at once, and the mlp program actually training one batch on the cpu backend.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { generateTfjs } from "../../src/compiler/targets/tfjs/index.js";
import { dataDir, exampleIr, exampleNames, repoRoot, tempDir } from "./helpers.js";

const goldenDir = join(repoRoot, "test/golden/tfjs");
// Generated code must resolve @tensorflow/tfjs from the repository's node_modules.
const runDir = join(repoRoot, "test/tfjs/.generated");

describe("tfjs target", () => {
  afterAll(() => rmSync(runDir, { recursive: true, force: true }));

  for (const name of exampleNames()) {
    it(`golden: ${name}`, async () => {
      const code = await generateTfjs(exampleIr(name));
      expect(code).toContain('import * as tf from "@tensorflow/tfjs-node-gpu";');
      // Only tfjs and node built-ins.
      for (const m of code.matchAll(/^import .* from "([^"]+)";$/gm)) expect(m[1]).toMatch(/^(node:|@tensorflow\/tfjs)/);
      await expect(code).toMatchFileSnapshot(join(goldenDir, `${name}.ts`));
    });
  }

  it("every generated program passes tsc --strict --noEmit (one tsc run for all examples)", async () => {
    // Freshly generated (equal to the goldens when those are up to date), in a folder inside the
    // repository so @tensorflow/tfjs and @types/node resolve; the tsconfig is the goldens' one.
    const dir = join(runDir, "typecheck");
    mkdirSync(dir, { recursive: true });
    for (const name of exampleNames()) writeFileSync(join(dir, `${name}.ts`), await generateTfjs(exampleIr(name)));
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
    const code = await generateTfjs(exampleIr("mlp"), { package: "@tensorflow/tfjs" });
    expect(code).toContain('import * as tf from "@tensorflow/tfjs";');
    expect(code).not.toContain('tfjs-node-gpu"');
  });

  it("the generated mlp program trains one batch on the cpu backend", async () => {
    const code = await generateTfjs(exampleIr("mlp"), { package: "@tensorflow/tfjs" });
    const js = (await transform(code, { loader: "ts", format: "esm", target: "node20" })).code;
    mkdirSync(runDir, { recursive: true });
    const file = join(runDir, "mlp.mjs");
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
    expect(existsSync(join(out, "checkpoint/model.json"))).toBe(true);
  }, 120_000);
});
