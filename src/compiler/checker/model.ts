// Expanding a model body into IR layers: blocks, `for` and `repeat` expanded with their
// parameters substituted; names resolved (tensor, block, layer); arguments bound and validated;
// shapes inferred layer by layer with the catalog's shape rules.
//
// Current-tensor semantics: a chain applies to the output of the previous statement unless it
// starts with a tensor name; its output becomes the current tensor (and is bound to its target).
// A merge layer (`add`, `concat`) takes tensor names; when it is not the first step of its chain
// the chain's tensor so far is its first input.
//
// Layer ids: the chain's target name for the last layer of `x = ...` (when unused so far),
// otherwise `${kind}_${n}`, n counting from 1 per kind, skipping names the user binds anywhere.
//
// Layer source positions: the layer's own step in the text. For a layer from a block that is
// the line inside the block (e.g. `dense(units)`), not the call site.
import type { BlockDecl, InputStmt, ModelDecl, Span, Step, Stmt } from "../../parser/ast.js";
import type { IRExpansion, IRLayer, IRModel, IRRef, IRValue, IRWeight } from "../ir.js";
import { fromKerasName, isShapeError, lookup, names, type LayerEntry } from "../catalog/index.js";
import { didYouMean } from "../../parser/suggest.js";
import { bindArgs, defaultRef } from "./args.js";
import type { Reporter } from "./report.js";
import { describe, evaluate, type V, type VArg } from "./values.js";
import { countText, DEFAULT_LIMITS, LIMIT_WORDS, raiseHint, type Limits } from "./limits.js";

export interface Tensor {
  /** Id of the layer producing it; null when an earlier error left it unknown. */
  layerId: string | null;
  shape: number[] | null;
}

export interface LayerInfo {
  /** The step that created the layer (for diagnostics about it). */
  span: Span;
  nameSpan: Span;
  /** Where each argument was written. */
  argSpans: Record<string, Span>;
  /** The layer's position in creation order (every layer after its inputs). */
  index: number;
}

export interface BuiltModel {
  model: IRModel;
  info: Map<string, LayerInfo>;
  /** Span of the input statement's shape, for dataset mismatch messages. */
  inputSpan: Span | null;
}

/**
 * Watches the expansion (the language server's hovers, inlay hints and related locations read
 * it): called for every step applied and every input made, once per expansion of a block or loop.
 */
export interface CheckTrace {
  /**
   * A chain step (layer, block call or tensor name) in model `model`: the tensor it applied to,
   * the one it gave (null after an error) and the layer that made it (a block call's last layer).
   */
  step(model: string, step: Step, input: Tensor | null, output: Tensor | null, layer: IRLayer | undefined): void;
  /** An `input` statement made the model's input tensor. */
  input(model: string, stmt: InputStmt, output: Tensor): void;
}

interface Env {
  scope: Map<string, V>;
  tensors: Map<string, Tensor>;
  current: Tensor | null;
  /** True once an input statement has been seen (at model level). */
  inBlock: boolean;
  blockStack: string[];
}

/**
 * Name checks for a block no model uses (its arguments cannot be checked without values):
 * unknown layers and blocks, `input` inside a block.
 */
export function checkUnusedBlock(block: BlockDecl, blocks: ReadonlyMap<string, BlockDecl>, r: Reporter): void {
  const tensors = new Set<string>();
  const collect = (stmts: readonly Stmt[]): void => {
    for (const s of stmts) {
      if (s.kind === "chain" && s.target !== undefined) tensors.add(s.target);
      else if (s.kind === "for" || s.kind === "repeat") collect(s.body);
    }
  };
  collect(block.body);
  const walk = (stmts: readonly Stmt[]): void => {
    for (const s of stmts) {
      if (s.kind === "input") r.error("E408", keyword(s.span), "a block cannot declare an `input`; blocks apply to the tensor they are called on");
      else if (s.kind === "for" || s.kind === "repeat") walk(s.body);
      else {
        for (const step of s.steps) {
          if (tensors.has(step.name) || blocks.has(step.name)) continue;
          const entry = lookup("layer", step.name);
          if (entry && entry.name !== "input") continue;
          const candidates = [...names("layer").filter((n) => n !== "input"), ...blocks.keys(), ...tensors];
          const keras = fromKerasName("layer", step.name);
          r.error("E201", step.nameSpan, `unknown layer \`${step.name}\``, keras ? `in nnc this is \`${keras}\` (\`${step.name}\` is the Keras/PyTorch name)` : didYouMean(step.name, candidates));
        }
      }
    }
  };
  walk(block.body);
}

