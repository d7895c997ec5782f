// The compiler's diagnostics as LSP diagnostics: the same codes, messages and hints (the hint
// on its own line, and in `data` for code actions), warnings as warnings, and for a shape error
// the place that made the offending tensor as related information.
import {
  DiagnosticSeverity,
  DiagnosticTag,
  type Diagnostic as LspDiagnostic,
  type DiagnosticRelatedInformation,
  type Range,
} from "vscode-languageserver";
import type { Span } from "../parser/ast.js";
import type { Diagnostic } from "../parser/diagnostics.js";
import type { Analysis } from "./analysis.js";
import { shapeText } from "./describe.js";

export function toRange(a: Analysis, span: Span): Range {
  return { start: a.doc.positionAt(span.startOffset), end: a.doc.positionAt(Math.max(span.startOffset, span.endOffset)) };
}

const SEVERITY = { error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning, info: DiagnosticSeverity.Information } as const;

/** What a code action needs to know of a diagnostic it fixes. */
export interface DiagnosticData {
  hint?: string;
}

export function toLspDiagnostic(a: Analysis, d: Diagnostic): LspDiagnostic {
  const out: LspDiagnostic = {
    range: toRange(a, d.span),
    severity: SEVERITY[d.severity],
    code: d.code,
    source: "nnc",
    message: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message,
    data: { hint: d.hint } satisfies DiagnosticData,
  };
  if (d.code === "W604") out.tags = [DiagnosticTag.Unnecessary];
  const related = relatedInformation(a, d);
  if (related.length > 0) out.relatedInformation = related;
  return out;
}

/**
 * For a shape error (E4xx) on a step: where its input tensor was made, with that tensor's shape
 * ("`conv2d` gives [24, 24, 8] here").
 */
function relatedInformation(a: Analysis, d: Diagnostic): DiagnosticRelatedInformation[] {
  if (!d.code.startsWith("E4")) return [];
  const runs = a.steps.get(d.span.startOffset);
  if (!runs) return [];
  const out: DiagnosticRelatedInformation[] = [];
  const seen = new Set<number>();
  for (const r of runs) {
    if (r.output !== null || r.inputLayer === null || r.input === null) continue;
    const at = a.producers.get(`${r.model}\0${r.inputLayer}`);
    if (!at || seen.has(at.startOffset)) continue;
    seen.add(at.startOffset);
    const name = a.doc.getText().slice(at.startOffset, at.endOffset);
    out.push({
      location: { uri: a.uri, range: toRange(a, at) },
      message: `the input ${shapeText(r.input)} comes from \`${name}\` here`,
    });
  }
  return out;
}

export function lspDiagnostics(a: Analysis): LspDiagnostic[] {
  return a.diagnostics.map((d) => toLspDiagnostic(a, d));
}
