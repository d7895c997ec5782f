// `nnc check FILE... [--format text|json]`: report every diagnostic of each file.
// Exit 0: no errors; 1: errors found; 2: usage or I/O problem (unknown, unreadable,
// binary or oversized file). Never a stack trace.
import { readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { CliError, EXIT_DIAGNOSTICS, EXIT_USAGE, setExitCode } from "../errors.js";
import { compileSource } from "../../compiler/index.js";
import type { Limits } from "../../compiler/checker/limits.js";
import { limitOption } from "../limit-option.js";
import { hasErrors, type Diagnostic } from "../../parser/diagnostics.js";
import { countSummary, renderDiagnostics, toJson, type JsonDiagnostic } from "../../compiler/codeframe.js";

/** Larger files are refused (E905): no real .nn file comes near this. */
export const MAX_SOURCE_BYTES = 1024 * 1024;

export interface SourceFile {
  file: string;
  text: string;
}

/** An I/O problem with one file: a one-line cause with an E9xx code. */
export interface SourceError {
  file: string;
  code: string;
  message: string;
}

function mb(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** Reads a .nn file as text, or says in one line why it cannot (E901-E905). Never throws. */
export function readSource(file: string): SourceFile | SourceError {
  try {
    const st = statSync(file);
    if (st.isDirectory()) return { file, code: "E903", message: `${file} is a directory, not a .nn file` };
    if (st.size > MAX_SOURCE_BYTES) {
      return { file, code: "E905", message: `${file} is too large (${mb(st.size)}; the limit is ${mb(MAX_SOURCE_BYTES)})` };
    }
    return decodeSource(file, readFileSync(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { file, code: "E901", message: `cannot read ${file}: no such file` };
    if (code === "EACCES" || code === "EPERM") return { file, code: "E902", message: `cannot read ${file}: permission denied` };
    if (code === "EISDIR") return { file, code: "E903", message: `${file} is a directory, not a .nn file` };
    if (code === "ENOTDIR") return { file, code: "E901", message: `cannot read ${file}: a part of the path is not a directory` };
    const known: Record<string, string> = { EIO: "input/output error", ELOOP: "too many symbolic links", ENAMETOOLONG: "the name is too long" };
    const why = (code && known[code]) ?? (err instanceof Error ? err.message : String(err)).split("\n")[0];
    return { file, code: "E902", message: `cannot read ${file}: ${why}` };
  }
}

/** The text of a .nn file's bytes, or why they are not one (E904, E905). */
export function decodeSource(file: string, bytes: Uint8Array): SourceFile | SourceError {
  if (bytes.length > MAX_SOURCE_BYTES) {
    return { file, code: "E905", message: `${file} is too large (${mb(bytes.length)}; the limit is ${mb(MAX_SOURCE_BYTES)})` };
  }
  if (bytes.includes(0)) return { file, code: "E904", message: `${file} is not a text file (it contains binary data)` };
  try {
    return { file, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { file, code: "E904", message: `${file} is not UTF-8 text` };
  }
}

/** The name standard input goes by in messages when no --stdin-filename is given. */
export const STDIN_NAME = "<stdin>";

/**
 * Reads a FILE argument: `-` is standard input (read once; a second `-` is a usage error),
 * named `stdinName` in messages.
 */
export async function readSourceArg(file: string, stdinName: string | undefined, state: { stdinRead: boolean }): Promise<SourceFile | SourceError> {
  if (file !== "-") return readSource(file);
  const name = stdinName ?? STDIN_NAME;
  if (state.stdinRead) throw new CliError("`-` (standard input) can be given only once", EXIT_USAGE);
  state.stdinRead = true;
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(b);
      size += b.length;
      if (size > MAX_SOURCE_BYTES) break;
    }
    return decodeSource(name, Buffer.concat(chunks));
  } catch (err) {
    return { file: name, code: "E902", message: `cannot read standard input: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}` };
  }
}

export function isSourceError(x: SourceFile | SourceError): x is SourceError {
  return (x as SourceError).code !== undefined;
}

/** All diagnostics of a source text (syntax, and semantic where the syntax allows). */
export function diagnose(text: string, file: string, limits?: Partial<Limits>): Diagnostic[] {
  return compileSource(text, file, limits ? { limits } : {}).diagnostics.map((d) => ({ ...d, file: d.file ?? file }));
}

function ioJson(e: SourceError): JsonDiagnostic {
  return { file: e.file, line: 1, column: 1, endLine: 1, endColumn: 1, severity: "error", code: e.code, message: e.message };
}

export function useColor(stream: NodeJS.WriteStream): boolean {
  return !!stream.isTTY && !process.env.NO_COLOR && process.env.TERM !== "dumb";
}

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description("check .nn files and report every problem (exit 0: clean, 1: errors, 2: usage or I/O problem)")
    .argument("<files...>", ".nn files to check (`-`: standard input)")
    .option("--format <format>", "output format: text or json", "text")
    .option("--stdin-filename <name>", "the name standard input (`-`) goes by in messages", STDIN_NAME)
    .addOption(limitOption())
    .action(async (files: string[], opts: { format: string; stdinFilename?: string; limit?: Partial<Limits> }) => {
      if (opts.format !== "text" && opts.format !== "json") {
        throw new CliError(`unknown --format \`${opts.format}\`: use text or json`, EXIT_USAGE);
      }
      const json: JsonDiagnostic[] = [];
      const color = useColor(process.stdout);
      if (files.filter((f) => f === "-").length > 1) throw new CliError("`-` (standard input) can be given only once", EXIT_USAGE);
      const stdin = { stdinRead: false };
      for (const arg of files) {
        const src = await readSourceArg(arg, opts.stdinFilename, stdin);
        const file = src.file;
        if (isSourceError(src)) {
          process.stderr.write(`nnc: ${src.message}\n`);
          json.push(ioJson(src));
          setExitCode(EXIT_USAGE);
          continue;
        }
        const diagnostics = diagnose(src.text, file, opts.limit);
        if (hasErrors(diagnostics)) setExitCode(EXIT_DIAGNOSTICS);
        if (opts.format === "json") {
          json.push(...toJson(diagnostics, file));
        } else if (diagnostics.length > 0) {
          process.stdout.write(`${renderDiagnostics(diagnostics, src.text, file, { color })}\n\n${file}: ${countSummary(diagnostics)}\n`);
        } else {
          process.stdout.write(`${file}: ok\n`);
        }
      }
      if (opts.format === "json") process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    });
}
