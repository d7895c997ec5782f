// Golden generated programs (update with `npx vitest run -u` and review the diff): for every
// example, its model part (test/golden/standalone/<name>.model.ts: the program up to the appendix,
// then the names the appendix declares, so that which runtime pieces a model pulls in is pinned
// too); and one whole program per kernel mode (whole-ts.ts: examples/deep.nn, whose runtime has
// augmentation and callbacks; whole-simd.ts: examples/cnn.nn, with the convolution kernels), so
// that an edit of the embedded runtime changes two goldens, not one per example. All of them, with
// programs for every other feature and the threaded runtimes, go through one
// `tsc --strict --noEmit` run.
import { execFileSync } from "node:child_process";
import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { generateStandalone } from "../../src/compiler/targets/standalone/index.js";
import { featureIRs } from "./ir-builder.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const examples = readdirSync(join(root, "examples"))
  .filter((f) => f.endsWith(".nn"))
  .sort();
const generated = new Map<string, string>();

async function generate(file: string, kernels: "ts" | "simd" = "ts"): Promise<string> {
  const text = readFileSync(join(root, "examples", file), "utf8");
  const { ir, diagnostics } = compileSource(text, `examples/${file}`);
  if (!ir)
    throw new Error(
      `examples/${file} does not check: ${JSON.stringify(diagnostics)}`,
    );
  return generateStandalone(ir, { sourceText: text, kernels });
}

/** The program up to its appendix, then the names of the appendix's top-level declarations. */
function modelPart(code: string): string {
  const at = code.indexOf("// ==== Appendix");
  if (at < 0) throw new Error("the program has no appendix section");
  const names = [...code.slice(at).matchAll(/^(?:export )?(?:async )?(?:function|const|let|class|interface|type) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
  return `${code.slice(0, at)}// ==== Appendix (not pinned here: test/golden/standalone/whole-*.ts) declares:\n// ${names.join(", ")}\n`;
}

describe("golden standalone programs", () => {
  for (const file of examples) {
    it(file, async () => {
      const code = await generate(file);
      generated.set(file, code);
      await expect(modelPart(code)).toMatchFileSnapshot(join(root, "test", "golden", "standalone", file.replace(/\.nn$/, ".model.ts")));
    });
  }

  for (const [mode, file] of [["ts", "deep.nn"], ["simd", "cnn.nn"]] as const) {
    it(`the whole program of examples/${file} with ${mode} kernels`, async () => {
      const code = await generate(file, mode);
      if (mode !== "ts") generated.set(`${file.slice(0, -3)}_whole_${mode}.nn`, code);
      await expect(code).toMatchFileSnapshot(join(root, "test", "golden", "standalone", `whole-${mode}.ts`));
    });
  }

  // Programs for the features no example uses, type-checked in the same tsc run.
  it("feature programs (every optimizer, schedule, callback, metric, loss option)", async () => {
    const features = featureIRs();
    for (const [i, ir] of features.entries())
      generated.set(
        `feature_${i}.nn`,
        // Unformatted: only tsc reads these (prettier changes no type), and it is most of the generation's time.
        await generateStandalone(ir, { kernels: i % 2 ? "simd" : "ts", format: false }),
      );
  });

  // The shared-memory runtimes (simd, threads) too: their optional kernels must not be left unused.
  it("threaded and simd programs of a dense and a convolutional example", async () => {
    for (const name of ["mlp", "cnn"]) {
      const text = readFileSync(join(root, "examples", `${name}.nn`), "utf8");
      const { ir } = compileSource(text, `examples/${name}.nn`);
      for (const [kernels, threads] of [["simd", 1], ["simd", 2], ["ts", 2]] as const) {
        generated.set(`${name}_${kernels}_${threads}.nn`, await generateStandalone(ir!, { kernels, threads, format: false }));
      }
    }
  });

  it("all of them pass tsc --strict --noUnusedLocals --noEmit (one tsc run): no dead code", () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-standalone-tsc-"));
    try {
      writeFileSync(
        join(dir, "package.json"),
        JSON.stringify({ type: "module" }),
      );
      symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
      const files: string[] = [];
      for (const [file, code] of generated) {
        const path = join(dir, file.replace(/\.nn$/, ".ts"));
        writeFileSync(path, code);
        files.push(path);
      }
      expect(files.length).toBe(examples.length + 1 + 6 + 6);
      const tsc = join(root, "node_modules", ".bin", "tsc");
      const args = [
        "--ignoreConfig",
        "--strict",
        "--noUnusedLocals",
        "--noEmit",
        "--target",
        "es2022",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--types",
        "node",
        ...files,
      ];
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
