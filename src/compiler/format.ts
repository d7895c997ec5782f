// `nnc fmt`: the canonical layout of a .nn file, printed from its AST with every comment kept.
//
// The layout: two spaces of indentation per body; one statement per line; `{` on the header's
// line and `}` on its own; one blank line between declarations, and at most one blank line
// wherever the source had blank lines between statements or comments; train settings with
// their values aligned in one column; `a, b` / `k: v` / `{ k: v }` / `x -> y` / `a * b` spacing;
// numbers and strings exactly as written. A call, list or object that does not fit in
// WIDTH columns (or holds a comment) is broken one item per line, indented two more spaces.
// format(format(x)) === format(x), and format(x) parses to the same AST as x.
import type {
  Arg,
  CallExpr,
  Comment,
  Decl,
  Expr,
  ListExpr,
  ObjectExpr,
  Param,
  Program,
  Span,
  Step,
  Stmt,
  TrainStmt,
} from "../parser/ast.js";
import { parse } from "../parser/index.js";
import { hasErrors, type Diagnostic } from "../parser/diagnostics.js";

export const WIDTH = 120;
const INDENT = "  ";

export interface FormatResult {
  /** The formatted text, or the input unchanged when it has syntax errors. */
  text: string;
  diagnostics: Diagnostic[];
}

/** Formats a whole file. With syntax errors, returns the text unchanged and the errors. */
export function format(text: string): FormatResult {
  const { program, diagnostics } = parse(text);
  if (hasErrors(diagnostics)) return { text, diagnostics };
  return { text: new Printer(text, program).print(), diagnostics };
}

/** A run of items between brackets: call arguments, list items, object entries. */
interface Group {
  open: string;
  close: string;
  /** Offsets of the opening and closing bracket in the source. */
  openAt: number;
  closeAt: number;
  items: { span: Span; render: (indent: string, prefix: number, suffix: number) => string; flat: () => string }[];
  /** `{ a: 1 }` pads inside the braces; `(a)` and `[a]` do not. */
  pad: boolean;
}

const PRECEDENCE = { "+": 1, "-": 1, "*": 2, "/": 2 } as const;

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

class Printer {
  private readonly used = new Set<number>();
  private readonly comments: Comment[];

  constructor(
    private readonly src: string,
    private readonly program: Program,
  ) {
    this.comments = [...program.comments].sort((a, b) => a.span.startOffset - b.span.startOffset);
  }

  print(): string {
    const lines: string[] = [];
    const decls = [...this.program.decls].sort((a, b) => a.span.startOffset - b.span.startOffset);
    let prevEnd = 0;
    let prevWasDecl = false;
    let first = true;
    const blankBefore = (start: number) => !first && (prevWasDecl || this.blankBetween(prevEnd, start));
    decls.forEach((d, k) => {
      for (const ci of this.commentsIn(prevEnd, d.span.startOffset)) {
        const c = this.take(ci);
        if (blankBefore(c.span.startOffset)) lines.push("");
        lines.push(c.text.trimEnd());
        prevEnd = c.span.endOffset;
        prevWasDecl = false;
        first = false;
      }
      if (blankBefore(d.span.startOffset)) lines.push("");
      const text = this.decl(d);
      const nextStart = decls[k + 1]?.span.startOffset ?? this.src.length;
      text[text.length - 1] += this.trailing(d.span.endOffset, d.span.endLine, nextStart);
      lines.push(...text);
      prevEnd = this.afterTrailing(d.span.endOffset, nextStart);
      prevWasDecl = true;
      first = false;
    });
    for (const ci of this.commentsIn(prevEnd, this.src.length)) {
      const c = this.take(ci);
      if (blankBefore(c.span.startOffset)) lines.push("");
      lines.push(c.text.trimEnd());
      prevEnd = c.span.endOffset;
      prevWasDecl = false;
      first = false;
    }
    return lines.length ? `${lines.join("\n")}\n` : "";
  }

  // ------------------------------------------------------------ comments

  /** All comments (printed or not) that start in [from, to). */
  private commentsFrom(from: number, to: number): Comment[] {
    const out: Comment[] = [];
    for (let i = this.firstAtOrAfter(from); i < this.comments.length && this.comments[i]!.span.startOffset < to; i++) out.push(this.comments[i]!);
    return out;
  }

  private firstAtOrAfter(from: number): number {
    let lo = 0;
    let hi = this.comments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.comments[mid]!.span.startOffset < from) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Indices of the comments not yet printed that start in [from, to), in source order. */
  private commentsIn(from: number, to: number): number[] {
    const out: number[] = [];
    for (let i = this.firstAtOrAfter(from); i < this.comments.length && this.comments[i]!.span.startOffset < to; i++) {
      if (!this.used.has(i)) out.push(i);
    }
    return out;
  }

