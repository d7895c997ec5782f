// What the grammar and the catalog expect at the cursor: the slot completion fills and the call
// signature help describes. Read from the tokens before the cursor (the lexer's layout tokens,
// so line breaks that end statements are `Sep`), which works on half-written text the parser
// cannot build a tree for: the innermost unclosed bracket says whether the cursor is in a body,
// a call's arguments, a list or an object; the tokens just before it say which slot. What a call
// is (a layer, a block, an optimizer, a regularizer) is found the same way, from the slot its
// name is in: `optimizer adam(` -> the optimizer `adam`; `regularizer: l2(` -> the regularizer `l2`.
//
// (chevrotain's computeContentAssist gives the grammar rule at the cursor, but the grammar is
// deliberately catalog-free: every slot here is `Identifier` in some rule, and what tells a layer
// from an activation or an optimizer is the setting or parameter around it, which the tokens say.)
import type { IToken } from "chevrotain";
import { endLineOf, lastOffsetOf, lex } from "../parser/lexer.js";
import { lookup, paramSchemas, augmentations, type CatalogEntry, type Category } from "../compiler/catalog/index.js";
import { canonicalParam } from "./describe.js";

export type DeclRef = { kind: "model" | "block" | "train"; name: string } | null;

/** What a value slot accepts. */
export interface Expect {
  /** Names of this catalog category (`activation: ` -> activations). */
  category?: Category;
  /** The parameter's schema (enums, booleans). */
  schema?: Record<string, unknown>;
  /** Tensor names (the arguments of `add` and `concat`). */
  tensors?: boolean;
}

export type Owner = { kind: "entry"; entry: CatalogEntry } | { kind: "block"; name: string };

export type Slot =
  | { kind: "none" }
  | { kind: "top" }
  | { kind: "modelName" }
  /** The start of a statement in a model or block body. */
  | { kind: "stmt"; decl: DeclRef }
  /** A chain step after `->` (layers, blocks) or after `name =` (also tensors). */
  | { kind: "step"; decl: DeclRef; tensors: boolean }
  | { kind: "inputShape" }
  /** The start of a statement in a train section. */
  | { kind: "setting"; used: string[] }
  | { kind: "sweepVar" }
  | { kind: "value"; decl: DeclRef; expect: Expect }
  /** The start of a call argument: a parameter name, or the value of the next positional parameter. */
  | { kind: "argStart"; decl: DeclRef; owner: Owner; position: number; used: string[] }
  | { kind: "objectKey"; keys: readonly CatalogEntry[]; used: string[] };

export interface Context {
  slot: Slot;
  /** The name being typed (replaced by a completion), as offsets. */
  prefix: { start: number; end: number; text: string };
}

/** The call whose arguments the cursor is in, for signature help. */
export interface CallContext {
  owner: Owner;
  /** The parameter being written: its name for a named argument, else its position. */
  named?: string;
  position: number;
  /** Offset of the `(`. */
  open: number;
}

const OPENERS = new Set(["LParen", "LBracket", "LCurly", "ObjectOpen"]);
const CLOSERS = new Set(["RParen", "RBracket", "RCurly"]);
const CONTINUES = new Set(["Arrow", "Equals", "Comma", "Colon", "Plus", "Minus", "Star", "Slash", "LParen", "LBracket", "ObjectOpen"]);
const DECL = new Set(["Kw_model", "Kw_block", "Kw_train"]);

const type = (t: IToken | undefined): string => t?.tokenType.name ?? "";
const isName = (t: IToken | undefined): boolean => type(t) === "Identifier" || type(t).startsWith("Kw_");

class Analyzer {
  constructor(
    private readonly toks: IToken[],
    private readonly blocks: ReadonlySet<string>,
    /** The cursor's token index and line (1-based), for line breaks the layout pass dropped (before a `}`). */
    private readonly cursor: number,
    private readonly line: number,
  ) {}

  /** The line the token at `i` starts on (the cursor's line for the cursor). */
  private lineAt(i: number): number {
    return i === this.cursor || i >= this.toks.length ? this.line : this.toks[i]!.startLine!;
  }

