// STUB (owner: checker). compileSource(): .nn text -> IR + all diagnostics (syntax and semantic). Never throws.
import type { IR } from "./ir.js";
import type { Diagnostic } from "./diagnostics.js";

export interface CompileResult {
  /** null when there are errors. */
  ir: IR | null;
  diagnostics: Diagnostic[];
}

export function compileSource(_text: string, _file: string): CompileResult {
  throw new Error("checker not implemented yet");
}
