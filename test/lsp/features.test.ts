// The language server's requests, in-process over JSON-RPC (test/lsp/client.ts): hover,
// completion, signature help, inlay hints, definition/references, document symbols, semantic
// tokens, and the server's life cycle. On the examples and on test/lsp/fixtures/graph.nn.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompletionItem, DocumentSymbol, Hover, InlayHint, Location, SemanticTokens, SignatureHelp } from "vscode-languageserver/node.js";
import { legend } from "../../src/lsp/semantic.js";
import { TestClient, example, positionOf, root } from "./client.js";

let c: TestClient;
const cnn = example("cnn.nn");
const deep = example("deep.nn");
const graphPath = join(root, "test/lsp/fixtures/graph.nn");
const graph = { uri: pathToFileURL(graphPath).href, text: readFileSync(graphPath, "utf8") };

beforeAll(async () => {
  c = await TestClient.start();
  for (const f of [cnn, deep, graph]) expect(await c.open(f.uri, f.text)).toEqual([]);
});
afterAll(async () => {
  await c.stop();
});

const hoverAt = async (f: { uri: string; text: string }, needle: string, delta = 1, n = 0): Promise<string> => {
  const h = await c.request<Hover | null>("textDocument/hover", { textDocument: { uri: f.uri }, position: positionOf(f.text, needle, delta, n) });
  return h ? (h.contents as { value: string }).value : "";
};

/** Completion labels at the `|` of `src` (opened as its own document). */
let docs = 0;
async function complete(src: string): Promise<string[]> {
  const at = src.indexOf("|");
  const text = src.slice(0, at) + src.slice(at + 1);
  const uri = `file:///completion-${++docs}.nn`;
  await c.open(uri, text);
  const before = text.slice(0, at);
  const position = { line: before.split("\n").length - 1, character: at - (before.lastIndexOf("\n") + 1) };
  const items = await c.request<CompletionItem[]>("textDocument/completion", { textDocument: { uri }, position });
  return items.map((i) => i.label);
}

describe("hover", () => {
  it("a layer: its catalog doc, parameters, and its output shape, parameter count and FLOPs", async () => {
    const h = await hoverAt(cnn, "conv2d(8");
    expect(h).toContain("conv2d(filters, kernel_size, strides = [1, 1], padding = valid, activation = linear");
    expect(h).toContain("layer · 2-D convolution over [height, width, channels] images");
    expect(h).toContain("- `padding`: valid | same, default `valid`");
    expect(h).toContain("- `kernel_size` (`kernel`): pair of integers (`5` or `[5, 3]`), required");
    expect(h).toContain("- [28, 28, 1] → [28, 28, 8] · 208 params · 313,600 FLOPs");
    const dense = await hoverAt(cnn, "dense(100");
    expect(dense).toContain("- [784] → [100] · 78,500 params · 156,800 FLOPs");
  });

  it("a block call: the block's signature and the shapes of each application; a layer in a block: each call's shapes", async () => {
    const h = await hoverAt(deep, "hidden(units)", 1, 1);
    expect(h).toContain("block hidden(units)");
    expect(h).toContain("block · used 1 time");
    expect(h).toContain("**output** (7 applications):");
    expect(h).toContain("- [784] → [1024]");
    expect(h).toContain("- [64] → [32]");
    const inner = await hoverAt(deep, "dense(units)");
    expect(inner).toContain("- [784] → [1024] · 803,840 params · 1,605,632 FLOPs");
    expect(inner).toContain("- [1024] → [512] · 524,800 params");
  });

  it("a named tensor (binding or use) shows its shape; a model its totals; settings, values and arguments their docs", async () => {
    expect(await hoverAt(graph, "h = dense")).toContain("h: [64]");
    expect(await hoverAt(graph, "concat(r, y)", 10)).toContain("y: [32]");
    expect(await hoverAt(graph, "input x:", 6)).toContain("x: [28, 28, 1]");
    expect(await hoverAt(graph, "add(a, b)", 4)).toContain("a: [64]");
    const model = await hoverAt(graph, "model g", 6);
    expect(model).toContain("[28, 28, 1] → [10]");
    expect(model).toContain("10 layers · 61,610 params (61,610 trainable) · 122,816 FLOPs per sample");
    expect(await hoverAt(cnn, "optimizer adam")).toContain("training setting · The optimizer, with Keras defaults");
    expect(await hoverAt(cnn, "adam")).toContain("optimizer · Adam: momentum plus per-weight adaptive rates.");
    expect(await hoverAt(cnn, "relu")).toContain("activation · Rectified linear unit: max(x, 0).");
    expect(await hoverAt(cnn, "kernel: 5")).toContain("`kernel_size` (`kernel`): pair of integers");
    expect(await hoverAt(graph, "rate)", 1)).toContain("rate = 0.1");
    expect(await hoverAt(cnn, "image(")).toContain("input shape · An image input [height, width, channels]");
    expect(await hoverAt(cnn, "same")).toContain("one of `valid`, `same`");
    expect(await hoverAt(deep, "val_loss")).toContain("a logged metric");
    expect(await hoverAt(cnn, "# cnn")).toBe("");
  });
});

