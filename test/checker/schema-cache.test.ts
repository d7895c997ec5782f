// The validators' cache (src/compiler/schema.ts): a validator read back from the cache is ajv's
// own compiled code, so it fills the same defaults and reports the same errors as a freshly
// compiled one, for every catalog entry and for the IR schema; a damaged cache file is compiled
// again and replaced; a folder that cannot be written only means no cache.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { catalog, categories, valueCategories } from "../../src/compiler/catalog/index.js";
import irSchema from "../../src/compiler/ir.schema.json" with { type: "json" };

const root = resolve(import.meta.dirname, "../..");
const tmp = mkdtempSync(join(tmpdir(), "nnc-schema-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `code` (an ES module body with compileSchema imported) in a fresh process, so that nothing is remembered in memory; returns its stdout. */
function fresh(code: string): string {
  const r = spawnSync(process.execPath, ["--import", join(root, "bin/register.mjs"), "--input-type=module", "-e", `import { compileSchema } from ${JSON.stringify(join(root, "src/compiler/schema.ts"))};\n${code}`], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
}

/** Every catalog entry's schema as the checker compiles it, with an object that takes its defaults and one that breaks it. */
const schemas = categories.flatMap((category) =>
  catalog[category].map((e) => ({
    name: `${category} ${e.name}`,
    schema: valueCategories.has(category) ? { type: "object", properties: { value: e.schema }, additionalProperties: false } : e.schema,
  })),
);

/** What each schema's validator makes of two objects: {} (defaults filled, or the required errors) and one with an unknown key. */
const probe = (dir: string) => `
const schemas = ${JSON.stringify(schemas.map((s) => s.schema))};
const ir = ${JSON.stringify(irSchema)};
const out = schemas.map((schema) => {
  const v = compileSchema(schema, true, ${JSON.stringify(dir)});
  const empty = {};
  const ok = v(empty);
  const odd = { nnc_no_such_key: 1 };
  v(odd);
  return { ok, empty, errors: v.errors };
});
const irValidate = compileSchema(ir, false, ${JSON.stringify(dir)});
out.push({ ok: irValidate({ model: 1 }), errors: irValidate.errors });
console.log(JSON.stringify(out));`;

describe("validators' cache", () => {
  it("a cached validator fills the same defaults and reports the same errors as a compiled one (every catalog entry, the IR schema)", () => {
    const dir = join(tmp, "cache");
    const compiled = fresh(probe(dir)); // compiles and writes the cache
    const files = readdirSync(dir).filter((f) => f.endsWith(".cjs"));
    expect(files.length).toBeGreaterThan(50);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const cached = fresh(probe(dir)); // reads every validator back
    expect(cached).toBe(compiled);
    const results = JSON.parse(cached) as { ok: boolean; errors: unknown[] | null }[];
    expect(results).toHaveLength(schemas.length + 1);
    expect(results.at(-1)!.ok).toBe(false); // the IR schema refuses a broken IR
    expect(results.some((r) => r.ok)).toBe(true);
    expect(results.some((r) => !r.ok)).toBe(true);
  }, 120_000);

  it("reads the cache: a validator planted in its file is the one used", () => {
    const dir = join(tmp, "planted");
    const schema = { type: "object", properties: { units: { type: "integer", default: 3 } } };
    expect(fresh(`const v = compileSchema(${JSON.stringify(schema)}, true, ${JSON.stringify(dir)}); const o = {}; v(o); console.log(JSON.stringify(o));`).trim()).toBe('{"units":3}');
    const [file] = readdirSync(dir);
    writeFileSync(join(dir, file!), readFileSync(join(dir, file!), "utf8").replace("data.units = 3", "data.units = 7"));
    expect(fresh(`const v = compileSchema(${JSON.stringify(schema)}, true, ${JSON.stringify(dir)}); const o = {}; v(o); console.log(JSON.stringify(o));`).trim()).toBe('{"units":7}');
  }, 60_000);

  it("a damaged cache file is compiled again and replaced; a folder it cannot write only means no cache", () => {
    const dir = join(tmp, "damaged");
    const schema = { type: "object", properties: { rate: { type: "number", default: 0.5 } }, additionalProperties: false };
    const run = (d: string) => fresh(`const v = compileSchema(${JSON.stringify(schema)}, true, ${JSON.stringify(d)}); const o = {}; console.log(v(o), JSON.stringify(o), v({ x: 1 }));`).trim();
    expect(run(dir)).toBe('true {"rate":0.5} false');
    const [file] = readdirSync(dir);
    writeFileSync(join(dir, file!), "module.exports = ");
    expect(run(dir)).toBe('true {"rate":0.5} false');
    expect(readFileSync(join(dir, file!), "utf8")).toContain("function validate");
    const locked = join(tmp, "locked");
    run(join(locked, "x")); // creates it
    rmSync(join(locked, "x"), { recursive: true });
    chmodSync(locked, 0o500);
    try {
      if (process.getuid?.() !== 0) expect(run(join(locked, "x"))).toBe('true {"rate":0.5} false');
      // as root the folder is writable whatever its mode: a file in the cache's place stands for it
      writeFileSync(join(tmp, "not-a-folder"), "");
      expect(run(join(tmp, "not-a-folder"))).toBe('true {"rate":0.5} false');
    } finally {
      chmodSync(locked, 0o700);
    }
  }, 60_000);
});
