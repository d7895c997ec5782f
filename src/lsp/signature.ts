// Signature help for layer, block and catalog calls: the parameters in the order a call fills
// them, each with its type and default, the one being written highlighted.
import { MarkupKind, type Position, type SignatureHelp, type SignatureInformation } from "vscode-languageserver";
import type { BlockDecl } from "../parser/ast.js";
import { categoryWords } from "../compiler/catalog/index.js";
import type { Analysis } from "./analysis.js";
import { callAt } from "./context.js";
import { canonicalParam, paramInfos, paramLine, paramSource } from "./describe.js";

export function signatureHelp(a: Analysis, position: Position): SignatureHelp | null {
  const text = a.doc.getText();
  const blocks = new Map(a.program.decls.filter((d): d is BlockDecl => d.kind === "block").map((b) => [b.name, b]));
  const call = callAt(text, a.doc.offsetAt(position), new Set(blocks.keys()));
  if (!call) return null;
  let sig: SignatureInformation;
  let active: number;
  if (call.owner.kind === "block") {
    const block = blocks.get(call.owner.name);
    if (!block) return null;
    const labels = block.params.map((p) => paramSource(p, text));
    sig = {
      label: `${block.name}(${labels.join(", ")})`,
      documentation: `block ${block.name}`,
      parameters: labels.map((label) => ({ label })),
    };
    active = call.named !== undefined ? block.params.findIndex((p) => p.name === call.named) : call.position;
  } else {
    const entry = call.owner.entry;
    const params = paramInfos(entry);
    const labels = params.map((p) => p.label);
    sig = {
      label: `${entry.name}(${labels.join(", ")})`,
      documentation: { kind: MarkupKind.Markdown, value: `${categoryWords[entry.category]} · ${entry.doc}` },
      parameters: params.map((p) => ({ label: p.label, documentation: { kind: MarkupKind.Markdown, value: paramLine(p) } })),
    };
    if (call.named !== undefined) {
      const name = canonicalParam(entry, call.named);
      active = params.findIndex((p) => p.name === name);
    } else {
      const pname = entry.positional[call.position];
      active = pname === undefined ? -1 : params.findIndex((p) => p.name === pname);
    }
  }
  return { signatures: [sig], activeSignature: 0, activeParameter: active < 0 ? (sig.parameters?.length ?? 0) : active };
}
