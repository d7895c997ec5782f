// parse(): .nn text -> AST + syntax diagnostics. Never throws.
//
//   text --lex()--> tokens --NnFastParser--> Program                    (a file with no syntax error)
//                          \--NnParser--> CST --AstBuilder--> Program   (otherwise: all the errors)
//
// The fast path (fast-parser.ts: no CST, no recovery) stops at the first syntax error; the file is
// then parsed again with recovery, and that second path alone decides what a broken file yields.
// Every syntax problem becomes a Diagnostic with a stable E1xx code (see errors.ts), and the
// parser recovers, so one call reports all of a file's syntax errors (up to MAX_ERRORS).
import type { IToken } from "chevrotain";
import type { Comment, Program, Span } from "./ast.js";
import type { Diagnostic } from "./diagnostics.js";
import { endLineOf, lex, tokenSpan } from "./lexer.js";
import { parseTokens } from "./parser.js";
import { AstBuilder } from "./build-ast.js";
import { parseFast } from "./fast-parser.js";
import { decodeMessage } from "./errors.js";

export type { Program } from "./ast.js";

export interface ParseResult {
  program: Program;
  diagnostics: Diagnostic[];
}

/** Past this many syntax errors the rest are summarised in one E119 diagnostic. */
export const MAX_ERRORS = 50;

/**
 * How deeply brackets (and prefix minus signs) may nest. The parsers and every later stage
 * recurse once per level, so a deeper file is refused up front, with E120 at the bracket that
 * goes too deep, rather than overflowing the stack (a real model nests fewer than 10 levels).
 */
export const MAX_NESTING = 64;

/** The first token nested deeper than MAX_NESTING, or null. Linear in the number of tokens. */
export function tooDeep(tokens: readonly IToken[]): IToken | null {
  let depth = 0;
  let unary = 0;
  let prevEndsValue = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const img = t.image;
    if (img === "(" || img === "[" || img === "{") {
      depth++;
      unary = 0;
      if (depth > MAX_NESTING) return t;
      prevEndsValue = false;
    } else if (img === ")" || img === "]" || img === "}") {
      if (depth > 0) depth--;
      unary = 0;
      prevEndsValue = true;
    } else if (img === "-" && !prevEndsValue) {
      unary++;
      if (depth + unary > MAX_NESTING) return t;
    } else {
      unary = 0;
      const name = t.tokenType.name;
      prevEndsValue = name === "Identifier" || name === "Number" || name === "String" || name === "Kw_true" || name === "Kw_false";
    }
  }
  return null;
}

/** The position just past the end of `text`. */
export function endPosition(text: string): { offset: number; line: number; column: number } {
  let line = 1;
  let lastBreak = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lastBreak = i;
    }
  }
  return { offset: text.length, line, column: text.length - lastBreak };
}

function pointSpan(p: { offset: number; line: number; column: number }): Span {
  return { startOffset: p.offset, endOffset: p.offset, startLine: p.line, startColumn: p.column, endLine: p.line, endColumn: p.column };
}

const DECL_START = new Set(["Kw_model", "Kw_block", "Kw_train"]);

function real(t: IToken | undefined): t is IToken {
  return !!t && !t.isInsertedInRecovery && Number.isFinite(t.startOffset) && t.tokenType.name !== "EOF";
}

/** Errors about something missing: shown right after the last token when the next is on a later line. */
const MISSING = new Set(["E111", "E114", "E118"]);

function afterToken(t: IToken): Span {
  const s = tokenSpan(t);
  return { startOffset: s.endOffset, endOffset: s.endOffset, startLine: s.endLine, startColumn: s.endColumn, endLine: s.endLine, endColumn: s.endColumn };
}

/** Where a parse error is shown: at the offending token, or just after the last real one. */
function errorSpan(token: IToken | undefined, previous: IToken | undefined, end: Span): Span {
  if (real(token)) return tokenSpan(token);
  if (real(previous)) {
    const s = tokenSpan(previous);
    return { startOffset: s.endOffset, endOffset: s.endOffset, startLine: s.endLine, startColumn: s.endColumn, endLine: s.endLine, endColumn: s.endColumn };
  }
  return end;
}

export interface ParseOptions {
  /** Try the fast path first (default true); false always parses with recovery (tests compare the two). */
  fastPath?: boolean;
}

