// Words for the editor: catalog entries, parameters, blocks and shapes as hovers, completion
// details and signature help show them. Everything here reads the catalog (its docs and JSON
// Schemas), so a new entry shows up in the editor with no change here.
import type { BlockDecl, ModelDecl, Param } from "../parser/ast.js";
import { paramSchemas, type CatalogEntry } from "../compiler/catalog/index.js";
import { groupDigits } from "../compiler/summary.js";

export const shapeText = (s: readonly number[]): string => `[${s.join(", ")}]`;

export { groupDigits };

type Schema = Record<string, unknown>;

/** A parameter schema in a few words: `integer ≥ 1`, `same | valid`, `activation`, `pair of integers`. */
export function schemaType(schema: Schema | undefined): string {
  if (!schema) return "value";
  if (typeof schema.nncRef === "string") return schema.nncRef;
  if (Array.isArray(schema.enum)) return (schema.enum as string[]).join(" | ");
  if (schema.nncMonitor) return "logged metric (`val_loss`, `val_accuracy`, ...)";
  if (schema.nncPair) return "pair of integers (`5` or `[5, 3]`)";
  const type = Array.isArray(schema.type) ? (schema.type as string[]).filter((t) => t !== "null")[0] : (schema.type as string | undefined);
  if (type === "array") {
    const items = schema.items as Schema | undefined;
    return `list of ${items ? plural(schemaType(items)) : "values"}`;
  }
  if (type === "object") return "object `{ key: value }`";
  if (type === "integer" || type === "number") {
    const bounds: string[] = [];
    if (typeof schema.minimum === "number") bounds.push(`≥ ${schema.minimum}`);
    if (typeof schema.exclusiveMinimum === "number") bounds.push(`> ${schema.exclusiveMinimum}`);
    if (typeof schema.maximum === "number") bounds.push(`≤ ${schema.maximum}`);
    if (typeof schema.exclusiveMaximum === "number") bounds.push(`< ${schema.exclusiveMaximum}`);
    return [type, ...bounds].join(" ");
  }
  return type ?? "value";
}

function plural(word: string): string {
  const first = word.split(" ")[0]!;
  return first.endsWith("s") || word.includes("|") ? word : word.replace(first, `${first}s`);
}

/** How a default value is written in .nn source (`valid`, `[1, 1]`, `0.001`), or undefined. */
export function defaultText(schema: Schema | undefined): string | undefined {
  if (!schema || !("default" in schema)) return undefined;
  return valueText(schema.default);
}

function valueText(v: unknown): string {
  if (v === null) return "none";
  if (Array.isArray(v)) return `[${v.map(valueText).join(", ")}]`;
  if (typeof v === "string") return /^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? v : JSON.stringify(v);
  return String(v);
}

export interface ParamInfo {
  name: string;
  /** `kernel_size: pair of integers = [1, 1]`-style label used by signature help. */
  label: string;
  type: string;
  default?: string;
  required: boolean;
  /** Other names the parameter may be written as. */
  aliases: string[];
}

/** An entry's parameters in the order a call fills them: positional ones first, then the others. */
export function paramInfos(entry: CatalogEntry): ParamInfo[] {
  const props = paramSchemas(entry);
  const required = new Set((entry.schema.required as string[] | undefined) ?? []);
  const order = [...entry.positional.filter((p) => p in props), ...Object.keys(props).filter((p) => !entry.positional.includes(p))];
  return order.map((name) => {
    const schema = props[name];
    const d = required.has(name) ? undefined : defaultText(schema);
    const type = schemaType(schema);
    return {
      name,
      label: d === undefined ? name : `${name} = ${d}`,
      type,
      ...(d === undefined ? {} : { default: d }),
      required: required.has(name),
      aliases: Object.entries(entry.aliases)
        .filter(([, to]) => to === name)
        .map(([from]) => from),
    };
  });
}

/** `conv2d(filters, kernel_size, strides = [1, 1], padding = valid, ...)`: parameters as a call shows them. */
export function entrySignature(entry: CatalogEntry): string {
  const params = paramInfos(entry);
  if (params.length === 0) return entry.name;
  return `${entry.name}(${params.map((p) => p.label).join(", ")})`;
}

/** The parameter a named argument means (aliases resolved), or undefined. */
export function canonicalParam(entry: CatalogEntry, name: string): string | undefined {
  const props = paramSchemas(entry);
  if (name in props) return name;
  const to = entry.aliases[name];
  return to !== undefined && to in props ? to : undefined;
}

/** One parameter in a line of markdown: "`kernel_size` (`kernel`): pair of integers, default `[1, 1]`". */
export function paramLine(p: ParamInfo): string {
  const aka = p.aliases.length > 0 ? ` (${p.aliases.map((a) => `\`${a}\``).join(", ")})` : "";
  const tail = p.required ? ", required" : p.default !== undefined ? `, default \`${p.default}\`` : "";
  return `\`${p.name}\`${aka}: ${p.type}${tail}`;
}

/** `block hidden(units, rate = 0.5)`, the defaults as written in the source. */
export function declSignature(decl: BlockDecl | ModelDecl, text: string): string {
  const params = decl.params.map((p) => paramSource(p, text));
  return `${decl.kind} ${decl.name}${params.length > 0 || decl.kind === "block" ? `(${params.join(", ")})` : ""}`;
}

export function paramSource(p: Param, text: string): string {
  return p.default ? `${p.name} = ${text.slice(p.default.span.startOffset, p.default.span.endOffset)}` : p.name;
}

/** Distinct shapes, in the order first seen. */
export function distinctShapes(shapes: Iterable<readonly number[] | null>): number[][] {
  const seen = new Set<string>();
  const out: number[][] = [];
  for (const s of shapes) {
    if (!s) continue;
    const k = s.join(",");
    if (seen.has(k)) continue;
    seen.add(k);
    out.push([...s]);
  }
  return out;
}
