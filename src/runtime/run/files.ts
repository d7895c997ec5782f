// Run-directory files: atomic writes (temporary name + rename) with a registry of the temporary
// files in flight, so a Ctrl-C handler can remove them and nothing is ever half-written.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";

const inFlight = new Set<string>();

/** Writes `data` to `path` via `path.tmp-<pid>-<random>` and rename; creates the parent folder. */
export function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  inFlight.add(tmp);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  } finally {
    inFlight.delete(tmp);
  }
}

/** Matches the temporary names of writeAtomic and of the embeddable modules' writeFileAtomic. */
export const TEMP_FILE = /\.tmp-\d+-[a-z0-9]+$/;

/** Removes every temporary file left under `dir` (recursively) and any registered one; returns what it removed. */
export function removeTempFiles(dir: string): string[] {
  const removed: string[] = [];
  for (const tmp of inFlight) {
    try {
      unlinkSync(tmp);
      removed.push(tmp);
    } catch {
      // never created or already renamed
    }
  }
  inFlight.clear();
  const walk = (d: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries) {
      const p = join(d, name);
      let isDir = false;
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        continue;
      }
      if (isDir) walk(p);
      else if (TEMP_FILE.test(name)) {
        try {
          unlinkSync(p);
          removed.push(p);
        } catch {
          // raced with its rename
        }
      }
    }
  };
  walk(dir);
  return removed;
}

/** Removes `dir` and its sub-folders when they hold no files at all (a run interrupted before writing anything). */
export function removeIfEmpty(dir: string): boolean {
  if (!existsSync(dir)) return false;
  const empty = (d: string): boolean =>
    readdirSync(d).every((name) => {
      const p = join(d, name);
      return statSync(p).isDirectory() && empty(p);
    });
  if (!empty(dir)) return false;
  const rm = (d: string): void => {
    for (const name of readdirSync(d)) rm(join(d, name));
    rmdirSync(d);
  };
  rm(dir);
  return true;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** runs/<model>-<YYYYMMDD-HHMMSS> (local time) under `base`; a "-2", "-3", ... suffix when taken. */
export function defaultRunDir(model: string, now: Date = new Date(), base = "runs"): string {
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  const safe = model.replace(/[^A-Za-z0-9_.-]/g, "_") || "model";
  let dir = join(base, `${safe}-${stamp}`);
  for (let i = 2; existsSync(dir); i++) dir = join(base, `${safe}-${stamp}-${i}`);
  return dir;
}

/** Creates the run directory (and parents); fails clearly when the path is a file. */
export function createRunDir(dir: string): string {
  const abs = resolve(dir);
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new Error(`--out ${dir} is a file, not a folder`);
  mkdirSync(abs, { recursive: true });
  return abs;
}
