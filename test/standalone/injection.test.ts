// Strings from the .nn file (file name, source lines, paths) cannot change the generated program:
// they only enter it as JSON string literals or as single-line comments. The program is built
// with hostile strings everywhere, transpiled, imported and run; nothing it should not do happens,
// and the hostile path comes out byte for byte as the name of the file written.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { generateStandalone } from "../../src/compiler/targets/standalone/index.js";
import { generateTfjs } from "../../src/compiler/targets/tfjs/index.js";
import { transform } from "esbuild";
import { loadStandaloneProgram } from "../../src/runtime/engines/standalone.js";
import { writeSyntheticMnist } from "../helpers/data.js";
import { buildModelIR, ref } from "./ir-builder.js";

const EVIL = [
  `"; (globalThis as any).pwned = 1; "`,
  "`; (globalThis as any).pwned = 2; `",
  "${(globalThis as any).pwned = 3}",
  "*/ (globalThis as any).pwned = 4; /*",
  "\n(globalThis as any).pwned = 5; //",
  "\u2028(globalThis as any).pwned = 6; //",
  "'\\\\'; </script>",
  "\r(globalThis as any).pwned = 8; //",
  "\u2029(globalThis as any).pwned = 9; //",
  "\u0000\u0085(globalThis as any).pwned = 10; //",
].join("|");
/** A hostile file name short enough for the file system (its full form appears everywhere else). */
const CSV_PATH = `log ${EVIL.split("|").slice(0, 7).join("|").replace(/[\n\u2028/\u0000]/g, "_")}.csv`;

const work = mkdtempSync(join(tmpdir(), "nnc-injection-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function hostileIR() {
  const ir = buildModelIR(
    [28, 28, 1],
    [
      { kind: "flatten" },
      { kind: "dense", args: { units: 10, activation: ref("softmax") } },
    ],
    {
      callbacks: [
        ref("csv_logger", {
          path: CSV_PATH,
          separator: EVIL,
          append: false,
        }),
      ],
      batchSize: 32,
    },
  );
  ir.source.file = EVIL;
  for (const l of ir.model.layers) l.source.text = EVIL;
  return ir;
}

const TARGETS = {
  standalone: (ir: ReturnType<typeof hostileIR>) => generateStandalone(ir),
  tfjs: (ir: ReturnType<typeof hostileIR>) => generateTfjs(ir, { package: "@tensorflow/tfjs" }),
};

describe.each(Object.keys(TARGETS) as (keyof typeof TARGETS)[])("strings from the .nn file, %s target", (target) => {
  it("appear only as string literals and comments, and the program still parses", async () => {
    const code = await TARGETS[target](hostileIR());
    // esbuild parses it as TypeScript: a comment ended early would leave code that does not parse or runs.
    await transform(code, { loader: "ts" });
    expect(code).not.toMatch(/[\r\u0000\u0085]/);
    // Every line mentioning pwned is a comment or holds it inside a JSON string literal.
    expect(code).not.toMatch(/[\u2028\u2029]/);
    for (const line of code.split("\n")) {
      if (!line.includes("pwned")) continue;
      const t = line.trim();
      const inComment =
        t.startsWith("//") || t.startsWith("*") || t.startsWith("/*");
      const inLiteral =
        line.includes(JSON.stringify(EVIL).slice(1, 20)) ||
        /"[^"]*pwned[^"]*"/.test(line);
      expect(inComment || inLiteral, line).toBe(true);
    }
  });

});

describe("strings from the .nn file, when run", () => {
  it("cannot run code: the program trains and writes the hostile path verbatim", async () => {
    const data = writeSyntheticMnist(join(work, "data"), {
      train: 64,
      test: 32,
    });
    const ir = hostileIR();
    const program = await loadStandaloneProgram(ir, { mode: "ts", threads: 1 });
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
    const out = join(work, "run");
    const result = await program.train(
      { dataDir: data, outDir: out, epochs: 1 },
      {},
    );
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
    const csvPath = CSV_PATH;
    expect(existsSync(join(out, csvPath))).toBe(true);
    expect(result.files).toContain(csvPath);
  });

  it("a real .nn string with quotes, backticks, ${} and escapes goes through compileSource unchanged", async () => {
    const path = "x`${(globalThis as any).pwned = 7}`'\\\"*/ \\n// \\u2028.csv";
    const text = [
      "model evil {",
      "  input image(28, 28, 1)",
      "  flatten",
      "  dense(10, activation: softmax)",
      "}",
      "",
      "train evil {",
      "  data      mnist(validation: test)",
      "  loss      categorical_crossentropy",
      "  optimizer sgd(lr: 0.1)",
      `  callbacks [csv_logger(path: "${path}")]`,
      "  epochs    1",
      "  batch     32",
      "}",
    ].join("\n");
    const { ir, diagnostics } = compileSource(text, "evil`${x}`\"'.nn");
    expect(diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    const decoded = String(ir!.training!.callbacks[0]!.args.path);
    expect(decoded).toBe("x`${(globalThis as any).pwned = 7}`'\"*/ \n// \u2028.csv");
    const data = writeSyntheticMnist(join(work, "data2"), { train: 64, test: 32 });
    const program = await loadStandaloneProgram(ir!, { mode: "ts", threads: 1 });
    const out = join(work, "run2");
    await program.train({ dataDir: data, outDir: out, epochs: 1 }, {});
    expect((globalThis as { pwned?: number }).pwned).toBeUndefined();
    expect(existsSync(join(out, decoded))).toBe(true);
  });
});
