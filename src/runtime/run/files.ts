// Run-directory files: atomic writes (temporary name + rename) with a registry of the temporary
// files in flight, so a Ctrl-C handler can remove them and nothing is ever half-written.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  statfsSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";

const inFlight = new Set<string>();

/** How writeAtomic treats what is around the file. */
export interface WriteAtomicOptions {
  /** Create the parent folder when missing (default true: run directories); false: fail, naming it. */
  mkdir?: boolean;
  /** Give the new file the permission bits of the file it replaces (an edited source file). */
  keepMode?: boolean;
}

/**
 * The one atomic file writer: `data` goes to `path.tmp-<pid>-<random>` in the same folder, then a
 * rename puts it in place, so `path` is never half-written; the temporary file is removed on
 * failure (and by removeInFlight on Ctrl-C). Throws "cannot write PATH: <why in words>".
 */
export function writeAtomic(path: string, data: string | Uint8Array, options: WriteAtomicOptions = {}): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  inFlight.add(tmp);
  try {
    if (options.mkdir !== false) mkdirSync(dirname(path), { recursive: true });
    let mode: number | undefined;
    if (options.keepMode) {
      try {
        mode = statSync(path).mode & 0o777;
      } catch {
        mode = undefined; // a new file
      }
    }
    writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already gone
    }
    throw new Error(`cannot write ${path}: ${fsErrorWords(err, path)}`);
  } finally {
    inFlight.delete(tmp);
  }
}

/** Why a file operation on `path` failed, in words (never naming a temporary file). */
export function fsErrorWords(err: unknown, path: string): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return `the folder ${dirname(path)} does not exist`;
    case "ENOTDIR":
      return `a part of ${dirname(path)} is a file, not a folder`;
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "the file system is read-only";
    case "ENOSPC":
      return "no space left on the device";
    case "EDQUOT":
      return "the disk quota is exhausted";
    case "EISDIR":
      return "it is a folder";
    default:
      return (err instanceof Error ? err.message : String(err)).replace(/\S*\.tmp-\d+-[a-z0-9]+\S*/g, "a temporary file");
  }
}

/**
 * Checks before training that `dir` can be written and has room for `bytes` more: a probe file
 * is written and removed, and fs.statfs gives the free space. Throws a message naming the
 * folder and the cause.
 */
export function checkWritable(dir: string, bytes: number): void {
  const probe = join(dir, `.nnc-probe.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  try {
    writeFileSync(probe, "nnc");
    unlinkSync(probe);
  } catch (err) {
    throw new Error(`cannot write in the run directory ${dir}: ${fsErrorWords(err, probe)}`);
  }
  let free: number;
  try {
    const st = statfsSync(dir);
    free = st.bavail * st.bsize;
  } catch {
    return; // no statfs here: the writes themselves will tell
  }
  if (free < bytes) {
    throw new Error(
      `not enough free space in ${dir}: the run writes about ${(bytes / 2 ** 20).toFixed(1)} MiB (the model, checkpoints and logs) and ${(free / 2 ** 20).toFixed(1)} MiB are free; free some space or choose another --out`,
    );
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
      if (isDir && TEMP_FILE.test(name)) {
        // a model folder being written (writeModelDir)
        try {
          rmSync(p, { recursive: true, force: true });
          removed.push(p);
        } catch {
          // raced with its rename
        }
      } else if (isDir) walk(p);
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

/** True when process `pid` is running (it may own temporary files). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files and folders (`*.tmp-<pid>-<random>`) that runs killed before they
 * could clean up left under `dir` (at most `depth` levels down), skipping those of processes
 * still running. Returns what it removed. `nnc run` calls it on its run directory's parent.
 */
export function sweepStaleTemps(dir: string, depth = 3): string[] {
  const removed: string[] = [];
  const walk = (d: string, level: number): void => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries) {
      const p = join(d, name);
      const m = /\.tmp-(\d+)-[a-z0-9]+$/.exec(name);
      if (m) {
        if (alive(Number(m[1]))) continue;
        try {
          rmSync(p, { recursive: true, force: true });
          removed.push(p);
        } catch {
          // not ours to remove
        }
        continue;
      }
      if (level < depth) {
        let isDir = false;
        try {
          isDir = statSync(p).isDirectory();
        } catch {
          continue;
        }
        if (isDir) walk(p, level + 1);
      }
    }
  };
  walk(dir, 0);
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
