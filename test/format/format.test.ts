// nnc fmt: canonical layout, comments kept, idempotent; fmt(x) parses to the same AST as x,
// for every example and for messy variants of them.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { format } from "../../src/compiler/format.js";
import { parse } from "../../src/parser/index.js";
import { stripSpans } from "../parser/helpers.js";
import { expectGolden } from "../helpers/golden.js";

const EXAMPLES_DIR = join(__dirname, "..", "..", "examples");
const EXAMPLES = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith(".nn"))
  .sort();
const read = (f: string) => readFileSync(join(EXAMPLES_DIR, f), "utf8");

function fmt(text: string): string {
  const r = format(text);
  expect(r.diagnostics).toEqual([]);
  return r.text;
}

/** fmt(x) parses to the same AST (spans aside) and the same comments; fmt(fmt(x)) === fmt(x). */
function roundTrip(text: string): string {
  const once = fmt(text);
  const before = parse(text);
  const after = parse(once);
  expect(after.diagnostics).toEqual([]);
  expect(stripSpans(after.program.decls)).toEqual(stripSpans(before.program.decls));
  expect(after.program.comments.map((c) => c.text.trimEnd())).toEqual(before.program.comments.map((c) => c.text.trimEnd()));
  expect(fmt(once)).toBe(once);
  return once;
}

// ---------------------------------------------------------------- messy variants

/** Applies `f` to every line that is not a comment (comments must come back verbatim). */
function code(text: string, f: (line: string) => string): string {
  return text
    .split("\n")
    .map((l) => (l.trimStart().startsWith("#") ? l : f(l)))
    .join("\n");
}

/** Spaces around every punctuation mark, and runs of spaces doubled. */
function extraSpaces(text: string): string {
  return code(text, (l) => l.replace(/([(),:\[\]{}=])/g, " $1 ").replace(/ {2,}/g, (m) => m + m).replace(/->/g, "  ->  "));
}

/** Two blank lines between every pair of lines, and at the start and end. */
function blankLines(text: string): string {
  return `\n\n${text.split("\n").join("\n\n\n")}\n\n\n`;
}

/** Each line indented by a varying amount (tabs and spaces), trailing white space added. */
function oddIndentation(text: string): string {
  return text
    .split("\n")
    .map((l, i) => `${["", "\t", "     ", " \t ", "        "][i % 5]}${l.trim()}${i % 3 === 0 ? "   " : ""}`)
    .join("\n");
}

/** White space squeezed out wherever it is optional, and CRLF line endings. */
function squeezed(text: string): string {
  return code(text, (l) => l.replace(/,\s+/g, ",").replace(/:\s+/g, ":").replace(/\s+/g, " ")).replace(/\r?\n/g, "\r\n");
}

const VARIANTS: Record<string, (t: string) => string> = { extraSpaces, blankLines, oddIndentation, squeezed };

describe("examples are canonical", () => {
  it.each(EXAMPLES)("%s: fmt leaves it unchanged and the round trip holds", (f) => {
    const text = read(f);
    expect(roundTrip(text)).toBe(text);
  });
});

describe("messy variants format back to the canonical example", () => {
  for (const f of EXAMPLES) {
    for (const [name, mess] of Object.entries(VARIANTS)) {
      it(`${f} with ${name}`, () => {
        const messy = mess(read(f));
        expect(messy).not.toBe(read(f));
        const out = roundTrip(messy);
        if (name !== "blankLines") expect(out).toBe(read(f));
        else {
          // Blank lines between statements are kept (at most one); none after `{` or before `}`.
          expect(out).not.toMatch(/\n\n\n|{\n\n|\n\n\s*}|^\n/);
          const dense = (t: string) => t.replace(/\n+/g, "\n");
          expect(dense(out)).toBe(dense(read(f)));
        }
      });
    }
  }
});

