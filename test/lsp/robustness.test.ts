// Half-written files are the normal case in an editor: every request on every prefix of the
// examples (and on bytes that are not .nn at all) answers without an internal error, and the
// server's life cycle ends with the exit code the protocol asks for.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TestClient, example, root } from "./client.js";

describe("robustness", () => {
  it("answers every request on every prefix of the examples with no internal error", async () => {
    const c = await TestClient.start();
    try {
      const texts = [example("deep.nn").text, example("cnn.nn").text, readFileSync(join(root, "test/lsp/fixtures/graph.nn"), "utf8")];
      let n = 0;
      for (const full of texts) {
        for (let cut = 0; cut <= full.length; cut += 37) {
          const text = full.slice(0, cut);
          const uri = `file:///prefix-${++n}.nn`;
          await c.open(uri, text);
          const lines = text.split("\n");
          const end = { line: lines.length - 1, character: lines[lines.length - 1]!.length };
          const doc = { textDocument: { uri } };
          const at = { ...doc, position: end };
          const range = { start: { line: 0, character: 0 }, end };
          await Promise.all([
            c.request("textDocument/hover", at),
            c.request("textDocument/completion", at),
            c.request("textDocument/signatureHelp", at),
            c.request("textDocument/definition", at),
            c.request("textDocument/references", { ...at, context: { includeDeclaration: true } }),
            c.request("textDocument/documentSymbol", doc),
            c.request("textDocument/formatting", { ...doc, options: { tabSize: 2, insertSpaces: true } }),
            c.request("textDocument/codeAction", { ...doc, range, context: { diagnostics: [] } }),
            c.request("textDocument/semanticTokens/full", doc),
            c.request("textDocument/inlayHint", { ...doc, range }),
          ]);
          await c.conn.sendNotification("textDocument/didClose", doc);
        }
      }
      await c.open("file:///binary.nn", "\u0000\u0001model {{{ ((( ]]] -> -> : : \uFFFD\n".repeat(20));
      expect(c.logs.filter((l) => l.includes("internal error"))).toEqual([]);
    } finally {
      await c.stop();
    }
    expect(c.exitCode).toBe(0);
  });

  it("exits with 1 on `exit` without `shutdown`, and never exits the test process", async () => {
    const c = await TestClient.start();
    await c.conn.sendNotification("exit");
    await expect.poll(() => c.exitCode, { timeout: 5000 }).toBe(1);
    c.conn.dispose();
  });
});
