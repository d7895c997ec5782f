// Builds the VS Code extension as a .vsix (`npm run package:vscode`, or
// `node --import ./bin/register.mjs editors/vscode/package.ts [--out FILE]`):
//   1. copies the TextMate grammar from grammar/nn.tmLanguage.json to syntaxes/;
//   2. bundles src/extension.ts with vscode-languageclient into dist/extension.js (esbuild; only
//      `vscode` stays external, so the .vsix needs no node_modules);
//   3. packs the folder with @vscode/vsce (offline: no publishing, no network).
// The .vsix is written under a temporary name and renamed, so it is never half-written.
import { copyFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");

/** Builds the .vsix and returns its path. */
export async function packageExtension(options: { out?: string; log?: (line: string) => void } = {}): Promise<string> {
  const log = options.log ?? (() => {});
  mkdirSync(join(here, "syntaxes"), { recursive: true });
  copyFileSync(join(root, "grammar/nn.tmLanguage.json"), join(here, "syntaxes/nn.tmLanguage.json"));
  log("copied grammar/nn.tmLanguage.json -> editors/vscode/syntaxes/");
  await build({
    entryPoints: [join(here, "src/extension.ts")],
    outfile: join(here, "dist/extension.js"),
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node18",
    external: ["vscode"],
    minify: true,
    logLevel: "warning",
  });
  log("bundled src/extension.ts + vscode-languageclient -> editors/vscode/dist/extension.js");
  const { createVSIX } = await import("@vscode/vsce");
  const out = resolve(options.out ?? join(here, "nnc-0.1.0.vsix"));
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    // vsce reads the manifest and files relative to cwd.
    await createVSIX({ cwd: here, packagePath: tmp, dependencies: false, skipLicense: true, allowMissingRepository: true });
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  log(`wrote ${out}`);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const i = process.argv.indexOf("--out");
  await packageExtension({ out: i > 0 ? process.argv[i + 1] : undefined, log: (l) => console.log(l) });
}