describe("completion", () => {
  const file = (body: string, train = "  epochs 1") =>
    `block hidden(units, rate = 0.5) {\n  dense(units)\n}\n\nmodel m(width = 64) {\n  input x: image(28, 28, 1)\n${body}\n}\n\ntrain m {\n${train}\n}\n`;

  it("at a statement in a model: named tensors, blocks, every layer but input, and the statement keywords", async () => {
    const labels = await complete(file("  flatten\n  a = dense(10)\n  |"));
    expect(labels.slice(0, 3)).toEqual(["x", "a", "hidden"]);
    expect(labels).toEqual(expect.arrayContaining(["dense", "conv2d", "max_pool", "flatten", "dropout", "batch_norm", "add", "concat", "input", "for", "repeat"]));
    expect(labels).not.toContain("image");
    const afterArrow = await complete(file("  flatten\n  a = dense(10)\n  b = a -> |"));
    expect(afterArrow).toContain("dense");
    expect(afterArrow).not.toContain("a");
  });

  it("in a call: the layer's parameter names, then the values of the next positional parameter", async () => {
    expect(await complete(file("  flatten\n  dense(10, |)"))).toEqual([
      "units", "activation", "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer",
      "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "leaky_relu", "softplus",
    ]);
    expect(await complete(file("  conv2d(8, kernel: 5, |)"))).toEqual(expect.arrayContaining(["filters", "strides", "padding"]));
    expect(await complete(file("  conv2d(8, kernel: 5, |)"))).not.toContain("kernel_size");
    expect(await complete(file("  hidden(|)"))).toEqual(["units", "rate", "width"]);
  });

  it("a parameter's values: enum values, catalog names of its kind, tensors for add/concat", async () => {
    expect(await complete(file("  conv2d(8, kernel: 5, padding: |)"))).toEqual(["valid", "same"]);
    expect(await complete(file("  conv2d(8, kernel: 5, padding: sa|)"))).toEqual(["valid", "same"]);
    expect(await complete(file("  flatten\n  dense(10, regularizer: |)"))).toEqual(["l1", "l2", "l1l2"]);
    expect(await complete(file("  flatten\n  dense(10, init: |)"))).toEqual(expect.arrayContaining(["he_normal", "glorot_uniform", "zeros"]));
    expect(await complete(file("  flatten\n  a = dense(10)\n  b = dense(10)\n  add(|)"))).toEqual(["x", "a", "b"]);
    expect(await complete(file("  input |"))).toEqual(["image", "vector"]);
  });

  it("in a train section: the settings not yet given, then each setting's values", async () => {
    const settings = await complete(file("  flatten", "  epochs 1\n  |"));
    expect(settings).toEqual(["data", "loss", "optimizer", "schedule", "callbacks", "metrics", "batch", "seed", "steps_per_epoch", "shuffle", "sweep"]);
    expect(await complete(file("  flatten", "  optimizer |"))).toEqual(["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam"]);
    expect(await complete(file("  flatten", "  optimizer adam(|)"))).toEqual(["lr", "beta1", "beta2", "epsilon"]);
    expect(await complete(file("  flatten", "  loss |"))).toContain("categorical_crossentropy");
    expect(await complete(file("  flatten", "  metrics [|]"))).toEqual(["accuracy", "precision", "recall", "mse", "mae"]);
    expect(await complete(file("  flatten", "  callbacks [|]"))).toContain("early_stopping");
    expect(await complete(file("  flatten", "  callbacks [early_stopping(monitor: |)]"))).toEqual(expect.arrayContaining(["val_loss", "val_accuracy", "loss"]));
    expect(await complete(file("  flatten", "  data mnist(augment: { rotation: 10, |})"))).toEqual(["width_shift", "height_shift", "shift", "zoom", "shear", "fill", "cval"]);
    expect(await complete(file("  flatten", "  data mnist(augment: { fill: |})"))).toEqual(["nearest", "constant", "reflect", "wrap"]);
    expect(await complete(file("  flatten", "  sweep |"))).toEqual(["width"]);
  });

  it("at the top level: declarations; after `train`: the models; nothing inside a comment", async () => {
    expect(await complete("|")).toEqual(["model", "block", "train"]);
    expect(await complete("model a {\n}\nmodel b {\n}\ntrain |")).toEqual(["a", "b"]);
    expect(await complete("# a comment | here\nmodel m {\n}\n")).toEqual([]);
  });
});

