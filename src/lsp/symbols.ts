// Every name in a file and what it means: the one walk over the syntax tree that hover,
// definition/references, semantic tokens and document symbols share. A name resolves to a
// declaration in the file (model, block, named tensor, parameter or loop variable) or to a
// catalog entry (layer, setting, activation, optimizer, ...), found the way the checker finds it:
// a layer argument's value by its parameter's schema (`activation: relu` -> activation), a
// setting's value by the setting (`optimizer adam` -> optimizer).
import type { Arg, BlockDecl, Decl, Expr, ModelDecl, Program, Span, Step, Stmt, TrainDecl } from "../parser/ast.js";
import { lookup, paramSchemas, type CatalogEntry, type Category } from "../compiler/catalog/index.js";
import { canonicalParam } from "./describe.js";

export type OccurrenceKind =
  | "model" // a model's name (declaration, or the name after `train`)
  | "block" // a block's name (declaration, or a call in a chain)
  | "layer" // a catalog layer in a chain
  | "tensor" // a named tensor (binding, or use)
  | "param" // a model/block parameter or loop variable (declaration, or use in a value)
  | "setting" // a train setting's key
  | "entry" // a catalog entry named in a value: `relu`, `adam`, `l2(...)`, `mnist`, an augmentation key
  | "argName" // a named argument's key: `kernel` in `kernel: 5`
  | "enumValue" // an enum or metric name value: `same`, `val_loss`
  | "inputShape"; // `image` in `input image(28, 28, 1)`

export interface Occurrence {
  kind: OccurrenceKind;
  name: string;
  span: Span;
  /** A declaration (binding) rather than a use. */
  def: boolean;
  /** The declaration the name is written in. */
  decl: Decl;
  /** For layer, setting, entry, inputShape and argName (the entry the argument belongs to). */
  entry?: CatalogEntry;
  /** For argName: the canonical parameter name; for a block's argument, the block. */
  param?: string;
  block?: BlockDecl;
  /** For layer/block/tensor occurrences in a chain: the step. */
  step?: Step;
  /** For a tensor binding: the statement's last step (its output is the tensor); for an input, null. */
  boundBy?: Step | null;
  /** For an input's name: the input statement's offset (Analysis.inputs is keyed by it). */
  inputAt?: number;
  /** Where the name is declared (uses resolved; a declaration points at itself). */
  target?: Span;
  /** For enumValue: the values the parameter accepts (absent for metric names). */
  values?: string[];
}

interface Scope {
  decl: Decl;
  /** Parameters and loop variables visible here: name -> declaration span. */
  vars: Map<string, Span>;
  /** Named tensors of the declaration, in binding order. */
  tensors: { name: string; span: Span }[];
}

