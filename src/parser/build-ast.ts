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
import { endLineOf, lastColumnOf, lastOffsetOf, tokenSpan } from "./lexer.js";
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

function sub(node: CstNode | undefined, key: string, i = 0): CstNode | undefined {
  const e = kids(node)[key]?.[i];
  return e && !isToken(e) ? e : undefined;
}

function subs(node: CstNode | undefined, key: string): CstNode[] {
  return (kids(node)[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

/**
 * The first (or last) real token of a CST subtree: tokens chevrotain inserted while recovering
 * are skipped. Each child list is in source order, so only its first (last) real element can
 * win; the walk goes down one path per child key rather than over the whole subtree.
 */
function edge(node: CstNode, last: boolean): IToken | undefined {
  let best: IToken | undefined;
  const children = node.children as Children;
  for (const key in children) {
    const list = children[key];
    if (!list) continue;
    const n = list.length;
    for (let j = 0; j < n; j++) {
      const e = list[last ? n - 1 - j : j]!;
      const t = isToken(e) ? (real(e) ? e : undefined) : edge(e, last);
      if (!t) continue;
      if (!best || (last ? t.startOffset > best.startOffset : t.startOffset < best.startOffset)) best = t;
      break;
    }
  }
  return best;
}

export function joinSpans(a: Span, b: Span): Span {
  // The key order of tokenSpan(): every span has one shape.
  return {
    startOffset: a.startOffset,
    endOffset: b.endOffset,
    startLine: a.startLine,
    startColumn: a.startColumn,
    endLine: b.endLine,
    endColumn: b.endColumn,
  };
}

/** From the start of token `a` to the end of token `b` (one object; the fields of tokenSpan()). */
export function tokensSpan(a: IToken, b: IToken): Span {
  return {
    startOffset: a.startOffset,
    endOffset: lastOffsetOf(b) + 1,
    startLine: a.startLine ?? 1,
    startColumn: a.startColumn ?? 1,
    endLine: endLineOf(b),
    endColumn: lastColumnOf(b) + 1,
  };
}

/** The text a CST node came from: its first real token to its last. */
function nodeSpan(node: CstNode): Span | undefined {
  const first = edge(node, false);
  const last = first && edge(node, true);
  return first && last ? tokensSpan(first, last) : undefined;
}

/** `first..last` when both are real tokens, else the node's span found by walking its CST. */
function spanOr(node: CstNode, first: IToken | undefined, last: IToken | undefined): Span | undefined {
  return first && last ? tokensSpan(first, last) : nodeSpan(node);
}

/** The CST's closing token under `key` (`)`, `]`, `}`), when it is real. */
function closing(node: CstNode | undefined, key: string): IToken | undefined {
  const list = node ? (node.children as Children)[key] : undefined;
  const t = list?.[list.length - 1];
  return t && isToken(t) && real(t) ? t : undefined;
}

export class AstBuilder {
  readonly issues: BuildIssue[] = [];
  // The first and last real tokens of the expression built last (its parentheses included),
  // so that the spans of arguments and settings need no walk over their CST.
  private exprFirst: IToken | undefined;
  private exprLast: IToken | undefined;

  program(cst: CstNode): { decls: Decl[] } {
    const decls: Decl[] = [];
    for (const d of subs(cst, "decl")) {
      const built = this.decl(d);
      if (built) decls.push(built);
    }
    return { decls };
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
    const bodyNode = sub(node, "body");
    const span = spanOr(node, tok(node, kind === "model" ? "Kw_model" : "Kw_block"), closing(bodyNode, "RCurly"));
    if (!name || !span) return undefined;
    const paramsNode = sub(node, "params");
    const params: Param[] = [];
    if (paramsNode) {
      for (const p of subs(paramsNode, "param")) {
        const built = this.param(p);
        if (built) params.push(built);
      }
    }
    const body = this.body(bodyNode);
    return { kind, name: name.image, nameSpan: tokenSpan(name), params, body, span } as ModelDecl | BlockDecl;
  }

  param(node: CstNode): Param | undefined {
    const name = tok(node, "Identifier");
    const def = sub(node, "expr");
    const value = def ? this.expr(def) : undefined;
    const span = spanOr(node, name, def ? (value ? this.exprLast : undefined) : name);
    if (!name || !span) return undefined;
    const p: Param = { name: name.image, nameSpan: tokenSpan(name), span };
    if (value) p.default = value;
    return p;
  }

  body(node: CstNode | undefined): Stmt[] {
    const out: Stmt[] = [];
    if (!node) return out;
    for (const s of subs(node, "stmt")) {
      const built = this.stmt(s);
      if (built) out.push(built);
    }
    return out;
  }

  stmt(node: CstNode): Stmt | undefined {
    const c = sub(node, "chainStmt");
    if (c) return this.chain(c);
    const input = sub(node, "inputStmt");
    if (input) return this.input(input);
    const f = sub(node, "forStmt");
    if (f) {
      const v = tok(f, "Identifier");
      const bodyNode = sub(f, "body");
      const span = spanOr(f, tok(f, "Kw_for"), closing(bodyNode, "RCurly"));
      const iter = this.expr(sub(f, "expr"));
      if (!v || !span || !iter) return undefined;
      return { kind: "for", variable: v.image, variableSpan: tokenSpan(v), iterable: iter, body: this.body(bodyNode), span };
    }
    const r = sub(node, "repeatStmt");
    if (r) {
      const bodyNode = sub(r, "body");
      const span = spanOr(r, tok(r, "Kw_repeat"), closing(bodyNode, "RCurly"));
      const count = this.expr(sub(r, "expr"));
      if (!span || !count) return undefined;
      return { kind: "repeat", count, body: this.body(bodyNode), span };
    }
    return undefined;
  }

  chain(node: CstNode): Stmt | undefined {
    const stepNodes = subs(node, "step");
    const steps: Step[] = [];
    for (const s of stepNodes) {
      const built = this.step(s);
      if (built) steps.push(built);
    }
    if (steps.length === 0) return undefined;
    const target = tok(node, "target");
    let span: Span | undefined;
    if (steps.length === stepNodes.length && (target || !kids(node)["target"])) {
      const first = target ? tokenSpan(target) : steps[0]!.span;
      span = joinSpans(first, steps[steps.length - 1]!.span);
    } else {
      span = nodeSpan(node);
    }
    if (!span) return undefined;
    const stmt: Stmt = { kind: "chain", steps, span };
    if (target) {
      stmt.target = target.image;
      stmt.targetSpan = tokenSpan(target);
    }
    return stmt;
  }

  input(node: CstNode): InputStmt | undefined {
    const shapeName = tok(node, "shape");
    const argsNode = sub(node, "callArgs");
    const close = closing(argsNode, "RParen");
    const span = spanOr(node, tok(node, "Kw_input"), close);
    if (!shapeName || !span || !argsNode) return undefined;
    const open = tok(argsNode, "LParen");
    const argsSpan = spanOr(argsNode, open, close);
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
    const argsNode = sub(node, "callArgs");
    const span = spanOr(node, name, argsNode ? closing(argsNode, "RParen") : name);
    if (!name || !span) return undefined;
    return { name: name.image, nameSpan: tokenSpan(name), args: argsNode ? this.args(argsNode) : null, span };
  }

  args(node: CstNode): Arg[] {
    const out: Arg[] = [];
    for (const a of subs(node, "arg")) {
      const value = this.expr(sub(a, "expr"));
      if (!value) continue;
      const name = tok(a, "Identifier");
      const span = spanOr(a, name ?? this.exprFirst, this.exprLast);
      if (!span) continue;
      const arg: Arg = { value, span };
      if (name) {
        arg.name = name.image;
        arg.nameSpan = tokenSpan(name);
      }
      out.push(arg);
    }
    return out;
  }

  train(node: CstNode): TrainDecl | undefined {
    const model = tok(node, "Identifier");
    const span = spanOr(node, tok(node, "Kw_train"), closing(node, "RCurly"));
    if (!model || !span) return undefined;
    const body: TrainStmt[] = [];
    for (const s of subs(node, "trainStmt")) {
      const sw = sub(s, "sweepStmt");
      if (sw) {
        const v = tok(sw, "Identifier");
        const values = this.expr(sub(sw, "expr"));
        const sp = spanOr(sw, tok(sw, "Kw_sweep"), values ? this.exprLast : undefined);
        if (v && sp && values) body.push({ kind: "sweep", variable: v.image, variableSpan: tokenSpan(v), values, span: sp });
        continue;
      }
      const st = sub(s, "settingStmt");
      if (st) {
        const k = tok(st, "Identifier");
        const value = this.expr(sub(st, "expr"));
        const sp = spanOr(st, k, value ? this.exprLast : undefined);
        if (k && sp && value) body.push({ kind: "setting", key: k.image, keySpan: tokenSpan(k), value, span: sp });
      }
    }
    return { kind: "train", model: model.image, modelSpan: tokenSpan(model), body, span };
  }

  // ------------------------------------------------------------ expressions
  // Each sets exprFirst/exprLast to the expression's outer tokens (undefined when unsure).

  expr(node: CstNode | undefined): Expr | undefined {
    if (!node) return undefined;
    const children = node.children as Children;
    const operands = children["primary"];
    const first = operands?.[0];
    if (!first || isToken(first)) return undefined;
    const head = this.primary(first);
    const opLists = [children["Plus"], children["Minus"], children["Star"], children["Slash"]];
    if (!head || (operands.length === 1 && !opLists.some(Boolean))) return head;
    const start = this.exprFirst;
    // The operators in source order; with each, the operand after it.
    const ops: IToken[] = [];
    for (const list of opLists) for (const e of list ?? []) if (isToken(e) && real(e)) ops.push(e);
    ops.sort((a, b) => a.startOffset - b.startOffset);
    let complete = ops.length === operands.length - 1;
    const values: Expr[] = [head];
    const between: IToken[] = [];
    for (let i = 1; i < operands.length; i++) {
      const o = operands[i]!;
      const right = isToken(o) ? undefined : this.primary(o);
      const op = ops[i - 1];
      if (!right || !op) {
        complete = false;
        break;
      }
      values.push(right);
      between.push(op);
    }
    const result = foldBinary(values, between);
    this.exprFirst = start;
    // A dangling operator (recovery): the expression's text runs past its last operand.
    if (!complete) this.exprLast = undefined;
    return result;
  }

  primary(node: CstNode): Expr | undefined {
    const minus = tok(node, "Minus");
    if (minus) {
      const inner = sub(node, "primary");
      const operand = inner ? this.primary(inner) : undefined;
      if (!operand) return undefined;
      this.exprFirst = minus;
      return { kind: "unary", op: "-", operand, span: joinSpans(tokenSpan(minus), operand.span) };
    }
    const num = tok(node, "Number") ?? tok(node, "BadNumber");
    if (num) {
      this.exprFirst = this.exprLast = num;
      // A malformed number (E103 already reported) has no value: NaN.
      return { kind: "number", value: Number(num.image), raw: num.image, span: tokenSpan(num) };
    }
    const str = tok(node, "String") ?? tok(node, "UnterminatedString");
    if (str) {
      this.exprFirst = this.exprLast = str;
      return { kind: "string", value: unquote(str.image, str.tokenType.name === "String"), span: tokenSpan(str) };
    }
    const bool = tok(node, "Kw_true") ?? tok(node, "Kw_false");
    if (bool) {
      this.exprFirst = this.exprLast = bool;
      return { kind: "bool", value: bool.tokenType.name === "Kw_true", span: tokenSpan(bool) };
    }
    const id = tok(node, "Identifier");
    if (id) {
      const argsNode = sub(node, "callArgs");
      if (!argsNode) {
        this.exprFirst = this.exprLast = id;
        return { kind: "ident", name: id.image, span: tokenSpan(id) };
      }
      const close = closing(argsNode, "RParen");
      const span = spanOr(node, id, close);
      if (!span) return undefined;
      const args = this.args(argsNode);
      this.exprFirst = id;
      this.exprLast = close;
      return { kind: "call", callee: id.image, calleeSpan: tokenSpan(id), args, span };
    }
    const list = sub(node, "list");
    if (list) {
      const open = tok(list, "LBracket");
      const close = closing(list, "RBracket");
      const span = spanOr(node, open, close);
      if (!span) return undefined;
      const items: Expr[] = [];
      for (const e of subs(list, "expr")) {
        const built = this.expr(e);
        if (built) items.push(built);
      }
      this.exprFirst = open;
      this.exprLast = close;
      return { kind: "list", items, span };
    }
    const obj = sub(node, "object");
    if (obj) {
      const open = tok(obj, "ObjectOpen");
      const close = closing(obj, "RCurly");
      const span = spanOr(node, open, close);
      if (!span) return undefined;
      const entries: ObjectEntry[] = [];
      for (const en of subs(obj, "entry")) {
        const key = tok(en, "Identifier") ?? tok(en, "String");
        const value = this.expr(sub(en, "expr"));
        const sp = spanOr(en, key, value ? this.exprLast : undefined);
        if (!key || !sp || !value) continue;
        entries.push({ key: key.tokenType.name === "String" ? unquote(key.image) : key.image, keySpan: tokenSpan(key), value, span: sp });
      }
      this.exprFirst = open;
      this.exprLast = close;
      return { kind: "object", entries, span };
    }
    // "(" expr ")": the parentheses only group; the inner expression keeps its own span.
    const inner = this.expr(sub(node, "expr"));
    if (inner) {
      this.exprFirst = tok(node, "LParen");
      this.exprLast = closing(node, "RParen");
    }
    return inner;
  }
}

/**
 * `values[0] ops[0] values[1] ...` as a tree: `*` and `/` first, then `+` and `-`, each left to
 * right (the grammar's expr rule is flat). Each binary node spans its operands.
 */
export function foldBinary(values: Expr[], ops: IToken[]): Expr {
  const terms: Expr[] = [values[0]!];
  const termOps: IToken[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const right = values[i + 1]!;
    if (op.image === "*" || op.image === "/") {
      const left = terms.pop()!;
      terms.push({ kind: "binary", op: op.image, left, right, span: joinSpans(left.span, right.span) });
    } else {
      terms.push(right);
      termOps.push(op);
    }
  }
  let result = terms[0]!;
  for (let i = 0; i < termOps.length; i++) {
    const right = terms[i + 1]!;
    result = { kind: "binary", op: termOps[i]!.image as "+" | "-", left: result, right, span: joinSpans(result.span, right.span) };
  }
  return result;
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
