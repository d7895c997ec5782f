// The parser on every construct of the language: the AST it builds (spans checked separately).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "../../src/parser/index.js";
import type { ChainStmt, Expr, ModelDecl, SettingStmt, TrainDecl } from "../../src/parser/ast.js";
import { stripSpans } from "./helpers.js";

const EXAMPLES = join(__dirname, "..", "..", "examples");

function ok(text: string) {
  const r = parse(text);
  expect(r.diagnostics).toEqual([]);
  return r.program;
}

/** The model body of `model m { <body> }`, spans removed. */
function body(src: string) {
  const p = ok(`model m {\n${src}\n}\n`);
  return stripSpans((p.decls[0] as ModelDecl).body);
}

/** The value of `x <expr>` in a train section, spans removed. */
function value(src: string): Expr {
  const p = ok(`train m {\n  x ${src}\n}\n`);
  return stripSpans(((p.decls[0] as TrainDecl).body[0] as SettingStmt).value);
}

const num = (value: number, raw = String(value)) => ({ kind: "number", value, raw });
const id = (name: string) => ({ kind: "ident", name });

describe("declarations", () => {
  it("model without parameters", () => {
    const p = ok("model cnn {\n  flatten\n}\n");
    expect(stripSpans(p.decls)).toEqual([
      { kind: "model", name: "cnn", params: [], body: [{ kind: "chain", steps: [{ name: "flatten", args: null }] }] },
    ]);
  });

  it("model and block parameters with defaults", () => {
    const p = ok("model scratch(latent = 200, depth) {\n  relu\n}\nblock hidden(units, rate = 0.5 * 2) {\n  dropout(rate)\n}\n");
    expect(stripSpans(p.decls.map((d) => (d.kind === "train" ? null : d.params)))).toEqual([
      [{ name: "latent", default: num(200) }, { name: "depth" }],
      [{ name: "units" }, { name: "rate", default: { kind: "binary", op: "*", left: num(0.5), right: num(2) } }],
    ]);
    expect(p.decls.map((d) => d.kind)).toEqual(["model", "block"]);
  });

  it("empty parameter list, empty body and trailing comma in parameters", () => {
    const p = ok("model a() {}\nblock b(x, y,) {\n}\n");
    expect(stripSpans(p.decls)).toEqual([
      { kind: "model", name: "a", params: [], body: [] },
      { kind: "block", name: "b", params: [{ name: "x" }, { name: "y" }], body: [] },
    ]);
  });

  it("train section with settings and a sweep", () => {
    const p = ok("train scratch {\n  sweep latent in [100, 200]\n  epochs 50\n  optimizer sgd(lr: 0.01)\n}\n");
    expect(stripSpans(p.decls)).toEqual([
      {
        kind: "train",
        model: "scratch",
        body: [
          { kind: "sweep", variable: "latent", values: { kind: "list", items: [num(100), num(200)] } },
          { kind: "setting", key: "epochs", value: num(50) },
          { kind: "setting", key: "optimizer", value: { kind: "call", callee: "sgd", args: [{ name: "lr", value: num(0.01) }] } },
        ],
      },
    ]);
  });

  it("declarations need no blank line or separator between them", () => {
    const p = ok("model a { relu } model b { relu }\ntrain a { epochs 1 }");
    expect(p.decls.map((d) => d.kind)).toEqual(["model", "model", "train"]);
  });
});

