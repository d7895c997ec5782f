// The fast path of parse(): the grammar of parser.ts once more, as a chevrotain
// EmbeddedActionsParser that builds the typed AST directly, with error recovery off.
//
// A file with no syntax error (what an editor checks most of the time) needs neither the CST nor
// the recovery machinery: this parser makes no CST, so it allocates about a quarter less and
// leaves less for the garbage collector. At the first syntax error it stops, and parse() parses
// the file again with NnParser (recovery on) and AstBuilder, which report every error; that path
// alone defines what a broken file yields.
//
// The two must build the same AST for every valid file: test/parser/fast-parser.test.ts compares
// them (spans included) on every example, every golden file and generated programs. A change to
// the grammar goes into both parser.ts and this file, rule for rule, in the same order.
import type { IToken } from "chevrotain";
import type { Arg, Decl, Expr, ObjectEntry, Param, Step, Stmt, TrainStmt } from "./ast.js";
import { EmbeddedActionsParser } from "./chevrotain.js";
import * as T from "./lexer.js";
import { lastOffsetOf, tokenSpan } from "./lexer.js";
import { foldBinary, joinSpans, tokensSpan, unquote } from "./build-ast.js";

/** What a rule returns while chevrotain records the grammar (its value is never used). */
const RECORDING = undefined as never;

export class NnFastParser extends EmbeddedActionsParser {
  override reset(): void {
    super.reset();
    // A parse stopped by a syntax error leaves its items behind.
    if (this.items) this.items.length = 0;
  }

  // The first and last tokens of the expression parsed last (its parentheses included): the
  // spans of arguments, parameters and settings run from or to them, as in AstBuilder.
  private exprFirst!: IToken;
  private exprLast!: IToken;
  /** The `}` that closed the body parsed last. */
  private bodyClose!: IToken;
  /**
   * One stack for the items of every list being parsed (arguments, statements, ...): each rule
   * takes its own off the top as an array of the exact length. (An array filled by push() keeps
   * 16 spare slots, and an AST holds thousands of small arrays.)
   */
  private readonly items: unknown[] = [];

  private take<T>(base: number): T[] {
    return this.items.splice(base) as T[];
  }

