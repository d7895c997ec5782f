// Hover: a layer's doc from the catalog, its output shape, parameter count and FLOPs; a block's
// signature and what it gives; a named tensor's shape; the doc of any catalog name (settings,
// activations, optimizers, datasets, ...) and of a named argument.
import { MarkupKind, type Hover, type Position } from "vscode-languageserver";
import type { BlockDecl, Decl, ModelDecl } from "../parser/ast.js";
import { categoryWords, type CatalogEntry } from "../compiler/catalog/index.js";
import type { Analysis, StepRun } from "./analysis.js";
import { declSignature, distinctShapes, entrySignature, groupDigits, paramInfos, paramLine, shapeText } from "./describe.js";
import { occurrenceAt, type Occurrence } from "./symbols.js";
import { toRange } from "./diagnostics.js";

export function hover(a: Analysis, position: Position): Hover | null {
  const o = occurrenceAt(a.occurrences, a.doc.offsetAt(position));
  if (!o) return null;
  const value = hoverText(a, o);
  if (!value) return null;
  return { contents: { kind: MarkupKind.Markdown, value }, range: toRange(a, o.span) };
}

const code = (s: string): string => "```nn\n" + s + "\n```";

export function entryDoc(entry: CatalogEntry, withParams = true): string {
  const params = paramInfos(entry);
  const lines = [code(entrySignature(entry)), `${categoryWords[entry.category]} · ${entry.doc}`];
  if (withParams && params.length > 0) lines.push("", ...params.map((p) => `- ${paramLine(p)}`));
  return lines.join("\n");
}

/** "output [14, 14, 8]; 208 params; 163,072 FLOPs" for each distinct run of a step. */
function runsText(runs: readonly StepRun[] | undefined, withWeights: boolean): string[] {
  if (!runs || runs.length === 0) return [];
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const r of runs) {
    if (!r.output) continue;
    const io = `${r.input ? `${shapeText(r.input)} → ` : ""}${shapeText(r.output)}`;
    const weights = withWeights && r.layer ? ` · ${groupDigits(r.layer.params)} params · ${groupDigits(r.layer.flops)} FLOPs` : "";
    const line = `${io}${weights}`;
    if (seen.has(line)) continue;
    seen.add(line);
    lines.push(line);
  }
  if (lines.length === 0) return [];
  const shown = lines.slice(0, 8).map((l) => `- ${l}`);
  if (lines.length > 8) shown.push(`- ... ${lines.length - 8} more`);
  return ["", runs.length > 1 ? `**output** (${runs.length} applications):` : "**output**:", ...shown];
}

function hoverText(a: Analysis, o: Occurrence): string | undefined {
  const text = a.doc.getText();
  switch (o.kind) {
    case "layer": {
      const runs = o.step ? a.steps.get(o.step.nameSpan.startOffset) : undefined;
      return [entryDoc(o.entry!), ...runsText(runs, true)].join("\n");
    }
    case "block": {
      const block = o.block ?? findDecl(a, "block", o.name);
      if (!block) return undefined;
      const lines = [code(declSignature(block, text))];
      const uses = a.occurrences.filter((x) => x.kind === "block" && !x.def && x.name === o.name).length;
      lines.push(`block · used ${uses} time${uses === 1 ? "" : "s"}`);
      if (o.step) lines.push(...runsText(a.steps.get(o.step.nameSpan.startOffset), false));
      return lines.join("\n");
    }
    case "model": {
      const model = findDecl(a, "model", o.name) as ModelDecl | undefined;
      if (!model) return undefined;
      const lines = [code(declSignature(model, text)), "model"];
      const ir = a.ir && (a.ir.model.name === o.name ? a.ir.model : undefined);
      if (ir) {
        lines.push("", `${shapeText(ir.inputShape)} → ${shapeText(ir.layers[ir.layers.length - 1]!.outputShape)}`);
        lines.push(`${ir.layers.length} layers · ${groupDigits(ir.params.total)} params (${groupDigits(ir.params.trainable)} trainable) · ${groupDigits(ir.flops)} FLOPs per sample`);
      }
      return lines.join("\n");
    }
    case "tensor": {
      const shapes = tensorShapes(a, o);
      const lines = [code(`${o.name}: ${shapes.length > 0 ? shapes.map(shapeText).join(" | ") : "tensor"}`), "named tensor"];
      return lines.join("\n");
    }
    case "param": {
      const decl = o.target ? declAt(a, o.target.startOffset) : undefined;
      const p = decl && decl.kind !== "train" ? decl.params.find((q) => q.nameSpan.startOffset === o.target!.startOffset) : undefined;
      if (p && decl && decl.kind !== "train") {
        const def = p.default ? ` = ${text.slice(p.default.span.startOffset, p.default.span.endOffset)}` : "";
        return [code(`${p.name}${def}`), `parameter of ${decl.kind} \`${decl.name}\``].join("\n");
      }
      return [code(o.name), "loop variable"].join("\n");
    }
    case "argName": {
      if (o.block) {
        const p = o.block.params.find((q) => q.name === o.param);
        return p ? [code(declSignature(o.block, text)), `parameter \`${p.name}\` of block \`${o.block.name}\``].join("\n") : undefined;
      }
      const entry = o.entry!;
      const p = paramInfos(entry).find((q) => q.name === o.param);
      if (!p) return undefined;
      return [code(entrySignature(entry)), `parameter of ${categoryWords[entry.category]} \`${entry.name}\``, "", paramLine(p)].join("\n");
    }
    case "setting":
    case "entry":
    case "inputShape":
      return entryDoc(o.entry!);
    case "enumValue":
      return [code(o.name), o.values ? `one of ${o.values.map((v) => `\`${v}\``).join(", ")}` : "a logged metric: `loss`, a metric, or either with `val_` for the validation data"].join("\n");
  }
}

export function tensorShapes(a: Analysis, o: Occurrence): number[][] {
  // A use: find its binding; a binding: the statement's last step (or the input) made it.
  const def = o.def ? o : a.occurrences.find((x) => x.kind === "tensor" && x.def && o.target && x.span.startOffset === o.target.startOffset);
  if (!def) return [];
  if (def.boundBy === null) {
    const s = def.inputAt !== undefined ? a.inputs.get(def.inputAt) : undefined;
    return s ? [s] : [];
  }
  if (!def.boundBy) return [];
  return distinctShapes((a.steps.get(def.boundBy.nameSpan.startOffset) ?? []).map((r) => r.output));
}

export function findDecl(a: Analysis, kind: "model" | "block", name: string): BlockDecl | ModelDecl | undefined {
  return a.program.decls.find((d): d is BlockDecl | ModelDecl => d.kind === kind && d.name === name);
}

export function declAt(a: Analysis, offset: number): Decl | undefined {
  return a.program.decls.find((d) => d.span.startOffset <= offset && offset <= d.span.endOffset);
}