  /** Index of the innermost bracket opened before `end` and not closed before it, or -1. */
  opener(end: number): number {
    let depth = 0;
    for (let i = end - 1; i >= 0; i--) {
      const n = type(this.toks[i]);
      if (CLOSERS.has(n)) depth++;
      else if (OPENERS.has(n)) {
        if (depth === 0) return i;
        depth--;
      } else if (DECL.has(n) && depth === 0) {
        // A declaration keyword outside any bracket: nothing before it is open.
        return this.headerOpener(i, end);
      }
    }
    return -1;
  }

  /** Between a declaration keyword and `end`: the body's `{` or the parameter list's `(` if still open. */
  private headerOpener(kw: number, end: number): number {
    let depth = 0;
    let open = -1;
    for (let i = kw; i < end; i++) {
      const n = type(this.toks[i]);
      if (OPENERS.has(n)) {
        if (depth === 0) open = i;
        depth++;
      } else if (CLOSERS.has(n)) {
        depth--;
        if (depth === 0) open = -1;
        if (depth < 0) depth = 0;
      }
    }
    return depth > 0 ? open : -1;
  }

  /** The declaration the token at `end` is in: the last `model`/`block`/`train` before it. */
  decl(end: number): DeclRef {
    for (let i = end - 1; i >= 0; i--) {
      const n = type(this.toks[i]);
      if (DECL.has(n)) {
        const name = this.toks[i + 1];
        const kind = n.slice(3) as "model" | "block" | "train";
        return { kind, name: type(name) === "Identifier" && i + 1 < end ? name!.image : "" };
      }
    }
    return null;
  }

  /** Whether the token at `end` starts a statement of the body opened at `open`. */
  private statementStart(end: number, open: number): boolean {
    if (end - 1 === open) return true;
    const prev = this.toks[end - 1]!;
    if (type(prev) === "Sep") return true;
    // A line break before `}` is dropped by the layout pass: a token on an earlier line that
    // does not continue the statement ends it.
    return endLineOf(prev) < this.lineAt(end) && !CONTINUES.has(type(prev));
  }

  /** The slot of the token at `end` (what a name there would be). */
  slot(end: number): Slot {
    const k = this.opener(end);
    const decl = this.decl(end);
    const prev = this.toks[end - 1];
    if (k < 0) {
      if (type(prev) === "Kw_train") return { kind: "modelName" };
      if (type(prev) === "Kw_model" || type(prev) === "Kw_block") return { kind: "none" };
      if (prev && type(prev) !== "Sep" && type(prev) !== "RCurly" && endLineOf(prev) === this.lineAt(end)) return { kind: "none" };
      return { kind: "top" };
    }
    const o = this.toks[k]!;
    switch (type(o)) {
      case "LCurly":
        return this.inBody(k, end, decl);
      case "LParen":
        return this.inCall(k, end, decl);
      case "LBracket":
        return this.inList(k, end, decl);
      case "ObjectOpen":
        return this.inObject(k, end, decl);
    }
    return { kind: "none" };
  }

  private inBody(open: number, end: number, decl: DeclRef): Slot {
    const prev = this.toks[end - 1]!;
    const start = this.statementStart(end, open);
    if (decl?.kind === "train") {
      if (start) return { kind: "setting", used: this.settingsUsed(open, end) };
      if (type(prev) === "Kw_sweep") return { kind: "sweepVar" };
      if (type(prev) === "Identifier" && this.statementStart(end - 1, open)) {
        const setting = lookup("setting", prev.image);
        if (!setting) return { kind: "none" };
        return { kind: "value", decl, expect: setting.valueCategory ? { category: setting.valueCategory } : { schema: setting.schema } };
      }
      if (type(prev) === "Kw_in" || CONTINUES.has(type(prev))) return { kind: "value", decl, expect: {} };
      return { kind: "none" };
    }
    if (start) return { kind: "stmt", decl };
    switch (type(prev)) {
      case "Arrow":
        return { kind: "step", decl, tensors: false };
      case "Equals":
        return { kind: "step", decl, tensors: true };
      case "Kw_input":
        return { kind: "inputShape" };
      case "Colon":
        return type(this.toks[end - 3]) === "Kw_input" ? { kind: "inputShape" } : { kind: "none" };
      case "Kw_in":
      case "Kw_repeat":
      case "Plus":
      case "Minus":
      case "Star":
      case "Slash":
        return { kind: "value", decl, expect: {} };
    }
    return { kind: "none" };
  }

