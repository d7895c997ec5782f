import { readFileSync } from "node:fs";

/** nnc's version, from package.json (written into IR and saved models). */
export const NNC_VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