  private take(i: number): Comment {
    this.used.add(i);
    return this.comments[i]!;
  }

  /** A comment on the same line as `offset` (after it, before `limit`), taken; or "". */
  private trailing(offset: number, line: number, limit: number): string {
    const [ci] = this.commentsIn(offset, limit).filter((i) => this.comments[i]!.span.startLine === line);
    return ci === undefined ? "" : ` ${this.take(ci).text.trimEnd()}`;
  }

  /** End of the trailing comment after `offset` if one was taken on that line, else `offset`. */
  private afterTrailing(offset: number, limit: number): number {
    const line = this.lineAt(offset - 1);
    let end = offset;
    for (const c of this.commentsFrom(offset, limit)) if (c.span.startLine === line) end = Math.max(end, c.span.endOffset);
    return end;
  }

  private lineStarts: number[] | null = null;

  /** The 1-based line of `offset`. */
  private lineAt(offset: number): number {
    if (!this.lineStarts) {
      const starts = [0];
      const re = /\r\n|\r|\n/g;
      for (let m = re.exec(this.src); m; m = re.exec(this.src)) starts.push(m.index + m[0].length);
      this.lineStarts = starts;
    }
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }

  private blankBetween(from: number, to: number): boolean {
    const gap = this.src.slice(from, to);
    return (gap.match(/\r\n|\r|\n/g)?.length ?? 0) >= 2;
  }

  /** Offset of `ch` at or after `from`, skipping white space (the bracket after a name). */
  private find(ch: string, from: number): number {
    const i = this.src.indexOf(ch, from);
    return i < 0 ? from : i;
  }

  // ------------------------------------------------------------ declarations

  private decl(d: Decl): string[] {
    if (d.kind === "train") {
      const open = this.find("{", d.modelSpan.endOffset);
      return this.body(`train ${d.model}`, open, d.span.endOffset - 1, d.body, "", (s, ind, pad) => this.trainStmt(s, ind, pad));
    }
    const params = d.params.length ? `(${d.params.map((p) => this.param(p)).join(", ")})` : "";
    const headerEnd = d.params.length ? d.params[d.params.length - 1]!.span.endOffset : d.nameSpan.endOffset;
    const open = this.find("{", headerEnd);
    const orphans = this.orphanLines(d.span.startOffset, open, "");
    return [...orphans, ...this.body(`${d.kind} ${d.name}${params}`, open, d.span.endOffset - 1, d.body, "", (s, ind) => this.stmt(s, ind))];
  }

  private param(p: Param): string {
    return p.default ? `${p.name} = ${this.flat(p.default)}` : p.name;
  }

  /**
   * `header {` + statements + `}`. Comments in the body keep their place: before a statement,
   * after it on its line, or before the closing brace.
   */
  private body<S extends Stmt | TrainStmt>(
    header: string,
    openAt: number,
    closeAt: number,
    stmts: S[],
    indent: string,
    render: (s: S, indent: string, keyWidth: number) => string[],
  ): string[] {
    const inner = indent + INDENT;
    const sorted = [...stmts].sort((a, b) => a.span.startOffset - b.span.startOffset);
    const firstStart = sorted[0]?.span.startOffset ?? closeAt;
    const openLine = this.lineAt(openAt);
    const headTrail = this.trailing(openAt + 1, openLine, firstStart);
    const lines: string[] = [];
    let prevEnd = openAt + 1;
    let first = true;
    const keyWidth = Math.max(0, ...sorted.map((s) => (s.kind === "setting" ? s.key.length : s.kind === "sweep" ? 5 : 0)));
    const emitComments = (to: number) => {
      for (const ci of this.commentsIn(prevEnd, to)) {
        const c = this.take(ci);
        if (!first && this.blankBetween(prevEnd, c.span.startOffset)) lines.push("");
        lines.push(inner + c.text.trimEnd());
        prevEnd = c.span.endOffset;
        first = false;
      }
    };
    sorted.forEach((s, k) => {
      emitComments(s.span.startOffset);
      if (!first && this.blankBetween(prevEnd, s.span.startOffset)) lines.push("");
      const nextStart = sorted[k + 1]?.span.startOffset ?? closeAt;
      const text = render(s, inner, keyWidth);
      const trail = this.trailing(s.span.endOffset, s.span.endLine, nextStart);
      // Comments inside the statement that found no place in it go above it.
      const orphans = this.orphanLines(s.span.startOffset, s.span.endOffset, inner);
      lines.push(...orphans);
      text[text.length - 1] += trail;
      lines.push(...text);
      prevEnd = this.afterTrailing(s.span.endOffset, nextStart);
      first = false;
    });
    emitComments(closeAt);
    if (lines.length === 0 && !headTrail) return [`${indent}${header} {}`];
    return [`${indent}${header} {${headTrail}`, ...lines, `${indent}}`];
  }

