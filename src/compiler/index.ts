// compileSource(): .nn text -> IR + all diagnostics (syntax and semantic). Never throws.
// The checker runs only on a file without syntax errors (a recovered parse would produce
// follow-on errors that confuse more than they help).
import type { IR } from "./ir.js";
import { hasErrors, type Diagnostic } from "./diagnostics.js";
import { parse } from "../parser/index.js";
import { checkProgram } from "./checker/index.js";

export interface CompileResult {
  /** null when there are errors. */
  ir: IR | null;
  diagnostics: Diagnostic[];
}

export function compileSource(text: string, file: string): CompileResult {
  try {
    const parsed = parse(text);
    const syntax = parsed.diagnostics.map((d) => ({ ...d, file: d.file ?? file }));
    if (hasErrors(syntax)) return { ir: null, diagnostics: syntax };
    const checked = checkProgram(parsed.program, { file, source: text });
    return { ir: checked.ir, diagnostics: [...syntax, ...checked.diagnostics] };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const span = { startOffset: 0, endOffset: 0, startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 };
    return {
      ir: null,
      diagnostics: [{ severity: "error", code: "E999", message: `internal error in nnc: ${message} (this is a bug in nnc)`, span, file }],
    };
  }
}
