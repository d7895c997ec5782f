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
