// Inlay hints: the output shape after each layer and block call (`-> [14, 14, 8]`), at the end
// of the step. A step applied several times (in a loop, or in a block called more than once)
// shows each distinct shape. Toggled by the `nnc.inlayHints.shapes` setting.
import { InlayHintKind, type InlayHint, type Range } from "vscode-languageserver";
import type { Analysis } from "./analysis.js";
import { distinctShapes, shapeText } from "./describe.js";

export function inlayHints(a: Analysis, range: Range): InlayHint[] {
  const from = a.doc.offsetAt(range.start);
  const to = a.doc.offsetAt(range.end);
  const out: InlayHint[] = [];
  for (const o of a.occurrences) {
    if ((o.kind !== "layer" && o.kind !== "block") || !o.step) continue;
    const end = o.step.span.endOffset;
    if (end < from || end > to) continue;
    const shapes = distinctShapes((a.steps.get(o.step.nameSpan.startOffset) ?? []).map((r) => r.output));
    if (shapes.length === 0) continue;
    const shown = shapes.length > 3 ? `${shapes.slice(0, 3).map(shapeText).join(" | ")} | ...` : shapes.map(shapeText).join(" | ");
    out.push({ position: a.doc.positionAt(end), label: `-> ${shown}`, kind: InlayHintKind.Type, paddingLeft: true });
  }
  return out;
}
