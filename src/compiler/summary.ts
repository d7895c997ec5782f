// Keras-style summary of an IR model: `nnc summary` and the run directory's summary.txt.
// One row per layer (id, kind, output shape with the batch dimension as None, params, FLOPs),
// a "Connected to" column when the graph is not a plain chain, then the totals.
import type { IRModel } from "./ir.js";

export interface SummaryJson {
  layers: { name: string; kind: string; outputShape: number[]; params: number }[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
  flops: number;
}

export function summaryJson(model: IRModel): SummaryJson {
  return {
    layers: model.layers.map((l) => ({ name: l.id, kind: l.kind, outputShape: [...l.outputShape], params: l.params })),
    totalParams: model.params.total,
    trainableParams: model.params.trainable,
    nonTrainableParams: model.params.nonTrainable,
    flops: model.flops,
  };
}

/** 1234567 -> "1,234,567". */
export function groupDigits(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Bytes of float32 weights, as Keras prints them: "1.55 MB". */
function size(params: number): string {
  const bytes = params * 4;
  const units = ["B", "KB", "MB", "GB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)} ${units[u]}`;
}

function isChain(model: IRModel): boolean {
  return model.layers.every((l, i) => (i === 0 ? l.inputs.length === 0 : l.inputs.length === 1 && l.inputs[0] === model.layers[i - 1].id));
}

export function formatSummary(model: IRModel): string {
  const chain = isChain(model);
  const header = ["Layer (type)", "Output Shape", "Param #", "FLOPs", ...(chain ? [] : ["Connected to"])];
  const rows = model.layers.map((l) => [
    `${l.id} (${l.kind})`,
    `(None, ${l.outputShape.join(", ")})`,
    groupDigits(l.params),
    groupDigits(l.flops),
    ...(chain ? [] : [l.inputs.join(", ")]),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  const line = (cells: string[]): string =>
    ` ${cells.map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i] - 2).padEnd(widths[i]) : c.padEnd(widths[i]))).join(" ")}`.trimEnd();
  const total = widths.reduce((a, b) => a + b + 1, 1);
  const out: string[] = [];
  out.push(`Model: "${model.name}"`);
  out.push("_".repeat(total));
  out.push(line(header));
  out.push("=".repeat(total));
  rows.forEach((r, i) => {
    out.push(line(r));
    if (i < rows.length - 1) out.push("");
  });
  out.push("=".repeat(total));
  out.push(`Total params: ${groupDigits(model.params.total)} (${size(model.params.total)})`);
  out.push(`Trainable params: ${groupDigits(model.params.trainable)} (${size(model.params.trainable)})`);
  out.push(`Non-trainable params: ${groupDigits(model.params.nonTrainable)} (${size(model.params.nonTrainable)})`);
  out.push(`FLOPs per sample: ${groupDigits(model.flops)}`);
  out.push("_".repeat(total));
  return `${out.join("\n")}\n`;
}
