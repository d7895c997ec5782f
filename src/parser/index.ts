// STUB (owner: front end). parse(): .nn text -> AST + syntax diagnostics. Never throws.
import type { Program } from "./ast.js";
import type { Diagnostic } from "../compiler/diagnostics.js";

export interface ParseResult {
  program: Program;
  diagnostics: Diagnostic[];
}

export function parse(_text: string): ParseResult {
  throw new Error("parser not implemented yet");
}
