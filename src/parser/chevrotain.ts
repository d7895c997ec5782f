// chevrotain, loaded from the single-file bundle it ships (lib/chevrotain.mjs). The package's
// entry point (lib/src/api.js) imports some 700 lodash-es modules one by one, which costs
// seconds at every `nnc` start when modules go through tsx's loader; the bundle is one file.
// All of src/parser imports chevrotain's values from here (types may come from "chevrotain").
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Chevrotain from "chevrotain";

async function load(): Promise<typeof Chevrotain> {
  try {
    const entry = createRequire(import.meta.url).resolve("chevrotain"); // .../chevrotain/lib/src/api.js
    return (await import(pathToFileURL(join(dirname(entry), "..", "chevrotain.mjs")).href)) as typeof Chevrotain;
  } catch {
    return await import("chevrotain");
  }
}

const chevrotain = await load();

export const { createToken, Lexer, CstParser, EmbeddedActionsParser, EOF } = chevrotain;