export function collectOccurrences(program: Program): Occurrence[] {
  const out: Occurrence[] = [];
  const blocks = new Map<string, BlockDecl>();
  const models = new Map<string, ModelDecl>();
  for (const d of program.decls) {
    if (d.kind === "block" && !blocks.has(d.name)) blocks.set(d.name, d);
    if (d.kind === "model" && !models.has(d.name)) models.set(d.name, d);
  }
  const add = (o: Occurrence): void => {
    if (o.span.endOffset > o.span.startOffset) out.push(o);
  };

  const resolveTensor = (scope: Scope, name: string, at: number): Span | undefined => {
    let found: Span | undefined;
    for (const t of scope.tensors) {
      if (t.name !== name) continue;
      if (t.span.startOffset < at || found === undefined) found = t.span;
    }
    return found;
  };

  /** A value: what it names depends on the parameter schema it is the value of. */
  const value = (e: Expr, schema: Record<string, unknown> | undefined, scope: Scope): void => {
    const ref = schema && typeof schema.nncRef === "string" ? (schema.nncRef as Category) : undefined;
    switch (e.kind) {
      case "ident": {
        if (ref) {
          const entry = lookup(ref, e.name);
          if (entry) return add({ kind: "entry", name: e.name, span: e.span, def: false, decl: scope.decl, entry });
        }
        const v = scope.vars.get(e.name);
        if (v) return add({ kind: "param", name: e.name, span: e.span, def: false, decl: scope.decl, target: v });
        if (schema && Array.isArray(schema.enum) && (schema.enum as unknown[]).includes(e.name)) {
          add({ kind: "enumValue", name: e.name, span: e.span, def: false, decl: scope.decl, values: schema.enum as string[] });
        } else if (schema?.nncMonitor === true) {
          add({ kind: "enumValue", name: e.name, span: e.span, def: false, decl: scope.decl });
        }
        return;
      }
      case "call": {
        const entry = ref ? lookup(ref, e.callee) : undefined;
        if (entry) add({ kind: "entry", name: e.callee, span: e.calleeSpan, def: false, decl: scope.decl, entry });
        return args(e.args, entry, scope);
      }
      case "list":
        for (const item of e.items) value(item, (schema?.items as Record<string, unknown> | undefined) ?? undefined, scope);
        return;
      case "object":
        for (const en of e.entries) value(en.value, undefined, scope);
        return;
      case "binary":
        value(e.left, undefined, scope);
        value(e.right, undefined, scope);
        return;
      case "unary":
        value(e.operand, undefined, scope);
        return;
      default:
        return;
    }
  };

  /** A catalog entry's arguments: named ones by key (aliases resolved), positional ones in order. */
  const args = (list: readonly Arg[] | null, entry: CatalogEntry | undefined, scope: Scope, merge = false): void => {
    if (!list) return;
    const props = entry ? paramSchemas(entry) : {};
    let position = 0;
    for (const a of list) {
      let pname: string | undefined;
      if (a.name !== undefined) {
        pname = entry ? canonicalParam(entry, a.name) : undefined;
        if (entry && pname && a.nameSpan) add({ kind: "argName", name: a.name, span: a.nameSpan, def: false, decl: scope.decl, entry, param: pname });
      } else if (merge) {
        if (a.value.kind === "ident") {
          const target = resolveTensor(scope, a.value.name, a.value.span.startOffset);
          if (target) add({ kind: "tensor", name: a.value.name, span: a.value.span, def: false, decl: scope.decl, target });
          else value(a.value, undefined, scope);
        }
        continue;
      } else if (entry) {
        pname = entry.positional[position++];
      }
      if (entry?.category === "dataset" && pname === "augment" && a.value.kind === "object") {
        for (const en of a.value.entries) {
          const aug = lookup("augmentation", en.key);
          if (aug) add({ kind: "entry", name: en.key, span: en.keySpan, def: false, decl: scope.decl, entry: aug });
          value(en.value, aug?.schema, scope);
        }
        continue;
      }
      value(a.value, pname ? props[pname] : undefined, scope);
    }
  };

  const blockArgs = (list: readonly Arg[] | null, block: BlockDecl, scope: Scope): void => {
    for (const a of list ?? []) {
      if (a.name !== undefined && a.nameSpan) {
        const p = block.params.find((q) => q.name === a.name);
        if (p) add({ kind: "argName", name: a.name, span: a.nameSpan, def: false, decl: scope.decl, block, param: a.name, target: p.nameSpan });
      }
      value(a.value, undefined, scope);
    }
  };

  const stmts = (body: readonly Stmt[], scope: Scope): void => {
    for (const s of body) {
      switch (s.kind) {
        case "input": {
          if (s.name !== undefined && s.nameSpan) add({ kind: "tensor", name: s.name, span: s.nameSpan, def: true, decl: scope.decl, boundBy: null, inputAt: s.span.startOffset, target: s.nameSpan });
          const entry = lookup("input_shape", s.shape.callee);
          if (entry) add({ kind: "inputShape", name: s.shape.callee, span: s.shape.calleeSpan, def: false, decl: scope.decl, entry });
          args(s.shape.args, entry, scope);
          break;
        }
        case "chain": {
          if (s.target !== undefined && s.targetSpan) {
            add({ kind: "tensor", name: s.target, span: s.targetSpan, def: true, decl: scope.decl, boundBy: s.steps[s.steps.length - 1], target: s.targetSpan });
          }
          s.steps.forEach((step, i) => {
            const tensor = i === 0 && step.args === null ? resolveTensor(scope, step.name, step.nameSpan.startOffset) : undefined;
            if (tensor && tensor.startOffset < step.nameSpan.startOffset) {
              add({ kind: "tensor", name: step.name, span: step.nameSpan, def: false, decl: scope.decl, step, target: tensor });
              return;
            }
            const block = blocks.get(step.name);
            if (block) {
              add({ kind: "block", name: step.name, span: step.nameSpan, def: false, decl: scope.decl, step, block, target: block.nameSpan });
              blockArgs(step.args, block, scope);
              return;
            }
            const entry = lookup("layer", step.name);
            if (entry && entry.name !== "input") add({ kind: "layer", name: step.name, span: step.nameSpan, def: false, decl: scope.decl, entry, step });
            args(step.args, entry, scope, entry?.arity === "many");
          });
          break;
        }
        case "for": {
          value(s.iterable, undefined, scope);
          const vars = new Map(scope.vars);
          vars.set(s.variable, s.variableSpan);
          add({ kind: "param", name: s.variable, span: s.variableSpan, def: true, decl: scope.decl, target: s.variableSpan });
          stmts(s.body, { ...scope, vars });
          break;
        }
        case "repeat":
          value(s.count, undefined, scope);
          stmts(s.body, scope);
          break;
      }
    }
  };

  const collectTensors = (body: readonly Stmt[], into: Scope["tensors"]): void => {
    for (const s of body) {
      if (s.kind === "chain" && s.target !== undefined && s.targetSpan) into.push({ name: s.target, span: s.targetSpan });
      else if (s.kind === "input" && s.name !== undefined && s.nameSpan) into.push({ name: s.name, span: s.nameSpan });
      else if (s.kind === "for" || s.kind === "repeat") collectTensors(s.body, into);
    }
  };

  const train = (d: TrainDecl): void => {
    const model = models.get(d.model);
    add({ kind: "model", name: d.model, span: d.modelSpan, def: false, decl: d, ...(model ? { target: model.nameSpan } : {}) });
    const scope: Scope = { decl: d, vars: new Map(), tensors: [] };
    for (const s of d.body) {
      if (s.kind === "sweep") {
        const p = model?.params.find((q) => q.name === s.variable);
        if (p) add({ kind: "param", name: s.variable, span: s.variableSpan, def: false, decl: d, target: p.nameSpan });
        value(s.values, undefined, scope);
        continue;
      }
      const setting = lookup("setting", s.key);
      if (!setting) {
        value(s.value, undefined, scope);
        continue;
      }
      add({ kind: "setting", name: s.key, span: s.keySpan, def: false, decl: d, entry: setting });
      const cat = setting.valueCategory;
      if (!cat) {
        value(s.value, setting.schema, scope);
        continue;
      }
      const one = (e: Expr): void => {
        const name = e.kind === "ident" ? e.name : e.kind === "call" ? e.callee : undefined;
        const entry = name !== undefined ? lookup(cat, name) : undefined;
        if (entry) add({ kind: "entry", name: name!, span: e.kind === "call" ? e.calleeSpan : e.span, def: false, decl: d, entry });
        if (e.kind === "call") args(e.args, entry, scope);
      };
      if (setting.isList && s.value.kind === "list") s.value.items.forEach(one);
      else one(s.value);
    }
  };

  for (const d of program.decls) {
    if (d.kind === "train") {
      train(d);
      continue;
    }
    add({ kind: d.kind, name: d.name, span: d.nameSpan, def: true, decl: d, target: d.nameSpan, ...(d.kind === "block" ? { block: d } : {}) });
    const scope: Scope = { decl: d, vars: new Map(), tensors: [] };
    for (const p of d.params) {
      if (p.default) value(p.default, undefined, scope);
      scope.vars.set(p.name, p.nameSpan);
      add({ kind: "param", name: p.name, span: p.nameSpan, def: true, decl: d, target: p.nameSpan });
    }
    collectTensors(d.body, scope.tensors);
    stmts(d.body, scope);
  }
  out.sort((a, b) => a.span.startOffset - b.span.startOffset);
  return out;
}

/** The occurrence under `offset` (a cursor just after a name still counts). */
export function occurrenceAt(occs: readonly Occurrence[], offset: number): Occurrence | undefined {
  let lo = 0;
  let hi = occs.length - 1;
  let best: Occurrence | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const o = occs[mid]!;
    if (o.span.startOffset <= offset) {
      best = o;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best && offset <= best.span.endOffset ? best : undefined;
}

/** Whether two occurrences name the same thing (one declaration). */
export function sameSymbol(a: Occurrence, b: Occurrence): boolean {
  if (!a.target || !b.target) return false;
  const group = (k: OccurrenceKind): string => (k === "argName" ? "param" : k);
  return group(a.kind) === group(b.kind) && a.target.startOffset === b.target.startOffset;
}
