// `nnc fmt --write` and `nnc compile -o` write through the project's one atomic file writer
// (src/runtime/run/files.ts): a temporary file in the same folder, then rename, so an output is
// never half-written. Here the output's folder must already exist, a replaced file keeps its
// permission bits, and a failure becomes a one-line CliError (exit 2).
import { writeAtomic as writeFileAtomic } from "../runtime/run/files.js";
import { CliError, EXIT_USAGE } from "./errors.js";

/** Writes `text` to `file` atomically, keeping the permission bits of a file it replaces. */
export function writeAtomic(file: string, text: string): void {
  try {
    writeFileAtomic(file, text, { mkdir: false, keepMode: true });
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_USAGE);
  }
}
