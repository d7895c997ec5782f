// Rendering diagnostics (code frame, JSON) and did-you-mean suggestions.
import { describe, expect, it } from "vitest";
import { countSummary, renderDiagnostic, toJson } from "../../src/compiler/codeframe.js";
import { didYouMean, editDistance, suggest } from "../../src/parser/suggest.js";
import type { Diagnostic } from "../../src/parser/diagnostics.js";
import type { Span } from "../../src/parser/ast.js";
import { parse } from "../../src/parser/index.js";

function span(startLine: number, startColumn: number, endLine: number, endColumn: number, startOffset = 0, endOffset = 0): Span {
  return { startLine, startColumn, endLine, endColumn, startOffset, endOffset };
}

const SRC = "model m {\n  dense(10 relu\n}\n";

describe("code frame", () => {
  it("shows the line before, the line, and carets under the span", () => {
    const d: Diagnostic = { severity: "error", code: "E111", message: "expected `)`, found `relu`", span: span(2, 12, 2, 16), hint: "separate items with `,`" };
    expect(renderDiagnostic(d, SRC, "m.nn")).toBe(
      [
        "error[E111]: expected `)`, found `relu`",
        " --> m.nn:2:12",
        "  |",
        "1 | model m {",
        "2 |   dense(10 relu",
        "  |            ^^^^",
        "  = hint: separate items with `,`",
      ].join("\n"),
    );
  });

  it("a zero-width span gets one caret; warnings are labelled as such", () => {
    const d: Diagnostic = { severity: "warning", code: "W601", message: "m", span: span(2, 16, 2, 16) };
    const out = renderDiagnostic(d, SRC, "m.nn");
    expect(out.startsWith("warning[W601]: m")).toBe(true);
    // Column 16 is just past the end of "  dense(10 relu": the caret follows the last character.
    expect(out.split("\n").at(-1)).toBe(`  | ${" ".repeat(15)}^`);
  });

  it("a span over several lines is underlined to the end of its first line", () => {
    const d: Diagnostic = { severity: "error", code: "E400", message: "m", span: span(1, 7, 3, 2) };
    expect(renderDiagnostic(d, SRC, "m.nn").split("\n").at(-1)).toBe("  |       ^^^");
  });

  it("tabs are expanded so the caret stays under the text", () => {
    const src = "model m {\n\tdense(1) x\n}\n";
    const d: Diagnostic = { severity: "error", code: "E113", message: "m", span: span(2, 11, 2, 12) };
    const lines = renderDiagnostic(d, src, "t.nn").split("\n");
    const code = lines.find((l) => l.startsWith("2 |"))!;
    const caret = lines.at(-1)!;
    expect(code.indexOf("x")).toBe(caret.indexOf("^"));
  });

  it("line numbers are right-aligned in the gutter", () => {
    const src = `${"\n".repeat(11)}  oops\n`;
    const d: Diagnostic = { severity: "error", code: "E110", message: "m", span: span(12, 3, 12, 7) };
    const out = renderDiagnostic(d, src, "g.nn").split("\n");
    expect(out[1]).toBe("  --> g.nn:12:3");
    expect(out).toContain("12 |   oops");
    expect(out.at(-1)).toBe("   |   ^^^^");
  });

  it("colours only when asked", () => {
    const d: Diagnostic = { severity: "error", code: "E1", message: "m", span: span(1, 1, 1, 2) };
    expect(renderDiagnostic(d, SRC, "m.nn")).not.toContain("\x1b[");
    expect(renderDiagnostic(d, SRC, "m.nn", { color: true })).toContain("\x1b[31m");
  });

  it("renders every diagnostic of a garbage file without throwing", () => {
    const src = "\u0000\u0001 }}} model ((( \n\t\t\u00ff@@@\r\n\"";
    const { diagnostics } = parse(src);
    expect(diagnostics.length).toBeGreaterThan(0);
    for (const d of diagnostics) expect(renderDiagnostic(d, src, "g.nn")).toContain(`[${d.code}]`);
  });

  it("counts", () => {
    const e: Diagnostic = { severity: "error", code: "E1", message: "m", span: span(1, 1, 1, 1) };
    const w: Diagnostic = { ...e, severity: "warning" };
    expect(countSummary([])).toBe("no problems");
    expect(countSummary([e])).toBe("1 error");
    expect(countSummary([e, e, w])).toBe("2 errors and 1 warning");
  });
});

describe("JSON diagnostics (DESIGN.md's shape)", () => {
  it("has exactly the documented fields, hint only when present", () => {
    const d: Diagnostic = { severity: "error", code: "E111", message: "m", span: span(2, 12, 2, 16, 20, 24) };
    expect(toJson([d, { ...d, hint: "h" }], "x.nn")).toEqual([
      { file: "x.nn", line: 2, column: 12, endLine: 2, endColumn: 16, severity: "error", code: "E111", message: "m" },
      { file: "x.nn", line: 2, column: 12, endLine: 2, endColumn: 16, severity: "error", code: "E111", message: "m", hint: "h" },
    ]);
  });

  it("a diagnostic's own file wins", () => {
    const d: Diagnostic = { severity: "error", code: "E1", message: "m", span: span(1, 1, 1, 1), file: "own.nn" };
    expect(toJson([d], "x.nn")[0]!.file).toBe("own.nn");
  });
});

describe("did you mean", () => {
  const LAYERS = ["dense", "conv2d", "max_pool", "avg_pool", "flatten", "dropout", "batch_norm", "leaky_relu", "prelu", "relu"];

  it("edit distance counts insertions, deletions, substitutions and transpositions as 1", () => {
    expect(editDistance("dense", "dense")).toBe(0);
    expect(editDistance("dens", "dense")).toBe(1);
    expect(editDistance("densee", "dense")).toBe(1);
    expect(editDistance("dence", "dense")).toBe(1);
    expect(editDistance("dnese", "dense")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("suggests near misses", () => {
    expect(suggest("max_pol", LAYERS)).toBe("max_pool");
    expect(suggest("maxpool", LAYERS)).toBe("max_pool");
    expect(suggest("MaxPool", LAYERS)).toBe("max_pool");
    expect(suggest("dnese", LAYERS)).toBe("dense");
    expect(suggest("batchnorm", LAYERS)).toBe("batch_norm");
    expect(suggest("conv2", LAYERS)).toBe("conv2d");
    expect(suggest("flaten", LAYERS)).toBe("flatten");
    expect(didYouMean("dropot", LAYERS)).toBe("did you mean `dropout`?");
  });

  it("does not suggest far-off names", () => {
    expect(suggest("transformer", LAYERS)).toBeUndefined();
    expect(suggest("xyz", LAYERS)).toBeUndefined();
    expect(suggest("dense", [])).toBeUndefined();
    expect(didYouMean("lstm", LAYERS)).toBeUndefined();
  });

  it("never suggests the name itself, and is deterministic on ties", () => {
    expect(suggest("relu", ["relu"])).toBeUndefined();
    expect(suggest("relx", ["reln", "relu"])).toBe("reln");
    expect(suggest("relx", ["relu", "reln"])).toBe("reln");
  });
});
