// compileSource(): .nn text -> IR + all diagnostics (syntax and semantic). Never throws.
// With syntax errors there is no IR, but the declarations the errors leave untouched are still
// checked, so that an editor shows the semantic problems elsewhere in the file too. A recovered
// parse of a broken declaration would only produce follow-on errors, so those are not checked,
// and neither is what depends on them (the train section of a broken model; an "unknown layer"
// that names a broken block).
import type { IR } from "./ir.js";
import type { Decl, Program } from "../parser/ast.js";
import { hasErrors, type Diagnostic } from "../parser/diagnostics.js";
import { parse } from "../parser/index.js";
import { checkProgram, type CheckTrace } from "./checker/index.js";
import type { Limits } from "./checker/limits.js";

export interface CompileOptions {
  /** Raised (or lowered) checker limits (`--limit NAME=N`); see checker/limits.ts. */
  limits?: Partial<Limits>;
  /** Watches the models' expansion (the language server's shapes; see checker/model.ts). */
  trace?: CheckTrace;
}

export interface CompileResult {
  /** null when there are errors. */
  ir: IR | null;
  diagnostics: Diagnostic[];
  /** The (recovered) syntax tree; absent only after an internal error. */
  program?: Program;
}

export function compileSource(text: string, file: string, options: CompileOptions = {}): CompileResult {
  try {
    const parsed = parse(text);
    const syntax = parsed.diagnostics.map((d) => ({ ...d, file: d.file ?? file }));
    if (hasErrors(syntax)) {
      const semantic = checkIntactDeclarations(parsed.program, syntax, text, file, options);
      return { ir: null, diagnostics: [...syntax, ...semantic].sort((a, b) => a.span.startOffset - b.span.startOffset), program: parsed.program };
    }
    const checked = checkProgram(parsed.program, { file, source: text, trace: options.trace, ...(options.limits ? { limits: options.limits } : {}) });
    return { ir: checked.ir, diagnostics: [...syntax, ...checked.diagnostics], program: parsed.program };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const span = { startOffset: 0, endOffset: 0, startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 };
    return {
      ir: null,
      diagnostics: [{ severity: "error", code: "E999", message: `internal error in nnc: ${message} (this is a bug in nnc)`, span, file }],
    };
  }
}

/** Codes of semantic errors that a broken declaration elsewhere can cause by its absence. */
const FOLLOW_ON = new Set(["E201", "E207", "E216"]);

/** The semantic diagnostics of the declarations that no syntax error falls in. */
function checkIntactDeclarations(program: Program, syntax: readonly Diagnostic[], text: string, file: string, options: CompileOptions): Diagnostic[] {
  const errors = syntax.filter((d) => d.severity === "error");
  const broken = (d: Decl): boolean => errors.some((e) => e.span.startOffset >= d.span.startOffset && e.span.startOffset <= d.span.endOffset);
  const brokenNames = new Set<string>();
  let brokenModel = false;
  for (const d of program.decls) {
    if (d.kind !== "train" && broken(d)) {
      brokenNames.add(d.name);
      if (d.kind === "model") brokenModel = true;
    }
  }
  const decls = program.decls.filter((d) => !broken(d) && !(d.kind === "train" && brokenNames.has(d.model)));
  if (!decls.some((d) => d.kind === "model")) return [];
  const checked = checkProgram({ ...program, decls }, { file, source: text, trace: options.trace, ...(options.limits ? { limits: options.limits } : {}) });
  return checked.diagnostics.filter((d) => {
    if (!FOLLOW_ON.has(d.code)) return true;
    if (d.code === "E216") return !brokenModel;
    // "unknown layer `x`" / "unknown model `x`" where x is a declaration the syntax errors broke.
    return ![...brokenNames].some((n) => d.message.includes(`\`${n}\``));
  });
}
