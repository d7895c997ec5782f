// Syntax error messages in the language's own words. chevrotain calls this provider when it
// records an error; the result is a small JSON record `{code, message, hint?}` that
// src/parser/index.ts turns into a Diagnostic at the offending token.
//
// Codes (stable):
//   E100 unexpected character            E101 unclosed string        E102 unknown string escape
//   E103 malformed or too large number   E104 nothing declared (empty file)
//   E110 not a declaration at top level  E111 missing closing bracket
//   E112 a name is expected              E113 missing line break between statements
//   E114 a value is expected             E115 a statement is expected
//   E116 a keyword used as a name        E117 a train setting is expected
//   E118 other missing punctuation       E119 too many syntax errors (rest not reported)
import type { IParserErrorMessageProvider, IToken } from "chevrotain";
import { EOF } from "./chevrotain.js";
import { endLineOf, tokenWords } from "./lexer.js";
import { suggest } from "./suggest.js";

export interface SyntaxMessage {
  code: string;
  message: string;
  hint?: string;
}

function encode(m: SyntaxMessage): string {
  return JSON.stringify(m);
}

export function decodeMessage(s: string): SyntaxMessage {
  try {
    const m = JSON.parse(s) as SyntaxMessage;
    if (typeof m.code === "string" && typeof m.message === "string") return m;
  } catch {
    // fall through
  }
  return { code: "E118", message: "syntax error" };
}

/** How a token that was found is shown: `relu`, `10`, a new line, the end of the file. */
export function found(tok: IToken | undefined): string {
  if (!tok || tok.tokenType === EOF) return "the end of the file";
  const name = tok.tokenType.name;
  if (name === "Sep") return tok.image === ";" ? "`;`" : "the end of the line";
  const image = tok.image.length > 30 ? `${tok.image.slice(0, 30)}...` : tok.image;
  return `\`${image}\``;
}

const CLOSER_NAMES = new Set(["RParen", "RBracket", "RCurly"]);
const STARTS_VALUE = new Set(["Identifier", "Number", "String", "LBracket", "LCurly", "ObjectOpen", "LParen", "Kw_true", "Kw_false", "Minus"]);
const DECL_WORDS = ["model", "block", "train"];
const STMT_WORDS = ["input", "for", "repeat", "sweep"];

function isKeyword(tok: IToken | undefined): boolean {
  return !!tok && tok.tokenType.name.startsWith("Kw_");
}

const RULE_WHAT: Record<string, string> = {
  modelDecl: "the model's name",
  blockDecl: "the block's name",
  trainDecl: "the name of the model to train",
  param: "a parameter name",
  forStmt: "the loop variable",
  sweepStmt: "the model parameter to sweep",
  inputStmt: "the input's shape, like `image(28, 28, 1)`",
  chainStmt: "a layer",
  step: "a layer",
  arg: "an argument",
  entry: "a key",
};