describe("signature help", () => {
  it("shows the call's parameters and highlights the one being written, by position or by name", async () => {
    const at = async (needle: string, delta: number) =>
      c.request<SignatureHelp | null>("textDocument/signatureHelp", { textDocument: { uri: cnn.uri }, position: positionOf(cnn.text, needle, delta) });
    const s = await at("conv2d(8, kernel", 7);
    expect(s!.signatures[0]!.label).toBe(
      "conv2d(filters, kernel_size, strides = [1, 1], padding = valid, activation = linear, use_bias = true, kernel_initializer = glorot_uniform, bias_initializer = zeros, kernel_regularizer = none, bias_regularizer = none)",
    );
    expect(s!.activeParameter).toBe(0);
    expect((await at("padding: same", 9))!.activeParameter).toBe(3);
    expect((await at("dropout(0.25)", 8))!.signatures[0]!.label).toBe("dropout(rate)");
    const block = await c.request<SignatureHelp | null>("textDocument/signatureHelp", { textDocument: { uri: graph.uri }, position: positionOf(graph.text, "res(64)", 4) });
    expect(block!.signatures[0]!.label).toBe("res(units, rate = 0.1)");
    expect(block!.activeParameter).toBe(0);
    expect(await at("flatten", 3)).toBeNull();
  });
});

describe("inlay hints", () => {
  const all = { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } };
  it("the output shape after each layer and block call, each distinct shape of a step applied several times", async () => {
    const hints = await c.request<InlayHint[]>("textDocument/inlayHint", { textDocument: { uri: cnn.uri }, range: all });
    expect(hints.map((h) => `${h.position.line}:${h.position.character} ${h.label}`)).toEqual([
      "3:55 -> [28, 28, 8]",
      "4:13 -> [14, 14, 8]",
      "5:56 -> [14, 14, 16]",
      "6:13 -> [7, 7, 16]",
      "7:9 -> [784]",
      "8:30 -> [100]",
      "9:15 -> [100]",
      "10:32 -> [10]",
    ]);
    const d = await c.request<InlayHint[]>("textDocument/inlayHint", { textDocument: { uri: deep.uri }, range: all });
    expect(d.map((h) => h.label)).toEqual([
      "-> [1024] | [512] | [256] | ...",
      "-> [1024] | [512] | [256] | ...",
      "-> [1024] | [512] | [256] | ...",
      "-> [1024] | [512] | [256] | ...",
      "-> [784]",
      "-> [1024] | [512] | [256] | ...",
      "-> [10]",
    ]);
  });

  it("are turned off and on by the nnc.inlayHints.shapes setting", async () => {
    const get = () => c.request<InlayHint[]>("textDocument/inlayHint", { textDocument: { uri: cnn.uri }, range: all });
    await c.conn.sendNotification("workspace/didChangeConfiguration", { settings: { nnc: { inlayHints: { shapes: false } } } });
    expect(await get()).toEqual([]);
    await c.conn.sendNotification("workspace/didChangeConfiguration", { settings: { nnc: { inlayHints: { shapes: true } } } });
    expect(await get()).toHaveLength(8);
  });
});