  private orphanLines(from: number, to: number, indent: string): string[] {
    return this.commentsIn(from, to).map((ci) => indent + this.take(ci).text.trimEnd());
  }

  private trainStmt(s: TrainStmt, indent: string, keyWidth: number): string[] {
    const key = s.kind === "sweep" ? "sweep" : s.key;
    const head = `${indent}${key.padEnd(keyWidth)} `;
    if (s.kind === "sweep") {
      const prefix = `${head}${s.variable} in `;
      return (prefix + this.expr(s.values, indent, prefix.length, 0)).split("\n");
    }
    return (head + this.expr(s.value, indent, head.length, 0)).split("\n");
  }

  private stmt(s: Stmt, indent: string): string[] {
    switch (s.kind) {
      case "input": {
        const prefix = `${indent}input ${s.name !== undefined ? `${s.name}: ` : ""}`;
        return (prefix + this.expr(s.shape, indent, prefix.length, 0)).split("\n");
      }
      case "chain": {
        let out = `${indent}${s.target !== undefined ? `${s.target} = ` : ""}`;
        const flatSteps = s.steps.map((st) => this.stepFlat(st));
        s.steps.forEach((st, i) => {
          if (i > 0) out += " -> ";
          const rest = flatSteps.slice(i + 1).reduce((n, f) => n + f.length + 4, 0);
          const lastLine = out.slice(out.lastIndexOf("\n") + 1);
          out += this.step(st, indent, lastLine.length, rest);
        });
        return out.split("\n");
      }
      case "for":
      case "repeat": {
        const head = s.kind === "for" ? `for ${s.variable} in ${this.flat(s.iterable)}` : `repeat ${this.flat(s.count)}`;
        const headEnd = s.kind === "for" ? s.iterable.span.endOffset : s.count.span.endOffset;
        const open = this.find("{", headEnd);
        const orphans = this.orphanLines(s.span.startOffset, open, indent);
        return [...orphans, ...this.body(head, open, s.span.endOffset - 1, s.body, indent, (x, ind) => this.stmt(x, ind))];
      }
    }
  }

  private stepFlat(st: Step): string {
    return st.args === null ? st.name : `${st.name}(${st.args.map((a) => this.argFlat(a)).join(", ")})`;
  }

  private step(st: Step, indent: string, prefix: number, suffix: number): string {
    if (st.args === null) return st.name;
    const group = this.argsGroup(st.args, this.find("(", st.nameSpan.endOffset), st.span.endOffset - 1);
    return st.name + this.group(group, indent, prefix + st.name.length, suffix);
  }

  // ------------------------------------------------------------ expressions

  private argFlat(a: Arg): string {
    return a.name !== undefined ? `${a.name}: ${this.flat(a.value)}` : this.flat(a.value);
  }

  private argsGroup(args: Arg[], openAt: number, closeAt: number): Group {
    return {
      open: "(",
      close: ")",
      openAt,
      closeAt,
      pad: false,
      items: args.map((a) => {
        const name = a.name !== undefined ? `${a.name}: ` : "";
        return {
          span: a.span,
          flat: () => this.argFlat(a),
          render: (indent: string, prefix: number, suffix: number) => name + this.expr(a.value, indent, prefix + name.length, suffix),
        };
      }),
    };
  }

  private listGroup(e: ListExpr): Group {
    return {
      open: "[",
      close: "]",
      openAt: e.span.startOffset,
      closeAt: e.span.endOffset - 1,
      pad: false,
      items: e.items.map((it) => ({
        span: it.span,
        flat: () => this.flat(it),
        render: (indent: string, prefix: number, suffix: number) => this.expr(it, indent, prefix, suffix),
      })),
    };
  }

  private objectGroup(e: ObjectExpr): Group {
    return {
      open: "{",
      close: "}",
      openAt: e.span.startOffset,
      closeAt: e.span.endOffset - 1,
      pad: true,
      items: e.entries.map((en) => {
        const key = `${IDENT_RE.test(en.key) ? en.key : JSON.stringify(en.key)}: `;
        return {
          span: en.span,
          flat: () => key + this.flat(en.value),
          render: (indent: string, prefix: number, suffix: number) => key + this.expr(en.value, indent, prefix + key.length, suffix),
        };
      }),
    };
  }

