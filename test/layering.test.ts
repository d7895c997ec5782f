// The layers of src/ (ARCHITECTURE.md): parser <- compiler <- runtime <- cli, with the language
// server (lsp) on the compiler and the web app (serve) on the runtime. A module imports only from its
// own layer and the layers below it: every relative import of every source file (static, dynamic
// and re-exports) is checked, so a new upward import fails here with the file and line.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../src");

/** What each top-level folder of src/ may import (itself always; version.ts is free for all). */
const MAY_IMPORT: Record<string, string[]> = {
  parser: [],
  compiler: ["parser"],
  runtime: ["parser", "compiler"],
  lsp: ["parser", "compiler"],
  serve: ["parser", "compiler", "runtime"],
  cli: ["parser", "compiler", "runtime", "lsp", "serve"],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The top-level folder of src/ a path is in ("version.ts" for the root file). */
const layerOf = (path: string): string => relative(SRC, path).split("/")[0]!;

/** Every relative import in a file: [line, specifier]. */
function importsOf(text: string): [number, string][] {
  const out: [number, string][] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;
  for (const m of text.matchAll(re)) out.push([text.slice(0, m.index).split("\n").length, m[1]!]);
  return out;
}

describe("layering", () => {
  it("every module of src/ imports only from its own layer and the layers below", () => {
    const files = sources(SRC);
    expect(files.length).toBeGreaterThan(100);
    const violations: string[] = [];
    let checked = 0;
    for (const file of files) {
      const from = layerOf(file);
      if (!(from in MAY_IMPORT)) continue; // version.ts
      for (const [line, spec] of importsOf(readFileSync(file, "utf8"))) {
        const to = layerOf(resolve(dirname(file), spec));
        checked++;
        if (to !== from && to !== "version.js" && !MAY_IMPORT[from]!.includes(to)) {
          violations.push(`${relative(SRC, file)}:${line} (${from}) imports ${spec} (${to})`);
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
    expect(violations).toEqual([]);
  });

  it("finds an upward import (the check itself works)", () => {
    expect(importsOf('import { x } from "../../cli/errors.js";\nconst m = await import("../runtime/a.js");')).toEqual([
      [1, "../../cli/errors.js"],
      [2, "../runtime/a.js"],
    ]);
  });
});
