// The .nn lexer (chevrotain) and the layout pass that turns line breaks into statement
// separators.
//
// Line breaks separate statements, but only where a statement can end: a line break that
// follows `->`, `=`, `,`, `:` or an arithmetic operator, or that precedes `->`, continues the
// statement, and so does one inside `( )`, `[ ]` or an object `{ key: value }` when the line
// ends with an opening bracket or the next starts with a closing one, `,` or an operator
// (an argument list may span lines; a bracket left open does not swallow the next lines). Runs of line
// breaks and `;` collapse into one separator token, and separators right after `{` or right
// before `}` (and at the start and end of the file) are dropped, so the grammar can say
// `{ [stmt (Sep stmt)*] }` with no special cases.
import type { IToken, TokenType } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";
import type { Span } from "./ast.js";

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

function keyword(word: string): TokenType {
  return createToken({ name: `Kw_${word}`, pattern: new RegExp(`${word}(?![A-Za-z0-9_])`), longer_alt: Identifier });
}

export const Model = keyword("model");
export const Block = keyword("block");
export const Train = keyword("train");
export const Input = keyword("input");
export const For = keyword("for");
export const In = keyword("in");
export const Repeat = keyword("repeat");
export const Sweep = keyword("sweep");
export const True = keyword("true");
export const False = keyword("false");