  private callGroup(e: CallExpr): Group {
    return this.argsGroup(e.args, this.find("(", e.calleeSpan.endOffset), e.span.endOffset - 1);
  }

  private groupOf(e: Expr): Group | undefined {
    if (e.kind === "list") return this.listGroup(e);
    if (e.kind === "object") return this.objectGroup(e);
    if (e.kind === "call") return this.callGroup(e);
    return undefined;
  }

  /**
   * `e` laid out at a line that already holds `prefix` columns and will be followed by
   * `suffix` more; continuation lines are indented from `indent`.
   */
  private expr(e: Expr, indent: string, prefix: number, suffix: number): string {
    const g = this.groupOf(e);
    if (!g) return this.flat(e);
    const head = e.kind === "call" ? e.callee : "";
    return head + this.group(g, indent, prefix + head.length, suffix);
  }

  private group(g: Group, indent: string, prefix: number, suffix: number): string {
    const flat = this.groupFlat(g);
    // A comment anywhere between the brackets keeps the group broken, so it has a line to live on.
    const forced = this.commentsIn(g.openAt, g.closeAt).length > 0;
    if (!forced && prefix + flat.length + suffix <= WIDTH) return flat;
    if (g.items.length === 0 && !forced) return flat;
    const inner = indent + INDENT;
    const lines: string[] = [g.open];
    let prevEnd = g.openAt + 1;
    g.items.forEach((it, k) => {
      for (const ci of this.commentsIn(prevEnd, it.span.startOffset)) lines.push(inner + this.take(ci).text.trimEnd());
      const comma = k < g.items.length - 1 ? "," : "";
      const text = inner + it.render(inner, inner.length, comma.length) + comma;
      // Comments inside the item that no nested group could hold go on lines above it.
      for (const ci of this.commentsIn(it.span.startOffset, it.span.endOffset)) lines.push(inner + this.take(ci).text.trimEnd());
      const nextStart = g.items[k + 1]?.span.startOffset ?? g.closeAt;
      const trail = this.trailingAfterItem(it.span.endOffset, nextStart);
      lines.push(text + trail);
      prevEnd = it.span.endOffset;
    });
    for (const ci of this.commentsIn(prevEnd, g.closeAt)) lines.push(inner + this.take(ci).text.trimEnd());
    lines.push(indent + g.close);
    return lines.join("\n");
  }

  /** A comment on the line where an item ends (after its `,`), before the next item. */
  private trailingAfterItem(end: number, nextStart: number): string {
    return this.trailing(end, this.lineAt(end - 1), nextStart);
  }

  private groupFlat(g: Group): string {
    if (g.items.length === 0) return g.open + g.close;
    const body = g.items.map((it) => it.flat()).join(", ");
    return g.pad ? `${g.open} ${body} ${g.close}` : `${g.open}${body}${g.close}`;
  }

  /** One-line form of an expression. */
  flat(e: Expr): string {
    switch (e.kind) {
      case "number":
        return e.raw;
      case "string":
        return this.src.slice(e.span.startOffset, e.span.endOffset);
      case "bool":
        return e.value ? "true" : "false";
      case "ident":
        return e.name;
      case "list":
      case "object":
      case "call": {
        const g = this.groupOf(e)!;
        return (e.kind === "call" ? e.callee : "") + this.groupFlat(g);
      }
      case "unary": {
        const inner = this.flat(e.operand);
        return e.operand.kind === "binary" ? `-(${inner})` : `-${inner}`;
      }
      case "binary": {
        // The left spine of `a + b + c + ...` iteratively: a long sum must not overflow the stack.
        // A left operand needs parentheses when it binds more loosely, a right one also when equally.
        const spine: Extract<Expr, { kind: "binary" }>[] = [];
        let x: Expr = e;
        while (x.kind === "binary" && (spine.length === 0 || PRECEDENCE[x.op] >= PRECEDENCE[spine[spine.length - 1]!.op])) {
          spine.push(x);
          x = x.left;
        }
        let s = this.flat(x);
        if (x.kind === "binary") s = `(${s})`;
        for (let i = spine.length - 1; i >= 0; i--) {
          const b = spine[i]!;
          let rs = this.flat(b.right);
          if (b.right.kind === "binary" && PRECEDENCE[b.right.op] <= PRECEDENCE[b.op]) rs = `(${rs})`;
          s = `${s} ${b.op} ${rs}`;
        }
        return s;
      }
    }
  }
}
