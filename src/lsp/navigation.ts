// Go to definition, find references (blocks, models, named tensors, parameters and loop
// variables) and the outline (document symbols: models with their named tensors, blocks with
// their parameters, the train section with its settings).
import { SymbolKind, type DocumentSymbol, type Location, type Position } from "vscode-languageserver";
import type { Stmt } from "../parser/ast.js";
import type { Analysis } from "./analysis.js";
import { toRange } from "./diagnostics.js";
import { declSignature } from "./describe.js";
import { occurrenceAt, sameSymbol } from "./symbols.js";

export function definition(a: Analysis, position: Position): Location | null {
  const o = occurrenceAt(a.occurrences, a.doc.offsetAt(position));
  if (!o?.target) return null;
  return { uri: a.uri, range: toRange(a, o.target) };
}

export function references(a: Analysis, position: Position, includeDeclaration: boolean): Location[] {
  const o = occurrenceAt(a.occurrences, a.doc.offsetAt(position));
  if (!o?.target) return [];
  return a.occurrences
    .filter((x) => sameSymbol(o, x) && (includeDeclaration || x.span.startOffset !== x.target!.startOffset))
    .map((x) => ({ uri: a.uri, range: toRange(a, x.span) }));
}

export function documentSymbols(a: Analysis): DocumentSymbol[] {
  const text = a.doc.getText();
  const out: DocumentSymbol[] = [];
  const tensors = (body: readonly Stmt[], into: DocumentSymbol[]): void => {
    for (const s of body) {
      if (s.kind === "input" && s.name !== undefined && s.nameSpan) {
        into.push({ name: s.name, detail: "input", kind: SymbolKind.Variable, range: toRange(a, s.span), selectionRange: toRange(a, s.nameSpan) });
      } else if (s.kind === "chain" && s.target !== undefined && s.targetSpan) {
        into.push({ name: s.target, detail: "tensor", kind: SymbolKind.Variable, range: toRange(a, s.span), selectionRange: toRange(a, s.targetSpan) });
      } else if (s.kind === "for" || s.kind === "repeat") tensors(s.body, into);
    }
  };
  for (const d of a.program.decls) {
    if (d.kind === "train") {
      const children: DocumentSymbol[] = d.body.map((s) =>
        s.kind === "sweep"
          ? { name: `sweep ${s.variable}`, kind: SymbolKind.Property, range: toRange(a, s.span), selectionRange: toRange(a, s.variableSpan) }
          : { name: s.key, detail: text.slice(s.value.span.startOffset, s.value.span.endOffset).replace(/\s+/g, " ").slice(0, 60), kind: SymbolKind.Property, range: toRange(a, s.span), selectionRange: toRange(a, s.keySpan) },
      );
      out.push({ name: `train ${d.model}`, kind: SymbolKind.Event, range: toRange(a, d.span), selectionRange: toRange(a, d.modelSpan), children });
      continue;
    }
    const children: DocumentSymbol[] = [];
    if (d.kind === "block") {
      for (const p of d.params) children.push({ name: p.name, detail: "parameter", kind: SymbolKind.TypeParameter, range: toRange(a, p.span), selectionRange: toRange(a, p.nameSpan) });
    }
    tensors(d.body, children);
    out.push({
      name: d.name,
      detail: declSignature(d, text),
      kind: d.kind === "model" ? SymbolKind.Class : SymbolKind.Function,
      range: toRange(a, d.span),
      selectionRange: toRange(a, d.nameSpan),
      children,
    });
  }
  return out;
}
