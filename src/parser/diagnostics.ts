// Diagnostics: what every stage returns instead of throwing.
// Codes are stable (tests and editors rely on them):
//   E1xx syntax (parser)        E2xx names (unknown layer, unknown parameter, duplicates)
//   E3xx argument values        E4xx shapes
//   E5xx training section       W6xx warnings (likely mistakes)
//   E9xx input/output problems (unreadable file, ...)
import type { Span } from "./ast.js";

export type Severity = "error" | "warning" | "info";

export interface Diagnostic {
  severity: Severity;
  code: string;
  /** In the language's own words: never chevrotain token names or JSON-Schema jargon. */
  message: string;
  span: Span;
  /** "did you mean `max_pool`?", "insert `flatten` before this layer", ... */
  hint?: string;
  file?: string;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}
