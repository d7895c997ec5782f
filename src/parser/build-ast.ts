// CST (chevrotain) -> typed AST (ast.ts). Every node gets the span of the text it came from.
// After error recovery the CST may lack pieces (or hold tokens chevrotain inserted); this
// builder skips what it cannot build and never throws.
import type { CstElement, CstNode, IToken } from "chevrotain";
import type {
  Arg,
  BlockDecl,
  CallExpr,
  Decl,
  Expr,
  InputStmt,
  ModelDecl,
  ObjectEntry,
  Param,
  Span,
  Step,
  Stmt,
  TrainDecl,
  TrainStmt,
} from "./ast.js";
import { tokenSpan } from "./lexer.js";
import type { SyntaxMessage } from "./errors.js";

export interface BuildIssue extends SyntaxMessage {
  span: Span;
}

type Children = Record<string, CstElement[] | undefined>;

function isToken(e: CstElement): e is IToken {
  return (e as IToken).tokenType !== undefined;
}

function real(t: IToken | undefined): t is IToken {
  return !!t && !t.isInsertedInRecovery && Number.isFinite(t.startOffset);
}

function kids(node: CstNode | undefined): Children {
  return (node?.children ?? {}) as Children;
}

function tok(node: CstNode | undefined, key: string, i = 0): IToken | undefined {
  const list = kids(node)[key];
  const t = list?.[i];
  return t && isToken(t) && real(t) ? t : undefined;
}

function toks(node: CstNode | undefined, key: string): IToken[] {
  return (kids(node)[key] ?? []).filter((e): e is IToken => isToken(e) && real(e));
}

function sub(node: CstNode | undefined, key: string, i = 0): CstNode | undefined {
  const e = kids(node)[key]?.[i];
  return e && !isToken(e) ? e : undefined;
}