export const nnErrorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous: consumed, ruleName }) {
    const previous = prevOf(actual, consumed);
    const want = expected.name;
    const got = found(actual);
    if (CLOSER_NAMES.has(want)) {
      const atStatementStart = !previous || previous.tokenType.name === "LCurly" || previous.tokenType.name === "Sep";
      if (ruleName === "params" && isKeyword(actual)) {
        return encode({
          code: "E116",
          message: `\`${actual.image}\` is a keyword and cannot be used as a name`,
          hint: `pick another parameter name, e.g. \`${actual.image}_\``,
        });
      }
      if (ruleName === "body" && want === "RCurly" && actual.tokenType !== EOF && atStatementStart) {
        return encode({ code: "E115", message: `expected a layer, \`input\`, \`for\` or \`repeat\`, found ${got}`, hint: declHint(actual) });
      }
      if (ruleName === "trainDecl" && want === "RCurly" && actual.tokenType !== EOF && atStatementStart) {
        return encode({ code: "E117", message: `expected a setting such as \`epochs 10\` or a \`sweep\`, found ${got}`, hint: declHint(actual) });
      }
      if ((ruleName === "body" || ruleName === "trainDecl") && want === "RCurly" && actual.tokenType !== EOF) {
        return encode(missingSeparator(actual, previous));
      }
      if (actual.tokenType.name === "Equals" && previous && previous.tokenType.name === "Identifier" && ruleName === "callArgs") {
        return encode({
          code: "E111",
          message: `expected ${tokenWords(expected)}, found ${got}`,
          hint: `named arguments are written with \`:\`: \`${previous.image}: ...\``,
        });
      }
      const hint =
        actual.tokenType.name === "Comma" && previous && ["Comma", "LParen", "LBracket", "ObjectOpen"].includes(previous.tokenType.name)
          ? "remove the extra `,`"
          : STARTS_VALUE.has(actual.tokenType.name) && previous && previous.tokenType.name !== "Comma" && actual.startLine === endLineOf(previous)
          ? "separate items with `,`"
          : actual.tokenType === EOF || actual.tokenType.name === "Sep"
            ? `add the missing ${tokenWords(expected)}`
            : undefined;
      return encode({ code: "E111", message: `expected ${tokenWords(expected)}, found ${got}`, hint });
    }
    if (want === "Identifier") {
      const what = RULE_WHAT[ruleName] ?? "a name";
      if (ruleName === "inputStmt" && actual.tokenType.name === "Equals") {
        return encode({
          code: "E116",
          message: "`input` is a keyword and cannot be used as a tensor name",
          hint: "pick another name, e.g. `inputs`; an input is declared like `input x: image(28, 28, 1)`",
        });
      }
      if (actual.tokenType.name === "Kw_input" && ruleName === "step") {
        return encode({
          code: "E116",
          message: "`input` is a keyword and cannot be used as a layer",
          hint: "a named input is declared like `input x: image(28, 28, 1)`",
        });
      }
      if (isKeyword(actual)) {
        return encode({
          code: "E116",
          message: `\`${actual.image}\` is a keyword and cannot be used as a name`,
          hint: `expected ${what} here; pick another name, e.g. \`${actual.image}_\``,
        });
      }
      return encode({ code: "E112", message: `expected ${what}, found ${got}` });
    }
    if (want === "EOF") return encode(topLevelMessage(actual));
    if (want === "Sep") return encode(missingSeparator(actual, previous));
    if (want === "LCurly") {
      const what =
        ruleName === "trainDecl" ? "the train section" : ruleName === "forStmt" || ruleName === "repeatStmt" ? "the loop body" : "the body";
      return encode({ code: "E118", message: `expected \`{\` to start ${what}, found ${got}` });
    }
    if (want === "LParen" && ruleName === "callArgs") {
      return encode({
        code: "E118",
        message: `expected \`(\` after the shape name, found ${got}`,
        hint: "an input is declared like `input image(28, 28, 1)`",
      });
    }
    if (want === "Kw_in") {
      return encode({ code: "E118", message: `expected \`in\`, found ${got}`, hint: ruleName === "sweepStmt" ? "write `sweep NAME in [values]`" : "write `for NAME in [values] { ... }`" });
    }
    if (want === "Colon") {
      return encode({ code: "E118", message: `expected \`:\` after the key, found ${got}`, hint: "object entries are written `key: value`" });
    }
    return encode({ code: "E118", message: `expected ${tokenWords(expected)}, found ${got}` });
  },

  buildNotAllInputParsedMessage({ firstRedundant }) {
    return encode(topLevelMessage(firstRedundant));
  },

  buildNoViableAltMessage({ actual, previous: consumed, ruleName }) {
    const tok = actual[0];
    const previous = tok ? prevOf(tok, consumed) : consumed;
    const got = found(tok);
    if (ruleName === "stmt") {
      return encode({
        code: "E115",
        message: `expected a layer, \`input\`, \`for\` or \`repeat\`, found ${got}`,
        hint: isKeyword(tok) && tok && DECL_WORDS.includes(tok.image) ? "is a `}` missing before this line?" : undefined,
      });
    }
    if (ruleName === "trainStmt") {
      return encode({
        code: "E117",
        message: `expected a setting such as \`epochs 10\` or a \`sweep\`, found ${got}`,
        hint: isKeyword(tok) && tok && DECL_WORDS.includes(tok.image) ? "is a `}` missing before this line?" : undefined,
      });
    }
    if (ruleName === "decl") return encode(topLevelMessage(tok));
    // primary / entry: a value is missing.
    if (ruleName === "entry") return encode({ code: "E112", message: `expected a key, found ${got}`, hint: "object entries are written `key: value`" });
    let hint: string | undefined;
    if (!tok || tok.tokenType === EOF || tok.tokenType.name === "Sep" || (tok.tokenType.name === "RCurly" && ruleName === "primary" && previous && endLineOf(previous) < tok.startLine!)) {
      hint = previous && previous.tokenType.name === "Identifier" ? `give \`${previous.image}\` a value, e.g. \`${previous.image} 10\`` : "the value is missing";
    } else if (tok.tokenType.name === "Comma" && previous && (previous.tokenType.name === "Comma" || previous.tokenType.name === "LParen" || previous.tokenType.name === "LBracket")) {
      hint = "remove the extra `,`";
    } else if ((tok.tokenType.name === "Colon" || tok.tokenType.name === "Equals") && previous && previous.tokenType.name === "Identifier") {
      hint = `a setting is its name and its value, with no \`${tok.image}\`: \`${previous.image} ...\``;
    } else if (tok.tokenType.name === "LCurly" && previous && (previous.image === "repeat" || previous.image === "in")) {
      hint = previous.image === "repeat" ? "give the number of repetitions: `repeat 3 { ... }`" : "give the values to loop over: `for x in [1, 2] { ... }`";
    } else if (isKeyword(tok)) {
      hint = `\`${tok.image}\` is a keyword`;
    }
    return encode({ code: "E114", message: `expected a value, found ${got}`, hint });
  },

  buildEarlyExitMessage({ actual, ruleName }) {
    return encode({ code: "E118", message: `unexpected ${found(actual[0])} in ${ruleName}` });
  },
};

