// The .nn grammar: a chevrotain CstParser with no semantic actions. The CST it produces is
// turned into the typed AST by build-ast.ts. Error recovery is on, so one file yields all its
// syntax errors; messages come from errors.ts, in the language's own words.
//
// fast-parser.ts holds the same rules as an EmbeddedActionsParser (no CST, no recovery) for files
// with no syntax error: a change to a rule here goes into that file too (test/parser/fast-parser.test.ts
// compares the two).
//
// Statement separators (`Sep`) are made by the layout pass in lexer.ts from line breaks and `;`.
import type { CstNode, IRecognitionException, IToken } from "chevrotain";
import { CstParser } from "./chevrotain.js";
import * as T from "./lexer.js";
import { nnErrorMessages, setCurrentTokens } from "./errors.js";

/**
 * Past this many syntax errors the parser skips to the end of the input: parse() shows at most
 * MAX_ERRORS (50) anyway, and chevrotain's recovery copies the error list at every attempt, so
 * a file of noise (thousands of errors) would otherwise take time quadratic in its length.
 */
export const MAX_PARSE_ERRORS = 120;

export class NnParser extends CstParser {
  /** chevrotain's SAVE_ERROR, with the skip to the end past MAX_PARSE_ERRORS. */
  SAVE_ERROR(error: IRecognitionException): IRecognitionException {
    const base = (CstParser.prototype as unknown as { SAVE_ERROR(e: IRecognitionException): IRecognitionException }).SAVE_ERROR;
    const saved = base.call(this, error);
    const self = this as unknown as { _errors: unknown[]; currIdx: number; tokVectorLength: number };
    if (self._errors.length > MAX_PARSE_ERRORS) self.currIdx = self.tokVectorLength - 1;
    return saved;
  }

