// The one atomic file writer of the CLI (`nnc fmt --write`, `nnc compile -o`): a temporary file in
// the same folder, then rename, so an output is never half-written; failures become one-line
// CliErrors. (Run directories use src/runtime/run/files.ts, which also tracks in-flight temporary
// files for Ctrl-C; the embeddable runtime modules carry their own copy to stay self-contained.)
import { randomBytes } from "node:crypto";
import { renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CliError, EXIT_USAGE } from "./errors.js";

/** Writes `text` to `file` atomically, keeping the permission bits of a file it replaces. */
export function writeAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    let mode: number | undefined;
    try {
      mode = statSync(file).mode & 0o777;
    } catch {
      mode = undefined;
    }
    writeFileSync(tmp, text, mode === undefined ? undefined : { mode });
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file was never created
    }
    throw new CliError(`cannot write ${file}: ${writeFailure(err, file)}`, EXIT_USAGE);
  }
}

/** Why a write failed, in words that name the user's path, never the temporary file. */
export function writeFailure(err: unknown, file: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return `the folder ${dirname(file)} does not exist`;
    case "ENOTDIR":
      return `a part of ${dirname(file)} is a file, not a folder`;
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
    default: {
      const msg = err instanceof Error ? err.message.split("\n")[0]! : String(err);
      return code ? `${code}` : msg.replace(/\S*\.tmp\b\S*/g, "").trim();
    }
  }
}
