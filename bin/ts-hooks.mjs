// Module hooks that let Node run nnc's TypeScript sources directly (no build step):
// `.ts` files are transpiled by esbuild on load, and the `./x.js` specifiers the sources use
// (NodeNext style) resolve to `./x.ts` when only the TypeScript file exists.
// nnc uses these rather than tsx's loader because tsx compiles with esbuild's `keepNames`,
// which wraps every closure in a naming call: that made the chevrotain parser 2-3x slower.
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";

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
    const out = await transform(source, {
      loader: "ts",
      format: "esm",
      target: "node20.10", // keeps import attributes (`with { type: "json" }`)
      sourcemap: "inline",
      sourcefile: path,
    });
    return { format: "module", source: out.code, shortCircuit: true };
  }
  return nextLoad(url, context);
}
