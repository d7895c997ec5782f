// JSON Schema validators, compiled by ajv once per schema rather than once per process. ajv turns
// a schema into JavaScript; in Node, nnc keeps that code ("standalone" code, ajv's own) in
// node_modules/.cache/nnc-ajv/, named by the hash of ajv's version, the options and the schema, as
// bin/ts-hooks.mjs keeps esbuild's output. A command then starts without compiling the catalog's
// and the IR's schemas again: that was about a fifth of `nnc check`'s CPU time. A cache that
// cannot be read or written (a read-only install) only costs that time.
//
// The module is also bundled into `nnc serve`'s page (the catalog is): it reaches Node's modules
// through process.getBuiltinModule, never by an import, and in a browser compiles as ajv does.
import { Ajv, type ValidateFunction } from "ajv";

/** The keywords nnc adds to the catalog's parameter schemas; ajv ignores them, the checker reads them (catalog/types.ts). */
const NNC_KEYWORDS = ["nncRef", "nncPair", "nncValueName", "nncMonitor"];

/** Node's modules the cache needs, or null (a browser, or a Node without process.getBuiltinModule, before 20.16). */
const node = (() => {
  const get = (globalThis as { process?: { getBuiltinModule?: NodeJS.Process["getBuiltinModule"] } }).process?.getBuiltinModule;
  if (!get) return null;
  const require = get("node:module").createRequire(import.meta.url);
  return {
    fs: get("node:fs"),
    crypto: get("node:crypto"),
    path: get("node:path"),
    require,
    ajvVersion: (require("ajv/package.json") as { version: string }).version,
    /** Where the compiled validators are kept. */
    cacheDir: get("node:url").fileURLToPath(new URL("../../node_modules/.cache/nnc-ajv/", import.meta.url)),
  };
})();

/** The cache folder (null where there is none); a test passes another one to compileSchema. */
export const CACHE_DIR: string | null = node?.cacheDir ?? null;

/** One ajv instance per option set, created on the first schema the cache does not hold. */
const instances = new Map<boolean, Ajv>();
/** This process's validators, by cache file (or by schema, without a cache). */
const compiled = new Map<string, ValidateFunction>();

function instance(useDefaults: boolean): Ajv {
  let ajv = instances.get(useDefaults);
  if (!ajv) {
    ajv = new Ajv({ useDefaults, allErrors: true, strict: true, strictTypes: false, code: { source: node !== null } });
    for (const keyword of NNC_KEYWORDS) ajv.addKeyword({ keyword });
    instances.set(useDefaults, ajv);
  }
  return ajv;
}

/**
 * The validator of `schema` (all errors reported; with `useDefaults`, the defaults filled into
 * the object it checks), from the cache when it holds it.
 */
export function compileSchema(schema: object, useDefaults: boolean, dir = CACHE_DIR): ValidateFunction {
  const text = JSON.stringify(schema);
  if (!node || dir === null) {
    const known = compiled.get(`${useDefaults}\0${text}`);
    if (known) return known;
    const validate = instance(useDefaults).compile(schema);
    compiled.set(`${useDefaults}\0${text}`, validate);
    return validate;
  }
  const key = node.crypto.createHash("sha256").update(`${node.ajvVersion}\0${useDefaults}\0${text}`).digest("hex").slice(0, 40);
  const file = node.path.join(dir, `${key}.cjs`);
  const known = compiled.get(file);
  if (known) return known;
  let validate: ValidateFunction | null = null;
  try {
    validate = load(node.fs.readFileSync(file, "utf8"), node.require);
  } catch {
    // not cached yet (or unreadable): compiled below
  }
  if (!validate) {
    const ajv = instance(useDefaults);
    validate = ajv.compile(schema);
    const tmp = `${file}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    try {
      node.fs.mkdirSync(dir, { recursive: true });
      const standaloneCode = node.require("ajv/dist/standalone/index.js") as (ajv: Ajv, validate: ValidateFunction) => string;
      node.fs.writeFileSync(tmp, standaloneCode(ajv, validate));
      node.fs.renameSync(tmp, file); // whole or absent: another process may read it at any moment
    } catch {
      // a read-only install: no cache (and no temporary file left where one was written)
      try {
        node.fs.rmSync(tmp, { force: true });
      } catch {
        // nowhere to remove it from
      }
    }
  }
  compiled.set(file, validate);
  return validate;
}

/** The validator a cached module exports (CommonJS, requiring only ajv's runtime helpers). */
function load(source: string, require: NodeJS.Require): ValidateFunction {
  const module = { exports: {} as unknown };
  new Function("module", "exports", "require", source)(module, module.exports, require);
  if (typeof module.exports !== "function") throw new Error("not a validator");
  return module.exports as ValidateFunction;
}
