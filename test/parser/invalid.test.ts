// Invalid inputs and the diagnostics they get: code, message, hint and position, plus the
// rendered code frame, compared with golden files under test/golden/syntax/ (update with -u).
import { describe, expect, it } from "vitest";
import { parse } from "../../src/parser/index.js";
import { renderDiagnostics } from "../../src/compiler/codeframe.js";
import { expectGolden } from "../helpers/golden.js";
import { diagLines } from "./helpers.js";

const M = (body: string) => `model m {\n${body}\n}\n`;
const T = (body: string) => `train m {\n${body}\n}\n`;

/** name -> source. Each must produce at least one error. */
const CASES: Record<string, string> = {
  "empty-file": "",
  "only-comments": "# nothing here\n\n# still nothing\n",
  "misspelt-model-keyword": "modle cnn {\n  flatten\n}\n",
  "misspelt-train-keyword": M("  relu") + "trian m {\n  epochs 1\n}\n",
  "layer-outside-model": "dense(10)\nmodel m {\n  relu\n}\n",
  "stray-closing-brace": M("  relu") + "}\n",
  "missing-closing-brace": "model m {\n  relu\n",
  "missing-closing-brace-before-train": "model m {\n  relu\n\ntrain m {\n  epochs 1\n}\n",
  "missing-closing-paren": M("  dense(10\n  relu"),
  "missing-comma-between-args": M("  dense(10 activation: relu)"),
  "missing-comma-in-list": T("  metrics [accuracy loss]"),
  "missing-closing-bracket": T("  metrics [accuracy\n  epochs 3"),
  "two-statements-on-one-line": M("  dense(10) relu"),
  "two-settings-on-one-line": T("  epochs 10 batch 32"),
  "setting-without-value": T("  epochs\n  batch 32"),
  "extra-comma-in-args": M("  dense(10,, activation: relu)"),
  "leading-comma-in-args": M("  dense(, 10)"),
  "named-arg-without-value": M("  dense(units: )"),
  "keyword-as-model-name": "model for {\n  relu\n}\n",
  "keyword-as-parameter": "block b(in) {\n  relu\n}\n",
  "keyword-as-loop-variable": M("  for repeat in [1] {\n    relu\n  }"),
  "keyword-as-tensor-name": M("  input = dense(3)"),
  "model-without-name": "model {\n  relu\n}\n",
  "model-without-body": "model m\ntrain m {\n  epochs 1\n}\n",
  "train-without-model-name": "train {\n  epochs 1\n}\n",
  "input-without-shape-call": M("  input image"),
  "input-named-without-shape": M("  input x:"),
  "for-without-in": M("  for units [1, 2] {\n    dense(units)\n  }"),
  "for-without-body": M("  for units in [1, 2]\n  relu"),
  "repeat-without-count": M("  repeat {\n    relu\n  }"),
  "sweep-without-in": T("  sweep latent [1, 2]"),
  "arrow-without-step": M("  a = dense(1) -> -> relu"),
  "assignment-without-chain": M("  a =\n"),
  "number-as-layer": M("  10"),
  "string-as-layer": M('  "dense"'),
  "unterminated-string": T('  callbacks [tensorboard(dir: "logs)]'),
  "unknown-escape": T('  callbacks [tensorboard(dir: "c:\\logs")]'),
  "single-quoted-string": T("  callbacks [tensorboard(dir: 'logs')]"),
  "slash-comment": M("  relu // not a comment"),
  "unexpected-character": M("  dense(10) @ 2"),
  "unicode-arrow": M("  a = dense(1) \u2192 relu"),
  "malformed-number": M("  dense(1.2.3)"),
  "number-glued-to-name": M("  dense(3units)"),
  "number-too-large": M("  dense(1e999)"),
  "object-entry-without-colon": T("  data mnist(augment: { rotation 30 })"),
  "object-without-closing-brace": T("  data mnist(augment: { rotation: 30 )"),
  "operator-without-operand": M("  dense(10 *)"),
  "brackets-nested-too-deep": M(`  dense(${"(".repeat(300)}1${")".repeat(300)})`),
  "minus-signs-nested-too-deep": M(`  dense(${"-".repeat(100)}1)`),
  "unbalanced-parens-in-expr": M("  dense((10 + 2)"),
  "control-characters": "model m {\n  relu\u0001\u0002\n}\n",
  "nested-model": M("  model n {\n    relu\n  }"),
  "equals-for-named-argument": M("  conv2d(8, kernel=5)"),
  "arguments-without-parentheses": M("  dense 10"),
  "setting-with-colon": T("  optimizer: adam"),
  "setting-with-equals": T("  epochs = 10"),
  "two-layers-on-one-line": M("  flatten relu"),
  "comma-after-statement": M("  dense(10),\n  relu"),
  "input-used-as-layer": M("  x = input image(1)"),
  "misspelt-repeat": M("  repaet 3 {\n    relu\n  }"),
  "misspelt-for": M("  fro units in [1, 2] {\n    dense(units)\n  }"),
  "several-errors-one-file": "model m {\n  dense(10 relu\n  dropout(0.5,, 1)\n  flatten @\n}\ntrain m {\n  epochs\n  batch 32 64\n}\n",
};