describe("navigation", () => {
  const loc = (l: Location) => `${l.range.start.line}:${l.range.start.character}-${l.range.end.line}:${l.range.end.character}`;
  it("go to definition: a block call to its declaration, a tensor to its binding, a model to its declaration", async () => {
    const def = async (f: { uri: string; text: string }, needle: string, delta: number) =>
      loc((await c.request<Location>("textDocument/definition", { textDocument: { uri: f.uri }, position: positionOf(f.text, needle, delta) }))!);
    expect(await def(deep, "hidden(units)", 2)).toBe("2:6-2:12");
    expect(await def(graph, "concat(r, y)", 7)).toBe("11:2-11:3");
    expect(await def(graph, "h -> dense", 0)).toBe("10:2-10:3");
    expect(await def(graph, "add(a, b)", 4)).toBe("2:2-2:3");
    expect(await def(graph, "train g", 6)).toBe("7:6-7:7");
    expect(await def(graph, "dropout(rate)", 9)).toBe("1:17-1:21");
  });

  it("find references: every use of a tensor, block or model parameter, with or without the declaration", async () => {
    const refs = async (f: { uri: string; text: string }, needle: string, delta: number, includeDeclaration: boolean) =>
      (await c.request<Location[]>("textDocument/references", { textDocument: { uri: f.uri }, position: positionOf(f.text, needle, delta), context: { includeDeclaration } })).map(loc);
    expect(await refs(graph, "h = dense", 0, true)).toEqual(["10:2-10:3", "12:6-12:7"]);
    expect(await refs(graph, "a = dense", 0, false)).toEqual(["3:6-3:7", "4:6-4:7"]);
    expect(await refs(deep, "block hidden", 7, true)).toEqual(["2:6-2:12", "13:4-13:10"]);
    expect(await refs(deep, "units) {", 0, true)).toEqual(["2:13-2:18", "3:8-3:13"]);
  });

  it("document symbols: models with their named tensors, blocks with their parameters, the train section's settings", async () => {
    const syms = await c.request<DocumentSymbol[]>("textDocument/documentSymbol", { textDocument: { uri: graph.uri } });
    const show = (s: DocumentSymbol): unknown => ({ name: s.name, kind: s.kind, ...(s.children?.length ? { children: s.children.map(show) } : {}) });
    expect(syms.map(show)).toEqual([
      { name: "res", kind: 12, children: [{ name: "units", kind: 26 }, { name: "rate", kind: 26 }, { name: "a", kind: 13 }, { name: "b", kind: 13 }] },
      { name: "g", kind: 5, children: [{ name: "x", kind: 13 }, { name: "h", kind: 13 }, { name: "r", kind: 13 }, { name: "y", kind: 13 }] },
      { name: "train g", kind: 24, children: ["data", "loss", "optimizer", "metrics", "epochs"].map((name) => ({ name, kind: 7 })) },
    ]);
  });
});

describe("semantic tokens", () => {
  it("tell catalog layers, blocks, tensors, parameters, settings and enum values apart", async () => {
    const t = await c.request<SemanticTokens>("textDocument/semanticTokens/full", { textDocument: { uri: graph.uri } });
    const lines = graph.text.split("\n");
    const out: string[] = [];
    let line = 0;
    let ch = 0;
    for (let i = 0; i < t.data.length; i += 5) {
      const [dl, dc, len, type, mods] = t.data.slice(i, i + 5) as [number, number, number, number, number];
      line += dl;
      ch = dl === 0 ? ch + dc : dc;
      const m = legend.tokenModifiers.filter((_, k) => mods & (1 << k));
      out.push(`${lines[line]!.slice(ch, ch + len)}:${legend.tokenTypes[type]}${m.length ? `.${m.join(".")}` : ""}`);
    }
    expect(out.slice(0, 16)).toEqual([
      "res:macro.declaration",
      "units:parameter.declaration",
      "rate:parameter.declaration",
      "a:variable.declaration",
      "dense:function.defaultLibrary",
      "units:parameter",
      "activation:property",
      "relu:function.defaultLibrary",
      "b:variable.declaration",
      "a:variable",
      "dropout:function.defaultLibrary",
      "rate:parameter",
      "dense:function.defaultLibrary",
      "units:parameter",
      "add:function.defaultLibrary",
      "a:variable",
    ]);
    expect(out).toContain("res:macro");
    expect(out).toContain("image:type.defaultLibrary");
    expect(out).toContain("optimizer:property.defaultLibrary");
    expect(out).toContain("g:class.declaration");
  });
});
