// Completion: the names the slot at the cursor accepts (context.ts finds the slot), from the
// catalog (layers, settings, activations, optimizers, losses, callbacks, datasets, enum values,
// parameter names of the call being written) and from the file (blocks, named tensors, model
// and block parameters, loop variables, models).
import { CompletionItemKind, InsertTextFormat, MarkupKind, type CompletionItem, type Position, type Range } from "vscode-languageserver";
import type { BlockDecl, Decl, ModelDecl } from "../parser/ast.js";
import { catalog, categoryWords, lookup, paramSchemas, settings, inputShapes, type CatalogEntry, type Category, type LayerEntry } from "../compiler/catalog/index.js";
import type { Analysis } from "./analysis.js";
import { contextAt, type DeclRef, type Expect, type Slot } from "./context.js";
import { declSignature, distinctShapes, entrySignature, paramInfos, paramLine, shapeText } from "./describe.js";
import { entryDoc } from "./hover.js";

export function completion(a: Analysis, position: Position): CompletionItem[] {
  const text = a.doc.getText();
  const offset = a.doc.offsetAt(position);
  const blocks = new Set(a.program.decls.filter((d) => d.kind === "block").map((d) => (d as BlockDecl).name));
  const { slot, prefix } = contextAt(text, offset, blocks);
  const range: Range = { start: a.doc.positionAt(prefix.start), end: a.doc.positionAt(Math.max(prefix.end, offset)) };
  const items = itemsFor(a, slot, offset);
  // Each item replaces the whole name being typed.
  return items.map((it) => ({ ...it, textEdit: { range, newText: it.insertText ?? it.label }, insertText: undefined }));
}

const KIND_OF: Record<Category, CompletionItemKind> = {
  layer: CompletionItemKind.Function,
  activation: CompletionItemKind.Function,
  initializer: CompletionItemKind.Function,
  regularizer: CompletionItemKind.Function,
  loss: CompletionItemKind.Function,
  metric: CompletionItemKind.EnumMember,
  optimizer: CompletionItemKind.Function,
  schedule: CompletionItemKind.Function,
  callback: CompletionItemKind.Function,
  augmentation: CompletionItemKind.Field,
  dataset: CompletionItemKind.Function,
  input_shape: CompletionItemKind.TypeParameter,
  setting: CompletionItemKind.Property,
};

function entryItem(e: CatalogEntry, sort = "1"): CompletionItem {
  return {
    label: e.name,
    kind: KIND_OF[e.category],
    detail: `${categoryWords[e.category]}: ${entrySignature(e)}`,
    documentation: { kind: MarkupKind.Markdown, value: entryDoc(e) },
    sortText: `${sort}${e.name}`,
  };
}

const keyword = (k: string, sort = "3"): CompletionItem => ({ label: k, kind: CompletionItemKind.Keyword, sortText: `${sort}${k}` });

function findDecl(a: Analysis, ref: DeclRef): Decl | undefined {
  if (!ref) return undefined;
  return a.program.decls.find((d) => d.kind === ref.kind && (d.kind === "train" ? d.model === ref.name : d.name === ref.name));
}

function blockItems(a: Analysis): CompletionItem[] {
  const text = a.doc.getText();
  return a.program.decls
    .filter((d): d is BlockDecl => d.kind === "block")
    .map((b) => ({ label: b.name, kind: CompletionItemKind.Module, detail: declSignature(b, text), sortText: `0${b.name}` }));
}

function tensorItems(a: Analysis, ref: DeclRef, offset: number): CompletionItem[] {
  const decl = findDecl(a, ref);
  if (!decl) return [];
  const seen = new Set<string>();
  const out: CompletionItem[] = [];
  for (const o of a.occurrences) {
    if (o.kind !== "tensor" || !o.def || o.decl !== decl || o.span.startOffset >= offset || seen.has(o.name)) continue;
    seen.add(o.name);
    const shapes =
      o.boundBy === null
        ? [o.inputAt !== undefined ? a.inputs.get(o.inputAt) ?? null : null]
        : (a.steps.get(o.boundBy?.nameSpan.startOffset ?? -1) ?? []).map((r) => r.output);
    const ds = distinctShapes(shapes);
    out.push({ label: o.name, kind: CompletionItemKind.Variable, detail: ds.length > 0 ? `tensor ${ds.map(shapeText).join(" | ")}` : "tensor", sortText: `0${o.name}` });
  }
  return out;
}

/** Model/block parameters and loop variables of the declaration (values in a body). */
function varItems(a: Analysis, ref: DeclRef): CompletionItem[] {
  const decl = findDecl(a, ref);
  if (!decl || decl.kind === "train") return [];
  const seen = new Set<string>();
  const out: CompletionItem[] = [];
  for (const o of a.occurrences) {
    if (o.kind !== "param" || !o.def || o.decl !== decl || seen.has(o.name)) continue;
    seen.add(o.name);
    const isParam = decl.params.some((p) => p.nameSpan.startOffset === o.span.startOffset);
    out.push({ label: o.name, kind: CompletionItemKind.Variable, detail: isParam ? `parameter of ${decl.kind} ${decl.name}` : "loop variable", sortText: `0${o.name}` });
  }
  return out;
}

