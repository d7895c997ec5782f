// Code actions: the fixes the compiler's hints already name, as quick fixes.
//   "did you mean `dense`?"                  -> rename the misspelt name
//   "in nnc this is `max_pool` (...)"        -> rename the Keras/PyTorch spelling
//   "insert `flatten` before this layer"     -> insert it (a line of its own, or `flatten ->`)
//   "named arguments are written with `:`"   -> `kernel=5` becomes `kernel: 5`
//   "remove the extra `,`"                   -> remove it
import { CodeActionKind, type CodeAction, type Range, type TextEdit } from "vscode-languageserver";
import type { Diagnostic } from "../parser/diagnostics.js";
import type { Analysis } from "./analysis.js";
import { toLspDiagnostic, toRange } from "./diagnostics.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function codeActions(a: Analysis, range: Range): CodeAction[] {
  const from = a.doc.offsetAt(range.start);
  const to = a.doc.offsetAt(range.end);
  const out: CodeAction[] = [];
  for (const d of a.diagnostics) {
    // Diagnostics touching the range (a zero-width one at the cursor too).
    if (d.span.endOffset < from || d.span.startOffset > to) continue;
    const fix = fixFor(a, d);
    if (!fix) continue;
    out.push({
      title: fix.title,
      kind: CodeActionKind.QuickFix,
      diagnostics: [toLspDiagnostic(a, d)],
      isPreferred: true,
      edit: { changes: { [a.uri]: fix.edits } },
    });
  }
  return out;
}

interface Fix {
  title: string;
  edits: TextEdit[];
}

function fixFor(a: Analysis, d: Diagnostic): Fix | undefined {
  const text = a.doc.getText();
  const hint = d.hint ?? "";
  const mean = /did you mean `([^`]+)`\?/.exec(hint) ?? /^in nnc this is `([^`]+)`/.exec(hint);
  if (mean) {
    const replacement = mean[1]!;
    let start = d.span.startOffset;
    let end = d.span.endOffset;
    // E113 (`repaet 3 {`) points at the token after the misspelt word: the word is just before it.
    if (!NAME.test(text.slice(start, end))) {
      const before = /([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(text.slice(0, start));
      if (!before) return undefined;
      end = start - (before[0].length - before[1]!.length);
      start = end - before[1]!.length;
    }
    const old = text.slice(start, end);
    if (!NAME.test(old) || old === replacement) return undefined;
    return { title: `Change \`${old}\` to \`${replacement}\``, edits: [{ range: toRange(a, { ...d.span, startOffset: start, endOffset: end }), newText: replacement }] };
  }
  if (hint.startsWith("insert `flatten` before this layer")) {
    const at = d.span.startOffset;
    const lineStart = text.lastIndexOf("\n", at - 1) + 1;
    const indent = text.slice(lineStart, at);
    // The step starts its line: `flatten` goes on a line of its own above it; else `flatten ->`.
    if (/^[ \t]*$/.test(indent)) {
      return { title: "Insert `flatten` before this layer", edits: [{ range: toRange(a, { ...d.span, startOffset: lineStart, endOffset: lineStart }), newText: `${indent}flatten\n` }] };
    }
    return { title: "Insert `flatten` before this layer", edits: [{ range: toRange(a, { ...d.span, startOffset: at, endOffset: at }), newText: "flatten -> " }] };
  }
  if (hint.startsWith("named arguments are written with `:`") && text[d.span.startOffset] === "=") {
    // `kernel=5`, `kernel = 5`: from the end of the name to the start of the value.
    let start = d.span.startOffset;
    while (start > 0 && /[ \t]/.test(text[start - 1]!)) start--;
    let end = d.span.startOffset + 1;
    while (end < text.length && /[ \t]/.test(text[end]!)) end++;
    const name = /([A-Za-z_][A-Za-z0-9_]*)$/.exec(text.slice(0, start))?.[1] ?? "name";
    return { title: `Write \`${name}: ...\``, edits: [{ range: toRange(a, { ...d.span, startOffset: start, endOffset: end }), newText: ": " }] };
  }
  if (hint === "remove the extra `,`" && text[d.span.startOffset] === ",") {
    return { title: "Remove the extra `,`", edits: [{ range: toRange(a, { ...d.span, endOffset: d.span.startOffset + 1 }), newText: "" }] };
  }
  return undefined;
}
