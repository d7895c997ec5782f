// The page of `nnc serve`, bundled by esbuild (src/serve/server.ts) with what it imports:
// src/runtime/digits.ts, the very preprocessing `nnc predict` runs, and nnc's extra tfjs layers.
// TensorFlow.js itself comes from /tf.min.js (node_modules/@tensorflow/tfjs/dist), as the global `tf`.
//
// Two views (the URL's #draw and #runs):
// - Draw: a 280x280 pad (pointer events: mouse, touch, pen), undo and clear; after each change
//   the canvas's pixels go through preprocessDigit into 28x28, shown beside the pad, and the
//   picked run's model predicts on tfjs's cpu backend (the backend `nnc predict` uses too).
// - Runs: each run's figures, settings and summary, and its curves, drawn as SVG by the code
//   below. No charting library: the charts need a per-epoch and a per-batch x on one axis, the
//   learning rate on its own axis, a marker on the best checkpoint, several runs overlaid, a
//   hover readout and appending points live, which is a few hundred lines of plain SVG here;
//   a library would add a dependency to serve offline and still need most of this glue.
// Live: an EventSource on /api/live brings the records each run appends to its events.jsonl.
import type * as TF from "@tensorflow/tfjs";
import { classNamesFor, greyFromRgba, preprocessDigit, toProbabilities } from "../../runtime/digits.js";
import { registerNncLayers } from "../../runtime/engines/tfjs/model.js";

declare const tf: typeof TF;

type Logs = Record<string, number | null>;
type EventRecord = Record<string, unknown> & { type: string };

interface RunEntry {
  id: string;
  model: string | null;
  status: string;
  hasModel: boolean;
  testAccuracy: number | null;
  epochs: number | null;
  started: string | null;
}

