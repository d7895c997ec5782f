// The VS Code extension is packaged by its script (editors/vscode/package.ts: esbuild bundle +
// @vscode/vsce) into a .vsix that holds the manifest, the TextMate grammar, the language
// configuration and the bundled language client. A .vsix is a zip: its entries are read here.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import { packageExtension } from "../../editors/vscode/package.js";

const root = join(import.meta.dirname, "../..");

/** The entries of a zip file, by name (central directory; stored or deflated). */
function unzip(buf: Buffer): Map<string, Buffer> {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error("not a zip file: no end of central directory");
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error("bad central directory entry");
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString("utf8", p + 46, p + 46 + nameLen);
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataAt, dataAt + compressed);
    out.set(name, method === 0 ? raw : inflateRawSync(raw));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

describe("VS Code extension", () => {
  it("packages into a .vsix with the manifest, the grammar, the language configuration and the bundled client", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-vsix-"));
    const quiet = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const vsix = await packageExtension({ out: join(dir, "nnc.vsix") });
      const entries = unzip(readFileSync(vsix));
      expect([...entries.keys()].sort()).toEqual([
        "[Content_Types].xml",
        "extension.vsixmanifest",
        "extension/dist/extension.js",
        "extension/language-configuration.json",
        "extension/package.json",
        "extension/readme.md",
        "extension/syntaxes/nn.tmLanguage.json",
      ]);
      const manifest = JSON.parse(entries.get("extension/package.json")!.toString("utf8"));
      expect(manifest.main).toBe("./dist/extension.js");
      expect(manifest.contributes.languages[0]).toMatchObject({ id: "nn", extensions: [".nn"], configuration: "./language-configuration.json" });
      expect(manifest.contributes.grammars[0]).toEqual({ language: "nn", scopeName: "source.nn", path: "./syntaxes/nn.tmLanguage.json" });
      expect(Object.keys(manifest.contributes.configuration.properties)).toEqual(["nnc.path", "nnc.inlayHints.shapes", "nnc.trace.server"]);
      // The grammar is the repository's, byte for byte.
      expect(entries.get("extension/syntaxes/nn.tmLanguage.json")!.equals(readFileSync(join(root, "grammar/nn.tmLanguage.json")))).toBe(true);
      expect(JSON.parse(entries.get("extension/language-configuration.json")!.toString("utf8")).comments).toEqual({ lineComment: "#" });
      // The client is bundled: it starts `nnc lsp` and needs nothing but VS Code's own module.
      const client = entries.get("extension/dist/extension.js")!.toString("utf8");
      expect(client).toContain('"lsp"');
      expect(client).toContain("nnc.restartServer");
      expect(client).toContain("textDocument/semanticTokens"); // vscode-languageclient is inside
      const required = new Set([...client.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]));
      expect([...required].filter((m) => !m.startsWith("node:") && !["fs", "path", "os", "child_process", "crypto", "net", "url", "util", "events", "stream", "assert"].includes(m!))).toEqual(["vscode"]);
      expect(entries.get("extension.vsixmanifest")!.toString("utf8")).toContain('<Identity Language="en-US" Id="nnc" Version="0.1.0" Publisher="nnc"');
    } finally {
      quiet.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
