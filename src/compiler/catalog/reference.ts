// The catalog as Markdown: one table per category (name, parameters with defaults and
// ranges, doc). For the language reference and `nnc` hovers; generated, so it never drifts.
import { catalog, categories, categoryWords, paramSchemas, valueCategories } from "./index.js";
import type { CatalogEntry, JsonSchema } from "./types.js";

function describeSchema(s: JsonSchema): string {
  if (s.nncRef) return `${String(s.nncRef)}${s.default === null ? " or none" : ""}`;
  if (Array.isArray(s.enum)) return (s.enum as string[]).join(" \\| ");
  const t = Array.isArray(s.type) ? (s.type as string[]).filter((x) => x !== "null")[0] : (s.type as string | undefined);
  let words = t === "integer" ? "int" : t === "number" ? "number" : t === "boolean" ? "bool" : t === "array" ? "list" : t ?? "value";
  if (s.nncPair) words = "int or [int, int]";
  const lo = s.minimum !== undefined ? `≥ ${String(s.minimum)}` : s.exclusiveMinimum !== undefined ? `> ${String(s.exclusiveMinimum)}` : "";
  const hi = s.maximum !== undefined ? `≤ ${String(s.maximum)}` : s.exclusiveMaximum !== undefined ? `< ${String(s.exclusiveMaximum)}` : "";
  const range = [lo, hi].filter(Boolean).join(", ");
  return range ? `${words} (${range})` : words;
}

function params(e: CatalogEntry): string {
  if (valueCategories.has(e.category)) {
    const d = e.schema.default;
    return `${describeSchema(e.schema)}${d !== undefined ? ` = ${JSON.stringify(d)}` : ""}`;
  }
  const props = paramSchemas(e);
  const required = new Set((e.schema.required as string[] | undefined) ?? []);
  const aliases = Object.entries(e.aliases);
  const parts = Object.entries(props).map(([name, s]) => {
    const alias = aliases.filter(([, t]) => t === name).map(([a]) => a);
    const shown = alias.length > 0 ? `${name} (${alias.join(", ")})` : name;
    const def = required.has(name)
      ? " **required**"
      : s.default === null && name === "strides" && "pool_size" in props
        ? " = pool_size"
        : s.default !== undefined
          ? ` = ${JSON.stringify(s.default)}`
          : "";
    return `\`${shown}\`: ${describeSchema(s)}${def}`;
  });
  return parts.length > 0 ? parts.join("; ") : "—";
}

export function catalogReference(): string {
  const out: string[] = [
    "# The nnc catalog",
    "",
    "Every name the language knows, by category: layers, activations, initializers, regularizers,",
    "losses, metrics, optimizers, learning-rate schedules, callbacks, augmentations, data sets, input",
    "shapes and training settings, with their parameters (aliases in parentheses), defaults, ranges",
    "and what they do. Keras/PyTorch spellings are listed so you can find an entry by the name you",
    "know; in a .nn file, write the nnc name (the checker points you to it).",
    "",
    "Generated from src/compiler/catalog/ by `catalogReference()`; a test keeps this file current",
    "(`npx vitest run test/checker/catalog.test.ts -u` rewrites it). Do not edit by hand.",
    "",
  ];
  for (const cat of categories) {
    out.push(`## ${categoryWords[cat]}s`, "", "| name | parameters | |", "|---|---|---|");
    for (const e of catalog[cat]) {
      const keras = e.keras?.length ? ` (Keras/PyTorch: ${e.keras.map((n) => `\`${n}\``).join(", ")})` : "";
      const names = [e.name, ...(e.names ?? [])].map((n) => `\`${n}\``).join(", ") + keras;
      out.push(`| ${names} | ${params(e).replace(/\|(?! )/g, "\\|")} | ${e.doc} |`);
    }
    out.push("");
  }
  return out.join("\n");
}
