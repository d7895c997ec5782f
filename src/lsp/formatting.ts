// Whole-document formatting through `nnc fmt`'s formatter: one edit replacing the text, or none
// when it is already formatted or has syntax errors (the formatter never guesses).
import type { TextEdit } from "vscode-languageserver";
import { format } from "../compiler/format.js";
import type { Analysis } from "./analysis.js";

export function formatDocument(a: Analysis): TextEdit[] {
  const text = a.doc.getText();
  const result = format(text);
  if (result.diagnostics.some((d) => d.severity === "error") || result.text === text) return [];
  return [{ range: { start: { line: 0, character: 0 }, end: a.doc.positionAt(text.length) }, newText: result.text }];
}