describe("model bodies", () => {
  it("input with and without a name", () => {
    expect(body("  input image(28, 28, 1)\n  input x: image(784)")).toEqual([
      { kind: "input", shape: { kind: "call", callee: "image", args: [{ value: num(28) }, { value: num(28) }, { value: num(1) }] } },
      { kind: "input", name: "x", shape: { kind: "call", callee: "image", args: [{ value: num(784) }] } },
    ]);
  });

  it("layers with positional and named arguments, and without parentheses", () => {
    expect(body("  conv2d(8, kernel: 5, padding: same)\n  flatten\n  batch_norm()")).toEqual([
      {
        kind: "chain",
        steps: [{ name: "conv2d", args: [{ value: num(8) }, { name: "kernel", value: num(5) }, { name: "padding", value: id("same") }] }],
      },
      { kind: "chain", steps: [{ name: "flatten", args: null }] },
      { kind: "chain", steps: [{ name: "batch_norm", args: [] }] },
    ]);
  });

  it("named tensors, chains and merges", () => {
    expect(body("  a = dense(64)\n  b = a -> dense(64) -> relu\n  add(a, b)\n  c = concat(a, b, axis: -1)")).toEqual([
      { kind: "chain", target: "a", steps: [{ name: "dense", args: [{ value: num(64) }] }] },
      {
        kind: "chain",
        target: "b",
        steps: [{ name: "a", args: null }, { name: "dense", args: [{ value: num(64) }] }, { name: "relu", args: null }],
      },
      { kind: "chain", steps: [{ name: "add", args: [{ value: id("a") }, { value: id("b") }] }] },
      {
        kind: "chain",
        target: "c",
        steps: [{ name: "concat", args: [{ value: id("a") }, { value: id("b") }, { name: "axis", value: { kind: "unary", op: "-", operand: num(1) } }] }],
      },
    ]);
  });

  it("a chain continues on the next line after `->` or before it", () => {
    const expected = [{ kind: "chain", target: "b", steps: [{ name: "a", args: null }, { name: "relu", args: null }, { name: "dropout", args: [{ value: num(0.5) }] }] }];
    expect(body("  b = a ->\n    relu ->\n    dropout(0.5)")).toEqual(expected);
    expect(body("  b = a\n    -> relu\n    -> dropout(0.5)")).toEqual(expected);
  });

  it("for loops and repeat, nested", () => {
    expect(body("  for units in [1024, 512] {\n    repeat 2 { dense(units) }\n  }")).toEqual([
      {
        kind: "for",
        variable: "units",
        iterable: { kind: "list", items: [num(1024), num(512)] },
        body: [{ kind: "repeat", count: num(2), body: [{ kind: "chain", steps: [{ name: "dense", args: [{ value: id("units") }] }] }] }],
      },
    ]);
  });

  it("statements separated by `;`, blank lines and comments", () => {
    expect(body("  flatten; relu\n\n\n  # a comment\n  dropout(0.2) # trailing\n  ;;\n  relu")).toEqual([
      { kind: "chain", steps: [{ name: "flatten", args: null }] },
      { kind: "chain", steps: [{ name: "relu", args: null }] },
      { kind: "chain", steps: [{ name: "dropout", args: [{ value: num(0.2) }] }] },
      { kind: "chain", steps: [{ name: "relu", args: null }] },
    ]);
  });

  it("argument lists may span lines, with a trailing comma", () => {
    expect(body("  dense(\n    10,\n    activation: softmax,\n  )")).toEqual([
      { kind: "chain", steps: [{ name: "dense", args: [{ value: num(10) }, { name: "activation", value: id("softmax") }] }] },
    ]);
  });

  it("layer, parameter and setting names are identifiers, not keywords", () => {
    // Names the catalog may add later need no grammar change.
    expect(body("  my_new_layer2(gamma: 3)\n  inputs\n  format(x: 1)")).toEqual([
      { kind: "chain", steps: [{ name: "my_new_layer2", args: [{ name: "gamma", value: num(3) }] }] },
      { kind: "chain", steps: [{ name: "inputs", args: null }] },
      { kind: "chain", steps: [{ name: "format", args: [{ name: "x", value: num(1) }] }] },
    ]);
  });
});

describe("values", () => {
  it("numbers: integers, decimals, exponents", () => {
    expect(value("[1, 0.5, 1e-4, 2.5E+3, .25, 007]")).toEqual({
      kind: "list",
      items: [num(1), num(0.5), num(1e-4, "1e-4"), num(2500, "2.5E+3"), num(0.25, ".25"), num(7, "007")],
    });
  });

  it("strings with escapes", () => {
    expect(value('["logs", "a\\"b", "tab\\there", "\\u0041\\\\", ""]')).toEqual({
      kind: "list",
      items: [
        { kind: "string", value: "logs" },
        { kind: "string", value: 'a"b' },
        { kind: "string", value: "tab\there" },
        { kind: "string", value: "A\\" },
        { kind: "string", value: "" },
      ],
    });
  });

  it("booleans and identifiers", () => {
    expect(value("[true, false, val_loss, true_positives]")).toEqual({
      kind: "list",
      items: [{ kind: "bool", value: true }, { kind: "bool", value: false }, id("val_loss"), id("true_positives")],
    });
  });

  it("nested objects and lists, string keys, empty ones", () => {
    expect(value('mnist(augment: { rotation: 30, "zoom": 0.1, fill: { mode: nearest } }, x: [], y: {})')).toEqual({
      kind: "call",
      callee: "mnist",
      args: [
        {
          name: "augment",
          value: {
            kind: "object",
            entries: [
              { key: "rotation", value: num(30) },
              { key: "zoom", value: num(0.1) },
              { key: "fill", value: { kind: "object", entries: [{ key: "mode", value: id("nearest") }] } },
            ],
          },
        },
        { name: "x", value: { kind: "list", items: [] } },
        { name: "y", value: { kind: "object", entries: [] } },
      ],
    });
  });

  it("arithmetic: precedence, left associativity, parentheses, unary minus", () => {
    const b = (op: string, left: unknown, right: unknown) => ({ kind: "binary", op, left, right });
    expect(value("1 + 2 * 3")).toEqual(b("+", num(1), b("*", num(2), num(3))));
    expect(value("(1 + 2) * 3")).toEqual(b("*", b("+", num(1), num(2)), num(3)));
    expect(value("8 - 4 - 2")).toEqual(b("-", b("-", num(8), num(4)), num(2)));
    expect(value("8 / 4 / 2")).toEqual(b("/", b("/", num(8), num(4)), num(2)));
    expect(value("-width / 2")).toEqual(b("/", { kind: "unary", op: "-", operand: id("width") }, num(2)));
    expect(value("- -1")).toEqual({ kind: "unary", op: "-", operand: { kind: "unary", op: "-", operand: num(1) } });
  });

  it("lists may span lines", () => {
    expect(value("[\n    a(1),\n    b(2)\n  ]")).toEqual({
      kind: "list",
      items: [
        { kind: "call", callee: "a", args: [{ value: num(1) }] },
        { kind: "call", callee: "b", args: [{ value: num(2) }] },
      ],
    });
  });
});

