// Collects the checker's diagnostics: deduplicated (a block expanded twice reports a mistake
// in its body once), positioned on the offending token, sorted by position at the end.
import type { Span } from "../../parser/ast.js";
import type { Diagnostic, Severity } from "../../parser/diagnostics.js";

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  private seen = new Set<string>();
  /** Innermost last: "in `hidden` called at line 14". Appended to messages about block bodies. */
  /** What the checker is inside of ("in `hidden` called at line 12"), made only when a message needs it. */
  private context: (() => string)[] = [];
  /** When > 0, diagnostics are dropped (used to probe without reporting). */
  private muted = 0;
  errorCount = 0;

  constructor(readonly file?: string) {}

  /** `hint` may be a function: made only when the diagnostic is new (did-you-mean is not free). */
  error(code: string, span: Span, message: string, hint?: string | (() => string | undefined)): void {
    this.add("error", code, span, message, hint);
  }

  warning(code: string, span: Span, message: string, hint?: string): void {
    this.add("warning", code, span, message, hint);
  }

  add(severity: Severity, code: string, span: Span, message: string, hintOrMake?: string | (() => string | undefined)): void {
    if (this.muted > 0) return;
    const ctx = this.context.length > 0 ? ` (${this.context[this.context.length - 1]!()})` : "";
    const full = message + ctx;
    const key = `${code}|${span.startOffset}|${span.endOffset}|${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (severity === "error") this.errorCount++;
    const hint = typeof hintOrMake === "function" ? hintOrMake() : hintOrMake;
    const d: Diagnostic = { severity, code, message: full, span };
    if (hint !== undefined) d.hint = hint;
    if (this.file !== undefined) d.file = this.file;
    this.diagnostics.push(d);
  }

  withContext<T>(ctx: () => string, f: () => T): T {
    this.context.push(ctx);
    try {
      return f();
    } finally {
      this.context.pop();
    }
  }

  /** Runs f, returning whether it reported any error (still reported). */
  errorsDuring(f: () => void): boolean {
    const before = this.errorCount;
    f();
    return this.errorCount > before;
  }

  sorted(): Diagnostic[] {
    return [...this.diagnostics].sort(
      (a, b) => a.span.startLine - b.span.startLine || a.span.startColumn - b.span.startColumn || a.code.localeCompare(b.code),
    );
  }
}
