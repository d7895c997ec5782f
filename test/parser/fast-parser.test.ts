// parse() has two paths (src/parser/index.ts): NnFastParser builds the AST directly when a file
// has no syntax error; NnParser + AstBuilder (recovery on) handle the rest. For every valid file
// they must build the same AST, spans included. (test/parser/property.test.ts compares the two
// on random and mutated inputs too.)
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "../../src/parser/index.js";
import { lex } from "../../src/parser/lexer.js";
import { parseFast } from "../../src/parser/fast-parser.js";
import { generatedSource } from "../../bench/check.js";

const ROOT = join(__dirname, "..", "..");

function nnFiles(dir: string): [string, string][] {
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith(".nn"))
    .sort()
    .map((f) => [`${dir}/${f}`, readFileSync(join(ROOT, dir, f), "utf8")]);
}

const VALID: [string, string][] = [
  ...nnFiles("examples"),
  ...nnFiles("test/golden/semantic"), // semantic errors only: valid syntax
  ["generated 1,000-line file (bench/check.ts)", generatedSource(1000)],
  [
    "every construct",
    [
      "block b(u, r = -(2 + 3) * 4 / (1 - -0.5)) {",
      "  dense(u, init: he_normal, regularizer: l1l2(l1: 1e-4, l2: 2e-4),) -> relu",
      "  repeat 2 { dropout(r) }",
      "}",
      "model m(h = 8) {",
      "  input x: image(28, 28, 1)",
      "  for k in [1, 2,] { conv2d(h * k, kernel: 3, padding: same) }",
      "  a = flatten",
      "  c = x -> flatten",
      "  concat(a, c) -> b(h) -> dense(10, activation: softmax)",
      "}",
      "train m {",
      '  data mnist(validation: test, augment: { rotation: 10, "zoom": 0.1, fill: nearest })',
      "  loss categorical_crossentropy; epochs 2",
      "  sweep h in [8, 16]",
      "  label \"a \\\"quoted\\\" \\u0041 name\"",
      "  flag true",
      "  other false",
      "}",
    ].join("\n"),
  ],
];

describe("the fast path builds the AST the recovering parser builds", () => {
  it.each(VALID)("%s", (_name, text) => {
    const lexed = lex(text);
    expect(lexed.issues).toEqual([]);
    const fast = parseFast(lexed.tokens);
    expect(fast).not.toBeNull();
    const slow = parse(text, { fastPath: false });
    expect(slow.diagnostics.filter((d) => d.code.startsWith("E1"))).toEqual([]);
    expect(fast).toEqual(slow.program.decls);
    expect(parse(text)).toEqual(slow);
  });

  it("stops at the first syntax error, and parse() then reports every error", () => {
    const text = "model m {\n  input image(28, 28, 1)\n  dense(10,, 2)\n  relu(\n}\n";
    expect(parseFast(lex(text).tokens)).toBeNull();
    const r = parse(text);
    expect(r.diagnostics.length).toBeGreaterThanOrEqual(2);
    expect(r).toEqual(parse(text, { fastPath: false }));
  });

  it("leaves a file that declares nothing to the full path (E104)", () => {
    expect(parseFast(lex("# only a comment\n").tokens)).toEqual([]);
    expect(parse("# only a comment\n").diagnostics.map((d) => d.code)).toEqual(["E104"]);
  });
});
