// summary.txt: the compiler's Keras-style summary, with a plain fallback while it is unavailable.
import type { IRModel } from "../../compiler/ir.js";
import { formatSummary } from "../../compiler/summary.js";

/** A plain table of the IR's layers, used only if formatSummary() throws. */
export function fallbackSummary(model: IRModel): string {
  const rows = model.layers.map((l) => [
    `${l.id} (${l.kind})`,
    `(None, ${l.outputShape.join(", ")})`,
    String(l.params),
  ]);
  const head = ["Layer (type)", "Output shape", "Param #"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join("")
      .trimEnd();
  const rule = "=".repeat(widths.reduce((a, b) => a + b, 0));
  return [
    `Model: "${model.name}"`,
    rule,
    line(head),
    rule,
    ...rows.map(line),
    rule,
    `Total params: ${model.params.total}`,
    `Trainable params: ${model.params.trainable}`,
    `Non-trainable params: ${model.params.nonTrainable}`,
    "",
  ].join("\n");
}

export function summaryText(model: IRModel): string {
  try {
    const s = formatSummary(model);
    return s.endsWith("\n") ? s : `${s}\n`;
  } catch {
    return fallbackSummary(model);
  }
}
