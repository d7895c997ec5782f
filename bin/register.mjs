// `node --import ./bin/register.mjs file.ts` runs a TypeScript entry point with nnc's hooks.
import { register } from "node:module";

register("./ts-hooks.mjs", import.meta.url);