describe("spans and comments", () => {
  it("every node carries the span of its text (1-based, end exclusive)", () => {
    const text = "model m {\n  a = dense(64, activation: relu) -> relu\n}\n";
    const p = ok(text);
    const m = p.decls[0] as ModelDecl;
    const chain = m.body[0] as ChainStmt;
    const slice = (s: { startOffset: number; endOffset: number }) => text.slice(s.startOffset, s.endOffset);
    expect(slice(m.span)).toBe(text.trimEnd());
    expect(m.nameSpan).toMatchObject({ startLine: 1, startColumn: 7, endLine: 1, endColumn: 8 });
    expect(slice(chain.span)).toBe("a = dense(64, activation: relu) -> relu");
    expect(chain.targetSpan).toMatchObject({ startLine: 2, startColumn: 3, endColumn: 4 });
    expect(slice(chain.steps[0]!.span)).toBe("dense(64, activation: relu)");
    expect(chain.steps[0]!.nameSpan).toMatchObject({ startLine: 2, startColumn: 7, endLine: 2, endColumn: 12 });
    const arg = chain.steps[0]!.args![1]!;
    expect(slice(arg.span)).toBe("activation: relu");
    expect(slice(arg.nameSpan!)).toBe("activation");
    expect(slice(arg.value.span)).toBe("relu");
    expect(slice(chain.steps[1]!.span)).toBe("relu");
  });

  it("spans of multi-line nodes and of parenthesised expressions", () => {
    const text = "train m {\n  data mnist(\n    x: (1 + 2)\n  )\n}";
    const p = ok(text);
    const s = (p.decls[0] as TrainDecl).body[0] as SettingStmt;
    expect(s.span).toMatchObject({ startLine: 2, startColumn: 3, endLine: 4, endColumn: 4 });
    const v = s.value as Extract<Expr, { kind: "call" }>;
    expect(text.slice(v.args[0]!.value.span.startOffset, v.args[0]!.value.span.endOffset)).toBe("1 + 2");
  });

  it("comments are collected with their spans", () => {
    const p = ok("# head\nmodel m { # open\n  relu # after\n}\n# tail");
    expect(p.comments.map((c) => [c.text, c.span.startLine, c.span.startColumn])).toEqual([
      ["# head", 1, 1],
      ["# open", 2, 11],
      ["# after", 3, 8],
      ["# tail", 5, 1],
    ]);
  });

  it("CRLF line endings and a byte-order mark", () => {
    const p = ok("\uFEFFmodel m {\r\n  relu\r\n  dense(1)\r\n}\r\n");
    expect((p.decls[0] as ModelDecl).body).toHaveLength(2);
    expect((p.decls[0] as ModelDecl).body[1]!.span).toMatchObject({ startLine: 3, startColumn: 3 });
  });
});

describe("examples", () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".nn"));
  it("there are ten of them", () => expect(files).toHaveLength(10));
  it.each(files)("%s parses without diagnostics into models and a train section", (f) => {
    const p = ok(readFileSync(join(EXAMPLES, f), "utf8"));
    const kinds = p.decls.map((d) => d.kind);
    expect(kinds.filter((k) => k === "model")).toHaveLength(1);
    expect(kinds.filter((k) => k === "train")).toHaveLength(1);
    const model = p.decls.find((d) => d.kind === "model") as ModelDecl;
    expect(model.body[0]!.kind).toBe("input");
    expect(p.comments.length).toBeGreaterThan(0);
  });

  it("deep.nn: block, for loop and the multi-line train settings", () => {
    const p = ok(readFileSync(join(EXAMPLES, "deep.nn"), "utf8"));
    expect(p.decls.map((d) => d.kind)).toEqual(["block", "model", "train"]);
    const train = p.decls[2] as TrainDecl;
    expect(train.body.map((s) => (s.kind === "setting" ? s.key : "sweep"))).toEqual([
      "data",
      "loss",
      "optimizer",
      "callbacks",
      "metrics",
      "epochs",
      "batch",
    ]);
    const callbacks = (train.body[3] as SettingStmt).value;
    expect(callbacks.kind === "list" && callbacks.items.map((c) => (c.kind === "call" ? c.callee : "?"))).toEqual([
      "reduce_on_plateau",
      "early_stopping",
      "checkpoint",
    ]);
  });
});