/** A statement's first line: itself, or the keyword of a loop. */
function headSpan(s: Stmt): Span {
  if (s.span.startLine === s.span.endLine) return s.span;
  return keyword(s.span, s.kind === "for" ? 3 : s.kind === "repeat" ? 6 : s.kind === "input" ? 5 : 1);
}

/** The span of the keyword (`input`, `for`) that starts a statement. */
function keyword(s: Span, length = 5): Span {
  return { ...s, endOffset: s.startOffset + length, endLine: s.startLine, endColumn: s.startColumn + length };
}

function prod(s: readonly number[]): number {
  let p = 1;
  for (let i = 0; i < s.length; i++) p *= s[i]!;
  return p;
}
const fmt = (s: number[]): string => `[${s.join(", ")}]`;

/** A value as the user would write it, for `source.via` (names without their backquotes). */
const shown = (v: V): string => describe(v).replace(/`/g, "");

export class ModelBuilder {
  private layers: IRLayer[] = [];
  /** By layer id; also the set of ids taken. */
  private info = new Map<string, LayerInfo>();
  private counters = new Map<string, number>();
  /** Source lines trimmed, as layers' `source.text` (a block's lines serve every call). */
  private trimmedLines: string[] = [];
  private inputSpan: Span | null = null;
  private inputSeen = false;
  private noInputReported = false;
  private failed = false;
  /** Set once a limit is reached: expansion stops at once (the error is reported). */
  private stopped = false;
  /** Statements and loop iterations run so far (the `steps` limit). */
  private steps = 0;
  /** The block calls and loop passes being expanded, outermost first (layers' `source.via`; shared, never mutated). */
  private via: IRExpansion[] = [];

  constructor(
    private readonly r: Reporter,
    private readonly blocks: ReadonlyMap<string, BlockDecl>,
    private readonly sourceLines: readonly string[],
    /** Names the user binds anywhere (tensor targets, input names): auto ids skip them. */
    private readonly reserved: ReadonlySet<string>,
    /** Filled with the names of the blocks this builder expands. */
    private readonly expanded: Set<string> = new Set(),
    private readonly limits: Limits = DEFAULT_LIMITS,
    private readonly trace?: CheckTrace,
  ) {}

  private modelName = "";

  build(decl: ModelDecl, params: Map<string, V>): BuiltModel | null {
    this.modelName = decl.name;
    const env: Env = { scope: params, tensors: new Map(), current: null, inBlock: false, blockStack: [] };
    this.stmts(decl.body, env);
    if (!this.inputSeen && !this.noInputReported) {
      this.r.error("E407", decl.nameSpan, `model \`${decl.name}\` has no \`input\``, "start the model with e.g. `input image(28, 28, 1)`");
      return null;
    }
    const out = env.current;
    if (this.failed || out === null || out.layerId === null || out.shape === null) return null;
    const model = this.finish(decl.name, out.layerId);
    return { model, info: this.info, inputSpan: this.inputSpan };
  }

  // ---------------------------------------------------------------- statements

  private stmts(body: readonly Stmt[], env: Env): void {
    for (const s of body) {
      if (this.stopped) return;
      if (++this.steps > this.limits.steps) return this.overLimit("steps", headSpan(s), "expanding this model takes too many statements and loop iterations", "use fewer or shorter loops (loops within loops multiply)", env);
      this.stmt(s, env);
    }
  }

  /** E312: a limit reached; stops the expansion. */
  private overLimit(name: keyof Limits, span: Span, what: string, fix: string, env: Env, value = this.limits[name] * 2): void {
    this.r.error("E312", span, `${what}, over the limit of ${countText(this.limits[name])} (limit \`${name}\`: ${LIMIT_WORDS[name]})`, `${fix}, ${raiseHint(name, value)}`);
    this.stopped = true;
    this.fail(env);
  }

  private stmt(s: Stmt, env: Env): void {
    switch (s.kind) {
      case "input":
        return this.input(s, env);
      case "chain":
        return this.chain(s, env);
      case "for": {
        const it = evaluate(s.iterable, env.scope, this.r);
        if (it === null) return this.fail(env);
        if (it.t !== "list") {
          this.r.error("E308", s.iterable.span, `\`for\` needs a list to iterate over, such as \`[64, 32]\``);
          return this.fail(env);
        }
        if (it.items.length > this.limits.loop) {
          return this.overLimit("loop", s.iterable.span.startLine === s.iterable.span.endLine ? s.iterable.span : keyword(s.span, 3), `this \`for\` runs over ${countText(it.items.length)} items`, "loop over fewer items", env, it.items.length);
        }
        for (const [index, item] of it.items.entries()) {
          if (this.stopped) return;
          if (++this.steps > this.limits.steps) return this.overLimit("steps", headSpan(s), "expanding this model takes too many statements and loop iterations", "use fewer or shorter loops (loops within loops multiply)", env);
          const scope = new Map(env.scope);
          scope.set(s.variable, item);
          const inner: Env = { ...env, scope };
          const outer = this.via;
          this.via = [...outer, { kind: "for", line: s.span.startLine, variable: s.variable, value: shown(item), pass: index + 1, passes: it.items.length }];
          this.stmts(s.body, inner);
          this.via = outer;
          env.current = inner.current;
        }
        return;
      }
      case "repeat": {
        const c = evaluate(s.count, env.scope, this.r);
        if (c === null) return this.fail(env);
        if (c.t !== "num" || !Number.isInteger(c.v) || c.v < 1) {
          this.r.error("E308", s.count.span, `\`repeat\` needs a whole number of at least 1; got ${c.t === "num" ? c.raw : "a non-number"}`);
          return this.fail(env);
        }
        if (c.v > this.limits.repeat) {
          return this.overLimit("repeat", s.count.span, `\`repeat ${c.raw}\` repeats its body ${countText(c.v)} times`, "repeat fewer times", env, c.v);
        }
        for (let i = 0; i < c.v && !this.stopped; i++) {
          if (++this.steps > this.limits.steps) return this.overLimit("steps", headSpan(s), "expanding this model takes too many statements and loop iterations", "use fewer or shorter loops (loops within loops multiply)", env);
          const outer = this.via;
          this.via = [...outer, { kind: "repeat", line: s.span.startLine, pass: i + 1, passes: c.v }];
          this.stmts(s.body, env);
          this.via = outer;
        }
        return;
      }
    }
  }

  private fail(env: Env): void {
    this.failed = true;
    env.current = { layerId: null, shape: null };
  }

  private input(s: Extract<Stmt, { kind: "input" }>, env: Env): void {
    if (env.inBlock) {
      this.r.error("E408", keyword(s.span), "a block cannot declare an `input`; blocks apply to the tensor they are called on");
      return this.fail(env);
    }
    if (this.inputSeen) {
      this.r.error("E408", keyword(s.span), "a model has exactly one `input`");
      return this.fail(env);
    }
    this.inputSeen = true;
    if (env.current !== null) {
      this.r.error("E408", keyword(s.span), "`input` must be the first statement of the model");
    }
    this.inputSpan = s.shape.span;
    const shapeVal = evaluate(s.shape, env.scope, this.r);
    const entry = lookup("input_shape", s.shape.callee);
    if (!entry) {
      this.r.error("E203", s.shape.calleeSpan, `unknown input shape \`${s.shape.callee}\``, didYouMean(s.shape.callee, names("input_shape")) ?? "use `image(height, width, channels)` or `vector(size)`");
      return this.fail(env);
    }
    if (shapeVal === null || shapeVal.t !== "call") return this.fail(env);
    const bound = bindArgs(entry, shapeVal.args, { callee: s.shape.callee, span: s.shape.calleeSpan }, this.r);
    if (bound === null) return this.fail(env);
    const shape = entry.toShape(bound.args);
    const id = s.name !== undefined && !this.info.has(s.name) ? s.name : this.nextId("input");
    const layer: IRLayer = {
      id,
      kind: "input",
      inputs: [],
      args: { shape },
      inputShapes: [],
      outputShape: shape,
      weights: [],
      params: 0,
      flops: 0,
      source: this.source(s.span),
    };
    this.layers.push(layer);
    this.info.set(id, { span: s.span, nameSpan: s.shape.calleeSpan, argSpans: bound.spans, index: this.layers.length - 1 });
    const t: Tensor = { layerId: id, shape };
    this.trace?.input(this.modelName, s, t);
    env.current = t;
    if (s.name !== undefined) this.bindName(s.name, s.nameSpan ?? s.span, t, env);
  }

  private bindName(name: string, span: Span, t: Tensor, env: Env): void {
    if (lookup("layer", name) || this.blocks.has(name)) {
      this.r.error("E212", span, `\`${name}\` is the name of a ${this.blocks.has(name) ? "block" : "layer"}; choose another name for this tensor`);
      return;
    }
    env.tensors.set(name, t);
  }

  private chain(s: Extract<Stmt, { kind: "chain" }>, env: Env): void {
    let cur: Tensor | null;
    let steps = s.steps;
    const first = steps[0];
    const firstIsTensor = env.tensors.has(first.name);
    if (firstIsTensor) {
      if (first.args !== null) {
        this.r.error("E410", first.nameSpan, `\`${first.name}\` is a tensor, not a layer: it takes no arguments`);
        return this.fail(env);
      }
      cur = env.tensors.get(first.name)!;
      this.trace?.step(this.modelName, first, null, cur, undefined);
      steps = steps.slice(1);
    } else {
      cur = env.current;
    }
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const isFirst = i === 0 && !firstIsTensor;
      const wantId = i === steps.length - 1 && s.target !== undefined ? s.target : undefined;
      const next = this.step(step, cur, isFirst, env, wantId);
      if (this.trace) this.trace.step(this.modelName, step, cur, next, next?.layerId ? this.layers[this.info.get(next.layerId)?.index ?? -1] : undefined);
      if (next === null) return this.fail(env);
      cur = next;
    }
    if (cur === null) return this.fail(env);
    env.current = cur;
    if (s.target !== undefined) this.bindName(s.target, s.targetSpan ?? s.span, cur, env);
  }

  /** Applies one step to `cur`. Returns null after reporting an error that stops the chain. */
  private step(step: Step, cur: Tensor | null, isFirst: boolean, env: Env, wantId?: string): Tensor | null {
    if (this.stopped) return null;
    if (env.tensors.has(step.name)) {
      this.r.error("E410", step.nameSpan, `\`${step.name}\` is a tensor; a tensor name can only start a chain`, `write \`${step.name} -> ...\` as its own statement`);
      return null;
    }
    const block = this.blocks.get(step.name);
    if (block) {
      if (cur === null) return this.noInput(step);
      return this.expandBlock(block, step, cur, env);
    }
    const entry = lookup("layer", step.name);
    if (!entry || entry.name === "input") {
      if (step.name === "input") {
        this.r.error("E408", step.nameSpan, "`input` is a statement of its own: `input image(28, 28, 1)`");
        return null;
      }
      const keras = fromKerasName("layer", step.name);
      this.r.error("E201", step.nameSpan, `unknown layer \`${step.name}\``, () =>
        keras ? `in nnc this is \`${keras}\` (\`${step.name}\` is the Keras/PyTorch name)` : didYouMean(step.name, [...names("layer").filter((n) => n !== "input"), ...this.blocks.keys(), ...env.tensors.keys()]),
      );
      return null;
    }
    if (entry.arity === "many") return this.merge(entry, step, cur, isFirst, env, wantId);
    if (cur === null) return this.noInput(step);
    const args = this.evalArgs(step.args, env);
    if (args === null) return null;
    const bound = bindArgs(entry, args, { callee: step.name, span: step.nameSpan, scope: env.scope }, this.r);
    if (bound === null) return null;
    return this.addLayer(entry, step, [cur], bound.args, bound.spans, wantId);
  }

  private noInput(step: Step): null {
    this.noInputReported = true;
    this.r.error("E407", step.nameSpan, `\`${step.name}\` has no input: the model needs an \`input\` before its layers`);
    return null;
  }

  private evalArgs(args: Step["args"], env: Env): VArg[] | null {
    if (args === null) return [];
    const out: VArg[] = new Array<VArg>(args.length); // exact length: push() would leave 16 spare slots
    let ok = true;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const v = evaluate(a.value, env.scope, this.r);
      if (v === null) ok = false;
      else out[i] = { name: a.name, nameSpan: a.nameSpan, value: v, span: a.span };
    }
    return ok ? out : null;
  }

  private merge(entry: LayerEntry, step: Step, cur: Tensor | null, isFirst: boolean, env: Env, wantId?: string): Tensor | null {
    const inputs: Tensor[] = [];
    if (!isFirst && cur !== null) inputs.push(cur);
    const named: VArg[] = [];
    let ok = true;
    for (const a of step.args ?? []) {
      if (a.name !== undefined) {
        const v = evaluate(a.value, env.scope, this.r);
        if (v === null) ok = false;
        else named.push({ name: a.name, nameSpan: a.nameSpan, value: v, span: a.span });
        continue;
      }
      if (a.value.kind !== "ident") {
        this.r.error("E301", a.span, `\`${step.name}\` takes tensor names, such as \`${step.name}(a, b)\``);
        ok = false;
        continue;
      }
      const tname = a.value.name;
      const t = env.tensors.get(tname);
      if (!t) {
        this.r.error("E204", a.value.span, `unknown tensor \`${tname}\``, () => didYouMean(tname, env.tensors.keys()) ?? (env.tensors.size > 0 ? `tensors named so far: ${[...env.tensors.keys()].map((k) => `\`${k}\``).join(", ")}` : "bind one first, e.g. `a = dense(64)`"));
        ok = false;
        continue;
      }
      inputs.push(t);
    }
    if (!ok) return null;
    if (inputs.length < 2) {
      this.r.error("E409", step.nameSpan, `\`${step.name}\` needs at least two tensors; got ${inputs.length}`, `e.g. \`${step.name}(a, b)\``);
      return null;
    }
    const bound = bindArgs(entry, named, { callee: step.name, span: step.nameSpan }, this.r);
    if (bound === null) return null;
    return this.addLayer(entry, step, inputs, bound.args, bound.spans, wantId);
  }

  private expandBlock(block: BlockDecl, step: Step, cur: Tensor, env: Env): Tensor | null {
    this.expanded.add(block.name);
    if (env.blockStack.includes(block.name)) {
      this.r.error("E213", step.nameSpan, `block \`${block.name}\` calls itself: ${[...env.blockStack, block.name].join(" -> ")}`, "a block cannot be recursive; unroll it with `repeat` or `for`");
      return null;
    }
    if (env.blockStack.length >= this.limits.depth) {
      this.overLimit("depth", step.nameSpan, `\`${block.name}\` is called ${env.blockStack.length + 1} blocks deep (${env.blockStack.slice(0, 3).join(" -> ")} -> ... -> ${block.name})`, "call blocks within blocks less deeply", env, env.blockStack.length + 1);
      return null;
    }
    // Bind arguments (evaluated in the caller's scope).
    const scope = new Map<string, V>();
    let ok = true;
    let position = 0;
    const given = new Map<string, V>();
    for (const a of step.args ?? []) {
      let pname: string;
      if (a.name === undefined) {
        if (position >= block.params.length) {
          this.r.error("E305", a.span, `block \`${block.name}\` takes ${block.params.length} argument${block.params.length === 1 ? "" : "s"}`);
          ok = false;
          continue;
        }
        pname = block.params[position++].name;
      } else {
        if (!block.params.some((p) => p.name === a.name)) {
          this.r.error("E202", a.nameSpan ?? a.span, `block \`${block.name}\` has no parameter \`${a.name}\``, didYouMean(a.name, block.params.map((p) => p.name)));
          ok = false;
          continue;
        }
        pname = a.name;
      }
      if (given.has(pname)) {
        this.r.error("E206", a.nameSpan ?? a.span, `\`${pname}\` of \`${block.name}\` is given twice`);
        ok = false;
        continue;
      }
      const v = evaluate(a.value, env.scope, this.r);
      if (v === null) ok = false;
      else given.set(pname, v);
    }
    if (!ok) return null;
    for (const p of block.params) {
      const v = given.get(p.name);
      if (v !== undefined) scope.set(p.name, v);
      else if (p.default !== undefined) {
        const d = evaluate(p.default, scope, this.r);
        if (d === null) return null;
        scope.set(p.name, d);
      } else {
        this.r.error("E310", step.nameSpan, `block \`${block.name}\` needs \`${p.name}\``, `e.g. \`${block.name}(${block.params.map((q) => q.name).join(", ")})\``);
        ok = false;
      }
    }
    if (!ok) return null;
    const inner: Env = { scope, tensors: new Map(), current: cur, inBlock: true, blockStack: [...env.blockStack, block.name] };
    const failedBefore = this.failed;
    this.failed = false;
    const outer = this.via;
    this.via = [...outer, { kind: "block", name: block.name, line: step.nameSpan.startLine, args: Object.fromEntries([...scope].map(([k, v]) => [k, shown(v)])) }];
    this.r.withContext(() => `in \`${block.name}\` called at line ${step.nameSpan.startLine}`, () => this.stmts(block.body, inner));
    this.via = outer;
    const failed = this.failed;
    this.failed = failedBefore || failed;
    if (failed) return null;
    return inner.current;
  }

  // ---------------------------------------------------------------- layers

  private addLayer(entry: LayerEntry, step: Step, inputs: Tensor[], args: Record<string, IRValue>, argSpans: Record<string, Span>, wantId?: string): Tensor | null {
    // Arrays of the exact length (push() would give each a spare capacity of 16).
    const inShapes: number[][] = new Array<number[]>(inputs.length);
    const inputIds: string[] = new Array<string>(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const t = inputs[i]!;
      if (t.shape === null || t.layerId === null) return { layerId: null, shape: null };
      inShapes[i] = t.shape;
      inputIds[i] = t.layerId;
    }
    if (this.layers.length >= this.limits.layers) {
      this.r.error("E312", step.nameSpan, `the model expands to more layers than the limit of ${countText(this.limits.layers)} here (limit \`layers\`: ${LIMIT_WORDS.layers})`, `use fewer or shorter loops and block calls, ${raiseHint("layers", this.limits.layers * 2)}`);
      this.stopped = true;
      return null;
    }
    const out = entry.shape(inShapes, args);
    if (isShapeError(out)) {
      this.r.error(out.code ?? "E401", step.nameSpan, out.error, out.hint);
      return null;
    }
    const id = wantId !== undefined && !this.info.has(wantId) && !lookup("layer", wantId) ? wantId : this.nextId(entry.name);
    const weights: IRWeight[] = entry.weights(inShapes, args).map((w) => ({
      name: `${id}/${w.role}`,
      role: w.role,
      shape: w.shape,
      initializer: ("fixed" in w.initializer ? defaultRef("initializer", w.initializer.fixed) : args[w.initializer.arg]) as IRWeight["initializer"],
      regularizer: w.regularizer === null ? null : ((args[w.regularizer.arg] ?? null) as IRWeight["regularizer"]),
      trainable: w.trainable,
    }));
    let params = 0;
    for (const w of weights) params += prod(w.shape);
    const layer = {
      id,
      kind: entry.name,
      inputs: inputIds,
      args,
      inputShapes: inShapes,
      outputShape: out,
      weights,
      params,
      flops: entry.flops(inShapes, out, args),
      source: this.source(step.nameSpan),
    } as IRLayer; // the args were validated against the entry's schema: they are that kind's
    this.layers.push(layer);
    this.info.set(id, { span: step.span, nameSpan: step.nameSpan, argSpans, index: this.layers.length - 1 });
    return { layerId: id, shape: out };
  }

  private nextId(kind: string): string {
    let n = this.counters.get(kind) ?? 0;
    let id: string;
    do {
      n++;
      id = `${kind}_${n}`;
    } while (this.info.has(id) || this.reserved.has(id));
    this.counters.set(kind, n);
    return id;
  }

  private source(span: Span): IRLayer["source"] {
    let text = this.trimmedLines[span.startLine - 1];
    if (text === undefined) text = this.trimmedLines[span.startLine - 1] = (this.sourceLines[span.startLine - 1] ?? "").trim();
    return this.via.length ? { line: span.startLine, column: span.startColumn, text, via: this.via } : { line: span.startLine, column: span.startColumn, text };
  }

  /** Keeps the layers the output depends on (warning about the others), totals params and FLOPs. */
  private finish(name: string, outputId: string): IRModel {
    // Flags by layer index (Sets of ids cost ~100 ns an operation on models of thousands of layers).
    // Layers are in creation order, every layer after its inputs: one backward sweep finds the live ones.
    const n = this.layers.length;
    const index = (id: string): number => this.info.get(id)!.index;
    const live = new Uint8Array(n);
    const consumed = new Uint8Array(n);
    live[index(outputId)] = 1;
    for (let i = n - 1; i >= 0; i--) {
      const inputs = this.layers[i]!.inputs;
      for (let k = 0; k < inputs.length; k++) {
        const j = index(inputs[k]!);
        consumed[j] = 1;
        if (live[i]) live[j] = 1;
      }
    }
    for (let i = 0; i < n; i++) {
      const l = this.layers[i]!;
      if (!live[i] && !consumed[i]) {
        const info = this.info.get(l.id)!;
        this.r.warning("W604", info.nameSpan, `the output of \`${l.kind}\` (${fmt(l.outputShape)}) is never used, so this layer is left out of the model`, "bind it to a name and use it, or remove it");
      }
    }
    const layers = this.layers.filter((_, i) => live[i] === 1);
    let trainable = 0;
    let nonTrainable = 0;
    for (const l of layers) {
      for (const w of l.weights) {
        if (w.trainable) trainable += prod(w.shape);
        else nonTrainable += prod(w.shape);
      }
    }
    return {
      name,
      inputShape: layers[0].outputShape,
      layers,
      outputs: [outputId],
      params: { total: trainable + nonTrainable, trainable, nonTrainable },
      flops: layers.reduce((a, l) => a + l.flops, 0),
    };
  }
}
