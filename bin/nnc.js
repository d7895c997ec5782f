#!/usr/bin/env node
// Entry point for the `nnc` command. Runs the TypeScript sources through nnc's own module
// hooks (bin/ts-hooks.mjs: esbuild on load), so a checkout works right after `npm ci`,
// with no build step.
import { register } from "node:module";

register("./ts-hooks.mjs", import.meta.url);
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
