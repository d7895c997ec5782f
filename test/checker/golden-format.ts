// The text form of diagnostics in golden files: one line per diagnostic with its exact span,
// severity, code and message, then its hint indented.
import type { Diagnostic } from "../../src/parser/diagnostics.js";

export function formatGoldenDiagnostics(diagnostics: readonly Diagnostic[]): string {
  const lines: string[] = [];
  for (const d of diagnostics) {
    const s = d.span;
    lines.push(`${s.startLine}:${s.startColumn}-${s.endLine}:${s.endColumn} ${d.severity} ${d.code}: ${d.message}`);
    if (d.hint) lines.push(`    hint: ${d.hint}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The source text a diagnostic's span covers (for checking that it sits on the right token). */
export function spanText(source: string, d: Diagnostic): string {
  return source.slice(d.span.startOffset, d.span.endOffset);
}
