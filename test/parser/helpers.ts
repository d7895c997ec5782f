// Shared by the parser and formatter tests.
import type { Diagnostic } from "../../src/parser/diagnostics.js";

/** The AST with every span (and span-like field) removed, for structural comparison. */
export function stripSpans<T>(x: T): T {
  if (Array.isArray(x)) return x.map(stripSpans) as T;
  if (x && typeof x === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) {
      if (k === "span" || k.endsWith("Span")) continue;
      out[k] = stripSpans(v);
    }
    return out as T;
  }
  return x;
}

/** `line:column code message (hint)`: one line per diagnostic, as stored in golden files. */
export function diagLines(diags: readonly Diagnostic[]): string {
  return diags
    .map((d) => `${d.span.startLine}:${d.span.startColumn}-${d.span.endLine}:${d.span.endColumn} ${d.severity} ${d.code} ${d.message}${d.hint ? `\n    hint: ${d.hint}` : ""}`)
    .join("\n");
}