  private settingsUsed(open: number, end: number): string[] {
    const used: string[] = [];
    for (let i = open + 1; i < this.toks.length; i++) {
      const t = this.toks[i]!;
      if (DECL.has(type(t)) || (type(t) === "RCurly" && this.opener(i) === open)) break;
      if (i !== end && type(t) === "Identifier" && this.statementStart(i, open) && this.opener(i) === open) used.push(t.image);
    }
    return used;
  }

  /** What the name at index `j` (followed by `(`) calls. */
  owner(j: number): Owner | undefined {
    const t = this.toks[j];
    if (type(t) !== "Identifier") return undefined;
    const name = t!.image;
    const s = this.slot(j);
    switch (s.kind) {
      case "stmt":
      case "step": {
        if (this.blocks.has(name)) return { kind: "block", name };
        const entry = lookup("layer", name);
        return entry ? { kind: "entry", entry } : undefined;
      }
      case "inputShape": {
        const entry = lookup("input_shape", name);
        return entry ? { kind: "entry", entry } : undefined;
      }
      case "value": {
        const cat = s.expect.category ?? (typeof s.expect.schema?.nncRef === "string" ? (s.expect.schema.nncRef as Category) : undefined);
        const entry = cat ? lookup(cat, name) : undefined;
        return entry ? { kind: "entry", entry } : undefined;
      }
      case "argStart": {
        const e = this.positionalExpect(s.owner, s.position);
        const cat = e.category;
        const entry = cat ? lookup(cat, name) : undefined;
        return entry ? { kind: "entry", entry } : undefined;
      }
    }
    return undefined;
  }

  /** The arguments written between the `(` at `open` and `end`: named ones, and the current one's tokens. */
  private args(open: number, end: number): { named: string[]; positional: number; current: IToken[] } {
    const named: string[] = [];
    let positional = 0;
    let current: IToken[] = [];
    let depth = 0;
    const finish = (): void => {
      if (current.length >= 2 && type(current[0]) === "Identifier" && type(current[1]) === "Colon") named.push(current[0]!.image);
      else if (current.length > 0) positional++;
    };
    for (let i = open + 1; i < end; i++) {
      const t = this.toks[i]!;
      const n = type(t);
      if (depth === 0 && n === "Comma") {
        finish();
        current = [];
        continue;
      }
      if (OPENERS.has(n)) depth++;
      else if (CLOSERS.has(n)) depth--;
      current.push(t);
    }
    return { named, positional, current };
  }

  private positionalExpect(owner: Owner, position: number): Expect {
    if (owner.kind === "block") return {};
    const entry = owner.entry;
    if (entry.category === "layer" && (entry as { arity?: string }).arity === "many") return { tensors: true };
    const p = entry.positional[position];
    return p ? this.paramExpect(entry, p) : {};
  }

  private paramExpect(entry: CatalogEntry, param: string): Expect {
    const schema = paramSchemas(entry)[param];
    if (!schema) return {};
    if (typeof schema.nncRef === "string") return { category: schema.nncRef as Category, schema };
    return { schema };
  }

  private inCall(open: number, end: number, decl: DeclRef): Slot {
    const callee = this.toks[open - 1];
    if (type(callee) !== "Identifier") return DECL.has(type(this.toks[open - 2])) ? { kind: "none" } : { kind: "value", decl, expect: {} };
    if (DECL.has(type(this.toks[open - 2]))) return { kind: "none" }; // `block hidden(` names parameters
    const owner = this.owner(open - 1);
    const { named, positional, current } = this.args(open, end);
    if (!owner) return current.length === 0 || CONTINUES.has(type(current[current.length - 1])) ? { kind: "value", decl, expect: {} } : { kind: "none" };
    const used = owner.kind === "entry" ? named.map((n) => canonicalParam(owner.entry, n) ?? n) : named;
    if (current.length === 0) return { kind: "argStart", decl, owner, position: positional, used };
    const last = current[current.length - 1]!;
    if (current.length === 2 && type(current[0]) === "Identifier" && type(last) === "Colon") {
      const pname = current[0]!.image;
      if (owner.kind === "block") return { kind: "value", decl, expect: {} };
      const p = canonicalParam(owner.entry, pname);
      if (owner.entry.category === "dataset" && p === "augment") return { kind: "value", decl, expect: { schema: { type: "object" } } };
      return { kind: "value", decl, expect: p ? this.paramExpect(owner.entry, p) : {} };
    }
    if (CONTINUES.has(type(last))) return { kind: "value", decl, expect: {} };
    return { kind: "none" };
  }