describe("invalid inputs: golden diagnostics", () => {
  it("there are at least 40 cases", () => expect(Object.keys(CASES).length).toBeGreaterThanOrEqual(40));

  for (const [name, source] of Object.entries(CASES)) {
    it(name, async () => {
      const { diagnostics } = parse(source);
      expect(diagnostics.length).toBeGreaterThan(0);
      for (const d of diagnostics) {
        expect(d.code).toMatch(/^E1\d\d$/);
        // The user's words, never chevrotain's token names.
        expect(d.message).not.toMatch(/LParen|RParen|LCurly|RCurly|LBracket|RBracket|Identifier|Kw_|Sep\b|EOF|-->|token/);
      }
      const numbered = source
        .split("\n")
        .map((l, i) => `${String(i + 1).padStart(2)} | ${l}`)
        .join("\n");
      const golden = `${numbered}\n----\n${diagLines(diagnostics)}\n----\n${renderDiagnostics(diagnostics, source, `${name}.nn`)}\n`;
      await expectGolden(golden, `syntax/${name}.txt`);
    });
  }
});

describe("recovery: one file yields all its syntax errors", () => {
  it("reports an error on each broken line and keeps the good declarations", () => {
    const { program, diagnostics } = parse(CASES["several-errors-one-file"]!);
    expect(diagnostics.map((d) => d.span.startLine)).toEqual([2, 3, 4, 7, 8]);
    expect(program.decls.map((d) => d.kind)).toEqual(["model", "train"]);
  });

  it("declarations after text outside any declaration are still parsed", () => {
    const { program, diagnostics } = parse("dense(1)\nmodel a {\n  relu\n}\n}}\nmodel b {\n  relu\n}\n");
    expect(diagnostics.map((d) => [d.code, d.span.startLine])).toEqual([
      ["E110", 1],
      ["E110", 5],
    ]);
    expect(program.decls.map((d) => (d.kind === "train" ? d.model : d.name))).toEqual(["a", "b"]);
  });

  it("misspelt keywords get a did-you-mean hint", () => {
    expect(parse(CASES["misspelt-model-keyword"]!).diagnostics[0]!.hint).toBe("did you mean `model`?");
    expect(parse("blok b {\n}\n").diagnostics[0]!.hint).toBe("did you mean `block`?");
  });

  it("caps the number of errors on garbage", () => {
    const garbage = Array.from({ length: 300 }, (_, i) => `@ x${i} ]`).join("\n");
    const { diagnostics } = parse(garbage);
    expect(diagnostics.length).toBeLessThanOrEqual(51);
    expect(diagnostics[diagnostics.length - 1]!.code).toBe("E119");
  });
});