function subs(node: CstNode | undefined, key: string): CstNode[] {
  return (kids(node)[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

/** First and last real tokens of a CST subtree. */
function bounds(node: CstNode): [IToken, IToken] | undefined {
  const cached = boundsCache.get(node);
  if (cached !== undefined) return cached ?? undefined;
  // Bottom-up over the children, each subtree's bounds memoised: linear in the CST's size
  // (a subtree walk per node was quadratic through the expression precedence levels).
  let first: IToken | undefined;
  let last: IToken | undefined;
  const children = node.children as Children;
  for (const key in children) {
    const list = children[key];
    if (!list) continue;
    for (const e of list) {
      let lo: IToken | undefined;
      let hi: IToken | undefined;
      if (isToken(e)) {
        if (!real(e)) continue;
        lo = hi = e;
      } else {
        const b = bounds(e);
        if (!b) continue;
        [lo, hi] = b;
      }
      if (!first || lo.startOffset < first.startOffset) first = lo;
      if (!last || hi.startOffset > last.startOffset) last = hi;
    }
  }
  const result: [IToken, IToken] | null = first && last ? [first, last] : null;
  boundsCache.set(node, result);
  return result ?? undefined;
}

const boundsCache = new WeakMap<CstNode, [IToken, IToken] | null>();

function joinSpans(a: Span, b: Span): Span {
  return {
    startOffset: a.startOffset,
    startLine: a.startLine,
    startColumn: a.startColumn,
    endOffset: b.endOffset,
    endLine: b.endLine,
    endColumn: b.endColumn,
  };
}

function nodeSpan(node: CstNode): Span | undefined {
  const loc = node.location;
  if (
    loc &&
    !node.recoveredNode &&
    Number.isFinite(loc.startOffset) &&
    Number.isFinite(loc.endOffset) &&
    Number.isFinite(loc.startLine) &&
    Number.isFinite(loc.endLine)
  ) {
    return {
      startOffset: loc.startOffset,
      endOffset: loc.endOffset! + 1,
      startLine: loc.startLine!,
      startColumn: loc.startColumn!,
      endLine: loc.endLine!,
      endColumn: loc.endColumn! + 1,
    };
  }
  const b = bounds(node);
  return b ? joinSpans(tokenSpan(b[0]), tokenSpan(b[1])) : undefined;
}

export class AstBuilder {
  readonly issues: BuildIssue[] = [];

  program(cst: CstNode): { decls: Decl[] } {
    return { decls: subs(cst, "decl").flatMap((d) => this.decl(d) ?? []) };
  }

  decl(node: CstNode): Decl | undefined {
    const m = sub(node, "modelDecl");
    if (m) return this.modelOrBlock(m, "model");
    const b = sub(node, "blockDecl");
    if (b) return this.modelOrBlock(b, "block");
    const t = sub(node, "trainDecl");
    if (t) return this.train(t);
    return undefined;
  }

  modelOrBlock(node: CstNode, kind: "model" | "block"): ModelDecl | BlockDecl | undefined {
    const name = tok(node, "Identifier");
    const span = nodeSpan(node);
    if (!name || !span) return undefined;
    const paramsNode = sub(node, "params");
    const params = paramsNode ? subs(paramsNode, "param").flatMap((p) => this.param(p) ?? []) : [];
    const body = this.body(sub(node, "body"));
    return { kind, name: name.image, nameSpan: tokenSpan(name), params, body, span } as ModelDecl | BlockDecl;
  }

  param(node: CstNode): Param | undefined {
    const name = tok(node, "Identifier");
    const span = nodeSpan(node);
    if (!name || !span) return undefined;
    const p: Param = { name: name.image, nameSpan: tokenSpan(name), span };
    const def = sub(node, "expr");
    if (def) {
      const e = this.expr(def);
      if (e) p.default = e;
    }
    return p;
  }

  body(node: CstNode | undefined): Stmt[] {
    if (!node) return [];
    return subs(node, "stmt").flatMap((s) => this.stmt(s) ?? []);
  }

  stmt(node: CstNode): Stmt | undefined {
    const input = sub(node, "inputStmt");
    if (input) return this.input(input);
    const f = sub(node, "forStmt");
    if (f) {
      const v = tok(f, "Identifier");
      const span = nodeSpan(f);
      const iter = this.expr(sub(f, "expr"));
      if (!v || !span || !iter) return undefined;
      return { kind: "for", variable: v.image, variableSpan: tokenSpan(v), iterable: iter, body: this.body(sub(f, "body")), span };
    }
    const r = sub(node, "repeatStmt");
    if (r) {
      const span = nodeSpan(r);
      const count = this.expr(sub(r, "expr"));
      if (!span || !count) return undefined;
      return { kind: "repeat", count, body: this.body(sub(r, "body")), span };
    }
    const c = sub(node, "chainStmt");
    if (c) {
      const span = nodeSpan(c);
      const steps = subs(c, "step").flatMap((s) => this.step(s) ?? []);
      if (!span || steps.length === 0) return undefined;
      const stmt: Stmt = { kind: "chain", steps, span };
      const target = tok(c, "target");
      if (target) {
        stmt.target = target.image;
        stmt.targetSpan = tokenSpan(target);
      }
      return stmt;
    }
    return undefined;
  }

  input(node: CstNode): InputStmt | undefined {
    const shapeName = tok(node, "shape");
    const span = nodeSpan(node);
    const argsNode = sub(node, "callArgs");
    if (!shapeName || !span || !argsNode) return undefined;
    const argsSpan = nodeSpan(argsNode);
    const shape: CallExpr = {
      kind: "call",
      callee: shapeName.image,
      calleeSpan: tokenSpan(shapeName),
      args: this.args(argsNode),
      span: argsSpan ? joinSpans(tokenSpan(shapeName), argsSpan) : tokenSpan(shapeName),
    };
    const stmt: InputStmt = { kind: "input", shape, span };
    const name = tok(node, "name");
    if (name) {
      stmt.name = name.image;
      stmt.nameSpan = tokenSpan(name);
    }
    return stmt;
  }

  step(node: CstNode): Step | undefined {
    const name = tok(node, "Identifier");
    const span = nodeSpan(node);
    if (!name || !span) return undefined;
    const argsNode = sub(node, "callArgs");
    return { name: name.image, nameSpan: tokenSpan(name), args: argsNode ? this.args(argsNode) : null, span };
  }

  args(node: CstNode): Arg[] {
    return subs(node, "arg").flatMap((a) => {
      const span = nodeSpan(a);
      const value = this.expr(sub(a, "expr"));
      if (!span || !value) return [];
      const arg: Arg = { value, span };
      const name = tok(a, "Identifier");
      if (name) {
        arg.name = name.image;
        arg.nameSpan = tokenSpan(name);
      }
      return [arg];
    });
  }

  train(node: CstNode): TrainDecl | undefined {
    const model = tok(node, "Identifier");
    const span = nodeSpan(node);
    if (!model || !span) return undefined;
    const body: TrainStmt[] = [];
    for (const s of subs(node, "trainStmt")) {
      const sw = sub(s, "sweepStmt");
      if (sw) {
        const v = tok(sw, "Identifier");
        const sp = nodeSpan(sw);
        const values = this.expr(sub(sw, "expr"));
        if (v && sp && values) body.push({ kind: "sweep", variable: v.image, variableSpan: tokenSpan(v), values, span: sp });
        continue;
      }
      const st = sub(s, "settingStmt");
      if (st) {
        const k = tok(st, "Identifier");
        const sp = nodeSpan(st);
        const value = this.expr(sub(st, "expr"));
        if (k && sp && value) body.push({ kind: "setting", key: k.image, keySpan: tokenSpan(k), value, span: sp });
      }
    }
    return { kind: "train", model: model.image, modelSpan: tokenSpan(model), body, span };
  }

  // ------------------------------------------------------------ expressions

  expr(node: CstNode | undefined): Expr | undefined {
    if (!node) return undefined;
    return this.binary(node, "term", ["Plus", "Minus"], (n) => this.term(n));
  }

  term(node: CstNode): Expr | undefined {
    return this.binary(node, "unary", ["Star", "Slash"], (n) => this.unary(n));
  }

  private binary(node: CstNode, operandKey: string, opKeys: string[], build: (n: CstNode) => Expr | undefined): Expr | undefined {
    const operands = subs(node, operandKey);
    const ops = opKeys.flatMap((k) => toks(node, k)).sort((a, b) => a.startOffset - b.startOffset);
    let left = operands[0] ? build(operands[0]) : undefined;
    if (!left) return undefined;
    for (let i = 1; i < operands.length; i++) {
      const right = build(operands[i]!);
      const op = ops[i - 1];
      if (!right || !op) break;
      left = { kind: "binary", op: op.image as "+" | "-" | "*" | "/", left, right, span: joinSpans(left.span, right.span) };
    }
    return left;
  }

  unary(node: CstNode): Expr | undefined {
    const minus = tok(node, "Minus");
    if (minus) {
      const operand = this.unary(sub(node, "unary") as CstNode);
      if (!operand) return undefined;
      return { kind: "unary", op: "-", operand, span: joinSpans(tokenSpan(minus), operand.span) };
    }
    const p = sub(node, "primary");
    return p ? this.primary(p) : undefined;
  }

  primary(node: CstNode): Expr | undefined {
    const span = nodeSpan(node);
    if (!span) return undefined;
    const num = tok(node, "Number") ?? tok(node, "BadNumber");
    if (num) {
      const value = Number(num.image);
      // A malformed number (E103 already reported) has no value: NaN.
      return { kind: "number", value, raw: num.image, span };
    }
    const str = tok(node, "String") ?? tok(node, "UnterminatedString");
    if (str) return { kind: "string", value: unquote(str.image, str.tokenType.name === "String"), span };
    if (tok(node, "Kw_true")) return { kind: "bool", value: true, span };
    if (tok(node, "Kw_false")) return { kind: "bool", value: false, span };
    const id = tok(node, "Identifier");
    if (id) {
      const argsNode = sub(node, "callArgs");
      if (argsNode) return { kind: "call", callee: id.image, calleeSpan: tokenSpan(id), args: this.args(argsNode), span };
      return { kind: "ident", name: id.image, span };
    }
    const list = sub(node, "list");
    if (list) return { kind: "list", items: subs(list, "expr").flatMap((e) => this.expr(e) ?? []), span };
    const obj = sub(node, "object");
    if (obj) {
      const entries: ObjectEntry[] = [];
      for (const en of subs(obj, "entry")) {
        const key = tok(en, "Identifier") ?? tok(en, "String");
        const sp = nodeSpan(en);
        const value = this.expr(sub(en, "expr"));
        if (!key || !sp || !value) continue;
        entries.push({ key: key.tokenType.name === "String" ? unquote(key.image) : key.image, keySpan: tokenSpan(key), value, span: sp });
      }
      return { kind: "object", entries, span };
    }
    // "(" expr ")": the parentheses only group; the inner expression keeps its own span.
    return this.expr(sub(node, "expr"));
  }
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t", "0": "\0", '"': '"', "\\": "\\", "'": "'" };

/** The value of a string literal (with or without its closing quote). */
export function unquote(raw: string, terminated = true): string {
  const body = terminated ? raw.slice(1, -1) : raw.slice(1);
  return body.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_m, e: string) => {
    if (e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    return ESCAPES[e] ?? e;
  });
}