  constructor() {
    super(T.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      errorMessageProvider: nnErrorMessages,
      // No CST node locations: tracking them was most of the parse time; build-ast.ts takes
      // every span from the tokens instead.
      nodeLocationTracking: "none",
    });
    this.performSelfAnalysis();
  }

  // The alternatives of each OR, built once: chevrotain's performance advice, as an inline array
  // literal allocates its objects and closures on every call of the rule.
  private readonly programAlts = [
    { ALT: () => this.SUBRULE(this.decl) },
    { ALT: () => this.CONSUME(T.Sep) },
  ];
  private readonly declAlts = [
    { ALT: () => this.SUBRULE(this.modelDecl) },
    { ALT: () => this.SUBRULE(this.blockDecl) },
    { ALT: () => this.SUBRULE(this.trainDecl) },
  ];
  private readonly stmtAlts = [
    { ALT: () => this.SUBRULE(this.inputStmt) },
    { ALT: () => this.SUBRULE(this.forStmt) },
    { ALT: () => this.SUBRULE(this.repeatStmt) },
    { ALT: () => this.SUBRULE(this.chainStmt) },
  ];
  private readonly trainStmtAlts = [
    { ALT: () => this.SUBRULE(this.sweepStmt) },
    { ALT: () => this.SUBRULE(this.settingStmt) },
  ];
  private readonly binaryOps = [
    { ALT: () => this.CONSUME(T.Plus) },
    { ALT: () => this.CONSUME(T.Minus) },
    { ALT: () => this.CONSUME(T.Star) },
    { ALT: () => this.CONSUME(T.Slash) },
  ];
  private readonly primaryAlts = [
    {
      ALT: () => {
        this.CONSUME(T.Minus);
        this.SUBRULE(this.primary);
      },
    },
    { ALT: () => this.CONSUME(T.NumberTok) },
    { ALT: () => this.CONSUME(T.BadNumber) },
    { ALT: () => this.CONSUME(T.StringTok) },
    { ALT: () => this.CONSUME(T.UnterminatedString) },
    { ALT: () => this.CONSUME(T.True) },
    { ALT: () => this.CONSUME(T.False) },
    {
      ALT: () => {
        this.CONSUME(T.Identifier);
        this.OPTION(() => this.SUBRULE(this.callArgs));
      },
    },
    { ALT: () => this.SUBRULE(this.list) },
    { ALT: () => this.SUBRULE(this.object) },
    {
      ALT: () => {
        this.CONSUME(T.LParen);
        this.SUBRULE(this.expr);
        this.CONSUME(T.RParen);
      },
    },
  ];
  private readonly entryKeyAlts = [
    { ALT: () => this.CONSUME(T.Identifier) },
    { ALT: () => this.CONSUME(T.StringTok) },
  ];

  // program := (decl | Sep)*
  // Text outside any declaration stops this rule; src/parser/index.ts reports it (E110) and
  // parses again from the next `model`, `block` or `train`.
  program = this.RULE("program", () => {
    this.MANY(() => this.OR(this.programAlts));
  });

  // decl := modelDecl | blockDecl | trainDecl
  decl = this.RULE("decl", () => {
    this.OR(this.declAlts);
  });

  // modelDecl := "model" NAME [params] body
  modelDecl = this.RULE("modelDecl", () => {
    this.CONSUME(T.Model);
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.SUBRULE(this.params));
    this.SUBRULE(this.body);
  });

  // blockDecl := "block" NAME [params] body
  blockDecl = this.RULE("blockDecl", () => {
    this.CONSUME(T.Block);
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.SUBRULE(this.params));
    this.SUBRULE(this.body);
  });

  // params := "(" [param ("," param)* [","]] ")"
  params = this.RULE("params", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.param);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.param);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
  });

  // param := NAME ["=" expr]
  param = this.RULE("param", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.SUBRULE(this.expr);
    });
  });

  // body := "{" [stmt (Sep stmt)*] "}"
  body = this.RULE("body", () => {
    this.CONSUME(T.LCurly);
    this.OPTION(() => {
      this.SUBRULE(this.stmt);
      this.MANY(() => {
        this.CONSUME(T.Sep);
        this.SUBRULE2(this.stmt);
      });
    });
    this.CONSUME(T.RCurly);
  });

  // stmt := inputStmt | forStmt | repeatStmt | chainStmt
  stmt = this.RULE("stmt", () => {
    this.OR(this.stmtAlts);
  });

  // inputStmt := "input" [NAME ":"] NAME callArgs
  inputStmt = this.RULE("inputStmt", () => {
    this.CONSUME(T.Input);
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: "name" });
      this.CONSUME(T.Colon);
    });
    this.CONSUME2(T.Identifier, { LABEL: "shape" });
    this.SUBRULE(this.callArgs);
  });

  // forStmt := "for" NAME "in" expr body
  forStmt = this.RULE("forStmt", () => {
    this.CONSUME(T.For);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.In);
    this.SUBRULE(this.expr);
    this.SUBRULE(this.body);
  });

  // repeatStmt := "repeat" expr body
  repeatStmt = this.RULE("repeatStmt", () => {
    this.CONSUME(T.Repeat);
    this.SUBRULE(this.expr);
    this.SUBRULE(this.body);
  });

  // chainStmt := [NAME "="] step ("->" step)*
  chainStmt = this.RULE("chainStmt", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: "target" });
      this.CONSUME(T.Equals);
    });
    this.SUBRULE(this.step);
    this.MANY(() => {
      this.CONSUME(T.Arrow);
      this.SUBRULE2(this.step);
    });
  });

  // step := NAME [callArgs]
  step = this.RULE("step", () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => this.SUBRULE(this.callArgs));
  });

  // callArgs := "(" [arg ("," arg)* [","]] ")"
  callArgs = this.RULE("callArgs", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.arg);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.arg);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
  });

  // arg := [NAME ":"] expr
  arg = this.RULE("arg", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier);
      this.CONSUME(T.Colon);
    });
    this.SUBRULE(this.expr);
  });

  // trainDecl := "train" NAME "{" [trainStmt (Sep trainStmt)*] "}"
  trainDecl = this.RULE("trainDecl", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LCurly);
    this.OPTION(() => {
      this.SUBRULE(this.trainStmt);
      this.MANY(() => {
        this.CONSUME(T.Sep);
        this.SUBRULE2(this.trainStmt);
      });
    });
    this.CONSUME(T.RCurly);
  });

  // trainStmt := sweepStmt | settingStmt
  trainStmt = this.RULE("trainStmt", () => {
    this.OR(this.trainStmtAlts);
  });

  // sweepStmt := "sweep" NAME "in" expr
  sweepStmt = this.RULE("sweepStmt", () => {
    this.CONSUME(T.Sweep);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.In);
    this.SUBRULE(this.expr);
  });

  // settingStmt := NAME expr
  settingStmt = this.RULE("settingStmt", () => {
    this.CONSUME(T.Identifier);
    this.SUBRULE(this.expr);
  });

  // expr := primary (("+" | "-" | "*" | "/") primary)*
  // (one flat rule; build-ast.ts applies the precedence: `*` and `/` before `+` and `-`, each
  // left to right. Fewer CST levels per operand: most expressions are a single value.)
  expr = this.RULE("expr", () => {
    this.SUBRULE(this.primary);
    this.MANY(() => {
      this.OR(this.binaryOps);
      this.SUBRULE2(this.primary);
    });
  });

  // primary := "-" primary | NUMBER | STRING | "true" | "false" | NAME [callArgs] | list | object | "(" expr ")"
  primary = this.RULE("primary", () => {
    this.OR(this.primaryAlts);
  });

  // list := "[" [expr ("," expr)* [","]] "]"
  list = this.RULE("list", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expr);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expr);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  // object := "{" [entry ("," entry)* [","]] "}"
  // (the layout pass in lexer.ts tells an object's `{` from a body's)
  object = this.RULE("object", () => {
    this.CONSUME(T.ObjectOpen);
    this.OPTION(() => {
      this.SUBRULE(this.entry);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.entry);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RCurly);
  });

  // entry := (NAME | STRING) ":" expr
  entry = this.RULE("entry", () => {
    this.OR(this.entryKeyAlts);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.expr);
  });
}

let shared: NnParser | null = null;

/** One parser instance, reused (chevrotain parsers are built once and reset per input). */
export function parserInstance(): NnParser {
  if (!shared) shared = new NnParser();
  return shared;
}

export function parseTokens(tokens: IToken[]): {
  cst: CstNode;
  parser: NnParser;
} {
  const parser = parserInstance();
  setCurrentTokens(tokens);
  parser.input = tokens;
  const cst = parser.program();
  return { cst, parser };
}