export function parse(text: string, options: ParseOptions = {}): ParseResult {
  const source = typeof text === "string" ? text : String(text ?? "");
  const end = pointSpan(endPosition(source));
  const program: Program = { kind: "program", decls: [], comments: [], span: { ...end, startOffset: 0, startLine: 1, startColumn: 1 } };
  const diagnostics: Diagnostic[] = [];
  try {
    const lexed = lex(source);
    program.comments = lexed.comments.map((c): Comment => ({ text: c.image, span: tokenSpan(c) }));
    for (const i of lexed.issues) {
      diagnostics.push({ severity: "error", code: i.code, message: i.message, span: i.span, ...(i.hint ? { hint: i.hint } : {}) });
    }
    const deep = tooDeep(lexed.tokens);
    if (deep !== null) {
      diagnostics.push({
        severity: "error",
        code: "E120",
        message: `brackets nest more than ${MAX_NESTING} levels deep here`,
        hint: "a .nn file needs only a few levels; bind parts to names or model parameters instead of nesting them",
        span: tokenSpan(deep),
      });
      return { program, diagnostics: tidy(diagnostics) };
    }
    if (lexed.issues.length === 0 && options.fastPath !== false) {
      const decls = parseFast(lexed.tokens);
      if (decls !== null) {
        program.decls = decls;
        if (decls.length > 0) return { program, diagnostics };
      }
    }
    const builder = new AstBuilder();
    // Parse; when text outside any declaration stops the parser (E110), go on from the next
    // `model`, `block` or `train` so that the declarations after it are still checked.
    let tokens = lexed.tokens;
    for (let round = 0; tokens.length > 0 && round <= MAX_ERRORS; round++) {
      const { cst, parser } = parseTokens(tokens);
      let restart = -1;
      for (const e of parser.errors) {
        const m = decodeMessage(e.message);
        const prev = (e as unknown as { previousToken?: IToken }).previousToken;
        diagnostics.push({
          severity: "error",
          code: m.code,
          message: m.message,
          span: MISSING.has(m.code) && real(prev) && real(e.token) && e.token.startLine! > endLineOf(prev) ? afterToken(prev) : errorSpan(e.token, prev, end),
          ...(m.hint ? { hint: m.hint } : {}),
        });
        if (e.name === "NotAllInputParsedException") restart = tokens.indexOf(e.token);
      }
      program.decls.push(...builder.program(cst).decls);
      if (restart < 0 || diagnostics.length > MAX_ERRORS) break;
      let next = restart + 1;
      while (next < tokens.length && !DECL_START.has(tokens[next]!.tokenType.name)) next++;
      tokens = tokens.slice(next);
    }
    for (const i of builder.issues) {
      diagnostics.push({ severity: "error", code: i.code, message: i.message, span: i.span, ...(i.hint ? { hint: i.hint } : {}) });
    }
    if (program.decls.length === 0 && diagnostics.length === 0) {
      diagnostics.push({
        severity: "error",
        code: "E104",
        message: source.trim() === "" ? "the file is empty" : "the file declares nothing",
        hint: "a .nn file declares a `model { ... }` and a `train NAME { ... }` section",
        span: end,
      });
    }
  } catch (err) {
    // A bug in nnc, not in the user's file; still reported as a diagnostic, never thrown.
    diagnostics.push({
      severity: "error",
      code: "E199",
      message: `internal parser error: ${err instanceof Error ? err.message : String(err)}`,
      span: end,
    });
  }
  return { program, diagnostics: tidy(diagnostics) };
}

/** Sorts by position, drops duplicates at one position, and caps the count. */
function tidy(diags: Diagnostic[]): Diagnostic[] {
  // Stable sort: at one position the earliest stage's diagnostic (lexer, then parser) wins.
  diags.sort((a, b) => a.span.startOffset - b.span.startOffset);
  const out: Diagnostic[] = [];
  const seen = new Set<number>();
  for (const d of diags) {
    if (seen.has(d.span.startOffset)) continue;
    seen.add(d.span.startOffset);
    out.push(d);
  }
  if (out.length > MAX_ERRORS) {
    const rest = out.length - MAX_ERRORS;
    const first = out[MAX_ERRORS]!;
    out.length = MAX_ERRORS;
    out.push({
      severity: "error",
      code: "E119",
      message: `${rest} more syntax error${rest === 1 ? "" : "s"} not shown`,
      hint: "fix the errors above first; is this really a .nn file?",
      span: first.span,
    });
  }
  return out;
}
