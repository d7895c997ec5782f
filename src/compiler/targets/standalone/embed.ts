// Copies declarations out of an "embeddable module" (a self-contained TypeScript file of the shared
// runtime that imports only node:* modules, see ARCHITECTURE.md) into a generated program.
//
// The module is read as text at compile time and split into its top-level declarations (a
// declaration starts at column 0 with function/class/const/let/interface/type/enum, optionally
// exported, and takes the comment lines right above it). embedDeclarations() returns the ones asked
// for plus everything they reference in the same module, in source order, with `export` dropped,
// and the node:* imports they need. The modules are prettier-formatted, which is what makes this
// line-based reading reliable; a name that is not found is an error, never a silent omission.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface Declaration {
  name: string;
  /** The declaration's text, comments included, `export` removed. */
  text: string;
}

export interface ModuleImport {
  /** e.g. "node:fs" */
  from: string;
  /** Named imports: local name -> imported name. */
  named: Map<string, string>;
  /** `import * as x` or default import local names. */
  namespace: string | null;
  defaultName: string | null;
}

export interface ParsedModule {
  declarations: Declaration[];
  imports: ModuleImport[];
}

const DECL_START =
  /^(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:async\s+)?(?:function\*?|class|const|let|var|interface|type|enum|abstract\s+class)\s+([A-Za-z_$][\w$]*)/;

function isCommentLine(line: string): boolean {
  const t = line.trimStart();
  return t.startsWith("//") || t.startsWith("/*") || t.startsWith("*") || t.startsWith("*/");
}

/** Splits module source text into its imports and top-level declarations. */
export function parseModule(source: string): ParsedModule {
  const lines = source.replace(/\r\n/g, "\n").split("\n");
  const imports: ModuleImport[] = [];
  const starts: { line: number; name: string }[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (/^import\s/.test(line)) {
      let text = line;
      while (!/from\s+["'][^"']+["'];?\s*$/.test(text) && i + 1 < lines.length) text += " " + lines[++i]!;
      imports.push(parseImport(text));
      i++;
      continue;
    }
    const m = DECL_START.exec(line);
    if (m) {
      let start = i;
      while (start > 0 && isCommentLine(lines[start - 1]!) && lines[start - 1]!.length > 0) start--;
      starts.push({ line: start, name: m[1]! });
    }
    i++;
  }
  const declarations: Declaration[] = [];
  for (let k = 0; k < starts.length; k++) {
    const end = k + 1 < starts.length ? starts[k + 1]!.line : lines.length;
    const chunk = lines.slice(starts[k]!.line, end);
    while (chunk.length > 0 && chunk[chunk.length - 1]!.trim() === "") chunk.pop();
    // Drop a trailing comment block that belongs to no declaration (e.g. a section banner).
    const text = chunk
      .map((l) => l.replace(/^export\s+(default\s+)?/, ""))
      .join("\n")
      .replace(/\n\n(\/\/[^\n]*\n?)+$/, "");
    declarations.push({ name: starts[k]!.name, text });
  }
  return { declarations, imports };
}

function parseImport(text: string): ModuleImport {
  const from = /from\s+["']([^"']+)["']/.exec(text)?.[1] ?? "";
  const result: ModuleImport = { from, named: new Map(), namespace: null, defaultName: null };
  if (/^import\s+type\s/.test(text)) return result;
  const ns = /\*\s+as\s+([A-Za-z_$][\w$]*)/.exec(text);
  if (ns) result.namespace = ns[1]!;
  const def = /^import\s+([A-Za-z_$][\w$]*)\s*(,|from)/.exec(text);
  if (def) result.defaultName = def[1]!;
  const braces = /\{([^}]*)\}/.exec(text);
  if (braces) {
    for (const part of braces[1]!.split(",")) {
      const p = part.trim().replace(/^type\s+/, "");
      if (!p) continue;
      const [imported, local] = p.split(/\s+as\s+/).map((s) => s.trim());
      result.named.set(local ?? imported!, imported!);
    }
  }
  return result;
}

/** The identifiers a piece of code mentions, comments left out. */
function identifiers(code: string): Set<string> {
  const stripped = code.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, " ");
  return new Set(stripped.match(/[A-Za-z_$][\w$]*/g) ?? []);
}

