// Rendering diagnostics for people (a code frame with a caret under the span) and for
// editors (DESIGN.md's JSON shape). Pure functions: no I/O, no colours unless asked.
import type { Diagnostic } from "../parser/diagnostics.js";

/** DESIGN.md: `nnc check --format json` prints an array of these. Lines and columns are 1-based. */
export interface JsonDiagnostic {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: Diagnostic["severity"];
  code: string;
  message: string;
  hint?: string;
}

export function toJsonDiagnostic(d: Diagnostic, file?: string): JsonDiagnostic {
  const j: JsonDiagnostic = {
    file: d.file ?? file ?? "",
    line: d.span.startLine,
    column: d.span.startColumn,
    endLine: d.span.endLine,
    endColumn: d.span.endColumn,
    severity: d.severity,
    code: d.code,
    message: d.message,
  };
  if (d.hint) j.hint = d.hint;
  return j;
}

export function toJson(diagnostics: readonly Diagnostic[], file?: string): JsonDiagnostic[] {
  return diagnostics.map((d) => toJsonDiagnostic(d, file));
}

export interface TextOptions {
  /** ANSI colours (the CLI turns them on for terminals unless NO_COLOR is set). */
  color?: boolean;
  /** Lines of source shown above the diagnostic's line. Default 1. */
  context?: number;
}

const ANSI = {
  red: "\x1b[31m",
  yellow: "\x1b[33m",
  blue: "\x1b[34m",
  cyan: "\x1b[36m",
  bold: "\x1b[1m",
  dim: "\x1b[2m",
  reset: "\x1b[0m",
};

/** Splits into lines the way the lexer counts them (\n, \r\n and lone \r). */
export function splitLines(source: string): string[] {
  return source.split(/\r\n|\r|\n/);
}

const MAX_SHOWN = 160;

/** Tabs to spaces (4 columns) and control characters to `?`, so carets line up. */
function visible(s: string): string {
  return s.replace(/\t/g, "    ").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "?");
}

/**
 * One diagnostic as text:
 *
 *     error[E111]: expected `)`, found `relu`
 *       --> model.nn:2:11
 *        |
 *      1 | model m {
 *      2 |   dense(1 relu
 *        |           ^^^^
 *        = hint: separate items with `,`
 */
export function renderDiagnostic(d: Diagnostic, source: string, file?: string, opts: TextOptions = {}): string {
  const c = (code: keyof typeof ANSI, s: string) => (opts.color ? `${ANSI[code]}${s}${ANSI.reset}` : s);
  const sevColor = d.severity === "error" ? "red" : d.severity === "warning" ? "yellow" : "blue";
  const where = `${d.file ?? file ?? "<input>"}:${d.span.startLine}:${d.span.startColumn}`;
  const out: string[] = [];
  out.push(`${c(sevColor, c("bold", `${d.severity}[${d.code}]`))}${c("bold", `: ${d.message}`)}`);
  const lines = splitLines(source);
  const lineNo = d.span.startLine;
  const gutterWidth = String(Math.min(lineNo, lines.length) || 1).length;
  const pad = " ".repeat(gutterWidth);
  out.push(`${pad}${c("cyan", "-->")} ${where}`);
  if (lineNo >= 1 && lineNo <= lines.length && source.length > 0) {
    out.push(`${pad} ${c("cyan", "|")}`);
    const context = opts.context ?? 1;
    for (let n = Math.max(1, lineNo - context); n < lineNo; n++) {
      const text = lines[n - 1]!;
      if (text.trim() === "") continue;
      out.push(`${c("cyan", String(n).padStart(gutterWidth))} ${c("cyan", "|")} ${clip(visible(text))}`);
    }
    const raw = lines[lineNo - 1]!;
    out.push(`${c("cyan", String(lineNo).padStart(gutterWidth))} ${c("cyan", "|")} ${clip(visible(raw))}`);
    const startCol = Math.max(1, Math.min(d.span.startColumn, raw.length + 1));
    const endCol = d.span.endLine > lineNo ? raw.length + 1 : Math.max(startCol + 1, Math.min(d.span.endColumn, raw.length + 1));
    const before = visible(raw.slice(0, startCol - 1)).length;
    const width = Math.max(1, visible(raw.slice(startCol - 1, endCol - 1)).length);
    if (before < MAX_SHOWN) {
      const carets = "^".repeat(Math.min(width, MAX_SHOWN - before));
      out.push(`${pad} ${c("cyan", "|")} ${" ".repeat(before)}${c(sevColor, carets)}`);
    }
  }
  if (d.hint) out.push(`${pad} ${c("cyan", "=")} ${c("bold", "hint")}: ${d.hint}`);
  return out.join("\n");
}

function clip(s: string): string {
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}...` : s;
}

/** All diagnostics of one file, separated by blank lines. */
export function renderDiagnostics(diagnostics: readonly Diagnostic[], source: string, file?: string, opts: TextOptions = {}): string {
  return diagnostics.map((d) => renderDiagnostic(d, source, file, opts)).join("\n\n");
}

/** "2 errors and 1 warning" / "no problems". */
export function countSummary(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.filter((d) => d.severity === "warning").length;
  const parts: string[] = [];
  if (errors) parts.push(`${errors} error${errors === 1 ? "" : "s"}`);
  if (warnings) parts.push(`${warnings} warning${warnings === 1 ? "" : "s"}`);
  return parts.length ? parts.join(" and ") : "no problems";
}
