// The TextMate grammar (grammar/nn.tmLanguage.json), run by vscode-textmate + oniguruma as an
// editor would, on every example: each AST node's text gets the scope a theme colours it by.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import textmate from "vscode-textmate";
import oniguruma from "vscode-oniguruma";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "../../src/parser/index.js";
import type { Arg, Expr, Span, Stmt } from "../../src/parser/ast.js";

const ROOT = join(__dirname, "..", "..");
const EXAMPLES = readdirSync(join(ROOT, "examples"))
  .filter((f) => f.endsWith(".nn"))
  .sort();

interface Tok {
  start: number;
  end: number;
  scopes: string[];
}

let grammar: textmate.IGrammar;

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName: string) =>
      scopeName === "source.nn"
        ? textmate.parseRawGrammar(readFileSync(join(ROOT, "grammar", "nn.tmLanguage.json"), "utf8"), "nn.tmLanguage.json")
        : null,
  });
  const g = await registry.loadGrammar("source.nn");
  if (!g) throw new Error("grammar did not load");
  grammar = g;
});

/** Tokens per line (1-based line numbers), as an editor would see them. */
function tokenize(text: string): Tok[][] {
  let stack = textmate.INITIAL;
  const out: Tok[][] = [[]];
  for (const line of text.split("\n")) {
    const r = grammar.tokenizeLine(line, stack);
    out.push(r.tokens.map((t) => ({ start: t.startIndex, end: t.endIndex, scopes: t.scopes })));
    stack = r.ruleStack;
  }
  return out;
}

/** The scopes of every token covering the span (on its first line). */
function scopesOf(lines: Tok[][], span: Span): string[][] {
  const from = span.startColumn - 1;
  const to = span.startLine === span.endLine ? span.endColumn - 1 : Number.MAX_SAFE_INTEGER;
  return (lines[span.startLine] ?? []).filter((t) => t.end > from && t.start < to).map((t) => t.scopes);
}

function expectScope(lines: Tok[][], span: Span, scope: string, what: string): void {
  const scopes = scopesOf(lines, span);
  expect(scopes.length, what).toBeGreaterThan(0);
  for (const s of scopes) expect(s.some((x) => x.startsWith(scope)), `${what}: ${s.join(" ")}`).toBe(true);
}

function walkExpr(e: Expr, visit: (e: Expr) => void): void {
  visit(e);
  if (e.kind === "list") e.items.forEach((x) => walkExpr(x, visit));
  if (e.kind === "object") e.entries.forEach((x) => walkExpr(x.value, visit));
  if (e.kind === "call") e.args.forEach((x) => walkExpr(x.value, visit));
  if (e.kind === "binary") [e.left, e.right].forEach((x) => walkExpr(x, visit));
  if (e.kind === "unary") walkExpr(e.operand, visit);
}

function checkExpr(lines: Tok[][], root: Expr): void {
  walkExpr(root, (e) => {
    if (e.kind === "number") expectScope(lines, e.span, "constant.numeric", `number ${e.raw}`);
    if (e.kind === "string") expectScope(lines, e.span, "string.quoted.double", "string");
    if (e.kind === "bool") expectScope(lines, e.span, "constant.language.boolean", "boolean");
    if (e.kind === "call") {
      expectScope(lines, e.calleeSpan, "entity.name.function", `call ${e.callee}`);
      e.args.forEach((a) => checkArgName(lines, a));
    }
    if (e.kind === "object") e.entries.forEach((en) => expectScope(lines, en.keySpan, "variable.parameter.name", `key ${en.key}`));
  });
}

function checkArgName(lines: Tok[][], a: Arg): void {
  if (a.nameSpan) expectScope(lines, a.nameSpan, "variable.parameter.name", `argument ${a.name}`);
}

function checkStmts(lines: Tok[][], stmts: Stmt[]): void {
  for (const s of stmts) {
    if (s.kind === "input") {
      expectScope(lines, { ...s.span, endColumn: s.span.startColumn + 5, endLine: s.span.startLine }, "keyword.other.input", "input");
      checkExpr(lines, s.shape);
    } else if (s.kind === "chain") {
      for (const st of s.steps) {
        expectScope(lines, st.nameSpan, "entity.name.function", `layer ${st.name}`);
        st.args?.forEach((a) => {
          checkArgName(lines, a);
          checkExpr(lines, a.value);
        });
      }
    } else if (s.kind === "for") {
      expectScope(lines, s.variableSpan, "variable.other.loop", "loop variable");
      checkExpr(lines, s.iterable);
      checkStmts(lines, s.body);
    } else {
      checkExpr(lines, s.count);
      checkStmts(lines, s.body);
    }
  }
}

describe("TextMate grammar", () => {
  it.each(EXAMPLES)("%s: every construct gets its scope", (f) => {
    const text = readFileSync(join(ROOT, "examples", f), "utf8");
    const { program } = parse(text);
    const lines = tokenize(text);
    for (const c of program.comments) expectScope(lines, c.span, "comment.line.number-sign", "comment");
    for (const d of program.decls) {
      const kw = { ...d.span, endLine: d.span.startLine, endColumn: d.span.startColumn + d.kind.length };
      expectScope(lines, kw, `storage.type.${d.kind}`, d.kind);
      if (d.kind === "train") {
        expectScope(lines, d.modelSpan, "entity.name.type", "trained model");
        for (const s of d.body) {
          if (s.kind === "setting") {
            expectScope(lines, s.keySpan, "entity.other.attribute-name.setting", `setting ${s.key}`);
            checkExpr(lines, s.value);
          } else {
            expectScope(lines, s.variableSpan, "variable.parameter.sweep", "sweep variable");
            checkExpr(lines, s.values);
          }
        }
      } else {
        expectScope(lines, d.nameSpan, `entity.name.type.${d.kind}`, `${d.kind} name`);
        for (const p of d.params) {
          expectScope(lines, p.nameSpan, "variable.parameter", `parameter ${p.name}`);
          if (p.default) checkExpr(lines, p.default);
        }
        checkStmts(lines, d.body);
      }
    }
    // The train section's scope closes at its `}`: the (empty) line after it is outside.
    expect(lines.at(-1)![0]!.scopes).toEqual(["source.nn"]);
  });

  it("operators, tensors, escapes and bad escapes", () => {
    const text = 'model m {\n  a = dense(64) -> relu\n  b = dense(2 * 3 - 1)\n}\ntrain m {\n  x "a\\n\\q"\n}\n';
    const lines = tokenize(text);
    const scopeAt = (line: number, col: number) => lines[line]!.find((t) => t.start <= col - 1 && t.end > col - 1)!.scopes;
    expect(scopeAt(2, 3)).toContain("variable.other.tensor.nn");
    expect(scopeAt(2, 5)).toContain("keyword.operator.assignment.nn");
    expect(scopeAt(2, 17)).toContain("keyword.operator.arrow.nn");
    expect(scopeAt(2, 20)).toContain("entity.name.function.layer.nn");
    expect(scopeAt(3, 15)).toContain("keyword.operator.arithmetic.nn");
    expect(scopeAt(6, 5)).toContain("string.quoted.double.nn");
    expect(scopeAt(6, 7)).toContain("constant.character.escape.nn");
    expect(scopeAt(6, 9)).toContain("invalid.illegal.escape.nn");
  });
});
