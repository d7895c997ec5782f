// Golden generated programs for every example as `nnc compile` writes them (simd kernels, its
// default: test/golden/standalone/<name>.ts), the teaching mode (--kernels ts) of a dense and a
// convolutional one (test/golden/standalone/ts/<name>.ts); update with `npx vitest run -u` and
// review the diff. One `tsc --strict --noEmit` runs over all of them.
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

async function generate(file: string, kernels: "simd" | "ts" = "simd"): Promise<string> {
  const text = readFileSync(join(root, "examples", file), "utf8");
  const { ir, diagnostics } = compileSource(text, `examples/${file}`);
  if (!ir)
    throw new Error(
      `examples/${file} does not check: ${JSON.stringify(diagnostics)}`,
    );
  return generateStandalone(ir, { sourceText: text, kernels });
}

describe("golden standalone programs", () => {
  for (const file of examples) {
    it(file, async () => {
      const code = await generate(file);
      generated.set(file, code);
      await expect(code).toMatchFileSnapshot(
        join(
          root,
          "test",
          "golden",
          "standalone",
          file.replace(/\.nn$/, ".ts"),
        ),
      );
    });
  }

  // The teaching mode's loops, which the simd goldens do not show.
  for (const file of ["mlp.nn", "cnn.nn"]) {
    it(`${file} with --kernels ts`, async () => {
      const code = await generate(file, "ts");
      generated.set(`ts_${file}`, code);
      await expect(code).toMatchFileSnapshot(join(root, "test", "golden", "standalone", "ts", file.replace(/\.nn$/, ".ts")));
    });
  }

  // Programs for the features no example uses, type-checked in the same tsc run.
  it("feature programs (every optimizer, schedule, callback, metric, loss option)", async () => {
    const features = featureIRs();
    for (const [i, ir] of features.entries())
      generated.set(
        `feature_${i}.nn`,
        await generateStandalone(ir, { kernels: i % 2 ? "simd" : "ts" }),
      );
  });

  // The shared-memory runtimes (simd, threads) too: their optional kernels must not be left unused.
  it("threaded and simd programs of a dense and a convolutional example", async () => {
    for (const name of ["mlp", "cnn"]) {
      const text = readFileSync(join(root, "examples", `${name}.nn`), "utf8");
      const { ir } = compileSource(text, `examples/${name}.nn`);
      for (const [kernels, threads] of [["simd", 1], ["simd", 2], ["ts", 2]] as const) {
        generated.set(`${name}_${kernels}_${threads}.nn`, await generateStandalone(ir!, { kernels, threads }));
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
      expect(files.length).toBe(examples.length + 2 + 6 + 6);
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
