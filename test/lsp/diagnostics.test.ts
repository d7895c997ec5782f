// Diagnostics as you type, quick fixes and formatting, through the language server in-process
// (test/lsp/client.ts): exact ranges, codes, hints and related locations on broken files; a
// clean report for every example; incremental edits; the debounce; each quick fix applied
// giving a clean file; formatting equal to `nnc fmt`.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { CodeAction, Diagnostic, TextEdit } from "vscode-languageserver/node.js";
import { format } from "../../src/compiler/format.js";
import { TestClient, example, positionOf, root } from "./client.js";

let c: TestClient;
beforeAll(async () => {
  c = await TestClient.start();
});
afterAll(async () => {
  await c.stop();
});

let docs = 0;
const fresh = () => `file:///tmp/lsp-test-${++docs}.nn`;
const brief = (d: Diagnostic) => `${d.range.start.line}:${d.range.start.character}-${d.range.end.line}:${d.range.end.character} ${d.severity === 1 ? "error" : d.severity === 2 ? "warning" : "info"} ${d.code} ${d.message}`;
const train = "\n\ntrain m {\n  data      mnist(validation: test)\n  loss      categorical_crossentropy\n  optimizer adam\n  metrics   [accuracy]\n  epochs    1\n}\n";

describe("diagnostics", () => {
  it("every example opens clean", async () => {
    const names = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".nn"));
    expect(names.length).toBeGreaterThanOrEqual(10);
    for (const n of names) {
      const { uri, text } = example(n);
      expect(await c.open(uri, text), n).toEqual([]);
    }
  });

  it("a shape error: its exact range, code and hint, and the layer that made the bad input as related information", async () => {
    const uri = fresh();
    const text = "model m {\n  input image(28, 28, 1)\n  conv2d(8, kernel: 5)\n  dense(10, activation: softmax)\n}" + train;
    const [d, ...rest] = await c.open(uri, text);
    expect(rest).toEqual([]);
    expect(brief(d!)).toBe("3:2-3:7 error E401 `dense` expects a vector (rank 1); got [24, 24, 8] (rank 3)\nhint: insert `flatten` before this layer (it would give [4608])");
    expect(d!.source).toBe("nnc");
    expect(d!.relatedInformation).toEqual([
      { location: { uri, range: { start: { line: 2, character: 2 }, end: { line: 2, character: 8 } } }, message: "the input [24, 24, 8] comes from `conv2d` here" },
    ]);
  });

  it("names, syntax and warnings: ranges on the offending token, every error of the file, warnings as warnings", async () => {
    const text = "model m {\n  input image(28, 28, 1)\n  flatten\n  dnese(512, activation: relu)\n  dense(10, activaton: softmax)\n}" + train;
    expect((await c.open(fresh(), text)).map(brief)).toEqual([
      "3:2-3:7 error E201 unknown layer `dnese`\nhint: did you mean `dense`?",
      "4:12-4:21 error E202 `dense` has no parameter `activaton`\nhint: did you mean `activation`?",
    ]);
    const syntax = "model m {\n  input image(28, 28, 1)\n  conv2d(8, kernel=5)\n  flatten\n  dense(10 activation: softmax)\n}" + train;
    expect((await c.open(fresh(), syntax)).map(brief)).toEqual([
      "2:18-2:19 error E111 expected `)`, found `=`\nhint: named arguments are written with `:`: `kernel: ...`",
      "4:11-4:21 error E111 expected `)`, found `activation`\nhint: separate items with `,`",
    ]);
    const warn = "model m {\n  input image(28, 28, 1)\n  flatten\n  a = dense(64)\n  b = flatten -> dense(32)\n  a\n  dense(10, activation: softmax)\n}" + train;
    const [w] = await c.open(fresh(), warn);
    expect(brief(w!)).toBe("4:17-4:22 warning W604 the output of `dense` ([32]) is never used, so this layer is left out of the model\nhint: bind it to a name and use it, or remove it");
    expect(w!.tags).toEqual([1]); // Unnecessary: editors fade the dead layer
  });

  it("follow incremental edits: a one-character fix clears the error, a new typo brings one back", async () => {
    const uri = fresh();
    const text = "model m {\n  input image(28, 28, 1)\n  flatten\n  dense(10, activation: sotfmax)\n}" + train;
    expect((await c.open(uri, text)).map((d) => d.code)).toEqual(["E203"]);
    // "sotfmax" -> "softmax": replace characters 25..27 of line 3 ("otf" -> "oft").
    await c.change(uri, 2, [{ range: { start: { line: 3, character: 25 }, end: { line: 3, character: 28 } }, text: "oft" }]);
    expect(await c.diagnostics(uri, 2)).toEqual([]);
    await c.change(uri, 3, [{ range: { start: { line: 2, character: 2 }, end: { line: 2, character: 3 } }, text: "g" }]);
    expect((await c.diagnostics(uri, 3)).map(brief)).toEqual(["2:2-2:9 error E201 unknown layer `glatten`\nhint: did you mean `flatten`?"]);
  });

  it("are debounced: a burst of edits is checked once, at its last version", async () => {
    const slow = await TestClient.start({ debounceMs: 300 });
    try {
      const uri = fresh();
      const text = "model m {\n  input image(28, 28, 1)\n  flatten\n  dense(10, activation: softmax)\n}" + train;
      expect(await slow.open(uri, text)).toEqual([]);
      for (let v = 2; v <= 6; v++) void slow.change(uri, v, [{ range: { start: { line: 3, character: 2 }, end: { line: 3, character: 2 } }, text: "x" }]);
      expect((await slow.diagnostics(uri, 6)).map((d) => d.message)).toEqual(["unknown layer `xxxxxdense`"]);
      expect(slow.published.filter((p) => p.uri === uri).map((p) => p.version)).toEqual([1, 6]);
    } finally {
      await slow.stop();
    }
  });

  it("are cleared when the document is closed", async () => {
    const uri = fresh();
    expect(await c.open(uri, "model m {\n  dnese\n}\n")).not.toEqual([]);
    await c.conn.sendNotification("textDocument/didClose", { textDocument: { uri } });
    await expect.poll(() => c.published.filter((p) => p.uri === uri).at(-1)?.diagnostics, { timeout: 5000 }).toEqual([]);
  });
});

