// STUB (owner: checker). Keras-style summary of an IR model (nnc summary, run directory summary.txt).
import type { IRModel } from "./ir.js";

export interface SummaryJson {
  layers: { name: string; kind: string; outputShape: number[]; params: number }[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
  flops: number;
}

export function summaryJson(_model: IRModel): SummaryJson {
  throw new Error("summary not implemented yet");
}

export function formatSummary(_model: IRModel): string {
  throw new Error("summary not implemented yet");
}