  constructor() {
    super(T.allTokens, { recoveryEnabled: false, maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  // What the hot rules hand to OPTION and MANY, made once: an arrow function written inside a
  // rule is a new closure each time the rule runs (a dozen or more per line of a model).
  /** `( args )` after a name: a call. */
  private readonly callArgsOpt = () => this.SUBRULE(this.callArgs);
  /** `name =` before a chain. */
  private readonly chainTarget = () => {
    const t = this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    return t;
  };
  /** `-> step`, onto the item stack. */
  private readonly chainTail = () => {
    this.CONSUME(T.Arrow);
    this.items.push(this.SUBRULE2(this.step));
  };
  /** `arg (, arg)* [,]`, onto the item stack. */
  private readonly argList = () => {
    this.items.push(this.SUBRULE(this.arg));
    this.MANY(this.argTail);
    this.OPTION2(this.trailingComma);
  };
  private readonly argTail = () => {
    this.CONSUME(T.Comma);
    this.items.push(this.SUBRULE2(this.arg));
  };
  private readonly trailingComma = () => this.CONSUME2(T.Comma);
  /** `name:` before an argument's value. */
  private readonly argName = () => {
    const n = this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    return n;
  };
  /** `op primary`, onto the item stack (operator token, then operand). */
  private readonly binaryTail = () => {
    this.items.push(this.OR(this.binaryOps));
    this.items.push(this.SUBRULE2(this.primary));
  };
  /** `stmt (Sep stmt)*`, onto the item stack. */
  private readonly stmtList = () => {
    this.items.push(this.SUBRULE(this.stmt));
    this.MANY(this.stmtTail);
  };
  private readonly stmtTail = () => {
    this.CONSUME(T.Sep);
    this.items.push(this.SUBRULE2(this.stmt));
  };

  private readonly programAlts = [
    { ALT: () => this.SUBRULE(this.decl) },
    {
      ALT: () => {
        this.CONSUME(T.Sep);
        return undefined;
      },
    },
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
  private readonly trainStmtAlts = [{ ALT: () => this.SUBRULE(this.sweepStmt) }, { ALT: () => this.SUBRULE(this.settingStmt) }];
  private readonly binaryOps = [
    { ALT: () => this.CONSUME(T.Plus) },
    { ALT: () => this.CONSUME(T.Minus) },
    { ALT: () => this.CONSUME(T.Star) },
    { ALT: () => this.CONSUME(T.Slash) },
  ];
  private readonly primaryAlts = [
    {
      ALT: (): Expr => {
        const minus = this.CONSUME(T.Minus);
        const operand = this.SUBRULE(this.primary);
        if (this.RECORDING_PHASE) return RECORDING;
        this.exprFirst = minus;
        return { kind: "unary", op: "-", operand, span: joinSpans(tokenSpan(minus), operand.span) };
      },
    },
    { ALT: () => this.number(this.CONSUME(T.NumberTok)) },
    { ALT: () => this.number(this.CONSUME(T.BadNumber)) },
    { ALT: () => this.string(this.CONSUME(T.StringTok), true) },
    { ALT: () => this.string(this.CONSUME(T.UnterminatedString), false) },
    { ALT: () => this.bool(this.CONSUME(T.True)) },
    { ALT: () => this.bool(this.CONSUME(T.False)) },
    {
      ALT: (): Expr => {
        const id = this.CONSUME(T.Identifier);
        const args = this.OPTION(this.callArgsOpt);
        if (this.RECORDING_PHASE) return RECORDING;
        this.exprFirst = id;
        if (args === undefined) {
          this.exprLast = id;
          return { kind: "ident", name: id.image, span: tokenSpan(id) };
        }
        this.exprLast = args.close;
        return { kind: "call", callee: id.image, calleeSpan: tokenSpan(id), args: args.args, span: tokensSpan(id, args.close) };
      },
    },
    { ALT: () => this.SUBRULE(this.list) },
    { ALT: () => this.SUBRULE(this.object) },
    {
      ALT: (): Expr => {
        const open = this.CONSUME(T.LParen);
        const inner = this.SUBRULE(this.expr);
        const close = this.CONSUME(T.RParen);
        // The parentheses only group: the expression keeps its own span; arguments include them.
        this.exprFirst = open;
        this.exprLast = close;
        return inner;
      },
    },
  ];
  private readonly entryKeyAlts = [{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.StringTok) }];

  private number(t: IToken): Expr {
    if (this.RECORDING_PHASE) return RECORDING;
    this.exprFirst = this.exprLast = t;
    return { kind: "number", value: Number(t.image), raw: t.image, span: tokenSpan(t) };
  }

  private string(t: IToken, terminated: boolean): Expr {
    if (this.RECORDING_PHASE) return RECORDING;
    this.exprFirst = this.exprLast = t;
    return { kind: "string", value: unquote(t.image, terminated), span: tokenSpan(t) };
  }

  private bool(t: IToken): Expr {
    if (this.RECORDING_PHASE) return RECORDING;
    this.exprFirst = this.exprLast = t;
    return { kind: "bool", value: t.tokenType === T.True, span: tokenSpan(t) };
  }

  program = this.RULE("program", (): Decl[] => {
    const decls: Decl[] = [];
    this.MANY(() => {
      const d = this.OR(this.programAlts);
      if (d !== undefined) decls.push(d);
    });
    return decls;
  });

  decl = this.RULE("decl", (): Decl => this.OR(this.declAlts));

  modelDecl = this.RULE("modelDecl", (): Decl => {
    const kw = this.CONSUME(T.Model);
    const name = this.CONSUME(T.Identifier);
    const params = this.OPTION(() => this.SUBRULE(this.params));
    const body = this.SUBRULE(this.body);
    if (this.RECORDING_PHASE) return RECORDING;
    return { kind: "model", name: name.image, nameSpan: tokenSpan(name), params: params ?? [], body, span: tokensSpan(kw, this.bodyClose) };
  });

  blockDecl = this.RULE("blockDecl", (): Decl => {
    const kw = this.CONSUME(T.Block);
    const name = this.CONSUME(T.Identifier);
    const params = this.OPTION(() => this.SUBRULE(this.params));
    const body = this.SUBRULE(this.body);
    if (this.RECORDING_PHASE) return RECORDING;
    return { kind: "block", name: name.image, nameSpan: tokenSpan(name), params: params ?? [], body, span: tokensSpan(kw, this.bodyClose) };
  });

  params = this.RULE("params", (): Param[] => {
    const base = this.items.length;
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.items.push(this.SUBRULE(this.param));
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.items.push(this.SUBRULE2(this.param));
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RParen);
    return this.take(base);
  });

  param = this.RULE("param", (): Param => {
    const name = this.CONSUME(T.Identifier);
    const value = this.OPTION(() => {
      this.CONSUME(T.Equals);
      return this.SUBRULE(this.expr);
    });
    if (this.RECORDING_PHASE) return RECORDING;
    const p: Param = { name: name.image, nameSpan: tokenSpan(name), span: tokensSpan(name, value ? this.exprLast : name) };
    if (value) p.default = value;
    return p;
  });

  body = this.RULE("body", (): Stmt[] => {
    const base = this.items.length;
    this.CONSUME(T.LCurly);
    this.OPTION(this.stmtList);
    this.bodyClose = this.CONSUME(T.RCurly);
    return this.take(base);
  });

  stmt = this.RULE("stmt", (): Stmt => this.OR(this.stmtAlts));

  inputStmt = this.RULE("inputStmt", (): Stmt => {
    const kw = this.CONSUME(T.Input);
    const name = this.OPTION(() => {
      const n = this.CONSUME(T.Identifier);
      this.CONSUME(T.Colon);
      return n;
    });
    const shapeName = this.CONSUME2(T.Identifier);
    const args = this.SUBRULE(this.callArgs);
    if (this.RECORDING_PHASE) return RECORDING;
    const shapeSpan = tokenSpan(shapeName);
    const stmt: Stmt = {
      kind: "input",
      shape: { kind: "call", callee: shapeName.image, calleeSpan: shapeSpan, args: args.args, span: joinSpans(shapeSpan, tokensSpan(args.open, args.close)) },
      span: tokensSpan(kw, args.close),
    };
    if (name) {
      stmt.name = name.image;
      stmt.nameSpan = tokenSpan(name);
    }
    return stmt;
  });

  forStmt = this.RULE("forStmt", (): Stmt => {
    const kw = this.CONSUME(T.For);
    const v = this.CONSUME(T.Identifier);
    this.CONSUME(T.In);
    const iterable = this.SUBRULE(this.expr);
    const body = this.SUBRULE(this.body);
    if (this.RECORDING_PHASE) return RECORDING;
    return { kind: "for", variable: v.image, variableSpan: tokenSpan(v), iterable, body, span: tokensSpan(kw, this.bodyClose) };
  });

  repeatStmt = this.RULE("repeatStmt", (): Stmt => {
    const kw = this.CONSUME(T.Repeat);
    const count = this.SUBRULE(this.expr);
    const body = this.SUBRULE(this.body);
    if (this.RECORDING_PHASE) return RECORDING;
    return { kind: "repeat", count, body, span: tokensSpan(kw, this.bodyClose) };
  });

  chainStmt = this.RULE("chainStmt", (): Stmt => {
    const target = this.OPTION(this.chainTarget);
    const base = this.items.length;
    this.items.push(this.SUBRULE(this.step));
    this.MANY(this.chainTail);
    const steps = this.take<Step>(base);
    if (this.RECORDING_PHASE) return RECORDING;
    const last = steps[steps.length - 1]!.span;
    // Spans are never modified: one object may serve two nodes with the same text.
    const span = target ? joinSpans(tokenSpan(target), last) : steps.length === 1 ? last : joinSpans(steps[0]!.span, last);
    const stmt: Stmt = { kind: "chain", steps, span };
    if (target) {
      stmt.target = target.image;
      stmt.targetSpan = tokenSpan(target);
    }
    return stmt;
  });

  step = this.RULE("step", (): Step => {
    const name = this.CONSUME(T.Identifier);
    const args = this.OPTION(this.callArgsOpt);
    if (this.RECORDING_PHASE) return RECORDING;
    const nameSpan = tokenSpan(name);
    return { name: name.image, nameSpan, args: args ? args.args : null, span: args ? tokensSpan(name, args.close) : nameSpan };
  });

  callArgs = this.RULE("callArgs", (): { args: Arg[]; open: IToken; close: IToken } => {
    const base = this.items.length;
    const open = this.CONSUME(T.LParen);
    this.OPTION(this.argList);
    const close = this.CONSUME(T.RParen);
    return { args: this.take<Arg>(base), open, close };
  });

  arg = this.RULE("arg", (): Arg => {
    const name = this.OPTION(this.argName);
    const value = this.SUBRULE(this.expr);
    if (this.RECORDING_PHASE) return RECORDING;
    const first = name ?? this.exprFirst;
    const last = this.exprLast;
    // A positional argument with no parentheses around it is its value's text.
    const own = first.startOffset === value.span.startOffset && lastOffsetOf(last) + 1 === value.span.endOffset;
    const arg: Arg = { value, span: own ? value.span : tokensSpan(first, last) };
    if (name) {
      arg.name = name.image;
      arg.nameSpan = tokenSpan(name);
    }
    return arg;
  });

  trainDecl = this.RULE("trainDecl", (): Decl => {
    const base = this.items.length;
    const kw = this.CONSUME(T.Train);
    const model = this.CONSUME(T.Identifier);
    this.CONSUME(T.LCurly);
    this.OPTION(() => {
      this.items.push(this.SUBRULE(this.trainStmt));
      this.MANY(() => {
        this.CONSUME(T.Sep);
        this.items.push(this.SUBRULE2(this.trainStmt));
      });
    });
    const close = this.CONSUME(T.RCurly);
    const body = this.take<TrainStmt>(base);
    if (this.RECORDING_PHASE) return RECORDING;
    return { kind: "train", model: model.image, modelSpan: tokenSpan(model), body, span: tokensSpan(kw, close) };
  });

  trainStmt = this.RULE("trainStmt", (): TrainStmt => this.OR(this.trainStmtAlts));

  sweepStmt = this.RULE("sweepStmt", (): TrainStmt => {
    const kw = this.CONSUME(T.Sweep);
    const v = this.CONSUME(T.Identifier);
    this.CONSUME(T.In);
    const values = this.SUBRULE(this.expr);
    if (this.RECORDING_PHASE) return RECORDING;
    return { kind: "sweep", variable: v.image, variableSpan: tokenSpan(v), values, span: tokensSpan(kw, this.exprLast) };
  });

  settingStmt = this.RULE("settingStmt", (): TrainStmt => {
    const k = this.CONSUME(T.Identifier);
    const value = this.SUBRULE(this.expr);
    if (this.RECORDING_PHASE) return RECORDING;
    return { kind: "setting", key: k.image, keySpan: tokenSpan(k), value, span: tokensSpan(k, this.exprLast) };
  });

  expr = this.RULE("expr", (): Expr => {
    const head = this.SUBRULE(this.primary);
    const first = this.exprFirst;
    const base = this.items.length;
    this.MANY(this.binaryTail);
    if (this.items.length === base) return head;
    const tail = this.take<unknown>(base);
    if (this.RECORDING_PHASE) return RECORDING;
    const n = tail.length / 2;
    const values = new Array<Expr>(n + 1);
    const ops = new Array<IToken>(n);
    values[0] = head;
    for (let i = 0; i < n; i++) {
      ops[i] = tail[2 * i] as IToken;
      values[i + 1] = tail[2 * i + 1] as Expr;
    }
    this.exprFirst = first;
    return foldBinary(values, ops);
  });

  primary = this.RULE("primary", (): Expr => this.OR(this.primaryAlts));

  list = this.RULE("list", (): Expr => {
    const base = this.items.length;
    const open = this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.items.push(this.SUBRULE(this.expr));
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.items.push(this.SUBRULE2(this.expr));
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    const close = this.CONSUME(T.RBracket);
    const items = this.take<Expr>(base);
    if (this.RECORDING_PHASE) return RECORDING;
    this.exprFirst = open;
    this.exprLast = close;
    return { kind: "list", items, span: tokensSpan(open, close) };
  });

  object = this.RULE("object", (): Expr => {
    const base = this.items.length;
    const open = this.CONSUME(T.ObjectOpen);
    this.OPTION(() => {
      this.items.push(this.SUBRULE(this.entry));
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.items.push(this.SUBRULE2(this.entry));
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    const close = this.CONSUME(T.RCurly);
    const entries = this.take<ObjectEntry>(base);
    if (this.RECORDING_PHASE) return RECORDING;
    this.exprFirst = open;
    this.exprLast = close;
    return { kind: "object", entries, span: tokensSpan(open, close) };
  });

  entry = this.RULE("entry", (): ObjectEntry => {
    const key = this.OR(this.entryKeyAlts);
    this.CONSUME(T.Colon);
    const value = this.SUBRULE(this.expr);
    if (this.RECORDING_PHASE) return RECORDING;
    return {
      key: key.tokenType === T.StringTok ? unquote(key.image) : key.image,
      keySpan: tokenSpan(key),
      value,
      span: tokensSpan(key, this.exprLast),
    };
  });
}

let shared: NnFastParser | null = null;

/**
 * The declarations of a file with no syntax error, or null at the first error (the caller then
 * parses again with recovery, for the diagnostics). `tokens` come from lex() with no lex issue.
 */
export function parseFast(tokens: IToken[]): Decl[] | null {
  shared ??= new NnFastParser();
  shared.input = tokens;
  const decls = shared.program();
  const ok = shared.errors.length === 0;
  shared.input = []; // let the tokens go
  return ok ? decls : null;
}