export interface Embedded {
  /** Declarations in source order, joined by blank lines. */
  code: string;
  /** The node:* imports the code needs. */
  imports: ModuleImport[];
  /** Names of the declarations included. */
  names: string[];
}

/** The asked-for declarations of a module and, transitively, those they use. */
export function embedDeclarations(source: string, names: string[], moduleLabel = "module"): Embedded {
  const mod = parseModule(source);
  const byName = new Map<string, Declaration[]>();
  for (const d of mod.declarations) byName.set(d.name, [...(byName.get(d.name) ?? []), d]);
  const wanted = new Set<string>();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (wanted.has(name)) continue;
    const decls = byName.get(name);
    if (!decls) throw new Error(`embed: ${moduleLabel} has no top-level declaration named "${name}"`);
    wanted.add(name);
    for (const d of decls) for (const id of identifiers(d.text)) if (byName.has(id) && !wanted.has(id)) queue.push(id);
  }
  const chosen = mod.declarations.filter((d) => wanted.has(d.name));
  const code = chosen.map((d) => d.text).join("\n\n");
  const used = identifiers(code);
  const imports: ModuleImport[] = [];
  for (const imp of mod.imports) {
    const named = new Map([...imp.named].filter(([local]) => used.has(local)));
    const namespace = imp.namespace && used.has(imp.namespace) ? imp.namespace : null;
    const defaultName = imp.defaultName && used.has(imp.defaultName) ? imp.defaultName : null;
    if (named.size > 0 || namespace || defaultName) imports.push({ from: imp.from, named, namespace, defaultName });
  }
  return { code, imports, names: chosen.map((d) => d.name) };
}

const RUNTIME_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../runtime");

/**
 * Reads an embeddable module of src/runtime (e.g. "random.ts", "data/mnist.ts") and embeds names
 * from it. A module may import another embeddable module (tensorboard.ts imports ./protobuf.js):
 * the names it uses from there are embedded first, and the local import is dropped.
 */
export function embedRuntime(relativePath: string, names: string[]): Embedded {
  const source = readFileSync(resolve(RUNTIME_DIR, relativePath), "utf8");
  const own = embedDeclarations(source, names, `src/runtime/${relativePath}`);
  const local = own.imports.filter((imp) => imp.from.startsWith("."));
  if (local.length === 0) return own;
  const deps = local.map((imp) => {
    if (imp.namespace || imp.defaultName) throw new Error(`embed: src/runtime/${relativePath} must import ${imp.from} by name`);
    const path = join(dirname(relativePath), imp.from.replace(/\.js$/, ".ts"));
    return embedRuntime(path, [...imp.named.values()]);
  });
  return {
    code: [...deps.map((d) => d.code), own.code].join("\n\n"),
    imports: [...deps.flatMap((d) => d.imports), ...own.imports.filter((imp) => !imp.from.startsWith("."))],
    names: [...deps.flatMap((d) => d.names), ...own.names],
  };
}

/** Merges imports of several embedded pieces (and the program's own) into import statements. */
export function renderImports(all: ModuleImport[]): string {
  const byModule = new Map<string, { named: Map<string, string>; namespaces: Set<string>; defaults: Set<string> }>();
  for (const imp of all) {
    const entry = byModule.get(imp.from) ?? { named: new Map(), namespaces: new Set(), defaults: new Set() };
    for (const [local, imported] of imp.named) entry.named.set(local, imported);
    if (imp.namespace) entry.namespaces.add(imp.namespace);
    if (imp.defaultName) entry.defaults.add(imp.defaultName);
    byModule.set(imp.from, entry);
  }
  const out: string[] = [];
  for (const from of [...byModule.keys()].sort()) {
    const e = byModule.get(from)!;
    for (const ns of e.namespaces) out.push(`import * as ${ns} from ${JSON.stringify(from)};`);
    for (const d of e.defaults) out.push(`import ${d} from ${JSON.stringify(from)};`);
    if (e.named.size > 0) {
      const specs = [...e.named]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([local, imported]) => (local === imported ? local : `${imported} as ${local}`));
      out.push(`import { ${specs.join(", ")} } from ${JSON.stringify(from)};`);
    }
  }
  return out.join("\n");
}