export const KEYWORDS = ["model", "block", "train", "input", "for", "in", "repeat", "sweep", "true", "false"];

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\f\v\uFEFF\u00A0]+/, group: Lexer.SKIPPED });
export const Newline = createToken({ name: "Newline", pattern: /\r\n|\r|\n/, line_breaks: true });
export const Comment = createToken({ name: "Comment", pattern: /#[^\r\n]*/, group: "comments" });
export const NumberTok = createToken({
  name: "Number",
  pattern: /(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_0-9.])/,
});
/** A number glued to letters or a second dot (`3x`, `1.2.3`): lexed whole so it gets one clear error. */
export const BadNumber = createToken({ name: "BadNumber", pattern: /(?:\d+(?:\.\d+)?|\.\d+)[A-Za-z0-9_.]+/ });
export const StringTok = createToken({ name: "String", pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"/ });
export const UnterminatedString = createToken({ name: "UnterminatedString", pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/ });
export const Arrow = createToken({ name: "Arrow", pattern: /->/ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /]/ });
export const LCurly = createToken({ name: "LCurly", pattern: /{/ });
/** `{` that opens an object `{ key: value }`: the layout pass retags such braces. */
export const ObjectOpen = createToken({ name: "ObjectOpen", pattern: Lexer.NA });
export const RCurly = createToken({ name: "RCurly", pattern: /}/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const Semicolon = createToken({ name: "Semicolon", pattern: /;/ });
export const Equals = createToken({ name: "Equals", pattern: /=/ });
export const Plus = createToken({ name: "Plus", pattern: /\+/ });
export const Minus = createToken({ name: "Minus", pattern: /-/ });
export const Star = createToken({ name: "Star", pattern: /\*/ });
export const Slash = createToken({ name: "Slash", pattern: /\// });
/** Made by the layout pass from line breaks and `;`; never matched by the lexer itself. */
export const Sep = createToken({ name: "Sep", pattern: Lexer.NA });

export const allTokens: TokenType[] = [
  WhiteSpace,
  Newline,
  Comment,
  NumberTok,
  BadNumber,
  StringTok,
  UnterminatedString,
  Arrow,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LCurly,
  RCurly,
  Comma,
  Colon,
  Semicolon,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Model,
  Block,
  Train,
  Input,
  For,
  In,
  Repeat,
  Sweep,
  True,
  False,
  Identifier,
  Sep,
  ObjectOpen,
];

/** How each token is named in messages: the user's words, never chevrotain's token names. */
export const TOKEN_WORDS: Record<string, string> = {
  Identifier: "a name",
  Number: "a number",
  BadNumber: "a number",
  String: "a string",
  UnterminatedString: "a string",
  Arrow: "`->`",
  LParen: "`(`",
  RParen: "`)`",
  LBracket: "`[`",
  RBracket: "`]`",
  LCurly: "`{`",
  ObjectOpen: "`{`",
  RCurly: "`}`",
  Comma: "`,`",
  Colon: "`:`",
  Semicolon: "`;`",
  Equals: "`=`",
  Plus: "`+`",
  Minus: "`-`",
  Star: "`*`",
  Slash: "`/`",
  Sep: "a new line",
  Newline: "a new line",
  EOF: "the end of the file",
};
for (const k of KEYWORDS) TOKEN_WORDS[`Kw_${k}`] = `\`${k}\``;

export function tokenWords(t: TokenType | string): string {
  const name = typeof t === "string" ? t : t.name;
  return TOKEN_WORDS[name] ?? name;
}

// "onlyStart": a token keeps where it starts; where it ends follows from its length, since no
// kept token spans lines (see tokenSpan). Tokens are then half the size ("full" adds end
// lines and columns), and a 1,000-line file makes ten thousand of them.
export const nnLexer = new Lexer(allTokens, {
  positionTracking: "onlyStart",
  ensureOptimizations: false,
  recoveryEnabled: true,
});

export interface LexIssue {
  code: string;
  message: string;
  hint?: string;
  span: Span;
}

export interface LexResult {
  /** Significant tokens for the parser, with line breaks already turned into `Sep` tokens. */
  tokens: IToken[];
  comments: IToken[];
  issues: LexIssue[];
}

export function tokenSpan(t: IToken): Span {
  const startLine = t.startLine ?? 1;
  const startColumn = t.startColumn ?? 1;
  return {
    startOffset: t.startOffset,
    endOffset: lastOffsetOf(t) + 1,
    startLine,
    startColumn,
    endLine: endLineOf(t),
    endColumn: lastColumnOf(t) + 1,
  };
}

/** The offset of a token's last character (the lexer records starts only; see tokenSpan). */
export function lastOffsetOf(t: IToken): number {
  return t.endOffset ?? t.startOffset + t.image.length - 1;
}

// Tokens never span lines except line breaks, which are not kept: a token ends on the line it
// starts on, its length after its first column.

/** The line a token ends on (the lexer records starts only; see tokenSpan). */
export function endLineOf(t: IToken): number {
  return t.endLine ?? t.startLine ?? 1;
}

/** The column of a token's last character. */
export function lastColumnOf(t: IToken): number {
  return t.endColumn ?? (t.startColumn ?? 1) + (lastOffsetOf(t) - t.startOffset);
}

const OPENERS = new Set(["LParen", "LBracket", "LCurly", "ObjectOpen"]);
const CLOSERS: Record<string, string> = { RParen: "LParen", RBracket: "LBracket", RCurly: "LCurly" };
/** A line break after one of these continues the statement. */
const CONTINUES_AFTER = new Set(["Arrow", "Equals", "Comma", "Colon", "Plus", "Minus", "Star", "Slash"]);
/** A line break before one of these continues the statement inside brackets. */
const CONTINUES_BEFORE = new Set(["RParen", "RBracket", "RCurly", "Comma", "Colon", "Arrow", "Equals", "Plus", "Minus", "Star", "Slash"]);
const DECL_KEYWORDS = new Set(["Kw_model", "Kw_block", "Kw_train"]);
const STMT_KEYWORDS = new Set(["Kw_input", "Kw_for", "Kw_repeat", "Kw_sweep"]);

/** A separator in place of a line break or `;` (the fields of the lexer's own tokens, in their order). */
function makeSep(from: IToken): IToken {
  return {
    image: from.image,
    startOffset: from.startOffset,
    startLine: from.startLine,
    startColumn: from.startColumn,
    tokenTypeIdx: Sep.tokenTypeIdx!,
    tokenType: Sep,
  };
}

export function lex(text: string): LexResult {
  const result = nnLexer.tokenize(text);
  const issues: LexIssue[] = [];
  for (const e of result.errors) {
    const ch = text.slice(e.offset, e.offset + e.length);
    const shown = ch.length > 20 ? `${ch.slice(0, 20)}...` : ch;
    const printable = /^[\x20-\x7e]+$/.test(shown) ? `\`${shown}\`` : `character${ch.length > 1 ? "s" : ""} ${describeChars(shown)}`;
    const span: Span = {
      startOffset: e.offset,
      endOffset: e.offset + e.length,
      startLine: e.line ?? 1,
      startColumn: e.column ?? 1,
      endLine: e.line ?? 1,
      endColumn: (e.column ?? 1) + e.length,
    };
    // Unexpected characters never span lines: the lexer resumes at any line break.
    issues.push({ code: "E100", message: `unexpected ${printable}`, hint: hintForChars(ch), span });
  }
  const raw = result.tokens;
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i]!; // (an indexed loop: this function runs once a file, often not optimized, and for-of then allocates a result per token)
    if (t.tokenType === UnterminatedString) {
      issues.push({
        code: "E101",
        message: "this string is not closed",
        hint: 'add a `"` before the end of the line',
        span: tokenSpan(t),
      });
    } else if (t.tokenType === NumberTok && !Number.isFinite(Number(t.image))) {
      issues.push({ code: "E103", message: `\`${t.image}\` is too large a number`, span: tokenSpan(t) });
    } else if (t.tokenType === BadNumber) {
      issues.push({ code: "E103", message: `\`${t.image}\` is not a number`, hint: "numbers look like `10`, `0.5` or `1e-4`", span: tokenSpan(t) });
    } else if (t.tokenType === StringTok) {
      const bad = /\\([^nrt"\\0u'])/.exec(t.image);
      if (bad) {
        const off = t.startOffset + bad.index;
        const span = tokenSpan(t);
        issues.push({
          code: "E102",
          message: `unknown escape \`\\${bad[1]}\` in a string`,
          hint: "escapes are `\\n`, `\\t`, `\\r`, `\\\\`, `\\\"`, `\\0` and `\\uXXXX`",
          span: { ...span, startOffset: off, endOffset: off + 2, startColumn: span.startColumn + bad.index, endColumn: span.startColumn + bad.index + 2 },
        });
      }
    }
  }
  return { tokens: layout(raw), comments: result.groups.comments ?? [], issues };
}

function describeChars(s: string): string {
  return [...s]
    .slice(0, 4)
    .map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`)
    .join(" ");
}

function hintForChars(ch: string): string | undefined {
  if (ch.startsWith("'")) return 'strings use double quotes: "like this"';
  if (ch.startsWith("//")) return "comments start with `#`";
  if (ch.startsWith("\u2192")) return "chains are written with `->`";
  if (/^[\u201c\u201d]/.test(ch)) return 'use plain double quotes `"`';
  return undefined;
}

// What the layout pass needs to know of each token type, as bits in a table indexed by
// tokenTypeIdx (one array read per token instead of several lookups by name).
const F_NEWLINE = 1, F_SEMI = 2, F_OPENER = 4, F_CLOSER = 8, F_CONT_AFTER = 16, F_DECL_KW = 32, F_STMT_KW = 64, F_LCURLY = 128;
const FLAGS = new Uint8Array(Math.max(...allTokens.map((t) => t.tokenTypeIdx!)) + 1);
for (const t of allTokens) {
  const name = t.name;
  let f = 0;
  if (name === "Newline") f |= F_NEWLINE;
  if (name === "Semicolon") f |= F_SEMI;
  if (OPENERS.has(name)) f |= F_OPENER;
  if (name in CLOSERS) f |= F_CLOSER;
  if (CONTINUES_AFTER.has(name)) f |= F_CONT_AFTER;
  if (DECL_KEYWORDS.has(name)) f |= F_DECL_KW;
  if (STMT_KEYWORDS.has(name)) f |= F_STMT_KW;
  if (name === "LCurly") f |= F_LCURLY;
  FLAGS[t.tokenTypeIdx!] = f;
}

/** Turns line breaks and `;` into `Sep` tokens where they end a statement, and drops the rest. */
function layout(raw: IToken[]): IToken[] {
  // Stack of open brackets: "LParen" | "LBracket" | "object" | "block".
  const stack: string[] = [];
  // At most one token out per token in: sized once and trimmed at the end (growing it by push()
  // would copy it a dozen times over for a long file).
  const out: IToken[] = new Array<IToken>(raw.length);
  let n = 0;
  let pendingSep: IToken | null = null;
  const significantNewlines = () => stack.length === 0 || stack[stack.length - 1] === "block";

  for (let i = 0; i < raw.length; i++) {
    const t = raw[i]!;
    const f = FLAGS[t.tokenTypeIdx]!;
    if (f & (F_NEWLINE | F_SEMI)) {
      const prev = n > 0 ? out[n - 1] : undefined;
      if (f & F_NEWLINE) {
        if (prev && FLAGS[prev.tokenTypeIdx]! & F_CONT_AFTER) continue;
        if (!significantNewlines()) {
          // Inside brackets a line break continues the statement when the line ends with an
          // opening bracket, `,`, `:` or an operator, or the next line starts with a closing
          // bracket, `,`, `:`, `->` or an operator. Otherwise a bracket was left open: close
          // it here, so the error is reported on this line and the next line parses on its own.
          const next = nextSignificant(raw, i);
          if (!prev || FLAGS[prev.tokenTypeIdx]! & F_OPENER || !next || CONTINUES_BEFORE.has(next.tokenType.name)) continue;
          while (stack.length > 0 && stack[stack.length - 1] !== "block") stack.pop();
        }
      }
      if (!pendingSep) pendingSep = t;
      continue;
    }
    if (f & F_DECL_KW) stack.length = 0;
    else if (f & F_STMT_KW) {
      while (stack.length > 0 && stack[stack.length - 1] !== "block") stack.pop();
    }
    if (pendingSep) {
      const prev = n > 0 ? out[n - 1] : undefined;
      const dropped = !prev || prev.tokenType === LCurly || t.tokenType === RCurly || (t.tokenType === Arrow && pendingSep.tokenType === Newline);
      if (!dropped) out[n++] = makeSep(pendingSep);
      pendingSep = null;
    }
    if (f & F_OPENER) {
      if (f & F_LCURLY && isObjectBrace(raw, i, stack, n > 0 ? out[n - 1] : undefined, n > 1 ? out[n - 2] : undefined)) {
        stack.push("object");
        out[n++] = retag(t, ObjectOpen);
        continue;
      }
      stack.push(f & F_LCURLY ? "block" : t.tokenType.name);
    } else if (f & F_CLOSER) {
      const want = CLOSERS[t.tokenType.name]!;
      const idx = findOpener(stack, want);
      if (idx >= 0) stack.length = idx;
    }
    out[n++] = t;
  }
  out.length = n;
  return out;
}

function nextSignificant(raw: IToken[], i: number): IToken | undefined {
  for (let j = i + 1; j < raw.length; j++) {
    const n = raw[j]!.tokenType.name;
    if (n !== "Newline") return raw[j];
  }
  return undefined;
}

function findOpener(stack: string[], want: string): number {
  for (let i = stack.length - 1; i >= 0; i--) {
    const s = stack[i]!;
    const kind = s === "object" || s === "block" ? "LCurly" : s;
    if (kind === want) return i;
  }
  return -1;
}

/**
 * `{` opens an object inside brackets or an object. Among statements it opens an object only as
 * a setting's value (`augment { rotation: 30 }`: after a name that follows no keyword) and when
 * followed by `key:`; otherwise it opens a body (after `model m`, `train m`, `for x in xs`, ...).
 */
/** Whether the `{` at raw[i] opens an object; `prev` and `prev2` are the last two tokens kept. */
function isObjectBrace(raw: IToken[], i: number, stack: string[], prev: IToken | undefined, prev2: IToken | undefined): boolean {
  const top = stack[stack.length - 1];
  if (top !== undefined && top !== "block") return true;
  if (!prev || prev.tokenType.name !== "Identifier" || (prev2 && prev2.tokenType.name.startsWith("Kw_"))) return false;
  let j = i + 1;
  while (j < raw.length && raw[j]!.tokenType.name === "Newline") j++;
  const a = raw[j];
  const b = raw[j + 1];
  if (!a || !b) return false;
  const keyLike = a.tokenType.name === "Identifier" || a.tokenType.name === "String";
  return keyLike && b.tokenType.name === "Colon";
}

function retag(t: IToken, type: TokenType): IToken {
  return { ...t, tokenType: type, tokenTypeIdx: type.tokenTypeIdx! };
}