interface RunState {
  entry: RunEntry;
  loaded: boolean;
  details: Record<string, unknown> | null;
  /** Byte offset of events.jsonl the page has read up to. */
  eventsEnd: number;
  start: EventRecord | null;
  stepsPerEpoch: number;
  plannedEpochs: number;
  epochs: Logs[];
  /** [x (in epochs), loss, accuracy] per batch. */
  batches: [number, number | null, number | null][];
  logs: string[];
  ended: boolean;
  /** Live records that came while /api/run was being read (applied after it, when newer). */
  pending: { record: EventRecord; end: number }[];
  loading: boolean;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const svgNs = "http://www.w3.org/2000/svg";
const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f"];

const runs = new Map<string, RunState>();
const selected: string[] = [];
const colourOf = new Map<string, string>();

function colour(id: string): string {
  let c = colourOf.get(id);
  if (!c) {
    c = COLOURS[colourOf.size % COLOURS.length]!;
    colourOf.set(id, c);
  }
  return c;
}

function runUrl(id: string, path: string): string {
  return `/run/${encodeURIComponent(id)}/${path}`;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${(await res.text()).trim()}`);
  return (await res.json()) as T;
}

// ---------------------------------------------------------------- views

function showView(): void {
  const view = location.hash === "#runs" ? "runs" : location.hash === "#draw" ? "draw" : document.body.dataset.view;
  const runsView = view === "runs";
  $("view-draw").hidden = runsView;
  $("view-runs").hidden = !runsView;
  $("tab-draw").classList.toggle("active", !runsView);
  $("tab-runs").classList.toggle("active", runsView);
  if (runsView) renderCharts();
}

// ---------------------------------------------------------------- draw

interface Point {
  x: number;
  y: number;
}
/** The pen's width: a digit drawn 200 px tall gets MNIST's strokes of about 2.5 px in its 20x20 box. */
const BRUSH = 26;
const strokes: Point[][] = [];
let current: Point[] | null = null;
let model: TF.LayersModel | null = null;
let classNames: string[] = [];
let modelId = "";

/** State for anyone inspecting the page (the browser test reads it). */
const drawState = {
  version: 0,
  predictedVersion: -1,
  input: null as number[] | null,
  probabilities: null as number[] | null,
  top: null as string | null,
  model: "",
  /** The pointerType of the last stroke: mouse, touch or pen. */
  pointer: "",
};
(window as unknown as { nncDraw: typeof drawState }).nncDraw = drawState;

const pad = () => $<HTMLCanvasElement>("pad");

function paint(): void {
  const ctx = pad().getContext("2d", { willReadFrequently: true })!;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, 280, 280);
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineWidth = BRUSH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of strokes) {
    if (s.length === 1) {
      ctx.beginPath();
      ctx.arc(s[0]!.x, s[0]!.y, BRUSH / 2, 0, Math.PI * 2);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(s[0]!.x, s[0]!.y);
    for (const p of s.slice(1)) ctx.lineTo(p.x, p.y);
    ctx.stroke();
  }
}

let predictQueued = false;
function changed(): void {
  drawState.version += 1;
  paint();
  if (!predictQueued) {
    predictQueued = true;
    requestAnimationFrame(() => {
      predictQueued = false;
      predict();
    });
  }
}

function showSeen(input: Float32Array | null): void {
  const ctx = $<HTMLCanvasElement>("seen").getContext("2d")!;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = input ? Math.round(input[i]! * 255) : 0;
    img.data[i * 4] = img.data[i * 4 + 1] = img.data[i * 4 + 2] = v;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function showBars(probs: number[] | null): void {
  const bars = $("bars");
  bars.textContent = "";
  if (!probs) {
    $("top-class").textContent = "\u2013";
    $("top-class").dataset.class = "";
    return;
  }
  const order = probs.map((p, c) => [p, c] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  $("top-class").textContent = classNames[order[0]![1]] ?? String(order[0]![1]);
  $("top-class").dataset.class = String(order[0]![1]);
  for (const [p, c] of order.slice(0, 5)) {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.class = String(c);
    const label = document.createElement("span");
    label.textContent = classNames[c] ?? String(c);
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    fill.style.width = `${(p * 100).toFixed(1)}%`;
    track.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = `${(p * 100).toFixed(1)}%`;
    row.append(label, track, pct);
    bars.append(row);
  }
}

function predict(): void {
  const version = drawState.version;
  let input: Float32Array | null = null;
  if (strokes.length > 0) {
    const ctx = pad().getContext("2d", { willReadFrequently: true })!;
    const { data } = ctx.getImageData(0, 0, 280, 280);
    try {
      input = preprocessDigit(greyFromRgba(data, 280, 280), "the drawing");
    } catch {
      input = null; // no ink (yet)
    }
  }
  showSeen(input);
  drawState.input = input ? Array.from(input) : null;
  if (input && model) {
    const m = model;
    const values = tf.tidy(() => {
      const shape = m.inputs[0]!.shape.slice(1).map((d) => d ?? 1);
      const y = m.predict(tf.tensor(input!, [1, ...shape])) as TF.Tensor;
      return Array.from(y.dataSync());
    });
    const probs = toProbabilities(values);
    drawState.probabilities = probs;
    const best = probs.indexOf(Math.max(...probs));
    drawState.top = String(best);
    showBars(probs);
  } else {
    drawState.probabilities = null;
    drawState.top = null;
    showBars(null);
  }
  drawState.predictedVersion = version;
}

function padPoint(e: PointerEvent): Point {
  const r = pad().getBoundingClientRect();
  return { x: ((e.clientX - r.left) / r.width) * 280, y: ((e.clientY - r.top) / r.height) * 280 };
}

function setupPad(): void {
  const canvas = pad();
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0 || current) return; // the primary button, finger or pen tip; one stroke at a time
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    current = [padPoint(e)];
    strokes.push(current);
    drawState.pointer = e.pointerType;
    changed();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length > 0 ? events : [e]) current.push(padPoint(ev));
    changed();
  });
  const end = (e: PointerEvent) => {
    if (!current) return;
    current = null;
    if (canvas.hasPointerCapture(e.pointerId)) canvas.releasePointerCapture(e.pointerId);
    changed();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  const picker = $<HTMLSelectElement>("model-picker");
  picker.addEventListener("change", () => void loadModel(picker.value));
  $("undo").addEventListener("click", () => {
    strokes.pop();
    changed();
  });
  $("clear").addEventListener("click", () => {
    strokes.length = 0;
    changed();
  });
  document.addEventListener("keydown", (e) => {
    if (!$("view-draw").hidden && (e.ctrlKey || e.metaKey) && e.key === "z") $("undo").click();
    if (!$("view-draw").hidden && e.key === "Escape") $("clear").click();
  });
  paint();
  showSeen(null);
}

function fillPicker(): void {
  const picker = $<HTMLSelectElement>("model-picker");
  // newest first; the newest is the default
  const withModel = [...runs.values()]
    .filter((r) => r.entry.hasModel)
    .map((r) => r.entry)
    .sort((a, b) => (b.started ?? "").localeCompare(a.started ?? "") || a.id.localeCompare(b.id));
  const want = modelId || withModel[0]?.id || "";
  picker.textContent = "";
  for (const e of withModel) {
    const o = document.createElement("option");
    o.value = e.id;
    o.textContent = `${e.id}${e.testAccuracy !== null ? ` (${(e.testAccuracy * 100).toFixed(1)}%)` : ""}`;
    picker.append(o);
  }
  if (withModel.length === 0) {
    $("draw-status").textContent = "No trained model yet: train one with `nnc run FILE`.";
    return;
  }
  picker.value = want;
  if (want !== modelId) void loadModel(want);
}

async function loadModel(id: string): Promise<void> {
  modelId = id;
  drawState.model = "";
  $("draw-status").textContent = `loading ${id} ...`;
  try {
    const m = await tf.loadLayersModel(runUrl(id, "model/model.json"));
    if (modelId !== id) return;
    const shape = m.inputs[0]!.shape.slice(1).map((d) => d ?? 1);
    if (shape.reduce((a, b) => a * b, 1) !== 784) {
      throw new Error(`its input is [${shape.join(", ")}], not a 28x28 image`);
    }
    const outputs = m.outputs[0]!.shape[m.outputs[0]!.shape.length - 1] ?? 10;
    classNames = classNamesFor((m.getUserDefinedMetadata() ?? {}) as Record<string, unknown>, outputs);
    model?.dispose();
    model = m;
    drawState.model = id;
    $("draw-status").textContent = `model: ${id}`;
    changed();
  } catch (err) {
    if (modelId === id) $("draw-status").textContent = `cannot load ${id}: ${(err as Error).message}`;
  }
}

// ---------------------------------------------------------------- runs

function newState(entry: RunEntry): RunState {
  return {
    entry,
    loaded: false,
    details: null,
    eventsEnd: 0,
    start: null,
    stepsPerEpoch: 0,
    plannedEpochs: 0,
    epochs: [],
    batches: [],
    logs: [],
    ended: false,
    pending: [],
    loading: false,
  };
}

function apply(run: RunState, r: EventRecord): void {
  switch (r.type) {
    case "start":
      run.start = r;
      run.epochs = [];
      run.batches = [];
      run.logs = [];
      run.ended = false;
      break;
    case "begin":
      run.stepsPerEpoch = Number(r.stepsPerEpoch) || 0;
      run.plannedEpochs = Number(r.epochs) || 0;
      break;
    case "batch": {
      const spe = run.stepsPerEpoch || 1;
      const num = (v: unknown) => (typeof v === "number" ? v : null);
      run.batches.push([Number(r.epoch) + (Number(r.step) + 1) / spe, num(r.loss), num(r.accuracy)]);
      break;
    }
    case "epoch":
      run.epochs[Number(r.epoch)] = (r.logs ?? {}) as Logs;
      break;
    case "log":
      run.logs.push(String(r.message));
      break;
    case "end":
      run.ended = true;
      break;
  }
}

async function loadRun(id: string): Promise<void> {
  const run = runs.get(id);
  if (!run) return;
  run.loading = true;
  let d: Record<string, unknown>;
  try {
    d = await getJson<Record<string, unknown>>(`/api/run?id=${encodeURIComponent(id)}`);
  } finally {
    run.loading = false;
  }
  const fresh = newState(run.entry);
  fresh.details = d;
  fresh.loaded = true;
  fresh.eventsEnd = Number(d.eventsEnd) || 0;
  const events = (d.events ?? []) as EventRecord[];
  for (const r of events) apply(fresh, r);
  if (events.length === 0) {
    // a run written before events.jsonl existed: history.json has the epochs
    const h = d.history as { history?: Logs[] } | null;
    fresh.epochs = h?.history ?? [];
  }
  for (const p of run.pending) {
    if (p.end <= fresh.eventsEnd) continue;
    apply(fresh, p.record);
    fresh.eventsEnd = p.end;
  }
  Object.assign(run, fresh, { entry: run.entry, pending: [] });
  renderRunList();
  renderCharts();
  renderDetails();
}

function toggle(id: string, on: boolean): void {
  const i = selected.indexOf(id);
  if (on && i < 0) selected.push(id);
  if (!on && i >= 0) selected.splice(i, 1);
  const run = runs.get(id);
  if (on && run && !run.loaded && !run.loading) void loadRun(id);
  renderRunList();
  renderCharts();
  renderDetails();
}

function renderRunList(): void {
  const list = $("run-list");
  list.textContent = "";
  // newest first
  const entries = [...runs.values()]
    .map((r) => r.entry)
    .sort((a, b) => (b.started ?? "").localeCompare(a.started ?? "") || a.id.localeCompare(b.id));
  for (const e of entries) {
    const li = document.createElement("li");
    li.dataset.id = e.id;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = selected.includes(e.id);
    box.addEventListener("change", () => toggle(e.id, box.checked));
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = selected.includes(e.id) ? colour(e.id) : "transparent";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = e.id;
    name.addEventListener("click", () => {
      for (const s of [...selected]) if (s !== e.id) toggle(s, false);
      toggle(e.id, true);
    });
    const meta = document.createElement("span");
    meta.className = `meta ${e.status}`;
    meta.textContent =
      e.status === "training"
        ? "training"
        : e.testAccuracy !== null
          ? `${(e.testAccuracy * 100).toFixed(2)}%`
          : e.status === "done" || e.status === "finished"
            ? ""
            : e.status;
    li.append(box, sw, name, meta);
    list.append(li);
  }
}

function fmt(v: unknown, digits = 4): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number(v.toPrecision(digits)).toString();
  if (v === null || v === undefined) return "\u2013";
  if (typeof v === "object") {
    const ref = v as { kind?: string; args?: Record<string, unknown> };
    if (typeof ref.kind === "string") {
      const args = Object.entries(ref.args ?? {}).map(([k, a]) => `${k}: ${fmt(a)}`);
      return args.length ? `${ref.kind}(${args.join(", ")})` : ref.kind;
    }
    if (Array.isArray(v)) return v.map((x) => fmt(x)).join(", ");
    return JSON.stringify(v);
  }
  return String(v);
}

function renderDetails(): void {
  const box = $("run-details");
  box.textContent = "";
  for (const id of selected) {
    const run = runs.get(id);
    if (!run?.details) continue;
    const d = run.details;
    const result = (d.result ?? {}) as Record<string, unknown>;
    const settings = (run.start?.settings ?? {}) as Record<string, unknown>;
    const card = document.createElement("div");
    card.className = "details";
    card.dataset.id = id;
    const h = document.createElement("h3");
    h.style.color = colour(id);
    h.textContent = id;
    card.append(h);
    const rows: [string, unknown][] = [
      ["status", run.entry.status],
      ["test accuracy", typeof result.testAccuracy === "number" ? `${(result.testAccuracy * 100).toFixed(2)}%` : null],
      ["test loss", result.testLoss],
      ["epochs", result.epochs ?? run.epochs.filter(Boolean).length],
      ["time", typeof result.seconds === "number" ? `${result.seconds.toFixed(1)} s` : null],
      ["samples/s", typeof result.samplesPerSecond === "number" ? Math.round(result.samplesPerSecond) : null],
      ["engine", result.engine ? `${result.engine} (${result.backend})` : null],
      ["file", result.file ?? run.start?.file],
      ["optimizer", settings.optimizer],
      ["schedule", settings.schedule],
      ["loss", settings.loss],
      ["batch", settings.batchSize],
      ["callbacks", settings.callbacks],
      ["data", settings.data ? fmt((settings.data as { dataset?: unknown }).dataset ?? settings.data) : null],
      ["seed", settings.seed],
    ];
    const table = document.createElement("table");
    for (const [k, v] of rows) {
      if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) continue;
      const tr = document.createElement("tr");
      const a = document.createElement("td");
      a.textContent = k;
      const b = document.createElement("td");
      b.textContent = fmt(v);
      tr.append(a, b);
      table.append(tr);
    }
    card.append(table);
    if (run.logs.length > 0) {
      const pre = document.createElement("pre");
      pre.textContent = run.logs.slice(-8).join("\n");
      card.append(pre);
    }
    if (typeof d.summary === "string") {
      const pre = document.createElement("pre");
      pre.className = "summary";
      pre.textContent = d.summary;
      card.append(pre);
    }
    box.append(card);
  }
}

// ---------------------------------------------------------------- charts (SVG)

function el<K extends keyof SVGElementTagNameMap>(
  parent: Element,
  tag: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent.append(e);
  return e;
}

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Mean of each bucket of points, so that thousands of batches draw as a readable line. */
function thin(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += size) {
    const chunk = points.slice(i, i + size);
    out.push([chunk[chunk.length - 1]![0], chunk.reduce((s, p) => s + p[1], 0) / chunk.length]);
  }
  return out;
}

/** The epoch (0-based) a checkpoint with save_best_only kept, else the best val_loss (or loss) epoch. */
function bestEpoch(run: RunState): { epoch: number; label: string } | null {
  const callbacks = ((run.start?.settings as { callbacks?: { kind: string; args?: Record<string, unknown> }[] })
    ?.callbacks ?? []) as { kind: string; args?: Record<string, unknown> }[];
  const ckpt = callbacks.find((c) => c.kind === "checkpoint");
  const stop = callbacks.find((c) => c.kind === "early_stopping" && c.args?.restore_best);
  const chosen = ckpt ?? stop;
  const hasVal = run.epochs.some((l) => l && typeof l.val_loss === "number");
  const monitor = String(chosen?.args?.monitor ?? (hasVal ? "val_loss" : "loss"));
  const modeArg = String(chosen?.args?.mode ?? "auto");
  const mode = modeArg === "max" || (modeArg === "auto" && /acc/.test(monitor)) ? "max" : "min";
  let best = -1;
  run.epochs.forEach((l, i) => {
    const v = l?.[monitor];
    if (typeof v !== "number") return;
    const b = best < 0 ? null : run.epochs[best]![monitor]!;
    if (b === null || (mode === "max" ? v > b : v < b)) best = i;
  });
  if (best < 0) return null;
  return { epoch: best, label: ckpt ? `best checkpoint (${monitor})` : `best ${monitor}` };
}

interface Series {
  run: string;
  label: string;
  points: [number, number][];
  kind: "batch" | "train" | "val" | "lr";
}

function chartSeries(metric: "loss" | "accuracy"): Series[] {
  const showBatches = $<HTMLInputElement>("show-batches").checked;
  const showVal = $<HTMLInputElement>("show-val").checked;
  const showLr = $<HTMLInputElement>("show-lr").checked;
  const out: Series[] = [];
  for (const id of selected) {
    const run = runs.get(id);
    if (!run) continue;
    const at = (key: string): [number, number][] =>
      run.epochs.flatMap((l, i) =>
        l && typeof l[key] === "number" ? [[i + 1, l[key] as number] as [number, number]] : [],
      );
    if (showBatches) {
      const col = metric === "loss" ? 1 : 2;
      const pts = run.batches.flatMap((b) =>
        typeof b[col] === "number" ? [[b[0], b[col] as number] as [number, number]] : [],
      );
      if (pts.length > 0) out.push({ run: id, label: `${metric} (batch)`, points: thin(pts, 400), kind: "batch" });
    }
    out.push({ run: id, label: metric, points: at(metric), kind: "train" });
    if (showVal) out.push({ run: id, label: `val_${metric}`, points: at(`val_${metric}`), kind: "val" });
    if (showLr && metric === "loss") out.push({ run: id, label: "lr", points: at("lr"), kind: "lr" });
  }
  return out.filter((s) => s.points.length > 0);
}

function renderChart(svg: SVGSVGElement, metric: "loss" | "accuracy"): void {
  svg.textContent = "";
  const width = Math.max(320, svg.clientWidth || 560);
  const height = Math.max(200, svg.clientHeight || 300);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const m = { l: 52, r: 56, t: 14, b: 30 };
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const series = chartSeries(metric);
  const main = series.filter((s) => s.kind !== "lr");
  const lr = series.filter((s) => s.kind === "lr");
  let xMax = 1;
  for (const id of selected) {
    const run = runs.get(id);
    if (run) xMax = Math.max(xMax, run.plannedEpochs, run.epochs.length);
  }
  for (const s of series) for (const p of s.points) xMax = Math.max(xMax, p[0]);
  const ys = main.flatMap((s) => s.points.map((p) => p[1]));
  if (ys.length === 0) {
    el(svg, "text", { x: width / 2, y: height / 2, "text-anchor": "middle" }).textContent = selected.length
      ? "no values yet"
      : "tick a run on the left";
    svg.dataset.points = "0";
    return;
  }
  let yLo = Math.min(...ys);
  let yHi = Math.max(...ys);
  if (metric === "accuracy") yHi = Math.min(1, yHi + 0.02);
  const pad = (yHi - yLo) * 0.06 || Math.abs(yHi) * 0.1 || 1;
  yLo = metric === "loss" ? Math.max(0, yLo - pad) : Math.max(0, yLo - pad);
  yHi += metric === "loss" ? pad : 0;
  if (metric === "accuracy") yHi = Math.min(1, yHi + 0.005);
  const xs = (x: number) => m.l + (x / xMax) * w;
  const yScale = (v: number) => m.t + h - ((v - yLo) / (yHi - yLo || 1)) * h;
  const lrVals = lr.flatMap((s) => s.points.map((p) => p[1]));
  const lrHi = lrVals.length ? Math.max(...lrVals) * 1.1 : 1;
  const lrScale = (v: number) => m.t + h - (v / lrHi) * h;

  // grid and axes
  for (const t of ticks(yLo, yHi)) {
    const y = yScale(t);
    el(svg, "line", { x1: m.l, x2: m.l + w, y1: y, y2: y, class: "grid" });
    el(svg, "text", { x: m.l - 6, y: y + 4, "text-anchor": "end" }).textContent = fmt(t, 3);
  }
  for (const t of ticks(0, xMax, Math.min(10, Math.ceil(xMax)))) {
    if (!Number.isInteger(t) && xMax > 3) continue;
    const x = xs(t);
    el(svg, "line", { x1: x, x2: x, y1: m.t + h, y2: m.t + h + 4, class: "axis" });
    el(svg, "text", { x, y: m.t + h + 16, "text-anchor": "middle" }).textContent = String(t);
  }
  el(svg, "text", { x: m.l + w / 2, y: height - 2, "text-anchor": "middle" }).textContent = "epoch";
  el(svg, "line", { x1: m.l, x2: m.l, y1: m.t, y2: m.t + h, class: "axis" });
  el(svg, "line", { x1: m.l, x2: m.l + w, y1: m.t + h, y2: m.t + h, class: "axis" });
  if (lr.length) {
    el(svg, "line", { x1: m.l + w, x2: m.l + w, y1: m.t, y2: m.t + h, class: "axis" });
    for (const t of ticks(0, lrHi, 4)) {
      el(svg, "text", { x: m.l + w + 6, y: lrScale(t) + 4 }).textContent = t.toExponential(0);
    }
    el(svg, "text", { x: width - 4, y: m.t + 8, "text-anchor": "end" }).textContent = "lr";
  }

  // best checkpoint: a dotted line at its epoch, labelled (one label line per run)
  selected.forEach((id, k) => {
    const run = runs.get(id);
    const best = run && bestEpoch(run);
    if (!best) return;
    const x = xs(best.epoch + 1);
    el(svg, "line", {
      x1: x,
      x2: x,
      y1: m.t,
      y2: m.t + h,
      stroke: colour(id),
      "stroke-dasharray": "1 4",
      "stroke-width": 2,
      class: "best-line",
      "data-run": id,
      "data-epoch": best.epoch + 1,
    });
    const label =
      selected.length > 1 ? `\u2605 ${id}: epoch ${best.epoch + 1}` : `\u2605 ${best.label}, epoch ${best.epoch + 1}`;
    const right = x + 4 + label.length * 6.5 > m.l + w;
    const t = el(svg, "text", {
      x: right ? x - 4 : x + 4,
      y: m.t + 10 + k * 13,
      class: "best",
      "text-anchor": right ? "end" : "start",
    });
    t.style.fill = colour(id); // (CSSOM: the CSP refuses style attributes)
    t.textContent = label;
  });

  let points = 0;
  for (const s of series) {
    const c = colour(s.run);
    const sc = s.kind === "lr" ? lrScale : yScale;
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${xs(p[0]).toFixed(1)},${sc(p[1]).toFixed(1)}`).join("");
    const style: Record<string, string | number> =
      s.kind === "batch"
        ? { "stroke-width": 1, "stroke-opacity": 0.35 }
        : s.kind === "train"
          ? { "stroke-width": 2 }
          : s.kind === "val"
            ? { "stroke-width": 2, "stroke-dasharray": "6 4" }
            : { "stroke-width": 1.5, "stroke-dasharray": "2 3", "stroke-opacity": 0.7 };
    el(svg, "path", { d, fill: "none", stroke: c, class: `series ${s.kind}`, "data-run": s.run, ...style });
    if (s.kind === "train" || s.kind === "val") {
      for (const p of s.points) {
        el(svg, "circle", {
          cx: xs(p[0]),
          cy: sc(p[1]),
          r: 3.2,
          fill: s.kind === "train" ? c : "#fff",
          stroke: c,
          "stroke-width": 1.5,
          class: `epoch-point ${s.kind}`,
          "data-run": s.run,
          "data-epoch": p[0],
        });
        points += 1;
      }
    }
  }
  svg.dataset.points = String(points);

  // hover: a cursor at the nearest epoch and the values there
  const cursor = el(svg, "line", { x1: 0, x2: 0, y1: m.t, y2: m.t + h, class: "cursor", visibility: "hidden" });
  const hit = el(svg, "rect", { x: m.l, y: m.t, width: w, height: h, fill: "transparent" });
  const tip = $("tooltip");
  hit.addEventListener("mousemove", (e) => {
    const box = svg.getBoundingClientRect();
    const px = ((e.clientX - box.left) / box.width) * width;
    const epoch = Math.max(1, Math.min(Math.ceil(xMax), Math.round(((px - m.l) / w) * xMax)));
    cursor.setAttribute("x1", String(xs(epoch)));
    cursor.setAttribute("x2", String(xs(epoch)));
    cursor.setAttribute("visibility", "visible");
    const lines = [`epoch ${epoch}`];
    for (const s of series) {
      if (s.kind === "batch") continue;
      const p = s.points.find((q) => q[0] === epoch);
      if (p) lines.push(`${selected.length > 1 ? `${s.run}  ` : ""}${s.label} ${fmt(p[1])}`);
    }
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    tip.style.left = `${e.clientX + 14}px`;
    tip.style.top = `${e.clientY + 10}px`;
  });
  hit.addEventListener("mouseleave", () => {
    cursor.setAttribute("visibility", "hidden");
    tip.hidden = true;
  });
}

