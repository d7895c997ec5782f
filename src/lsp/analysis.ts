// One document's analysis: the compiler run once per version of the text (compileSource, with a
// trace of every step's input and output shape) and the names in it (symbols.ts). Every feature
// of the server reads the latest analysis of its document; nothing else runs the compiler.
import { TextDocument } from "vscode-languageserver-textdocument";
import type { InputStmt, Program, Span, Step } from "../parser/ast.js";
import type { Diagnostic } from "../parser/diagnostics.js";
import type { IR, IRLayer } from "../compiler/ir.js";
import type { CheckTrace } from "../compiler/checker/index.js";
import { compileSource } from "../compiler/index.js";
import { collectOccurrences, type Occurrence } from "./symbols.js";

/** One application of a step (a block called twice, or a step in a loop, has several). */
export interface StepRun {
  model: string;
  /** The tensor the step applied to (null for a chain's first step when it is a tensor name). */
  input: number[] | null;
  inputLayer: string | null;
  /** null after an error. */
  output: number[] | null;
  outputLayer: string | null;
  /** The layer it made (for a block call, the block's last layer). */
  layer: IRLayer | undefined;
}

export interface Analysis {
  uri: string;
  version: number;
  doc: TextDocument;
  program: Program;
  /** All of the compiler's diagnostics, sorted by position. */
  diagnostics: Diagnostic[];
  /** null while the file has errors. */
  ir: IR | null;
  /** By the step's name offset (`nameSpan.startOffset`). */
  steps: Map<number, StepRun[]>;
  /** By the input statement's offset: the input shape. */
  inputs: Map<number, number[]>;
  /** `${model}\0${layerId}` -> where that layer was written (the step's name, or the input's shape). */
  producers: Map<string, Span>;
  /** Every name in the file (symbols.ts), made on first use: publishing diagnostics does not need them. */
  readonly occurrences: Occurrence[];
}

const EMPTY: Program = {
  kind: "program",
  decls: [],
  comments: [],
  span: { startOffset: 0, endOffset: 0, startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 },
};

export function analyze(doc: TextDocument): Analysis {
  const text = doc.getText();
  const steps = new Map<number, StepRun[]>();
  const inputs = new Map<number, number[]>();
  const producers = new Map<string, Span>();
  const trace: CheckTrace = {
    step(model: string, step: Step, input, output, layer) {
      const key = step.nameSpan.startOffset;
      let runs = steps.get(key);
      if (!runs) steps.set(key, (runs = []));
      runs.push({
        model,
        input: input?.shape ?? null,
        inputLayer: input?.layerId ?? null,
        output: output?.shape ?? null,
        outputLayer: output?.layerId ?? null,
        layer,
      });
      // The innermost step that made a layer: a layer inside a block wins over the block's call.
      if (output?.layerId && input !== null) {
        const k = `${model}\0${output.layerId}`;
        if (!producers.has(k)) producers.set(k, step.nameSpan);
      }
    },
    input(model: string, stmt: InputStmt, output) {
      if (output.shape) inputs.set(stmt.span.startOffset, output.shape);
      if (output.layerId) producers.set(`${model}\0${output.layerId}`, stmt.shape.span);
    },
  };
  const result = compileSource(text, fileOf(doc.uri), { trace });
  const program = result.program ?? EMPTY;
  let occurrences: Occurrence[] | undefined;
  return {
    uri: doc.uri,
    version: doc.version,
    doc,
    program,
    diagnostics: result.diagnostics,
    ir: result.ir,
    steps,
    inputs,
    producers,
    get occurrences() {
      return (occurrences ??= collectOccurrences(program));
    },
  };
}

/** The file name diagnostics carry: the path of a file: URI, else the URI itself. */
export function fileOf(uri: string): string {
  if (!uri.startsWith("file://")) return uri;
  try {
    return decodeURIComponent(new URL(uri).pathname);
  } catch {
    return uri;
  }
}

/** An analysis of a text with no editor behind it (tests, bench). */
export function analyzeText(text: string, uri = "file:///untitled.nn", version = 1): Analysis {
  return analyze(TextDocument.create(uri, "nn", version, text));
}