describe("layout rules", () => {
  it("canonical spacing, indentation and one statement per line", () => {
    const out = roundTrip(
      "model   m( w=2*(3+4) ,d ){input x :image( 28,28 ,1 );a=dense(64)->relu\n b = a\n -> dense(w / 2 - -1)\nadd(a,b)\nfor u in [1,2] { hidden(u) }\nrepeat 2 {}}",
    );
    expect(out).toBe(
      [
        "model m(w = 2 * (3 + 4), d) {",
        "  input x: image(28, 28, 1)",
        "  a = dense(64) -> relu",
        "  b = a -> dense(w / 2 - -1)",
        "  add(a, b)",
        "  for u in [1, 2] {",
        "    hidden(u)",
        "  }",
        "  repeat 2 {}",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("parentheses only where precedence needs them", () => {
    const out = roundTrip("train m {\n  x [(1 + 2) * 3, 1 + (2 * 3), (8 - 4) - 2, 8 - (4 - 2), 8 / (4 / 2), -(1 + 2), ((5))]\n}\n");
    expect(out).toContain("x [(1 + 2) * 3, 1 + 2 * 3, 8 - 4 - 2, 8 - (4 - 2), 8 / (4 / 2), -(1 + 2), 5]");
  });

  it("train settings are aligned; one blank line between declarations", () => {
    const out = roundTrip("train m {\nepochs 1\n  optimizer adam\n sweep w in [1]\n}\nmodel m {\n relu\n}");
    expect(out).toBe("train m {\n  epochs    1\n  optimizer adam\n  sweep     w in [1]\n}\n\nmodel m {\n  relu\n}\n");
  });

  it("long calls and lists break one item per line; short ones stay on one line", () => {
    const long = `train m {\n  callbacks [${Array.from({ length: 6 }, (_, i) => `early_stopping(monitor: val_loss, patience: ${i})`).join(", ")}]\n  metrics [accuracy]\n}\n`;
    const out = roundTrip(long);
    expect(out.split("\n").every((l) => l.length <= 120)).toBe(true);
    expect(out).toContain("  callbacks [\n    early_stopping(monitor: val_loss, patience: 0),\n");
    expect(out).toContain("  metrics   [accuracy]\n");
    // And a broken layout of a short list is joined back.
    expect(roundTrip("train m {\n  metrics [\n    accuracy,\n    loss,\n  ]\n}\n")).toBe("train m {\n  metrics [accuracy, loss]\n}\n");
  });

  it("strings and numbers are kept exactly as written", () => {
    const out = roundTrip('train m {\n  x ["a\\"b\\n", 1e-4, 1E3, .5, 007]\n}\n');
    expect(out).toContain('x ["a\\"b\\n", 1e-4, 1E3, .5, 007]');
  });

  it("object keys: identifiers bare, other keys quoted", () => {
    expect(roundTrip('train m {\n  x f(a: {"rotation":1, "two words": 2})\n}\n')).toContain('x f(a: { rotation: 1, "two words": 2 })');
  });

  it("empty input and comment-only input", () => {
    expect(format("").text).toBe("");
    expect(format("").diagnostics.length).toBeGreaterThan(0);
    expect(format("\n\n# just a note   \n\n").diagnostics.length).toBeGreaterThan(0);
  });

  it("refuses text with syntax errors, returning it unchanged", () => {
    const bad = "model m {\n  dense(1 relu\n}\n";
    const r = format(bad);
    expect(r.text).toBe(bad);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["E111"]);
  });
});

describe("comments are kept in place", () => {
  const messy = readFileSync(join(__dirname, "messy-comments.nn"), "utf8");

  it("canonical output (golden)", async () => {
    const out = roundTrip(messy);
    await expectGolden(out, "format/messy-comments.nn");
  });

  it("every comment survives, in order", () => {
    const out = roundTrip(messy);
    const texts = (s: string) => parse(s).program.comments.map((c) => c.text);
    expect(texts(out)).toEqual(texts(messy));
  });

  it("trailing, leading, opener and closer comments", () => {
    const out = roundTrip("model m { # opener\n  relu # trailing\n\n  # leading\n  dense(1, # in args\n  2)\n  # before close\n} # after\n");
    expect(out).toBe(
      [
        "model m { # opener",
        "  relu # trailing",
        "",
        "  # leading",
        "  dense(",
        "    1, # in args",
        "    2",
        "  )",
        "  # before close",
        "} # after",
        "",
      ].join("\n"),
    );
  });

  it("a comment inside an argument goes on a line above that argument", () => {
    expect(roundTrip("model m {\n  dense(units: # why\n    3)\n}\n")).toBe("model m {\n  dense(\n    # why\n    units: 3\n  )\n}\n");
  });

  it("a comment between chain steps goes above its statement", () => {
    expect(roundTrip("model m {\n  b = a # why\n    -> relu\n}\n")).toBe("model m {\n  # why\n  b = a -> relu\n}\n");
  });
});
