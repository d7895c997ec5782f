// Evaluation of argument expressions: parameter and loop-variable substitution, arithmetic.
// A value keeps the span of the source text it came from, so a bad value passed into a block
// is reported where it was written.
import type { Expr, Span } from "../../parser/ast.js";
import type { Reporter } from "./report.js";
import { didYouMean } from "../../parser/suggest.js";

export interface VArg { name?: string; nameSpan?: Span; value: V; span: Span }

export type V =
  | { t: "num"; v: number; raw: string; span: Span }
  | { t: "str"; v: string; span: Span }
  | { t: "bool"; v: boolean; span: Span }
  /** An identifier that is no parameter or variable: a catalog name (`relu`, `same`, `val_loss`). */
  | { t: "name"; name: string; span: Span }
  | { t: "list"; items: V[]; span: Span }
  | { t: "obj"; entries: { key: string; keySpan: Span; value: V }[]; span: Span }
  | { t: "call"; callee: string; calleeSpan: Span; args: VArg[]; span: Span };

export type Scope = ReadonlyMap<string, V>;

function fmtNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const s = String(Number(n.toPrecision(6)));
  return s;
}

export function num(v: number, span: Span): V {
  return { t: "num", v, raw: fmtNumber(v), span };
}

/** Evaluates an expression in a scope. Returns null after reporting an error. */
export function evaluate(expr: Expr, scope: Scope, r: Reporter): V | null {
  switch (expr.kind) {
    case "number":
      return { t: "num", v: expr.value, raw: expr.raw, span: expr.span };
    case "string":
      return { t: "str", v: expr.value, span: expr.span };
    case "bool":
      return { t: "bool", v: expr.value, span: expr.span };
    case "ident": {
      const bound = scope.get(expr.name);
      return bound ?? { t: "name", name: expr.name, span: expr.span };
    }
    case "list": {
      const items: V[] = [];
      let ok = true;
      for (const it of expr.items) {
        const v = evaluate(it, scope, r);
        if (v === null) ok = false;
        else items.push(v);
      }
      return ok ? { t: "list", items, span: expr.span } : null;
    }
    case "object": {
      const entries: { key: string; keySpan: Span; value: V }[] = [];
      let ok = true;
      for (const e of expr.entries) {
        const v = evaluate(e.value, scope, r);
        if (v === null) ok = false;
        else entries.push({ key: e.key, keySpan: e.keySpan, value: v });
      }
      return ok ? { t: "obj", entries, span: expr.span } : null;
    }
    case "call": {
      const args: VArg[] = [];
      let ok = true;
      for (const a of expr.args) {
        const v = evaluate(a.value, scope, r);
        if (v === null) ok = false;
        else args.push({ name: a.name, nameSpan: a.nameSpan, value: v, span: a.span });
      }
      return ok ? { t: "call", callee: expr.callee, calleeSpan: expr.calleeSpan, args, span: expr.span } : null;
    }
    case "unary": {
      const v = evaluate(expr.operand, scope, r);
      if (v === null) return null;
      const n = asNumber(v, scope, r, "-");
      return n === null ? null : num(-n, expr.span);
    }
    case "binary": {
      // The left spine of `a + b + c + ...` iteratively: a long sum must not overflow the stack.
      const spine: Extract<Expr, { kind: "binary" }>[] = [];
      let x: Expr = expr;
      while (x.kind === "binary") {
        spine.push(x);
        x = x.left;
      }
      let acc = evaluate(x, scope, r);
      for (let i = spine.length - 1; i >= 0; i--) {
        const node = spine[i]!;
        const b = evaluate(node.right, scope, r);
        if (acc === null || b === null) {
          acc = null;
          continue;
        }
        const xv = asNumber(acc, scope, r, node.op);
        const yv = asNumber(b, scope, r, node.op);
        if (xv === null || yv === null) {
          acc = null;
          continue;
        }
        if (node.op === "/" && yv === 0) {
          r.error("E307", node.right.span, "division by zero");
          acc = null;
          continue;
        }
        const v = node.op === "+" ? xv + yv : node.op === "-" ? xv - yv : node.op === "*" ? xv * yv : xv / yv;
        acc = num(v, node.span);
      }
      return acc;
    }
  }
}

function asNumber(v: V, scope: Scope, r: Reporter, op: string): number | null {
  if (v.t === "num") return v.v;
  if (v.t === "name") {
    r.error("E214", v.span, `unknown name \`${v.name}\``, () => didYouMean(v.name, scope.keys()) ?? (scope.size > 0 ? `names in scope here: ${[...scope.keys()].map((k) => `\`${k}\``).join(", ")}` : undefined));
    return null;
  }
  r.error("E307", v.span, `\`${op}\` needs numbers; got ${describe(v)}`);
  return null;
}

/** A value as the user would write it, for messages: `1.5`, `"logs"`, `relu`, `[1, 2]`, `l2(...)`. */
export function describe(v: V): string {
  switch (v.t) {
    case "num":
      return v.raw;
    case "str":
      return `"${v.v}"`;
    case "bool":
      return String(v.v);
    case "name":
      return `\`${v.name}\``;
    case "list":
      return v.items.length <= 4 ? `[${v.items.map(describe).join(", ").replace(/`/g, "")}]` : `a list of ${v.items.length}`;
    case "obj":
      return "an object `{ ... }`";
    case "call":
      return `\`${v.callee}(...)\``;
  }
}

/** The IR/JSON form of a plain value (no catalog resolution): names become strings. */
export function plain(v: V): unknown {
  switch (v.t) {
    case "num":
    case "str":
    case "bool":
      return v.v;
    case "name":
      return v.name;
    case "list":
      return v.items.map(plain);
    case "obj":
      return Object.fromEntries(v.entries.map((e) => [e.key, plain(e.value)]));
    case "call":
      return { kind: v.callee, args: Object.fromEntries(v.args.map((a, i) => [a.name ?? String(i), plain(a.value)])) };
  }
}

/** Span of the part of `v` an ajv instancePath tail points at (`/0` of a list: its first item). */
export function spanAt(v: V, path: string[]): Span {
  let cur = v;
  for (const seg of path) {
    if (cur.t === "list" && /^\d+$/.test(seg) && cur.items[Number(seg)]) cur = cur.items[Number(seg)];
    else if (cur.t === "obj") {
      const e = cur.entries.find((x) => x.key === seg);
      if (!e) break;
      cur = e.value;
    } else break;
  }
  return cur.span;
}