/** The tokens being parsed (set by parser.ts), to find the one before an error reliably. */
let current: IToken[] = [];

export function setCurrentTokens(tokens: IToken[]): void {
  current = tokens;
}

/**
 * The token just before `t`. (chevrotain's `previous` is the last token consumed, which after
 * re-sync recovery can lie past `t`.)
 */
function tokenBefore(t: IToken): IToken | undefined {
  let lo = 0;
  let hi = current.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (current[mid]!.startOffset < t.startOffset) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? current[lo - 1] : undefined;
}

/** The token before `actual` in the input; chevrotain's own guess when `actual` is the end of the file. */
function prevOf(actual: IToken, consumed: IToken | undefined): IToken | undefined {
  return actual.tokenType !== EOF && Number.isFinite(actual.startOffset) ? tokenBefore(actual) : consumed;
}

/** E113: two statements on one line, or a misspelt keyword read as a layer name. */
function missingSeparator(actual: IToken, previous: IToken | undefined): SyntaxMessage {
  const message = `expected a new line or \`;\` before ${found(actual)}`;
  if (actual.tokenType.name === "Slash") return { code: "E113", message, hint: "comments start with `#`" };
  // `repaet 3 {`, `fro x in ...`: a misspelt keyword reads as a layer (or setting) name.
  const misspelt = previous && previous.tokenType.name === "Identifier" ? suggest(previous.image, STMT_WORDS) : undefined;
  if (misspelt) return { code: "E113", message, hint: `did you mean \`${misspelt}\`?` };
  if (actual.tokenType.name === "Comma") return { code: "E113", message, hint: "a statement ends at the end of its line; remove the `,`" };
  // `dense 10`, but not `flatten relu` (two layers on a line).
  if (previous && previous.tokenType.name === "Identifier" && ["Number", "String", "LBracket", "Minus"].includes(actual.tokenType.name)) {
    const arg = actual.image.length <= 12 ? actual.image : "...";
    return { code: "E113", message, hint: `arguments go in parentheses: \`${previous.image}(${arg})\`` };
  }
  return { code: "E113", message, hint: "put each statement on its own line" };
}

function declHint(tok: IToken | undefined): string | undefined {
  return isKeyword(tok) && tok && DECL_WORDS.includes(tok.image)
    ? `declarations cannot be nested; is a \`}\` missing before this \`${tok.image}\`?`
    : undefined;
}

export function topLevelMessage(tok: IToken | undefined): SyntaxMessage {
  const got = found(tok);
  let hint: string | undefined;
  if (tok && tok.tokenType.name === "Identifier") {
    const s = suggest(tok.image, DECL_WORDS);
    hint = s ? `did you mean \`${s}\`?` : "layers and settings go inside a `model { ... }` or `train NAME { ... }` body";
  } else if (tok && tok.tokenType.name === "RCurly") {
    hint = "this `}` has no matching `{`";
  }
  return { code: "E110", message: `expected \`model\`, \`block\` or \`train\`, found ${got}`, hint };
}

