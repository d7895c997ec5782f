// The run directories `nnc serve` shows: discovery under the folders it was given, what the
// page needs of each (summary.txt, result.json, history.json, sweep.json, events.jsonl), and the
// safe resolution of a file inside a run directory (no `..`, no absolute path, no symlink out).
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import { EVENTS_FILE } from "../runtime/run/events.js";

/** The most of a run's events.jsonl / JSON files the server reads. */
export const MAX_RUN_FILE = 64 * 1024 * 1024;

export interface RunInfo {
  /** Unique among the served runs, e.g. "mlp-20261202-064500" or "cnn-.../sweep/1-width=64". */
  id: string;
  /** Absolute, symlinks resolved: the confinement root of its files. */
  dir: string;
}

/** A folder is a run directory when `nnc run` wrote (or is writing) one of these into it (sweep/: its variants). */
export function isRunDir(dir: string): boolean {
  return ["events.jsonl", "result.json", "history.json", join("model", "model.json"), "sweep"].some((f) =>
    existsSync(join(dir, f)),
  );
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => (d.isDirectory() || d.isSymbolicLink()) && !d.name.startsWith("."))
      .map((d) => d.name)
      .filter((n) => {
        try {
          return statSync(join(dir, n)).isDirectory();
        } catch {
          return false;
        }
      })
      .sort();
  } catch {
    return [];
  }
}

/**
 * The runs under `roots`: a root that is itself a run directory is one run (and its sweep
 * variants, `sweep/*`); otherwise each sub-folder that is a run directory is one. Ids are the
 * paths relative to the root (prefixed by the root's name when there are several roots).
 */
export function discoverRuns(roots: string[]): RunInfo[] {
  const runs: RunInfo[] = [];
  const seen = new Set<string>();
  const add = (dir: string, id: string) => {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    let unique = id;
    for (let i = 2; runs.some((r) => r.id === unique); i++) unique = `${id}~${i}`;
    runs.push({ id: unique, dir: real });
    for (const v of subdirs(join(dir, "sweep"))) {
      if (isRunDir(join(dir, "sweep", v))) add(join(dir, "sweep", v), `${unique}/sweep/${v}`);
    }
  };
  for (const root of roots) {
    const abs = resolve(root);
    if (isRunDir(abs)) {
      add(abs, basename(abs) || "run");
      continue;
    }
    const prefix = roots.length > 1 ? `${basename(abs)}/` : "";
    for (const name of subdirs(abs)) if (isRunDir(join(abs, name))) add(join(abs, name), `${prefix}${name}`);
  }
  return runs;
}

