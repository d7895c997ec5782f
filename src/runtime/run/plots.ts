// curves.svg and curves.png: loss and accuracy per epoch, training and validation.
// The PNG is the same SVG rendered by resvg, with DejaVu Sans from the dejavu-fonts-ttf package
// (so the text shows on machines without system fonts; system fonts remain a fallback).
import { createRequire } from "node:module";
import { Resvg } from "@resvg/resvg-js";
import type { EpochLogs } from "../engine.js";

const FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";
const TRAIN = "#1f77b4";
const VAL = "#ff7f0e";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** "Nice" tick values covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= hi + step * 0.5 && ticks.length < 50; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi - 1e-12) ticks.push(Number((first + ticks.length * step).toPrecision(12)));
  return ticks;
}

function fmtTick(v: number, step: number): string {
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  const scaled = step * Math.pow(10, decimals);
  return v.toFixed(decimals + (Math.abs(scaled - Math.round(scaled)) > 1e-6 ? 1 : 0));
}

interface Series {
  name: string;
  color: string;
  dashed: boolean;
  values: (number | null)[];
}

function panel(
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  series: Series[],
  epochs: number,
  percent: boolean,
): string {
  const left = 64;
  const right = 24;
  const top = 40;
  const bottom = 48;
  const pw = w - left - right;
  const ph = h - top - bottom;
  const finite = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (percent) {
    lo = Math.max(0, lo - (hi - lo) * 0.05);
    hi = Math.min(1, hi + (hi - lo) * 0.05);
  } else {
    lo = Math.max(0, lo - (hi - lo) * 0.05);
    hi = hi + (hi - lo) * 0.05;
  }
  const yt = niceTicks(lo, hi, 5);
  const ylo = yt[0];
  const yhi = yt[yt.length - 1];
  // one epoch: a point in the middle; more: epoch 1 at the left edge, the last at the right
  const xlo = epochs <= 1 ? 0 : 1;
  const xhi = epochs <= 1 ? 2 : epochs;
  const X = (e: number) => x0 + left + ((e - xlo) / (xhi - xlo)) * pw;
  const Y = (v: number) => y0 + top + ph - ((v - ylo) / (yhi - ylo || 1)) * ph;
  const out: string[] = [];
  out.push(
    `<text x="${x0 + left + pw / 2}" y="${y0 + 24}" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
  );
  out.push(`<rect x="${x0 + left}" y="${y0 + top}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#bbb"/>`);
  const ystep = yt.length > 1 ? yt[1] - yt[0] : 1;
  for (const t of yt) {
    const y = Y(t).toFixed(1);
    out.push(`<line x1="${x0 + left}" x2="${x0 + left + pw}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`);
    const label = percent ? `${fmtTick(t * 100, ystep * 100)}%` : fmtTick(t, ystep);
    out.push(`<text x="${x0 + left - 8}" y="${y}" dy="4" text-anchor="end" font-size="12" fill="#444">${label}</text>`);
  }
  const xstep = Math.max(1, Math.ceil(epochs / 10));
  for (let e = 1; e <= Math.max(epochs, 1); e += xstep) {
    const x = X(e).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${y0 + top}" y2="${y0 + top + ph}" stroke="#eeeeee"/>`);
    out.push(`<text x="${x}" y="${y0 + top + ph + 18}" text-anchor="middle" font-size="12" fill="#444">${e}</text>`);
  }
  out.push(
    `<text x="${x0 + left + pw / 2}" y="${y0 + h - 10}" text-anchor="middle" font-size="13" fill="#333">epoch</text>`,
  );
  for (const s of series) {
    const pts = s.values.map((v, i) => (v !== null && Number.isFinite(v) ? [X(i + 1), Y(v)] : null));
    let d = "";
    let pen = false;
    for (const p of pts) {
      if (p === null) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${p[0].toFixed(1)},${p[1].toFixed(1)}`;
      pen = true;
    }
    if (d) {
      out.push(
        `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="7 4"' : ""} stroke-linejoin="round"/>`,
      );
    }
    if (epochs <= 40) {
      for (const p of pts)
        if (p) out.push(`<circle cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    }
  }
  // legend inside the plot, right: at the top for loss (falls), at the bottom for accuracy (rises)
  const lw = 172;
  const lx = x0 + left + pw - lw - 8;
  let ly = percent ? y0 + top + ph - series.length * 20 - 12 : y0 + top + 10;
  out.push(
    `<rect x="${lx}" y="${ly - 4}" width="${lw}" height="${series.length * 20 + 6}" fill="white" fill-opacity="0.85" stroke="#ccc" rx="3"/>`,
  );
  for (const s of series) {
    const last = [...s.values].reverse().find((v) => v !== null && Number.isFinite(v));
    const lastText =
      last === undefined || last === null ? "" : percent ? ` ${(last * 100).toFixed(2)}%` : ` ${last.toPrecision(3)}`;
    out.push(
      `<line x1="${lx + 8}" x2="${lx + 34}" y1="${ly + 9}" y2="${ly + 9}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="7 4"' : ""}/>`,
    );
    out.push(`<text x="${lx + 40}" y="${ly + 13}" font-size="12" fill="#222">${esc(s.name)}${lastText}</text>`);
    ly += 20;
  }
  return out.join("\n");
}

/** The SVG: a loss panel and, when the history has accuracy, an accuracy panel beside it. */
export function curvesSvg(history: EpochLogs[], title = ""): string {
  const epochs = history.length;
  const col = (k: string) => history.map((r) => (r[k] === undefined ? null : r[k]));
  const has = (k: string) => history.some((r) => r[k] !== undefined);
  const panels: { title: string; series: Series[]; percent: boolean }[] = [];
  const lossSeries: Series[] = [{ name: "training", color: TRAIN, dashed: false, values: col("loss") }];
  if (has("val_loss")) lossSeries.push({ name: "validation", color: VAL, dashed: true, values: col("val_loss") });
  panels.push({ title: "loss", series: lossSeries, percent: false });
  if (has("accuracy")) {
    const acc: Series[] = [{ name: "training", color: TRAIN, dashed: false, values: col("accuracy") }];
    if (has("val_accuracy")) acc.push({ name: "validation", color: VAL, dashed: true, values: col("val_accuracy") });
    panels.push({ title: "accuracy", series: acc, percent: true });
  }
  const pw = 480;
  const ph = 360;
  const head = title ? 36 : 0;
  const width = pw * panels.length;
  const height = ph + head;
  const body = panels.map((p, i) => panel(i * pw, head, pw, ph, p.title, p.series, epochs, p.percent)).join("\n");
  const heading = title
    ? `<text x="${width / 2}" y="26" text-anchor="middle" font-size="18" fill="#111">${esc(title)}</text>\n`
    : "";
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">\n` +
    `<rect width="${width}" height="${height}" fill="white"/>\n${heading}${body}\n</svg>\n`
  );
}

const require = createRequire(import.meta.url);
const FONT_FILES = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"].map((f) => require.resolve(`dejavu-fonts-ttf/ttf/${f}`));

/** Renders the SVG to PNG at twice its size. */
export function svgToPng(svg: string): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: 2 },
    background: "white",
    font: { fontFiles: FONT_FILES, loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return Buffer.from(resvg.render().asPng());
}
