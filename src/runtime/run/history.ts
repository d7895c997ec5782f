// history.json and history.csv: one row per epoch, Keras's log names.
import type { EpochLogs } from "../engine.js";

/** Column order: loss, the metrics, val_ counterparts, lr, then anything else, alphabetically. */
export function historyColumns(history: EpochLogs[]): string[] {
  const keys = new Set<string>();
  for (const row of history) for (const k of Object.keys(row)) if (k !== "epoch") keys.add(k);
  const rank = (k: string): [number, string] => {
    if (k === "loss") return [0, k];
    if (k === "val_loss") return [2, k];
    if (k.startsWith("val_")) return [3, k.slice(4)];
    if (k === "lr") return [4, k];
    return [1, k];
  };
  return [...keys].sort((a, b) => {
    const [ra, na] = rank(a);
    const [rb, nb] = rank(b);
    return ra - rb || na.localeCompare(nb);
  });
}

/** {epoch: [1..n], columns: {...}, rows: [...]}: readable and easy to plot. */
export function historyJson(history: EpochLogs[]): string {
  const columns = historyColumns(history);
  const rows = history.map((row, i) => {
    const out: Record<string, number | null> = { epoch: i + 1 };
    // JSON has no NaN: missing and non-finite values are null
    for (const c of columns) out[c] = Number.isFinite(row[c]) ? row[c] : null;
    return out;
  });
  return `${JSON.stringify({ epochs: history.length, columns: ["epoch", ...columns], history: rows }, null, 2)}\n`;
}

/** CSV with a header row; empty cells for missing values, NaN/inf spelled out. */
export function historyCsv(history: EpochLogs[]): string {
  const columns = historyColumns(history);
  const lines = [["epoch", ...columns].join(",")];
  history.forEach((row, i) => {
    const cells = columns.map((c) => {
      const v = row[c];
      if (v === undefined) return "";
      if (Number.isNaN(v)) return "nan";
      if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
      return String(v);
    });
    lines.push([String(i + 1), ...cells].join(","));
  });
  return `${lines.join("\n")}\n`;
}