/** Why a path was refused: 403 for an attempt to leave the run directory, 404 for nothing there. */
export class PathRefused extends Error {
  constructor(
    readonly status: 403 | 404,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The real path of the file `segments` (already percent-decoded, one per URL path segment)
 * names inside `root`, or PathRefused. Refused: empty, `.`/`..`, hidden (dot) and
 * separator-holding segments, NUL, and anything whose real path (symlinks resolved) is not
 * inside `root`'s real path.
 */
export function resolveInside(root: string, segments: string[]): string {
  if (segments.length === 0) throw new PathRefused(404, "no file named");
  for (const s of segments) {
    if (s === "" || s === "." || s === ".." || s.includes("/") || s.includes("\\") || s.includes("\0")) {
      throw new PathRefused(403, "a path may not leave its run directory");
    }
    if (s.startsWith(".")) throw new PathRefused(404, "no such file");
  }
  const realRoot = realpathSync(root);
  const candidate = join(realRoot, ...segments);
  if (relative(realRoot, candidate).startsWith(".."))
    throw new PathRefused(403, "a path may not leave its run directory");
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch {
    throw new PathRefused(404, "no such file");
  }
  if (real !== realRoot && !real.startsWith(realRoot + sep)) {
    throw new PathRefused(403, "a link may not point out of its run directory");
  }
  if (!statSync(real).isFile()) throw new PathRefused(404, "not a file");
  return real;
}

function readText(path: string): string | null {
  try {
    if (statSync(path).size > MAX_RUN_FILE) return null;
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function readJson(path: string): unknown {
  const text = readText(path);
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export type EventRecord = Record<string, unknown> & { type: string };

/** Parses complete lines of events.jsonl; a torn or foreign line is skipped. */
export function parseEvents(text: string): EventRecord[] {
  const out: EventRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as EventRecord;
      if (r && typeof r === "object" && typeof r.type === "string") out.push(r);
    } catch {
      // a line being written, or not ours
    }
  }
  return out;
}

/**
 * Reads events.jsonl from byte `from` up to its last complete line: the records, the byte offset
 * each ends at (so a page can drop what it already has), and the offset they all end at.
 */
export function readEvents(dir: string, from = 0): { records: EventRecord[]; ends: number[]; end: number } {
  const path = join(dir, EVENTS_FILE);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return { records: [], ends: [], end: from };
  }
  try {
    const size = Math.min(statSync(path).size, from + MAX_RUN_FILE);
    if (size <= from) return { records: [], ends: [], end: from };
    const buf = Buffer.alloc(size - from);
    const n = readSync(fd, buf, 0, buf.length, from);
    const lastNl = buf.subarray(0, n).lastIndexOf(10);
    if (lastNl < 0) return { records: [], ends: [], end: from };
    const records: EventRecord[] = [];
    const ends: number[] = [];
    let pos = 0;
    while (pos <= lastNl) {
      const nl = buf.indexOf(10, pos);
      const r = parseEvents(buf.subarray(pos, nl).toString("utf8"));
      if (r.length === 1) {
        records.push(r[0]!);
        ends.push(from + nl + 1);
      }
      pos = nl + 1;
    }
    return { records, ends, end: from + lastNl + 1 };
  } finally {
    closeSync(fd);
  }
}

function processAlive(pid: unknown): boolean {
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export type RunStatus = "training" | "done" | "failed" | "interrupted" | "stopped" | "finished";

/** training: events.jsonl has no end record and its writer lives; stopped: it died without one. */
export function runStatus(records: EventRecord[], hasResult: boolean): RunStatus {
  const start = records.find((r) => r.type === "start");
  const end = [...records].reverse().find((r) => r.type === "end");
  if (end) return (end.status as RunStatus) ?? "done";
  if (start) return processAlive(start.pid) ? "training" : "stopped";
  return hasResult ? "done" : "finished";
}

export interface RunListEntry {
  id: string;
  model: string | null;
  status: RunStatus;
  hasModel: boolean;
  testAccuracy: number | null;
  epochs: number | null;
  started: string | null;
}

interface ResultJson {
  model?: string;
  testAccuracy?: number | null;
  epochs?: number;
}

/** What the run list needs of an events.jsonl, kept while the file's size and mtime stay the same. */
const summaries = new Map<string, { key: string; records: EventRecord[]; epochs: number }>();

function eventsSummary(dir: string): { records: EventRecord[]; epochs: number } {
  let key = "";
  try {
    const st = statSync(join(dir, EVENTS_FILE));
    key = `${st.size}:${st.mtimeMs}`;
  } catch {
    return { records: [], epochs: 0 };
  }
  const cached = summaries.get(dir);
  if (cached?.key === key) return cached;
  const all = readEvents(dir).records;
  // the start and end records decide the status; the count of epochs is shown
  const records = all.filter((r) => r.type === "start" || r.type === "end");
  const summary = { key, records, epochs: all.filter((r) => r.type === "epoch").length };
  summaries.set(dir, summary);
  return summary;
}

const results = new Map<string, { key: string; value: unknown }>();

/** result.json, read again only when its size or mtime changes (the live view polls the list). */
function resultJson(dir: string): ResultJson | null {
  const path = join(dir, "result.json");
  let key: string;
  try {
    const st = statSync(path);
    key = `${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
  const cached = results.get(path);
  if (cached?.key === key) return cached.value as ResultJson | null;
  const value = readJson(path);
  results.set(path, { key, value });
  return value as ResultJson | null;
}

/** One line of the run list. */
export function runEntry(run: RunInfo): RunListEntry {
  const result = resultJson(run.dir);
  const { records, epochs } = eventsSummary(run.dir);
  const start = records.find((r) => r.type === "start");
  return {
    id: run.id,
    model: result?.model ?? (typeof start?.model === "string" ? start.model : null),
    status: runStatus(records, result !== null),
    hasModel: existsSync(join(run.dir, "model", "model.json")),
    testAccuracy: typeof result?.testAccuracy === "number" ? result.testAccuracy : null,
    epochs: result?.epochs ?? (epochs || null),
    started: typeof start?.time === "string" ? start.time : null,
  };
}

/** Everything the Runs view shows of one run. */
export function runDetails(run: RunInfo): Record<string, unknown> {
  const { records, end } = readEvents(run.dir);
  const result = readJson(join(run.dir, "result.json"));
  return {
    ...runEntry(run),
    summary: readText(join(run.dir, "summary.txt")),
    result,
    history: readJson(join(run.dir, "history.json")),
    sweep: readJson(join(run.dir, "sweep.json")),
    events: records,
    eventsEnd: end,
  };
}