  private inList(open: number, end: number, decl: DeclRef): Slot {
    const prev = this.toks[end - 1]!;
    if (!(end - 1 === open || type(prev) === "Comma")) return CONTINUES.has(type(prev)) ? { kind: "value", decl, expect: {} } : { kind: "none" };
    const before = this.toks[open - 1];
    // `metrics [`, `callbacks [`: a setting whose value is a list of entries.
    if (decl?.kind === "train" && type(before) === "Identifier") {
      const setting = lookup("setting", before!.image);
      if (setting?.valueCategory) return { kind: "value", decl, expect: { category: setting.valueCategory } };
    }
    // `param: [`: the items of the parameter's list.
    const s = this.slot(open);
    if (s.kind === "value" && s.expect.schema && typeof s.expect.schema.items === "object") {
      return { kind: "value", decl, expect: { schema: s.expect.schema.items as Record<string, unknown> } };
    }
    return { kind: "value", decl, expect: {} };
  }

  private inObject(open: number, end: number, decl: DeclRef): Slot {
    // Only `augment: { ... }` of a dataset has known keys.
    const isAugment = type(this.toks[open - 1]) === "Colon" && this.toks[open - 2]?.image === "augment";
    const { named, current } = this.args(open, end);
    if (current.length === 0) return isAugment ? { kind: "objectKey", keys: augmentations, used: named } : { kind: "none" };
    if (current.length === 2 && type(current[1]) === "Colon") {
      const aug = isAugment ? lookup("augmentation", current[0]!.image) : undefined;
      return { kind: "value", decl, expect: aug ? { schema: aug.schema } : {} };
    }
    return { kind: "none" };
  }

  /** The call whose argument list is open at `end`, if any. */
  call(end: number): CallContext | undefined {
    let e = end;
    for (let guard = 0; guard < 32; guard++) {
      const k = this.opener(e);
      if (k < 0) return undefined;
      if (type(this.toks[k]) === "LParen" && type(this.toks[k - 1]) === "Identifier" && !DECL.has(type(this.toks[k - 2]))) {
        const owner = this.owner(k - 1);
        if (!owner) return undefined;
        const { positional, current } = this.args(k, end);
        const named = current.length >= 2 && type(current[0]) === "Identifier" && type(current[1]) === "Colon" ? current[0]!.image : undefined;
        return { owner, position: positional, open: this.toks[k]!.startOffset, ...(named !== undefined ? { named } : {}) };
      }
      e = k;
    }
    return undefined;
  }
}

function prepare(text: string, offset: number, blocks: ReadonlySet<string>): { a: Analyzer; end: number; prefix: Context["prefix"]; inComment: boolean } {
  const lexed = lex(text);
  const toks = lexed.tokens;
  const inComment = lexed.comments.some((c) => c.startOffset < offset && offset <= lastOffsetOf(c) + 1);
  // The tokens before the cursor; a name the cursor is in or just after is the prefix being typed.
  let end = 0;
  while (end < toks.length && toks[end]!.startOffset < offset) end++;
  let prefix = { start: offset, end: offset, text: "" };
  const last = toks[end - 1];
  if (last && isName(last) && lastOffsetOf(last) + 1 >= offset) {
    prefix = { start: last.startOffset, end: lastOffsetOf(last) + 1, text: text.slice(last.startOffset, offset) };
    end--;
  }
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return { a: new Analyzer(toks, blocks, end, line), end, prefix, inComment };
}

/** The completion slot at `offset` in `text`. `blocks`: the names of the file's blocks. */
export function contextAt(text: string, offset: number, blocks: ReadonlySet<string>): Context {
  const { a, end, prefix, inComment } = prepare(text, offset, blocks);
  if (inComment) return { slot: { kind: "none" }, prefix };
  return { slot: a.slot(end), prefix };
}

/** The call the cursor is in the arguments of, or undefined. */
export function callAt(text: string, offset: number, blocks: ReadonlySet<string>): CallContext | undefined {
  const { a, end, inComment } = prepare(text, offset, blocks);
  if (inComment) return undefined;
  return a.call(end);
}
