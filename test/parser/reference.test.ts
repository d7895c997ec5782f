// grammar/README.md stays true: every `nn` example in it parses without syntax errors and is
// in canonical layout, and its grammar listing is exactly the parser's rules.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "../../src/parser/index.js";
import { format } from "../../src/compiler/format.js";

const ROOT = join(__dirname, "..", "..");
const README = readFileSync(join(ROOT, "grammar", "README.md"), "utf8");
const PARSER = readFileSync(join(ROOT, "src", "parser", "parser.ts"), "utf8");

function blocks(lang: string): string[] {
  const re = new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g");
  return [...README.matchAll(re)].map((m) => m[1]!);
}

describe("grammar/README.md", () => {
  const examples = blocks("nn");

  it("has examples", () => expect(examples.length).toBeGreaterThanOrEqual(12));

  it.each(examples.map((e, i) => [i, e] as const))("example %i parses without syntax errors and is formatted", (_i, text) => {
    const r = parse(text);
    expect(r.diagnostics).toEqual([]);
    if (!text.startsWith("# not in canonical layout")) expect(format(text).text).toBe(text);
  });

  it("the full grammar lists exactly the parser's rules, in order", () => {
    const rules = [...PARSER.matchAll(/^ {2}\/\/ (\w+ := .*)$/gm)].map((m) => m[1]!.trim());
    expect(rules.length).toBeGreaterThan(20);
    const listed = blocks("text").at(-1)!.trim().split("\n");
    expect(listed).toEqual(rules);
  });

  it("every rule is also shown next to its construct", () => {
    const body = README.slice(0, README.indexOf("## The full grammar"));
    const rules = [...PARSER.matchAll(/^ {2}\/\/ (\w+ := .*)$/gm)].map((m) => m[1]!.trim());
    for (const r of rules) expect(body, r).toContain(r);
  });

  it("documents every syntax diagnostic code the parser emits", () => {
    const src = ["errors.ts", "lexer.ts", "index.ts", "build-ast.ts"].map((f) => readFileSync(join(ROOT, "src", "parser", f), "utf8")).join("\n");
    const codes = new Set([...src.matchAll(/"(E1\d\d)"/g)].map((m) => m[1]!));
    expect(codes.size).toBeGreaterThan(10);
    for (const c of codes) expect(README, c).toContain(`| ${c} |`);
  });
});