/** Opens `text`, asks for the quick fixes at `needle`, applies the one titled `title`, and returns the diagnostics of the result. */
async function fix(text: string, needle: string, title: string): Promise<{ fixed: string; after: Diagnostic[] }> {
  const uri = fresh();
  const diags = await c.open(uri, text);
  expect(diags.length).toBeGreaterThan(0);
  const at = positionOf(text, needle, 1);
  const actions = await c.request<CodeAction[]>("textDocument/codeAction", { textDocument: { uri }, range: { start: at, end: at }, context: { diagnostics: diags } });
  const action = actions.find((a) => a.title === title);
  expect(action, `quick fixes offered: ${actions.map((a) => a.title).join("; ")}`).toBeDefined();
  expect(action!.kind).toBe("quickfix");
  expect(action!.diagnostics?.[0]?.code).toBe(diags[0]!.code);
  const fixed = TextDocument.applyEdits(TextDocument.create(uri, "nn", 1, text), action!.edit!.changes![uri]!);
  await c.change(uri, 2, [{ text: fixed }]);
  return { fixed, after: await c.diagnostics(uri, 2) };
}

describe("quick fixes", () => {
  it("did-you-mean renames the misspelt layer, and the file is then clean", async () => {
    const text = "model m {\n  input image(28, 28, 1)\n  flatten\n  dnese(512, activation: relu)\n  dense(10, activation: softmax)\n}" + train;
    const { fixed, after } = await fix(text, "dnese", "Change `dnese` to `dense`");
    expect(fixed).toBe(text.replace("dnese", "dense"));
    expect(after).toEqual([]);
  });

  it("did-you-mean on a parameter name, a setting value and a misspelt keyword", async () => {
    const param = "model m {\n  input image(28, 28, 1)\n  flatten\n  dense(10, activaton: softmax)\n}" + train;
    expect((await fix(param, "activaton", "Change `activaton` to `activation`")).after).toEqual([]);
    const value = "model m {\n  input image(28, 28, 1)\n  flatten\n  dense(10, activation: softmax)\n}" + train.replace("optimizer adam", "optimizer adma");
    expect((await fix(value, "adma", "Change `adma` to `adam`")).after).toEqual([]);
    const keyword = "modle m {\n  input image(28, 28, 1)\n  flatten\n  dense(10, activation: softmax)\n}" + train;
    expect((await fix(keyword, "modle", "Change `modle` to `model`")).after).toEqual([]);
  });

  it("inserts `flatten` where the hint says, on a line of its own", async () => {
    const text = "model m {\n  input image(28, 28, 1)\n  dense(10, activation: softmax)\n}" + train;
    const { fixed, after } = await fix(text, "dense", "Insert `flatten` before this layer");
    expect(fixed).toBe(text.replace("  dense", "  flatten\n  dense"));
    expect(after).toEqual([]);
  });

  it("writes `kernel=5` as `kernel: 5`", async () => {
    const text = "model m {\n  input image(28, 28, 1)\n  conv2d(8, kernel=5)\n  flatten\n  dense(10, activation: softmax)\n}" + train;
    const { fixed, after } = await fix(text, "=5", "Write `kernel: ...`");
    expect(fixed).toBe(text.replace("kernel=5", "kernel: 5"));
    expect(after).toEqual([]);
  });
});

describe("formatting", () => {
  const formatted = async (text: string): Promise<{ edits: TextEdit[]; result: string }> => {
    const uri = fresh();
    await c.open(uri, text);
    const edits = await c.request<TextEdit[]>("textDocument/formatting", { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });
    return { edits, result: TextDocument.applyEdits(TextDocument.create(uri, "nn", 1, text), edits) };
  };

  it("gives what `nnc fmt` gives (comments kept), and no edit for a formatted file", async () => {
    const messy = "# a model\nmodel m(w=64){\ninput image(28,28,1)   # the input\n flatten\n    dense(w,activation:relu)\n  dense(10, activation: softmax)}\ntrain m {\n data mnist(validation: test)\n loss categorical_crossentropy\n optimizer adam\n}\n";
    const { result } = await formatted(messy);
    expect(result).toBe(format(messy).text);
    expect(result).toContain("  input image(28, 28, 1) # the input\n  flatten\n  dense(w, activation: relu)\n");
    for (const n of ["cnn.nn", "deep.nn", "alexnet.nn"]) expect((await formatted(example(n).text)).edits).toEqual([]);
  });

  it("leaves a file with syntax errors alone", async () => {
    expect((await formatted("model m {\n  dense(10 relu)\n}\n")).edits).toEqual([]);
  });
});