let chartsQueued = false;
function renderCharts(): void {
  if (chartsQueued) return;
  chartsQueued = true;
  requestAnimationFrame(() => {
    chartsQueued = false;
    if ($("view-runs").hidden) return;
    renderChart($("chart-loss") as unknown as SVGSVGElement, "loss");
    renderChart($("chart-accuracy") as unknown as SVGSVGElement, "accuracy");
  });
}

// ---------------------------------------------------------------- live

function updateRuns(entries: RunEntry[]): void {
  const known = new Set(entries.map((e) => e.id));
  for (const id of [...runs.keys()]) if (!known.has(id)) runs.delete(id);
  for (const e of entries) {
    const run = runs.get(e.id);
    if (!run) {
      runs.set(e.id, newState(e));
      // a run that starts while the page is open joins the chart
      if (e.status === "training" && initialised) toggle(e.id, true);
      continue;
    }
    const statusChanged = run.entry.status !== e.status;
    run.entry = e;
    if (statusChanged && run.loaded) void loadRun(e.id); // finished: result.json, summary, history
  }
  renderRunList();
  fillPicker();
}

let initialised = false;

function connectLive(): Promise<void> {
  return new Promise((resolve) => {
    const source = new EventSource("/api/live");
    const status = $("live-status");
    source.addEventListener("open", () => {
      status.textContent = "live";
      status.classList.add("on");
      resolve();
    });
    source.addEventListener("error", () => {
      status.textContent = "reconnecting";
      status.classList.remove("on");
      resolve();
    });
    source.addEventListener("runs", (e) => updateRuns(JSON.parse((e as MessageEvent).data) as RunEntry[]));
    source.addEventListener("events", (e) => {
      const msg = JSON.parse((e as MessageEvent).data) as { id: string; records: EventRecord[]; ends: number[] };
      const run = runs.get(msg.id);
      if (!run) return;
      if (run.loading) {
        msg.records.forEach((record, i) => run.pending.push({ record, end: msg.ends[i]! }));
        return;
      }
      if (!run.loaded) return;
      msg.records.forEach((r, i) => {
        if (msg.ends[i]! <= run.eventsEnd) return; // already in /api/run's answer
        apply(run, r);
        run.eventsEnd = msg.ends[i]!;
      });
      renderCharts();
      if (msg.records.some((r) => r.type === "epoch" || r.type === "log")) renderDetails();
    });
  });
}

async function main(): Promise<void> {
  await tf.setBackend("cpu");
  registerNncLayers(tf);
  setupPad();
  for (const id of ["show-batches", "show-val", "show-lr"]) $(id).addEventListener("change", renderCharts);
  window.addEventListener("hashchange", showView);
  window.addEventListener("resize", renderCharts);
  showView();
  await connectLive();
  const entries = await getJson<RunEntry[]>("/api/runs");
  updateRuns(entries);
  // the runs view starts with the newest run (a live one first) on the chart
  const newest = [...entries].sort((a, b) => (b.started ?? "").localeCompare(a.started ?? ""))[0];
  const first = entries.find((e) => e.status === "training") ?? newest;
  if (first) toggle(first.id, true);
  initialised = true;
  document.body.dataset.ready = "true";
}

void main().catch((err: unknown) => {
  document.body.dataset.error = String((err as Error)?.message ?? err);
  $("draw-status").textContent = `error: ${(err as Error)?.message ?? err}`;
});
