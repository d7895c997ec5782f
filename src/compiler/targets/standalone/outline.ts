// Repeated layers written once. The layer emitters (./layers.ts) write each layer's code for its
// own buffers and shapes; here the layers of one kind whose code is the same but for buffer names
// and numbers (the seven `dense(units)` of a block called in a loop) share one function: its
// buffers become names (the layer's own, destructured from the layer's buffer object; its inputs,
// parameters `x`, `dx`), and each number that differs between them a parameter named after what
// it is (`units`, `size`, ...). A layer whose code is like no other's keeps a function of its own,
// with its numbers written in. The same holds for the buffer objects: layers of a kind with the
// same buffers share a function that allocates them.

/** A piece of a layer's code: text, a buffer (by role), or a number. */
type Part = string | { role: string } | { num: string };

export interface OutlineInstance {
  /** The layer's buffer object, e.g. "dense_2". */
  v: string;
  /** The layer's code, written with its flat buffer names (`dense_2_kernel`) and numbers. */
  text: string;
  /** Role of each buffer name the code may use: own buffers (`kernel`) and inputs (`x`, `dx`). */
  roles: Map<string, string>;
  /** Roles that are the layer's inputs (parameters of the function) rather than its own buffers. */
  inputRoles: Set<string>;
  /** Numbers with a name, for a number that differs between layers: units, size, ... */
  named: [string, number][];
  /** What groups may share: the layer kind and the type of its buffer object. */
  kind: string;
  /** Rendered in the group's key: two layers share a function only when these are equal. */
  shapeKey: string;
}

export interface OutlinedFunction {
  /** The instances the function serves, in program order. */
  instances: OutlineInstance[];
  /** Number parameters: name and, per instance, the value. */
  params: { name: string; values: string[] }[];
  /** The body with names and parameters in place of the instance's buffers and numbers. */
  body: string;
  /** The own buffers the body uses (destructured from the buffer object) and the inputs it uses, in order. */
  ownUsed: { name: string; role: string }[];
  inputsUsed: { name: string; role: string }[];
  /** Whether the body reads `training`. */
  usesTraining: boolean;
}

const TOKEN = /[A-Za-z_$][\w$]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[^A-Za-z_$\d]+/g;

function parts(inst: OutlineInstance): Part[] {
  const out: Part[] = [];
  for (const m of inst.text.matchAll(TOKEN)) {
    const t = m[0];
    const role = inst.roles.get(t);
    if (role !== undefined) out.push({ role });
    else if (/^\d/.test(t)) out.push({ num: t });
    else out.push(t);
  }
  return out;
}

function keyOf(ps: Part[]): string {
  return ps.map((p) => (typeof p === "string" ? p : "role" in p ? `\u0000@${p.role}` : "\u0000#")).join("");
}

/**
 * Groups instances whose code differs only in buffer names and numbers, and writes one body per
 * group. A group whose differing numbers cannot all be named is split into single instances.
 */
export function outline(instances: OutlineInstance[]): OutlinedFunction[] {
  const groups = new Map<string, { inst: OutlineInstance; ps: Part[] }[]>();
  for (const inst of instances) {
    const ps = parts(inst);
    const key = `${inst.kind}\u0001${inst.shapeKey}\u0001${keyOf(ps)}`;
    const g = groups.get(key);
    if (g) g.push({ inst, ps });
    else groups.set(key, [{ inst, ps }]);
  }
  const result: OutlinedFunction[] = [];
  for (const members of groups.values()) {
    const fn = members.length > 1 ? shared(members) : null;
    if (fn) result.push(fn);
    else for (const m of members) result.push(render([m], []));
  }
  // In the order of the first instance of each (the program's order).
  const position = new Map(instances.map((inst, k) => [inst, k]));
  return result.sort((a, b) => position.get(a.instances[0]!)! - position.get(b.instances[0]!)!);
}

/** One function for several instances, or null when a differing number has no name. */
function shared(members: { inst: OutlineInstance; ps: Part[] }[]): OutlinedFunction | null {
  const first = members[0]!;
  // Each number position: its values across the instances; the varying ones become parameters.
  const params: { name: string; values: string[] }[] = [];
  const paramAt = new Map<number, string>();
  const literals = literalNames(first.inst);
  const valueOf = (inst: OutlineInstance, name: string): number | undefined => inst.named.find(([n]) => n === name)?.[1];
  for (let k = 0; k < first.ps.length; k++) {
    const p = first.ps[k]!;
    if (typeof p === "string" || !("num" in p)) continue;
    const values = members.map((m) => (m.ps[k] as { num: string }).num);
    if (values.every((v) => v === values[0])) continue;
    const same = params.find((q) => q.values.every((v, i) => v === values[i]));
    if (same) {
      paramAt.set(k, same.name);
      continue;
    }
    const named = first.inst.named.find(
      ([name]) => !literals.has(name) && !params.some((q) => q.name === name) && members.every((m, i) => valueOf(m.inst, name) === Number(values[i])),
    );
    if (!named) return null;
    params.push({ name: named[0], values });
    paramAt.set(k, named[0]);
  }
  return render(members, params, paramAt);
}

/** The identifiers the code itself uses (locals, functions; not those in comments): buffer names must not take them. */
function literalNames(inst: OutlineInstance): Set<string> {
  const code = inst.text.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, "");
  return new Set((code.match(/[A-Za-z_$][\w$]*/g) ?? []).filter((name) => !inst.roles.has(name)));
}

function render(members: { inst: OutlineInstance; ps: Part[] }[], params: { name: string; values: string[] }[], paramAt = new Map<number, string>()): OutlinedFunction {
  const first = members[0]!;
  const literals = literalNames(first.inst);
  const rename = (role: string): string => (literals.has(role) || params.some((q) => q.name === role) ? `${role}_buf` : role);
  const ownUsed: { name: string; role: string }[] = [];
  const inputsUsed: { name: string; role: string }[] = [];
  const body = first.ps
    .map((p, k) => {
      if (typeof p === "string") return p;
      if ("num" in p) return paramAt.get(k) ?? p.num;
      const name = rename(p.role);
      const list = first.inst.inputRoles.has(p.role) ? inputsUsed : ownUsed;
      if (!list.some((u) => u.role === p.role)) list.push({ name, role: p.role });
      return name;
    })
    .join("");
  return { instances: members.map((m) => m.inst), params, body, ownUsed, inputsUsed, usesTraining: /\btraining\b/.test(body) };
}

/** `{ kernel, bias, z: z_buf }`: the own buffers a body uses, taken from the layer's buffer object. */
export function destructure(ownUsed: { name: string; role: string }[]): string {
  return `{ ${ownUsed.map((u) => (u.name === u.role ? u.name : `${u.role}: ${u.name}`)).join(", ")} }`;
}