function valueItems(a: Analysis, decl: DeclRef, expect: Expect, offset: number): CompletionItem[] {
  const out: CompletionItem[] = [];
  const schema = expect.schema;
  if (expect.category) out.push(...catalog[expect.category].map((e) => entryItem(e)));
  if (schema && Array.isArray(schema.enum)) {
    for (const v of schema.enum as string[]) out.push({ label: v, kind: CompletionItemKind.EnumMember, sortText: `0${v}` });
  }
  if (schema?.nncMonitor) {
    const metrics = ["loss", ...catalog.metric.map((m) => m.name)];
    for (const m of [...metrics.map((x) => `val_${x}`), ...metrics]) out.push({ label: m, kind: CompletionItemKind.EnumMember, detail: "logged metric", sortText: `0${m}` });
  }
  const t = schema?.type;
  if (t === "boolean" || (Array.isArray(t) && t.includes("boolean"))) out.push(keyword("true", "0"), keyword("false", "0"));
  if (expect.tensors) out.push(...tensorItems(a, decl, offset));
  if (!expect.category && !schema?.enum && !schema?.nncMonitor && t !== "boolean") out.push(...varItems(a, decl));
  return out;
}

function itemsFor(a: Analysis, slot: Slot, offset: number): CompletionItem[] {
  switch (slot.kind) {
    case "none":
      return [];
    case "top":
      return ["model", "block", "train"].map((k) => keyword(k, "0"));
    case "modelName":
      return a.program.decls
        .filter((d): d is ModelDecl => d.kind === "model")
        .map((m) => ({ label: m.name, kind: CompletionItemKind.Class, detail: declSignature(m, a.doc.getText()) }));
    case "stmt": {
      const layers = catalog.layer.filter((e) => e.name !== "input").map((e) => entryItem(e));
      const words = slot.decl?.kind === "model" ? ["input", "for", "repeat"] : ["for", "repeat"];
      return [...tensorItems(a, slot.decl, offset), ...blockItems(a), ...layers, ...words.map((w) => keyword(w))];
    }
    case "step": {
      const layers = catalog.layer.filter((e) => e.name !== "input").map((e) => entryItem(e));
      return [...(slot.tensors ? tensorItems(a, slot.decl, offset) : []), ...blockItems(a), ...layers];
    }
    case "inputShape":
      return inputShapes.map((e) => entryItem(e));
    case "setting": {
      const used = new Set(slot.used.map((u) => lookup("setting", u)?.name ?? u));
      return [...settings.filter((s) => !used.has(s.name)).map((s) => entryItem(s)), keyword("sweep")];
    }
    case "sweepVar": {
      const train = a.program.decls.find((d) => d.kind === "train");
      const model = train ? a.program.decls.find((d): d is ModelDecl => d.kind === "model" && d.name === (train as { model: string }).model) : undefined;
      return (model?.params ?? []).map((p) => ({ label: p.name, kind: CompletionItemKind.Variable, detail: `parameter of model ${model!.name}` }));
    }
    case "value":
      return valueItems(a, slot.decl, slot.expect, offset);
    case "argStart": {
      const owner = slot.owner;
      const used = new Set(slot.used);
      if (owner.kind === "block") {
        const block = a.program.decls.find((d): d is BlockDecl => d.kind === "block" && d.name === owner.name);
        const params = (block?.params ?? []).filter((p) => !used.has(p.name));
        return [
          ...params.map((p) => ({ label: p.name, kind: CompletionItemKind.Field, detail: `parameter of block ${owner.name}`, insertText: `${p.name}: `, sortText: `0${p.name}` })),
          ...varItems(a, slot.decl),
        ];
      }
      const entry = owner.entry;
      const params = paramInfos(entry).filter((p) => !used.has(p.name));
      const out: CompletionItem[] = params.map((p) => ({
        label: p.name,
        kind: CompletionItemKind.Field,
        detail: `${entry.name}: ${p.type}`,
        documentation: { kind: MarkupKind.Markdown, value: paramLine(p) },
        insertText: `${p.name}: `,
        insertTextFormat: InsertTextFormat.PlainText,
        sortText: `0${p.name}`,
      }));
      // The next positional parameter's values, when it has not been given by name.
      const isMerge = entry.category === "layer" && (entry as LayerEntry).arity === "many";
      const next = entry.positional[slot.position];
      const positional = next !== undefined && !used.has(next) ? next : undefined;
      if (isMerge) out.push(...tensorItems(a, slot.decl, offset));
      else if (positional) {
        const schema = paramSchemas(entry)[positional];
        const expect: Expect = schema && typeof schema.nncRef === "string" ? { category: schema.nncRef as Category, schema } : { schema };
        out.push(...valueItems(a, slot.decl, expect, offset).map((i) => ({ ...i, sortText: `1${i.label}` })));
      }
      return out;
    }
    case "objectKey": {
      const used = new Set(slot.used);
      return slot.keys.filter((k) => !used.has(k.name)).map((k) => ({ ...entryItem(k, "0"), insertText: `${k.name}: ` }));
    }
  }
}
