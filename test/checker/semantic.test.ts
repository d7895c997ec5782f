// Golden diagnostics: every test/golden/semantic/<CODE>-<what>.nn must produce the diagnostics
// in <CODE>-<what>.expected (span, severity, code, message, hint; update with `npx vitest run -u`),
// its first diagnostic must carry the code the file is named after, and it must not compile
// (for E codes) or must compile with that warning (for W codes).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { formatGoldenDiagnostics, spanText } from "./golden-format.js";

const dir = join(import.meta.dirname, "../golden/semantic");
const cases = readdirSync(dir).filter((f) => f.endsWith(".nn")).sort();

describe("semantic diagnostics (golden)", () => {
  it("has at least 40 error cases", () => {
    expect(cases.filter((c) => c.startsWith("E")).length).toBeGreaterThanOrEqual(40);
  });

  for (const file of cases) {
    const name = file.slice(0, -3);
    const code = name.split("-")[0];
    it(name, async () => {
      const source = readFileSync(join(dir, file), "utf8");
      const { ir, diagnostics } = compileSource(source, file);
      const first = diagnostics.find((d) => d.code === code);
      expect(first, `expected a ${code} diagnostic`).toBeDefined();
      expect(diagnostics.every((d) => d.code !== "E999")).toBe(true);
      // Positioned on a token: a non-empty span on one line.
      expect(first!.span.startLine).toBe(first!.span.endLine);
      expect(spanText(source, first!).trim().length).toBeGreaterThan(0);
      if (code.startsWith("E")) expect(ir).toBeNull();
      else expect(ir).not.toBeNull();
      await expect(formatGoldenDiagnostics(diagnostics)).toMatchFileSnapshot(join(dir, `${name}.expected`));
    });
  }
});

describe("Keras and PyTorch spellings", () => {
  it("an unknown name that Keras or PyTorch uses is answered with nnc's name", async () => {
    const { compileSource } = await import("../../src/compiler/index.js");
    const text = "model m {\n  input image(28, 28, 1)\n  Conv2D(8, kernel: 3)\n  MaxPooling2D(2)\n  BatchNorm2d\n  flatten\n  dense(10, activation: softmax, init: xavier_uniform)\n}\ntrain m {\n  data mnist\n  loss CrossEntropyLoss\n  optimizer AdamW\n  callbacks [EarlyStopping]\n  epochs 1\n}\n";
    const { diagnostics } = compileSource(text, "k.nn");
    expect(diagnostics.map((d) => [d.code, d.hint])).toEqual([
      ["E201", "in nnc this is `conv2d` (`Conv2D` is the Keras/PyTorch name)"],
      ["E201", "in nnc this is `max_pool` (`MaxPooling2D` is the Keras/PyTorch name)"],
      ["E201", "in nnc this is `batch_norm` (`BatchNorm2d` is the Keras/PyTorch name)"],
      ["E203", "in nnc this is `glorot_uniform` (`xavier_uniform` is the Keras/PyTorch name)"],
      ["E203", "in nnc this is `categorical_crossentropy` (`CrossEntropyLoss` is the Keras/PyTorch name)"],
      ["E203", "in nnc this is `adamw` (`AdamW` is the Keras/PyTorch name)"],
      ["E203", "did you mean `early_stopping`?"],
    ]);
  });
});
