// Module hooks that let Node run nnc's TypeScript sources directly (no build step):
// `.ts` files are transpiled by esbuild on load, and the `./x.js` specifiers the sources use
// (NodeNext style) resolve to `./x.ts` when only the TypeScript file exists.
// nnc uses these rather than tsx's loader because tsx compiles with esbuild's `keepNames`,
// which wraps every closure in a naming call: that made the chevrotain parser 2-3x slower.
// What esbuild made of a file is kept in node_modules/.cache/nnc-ts/, named by the hash of
// esbuild's version and the file's path and text, so that a command starts without transpiling its modules again (a cache
// that cannot be written is skipped: the modules are transpiled as before).
import { createHash } from "node:crypto";
import { readFile, writeFile, mkdir, rename } from "node:fs/promises";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { transform, version as esbuildVersion } from "esbuild";

const cacheDir = fileURLToPath(new URL("../node_modules/.cache/nnc-ts/", import.meta.url));

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  if (parent && parent.startsWith("file:") && parent.endsWith(".ts") && /^\.{1,2}\//.test(specifier) && specifier.endsWith(".js")) {
    const asTs = new URL(specifier.slice(0, -3) + ".ts", parent);
    if (existsSync(fileURLToPath(asTs)) && !existsSync(fileURLToPath(new URL(specifier, parent)))) {
      return { url: asTs.href, shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (url.startsWith("file:") && (url.endsWith(".ts") || url.endsWith(".mts"))) {
    const path = fileURLToPath(url);
    const source = await readFile(path, "utf8");
    const cached = `${cacheDir}${createHash("sha256").update(esbuildVersion).update("\0").update(path).update("\0").update(source).digest("hex").slice(0, 40)}.mjs`;
    try {
      const code = await readFile(cached, "utf8");
      // esbuild's output ends with its inline source map: a file without it is not whole (a disk
      // that filled up, a file truncated by hand) and is made again
      if (/\n\/\/# sourceMappingURL=data:[^\n]*\n?$/.test(code)) return { format: "module", source: code, shortCircuit: true };
    } catch {
      // not cached yet
    }
    const out = await transform(source, {
      loader: "ts",
      format: "esm",
      target: "node20.10", // keeps import attributes (`with { type: "json" }`)
      sourcemap: "inline",
      sourcefile: path,
    });
    try {
      // whole or not at all: written under a temporary name, then renamed into place
      await mkdir(cacheDir, { recursive: true });
      const tmp = `${cached}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, out.code);
      await rename(tmp, cached);
    } catch {
      // a read-only checkout: no cache
    }
    return { format: "module", source: out.code, shortCircuit: true };
  }
  return nextLoad(url, context);
}
