// Property tests: whatever the input, parse() (and format()) never throw, and every
// diagnostic is positioned inside the text with a stable code and the user's words.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "../../src/parser/index.js";
import { format } from "../../src/compiler/format.js";
import type { Diagnostic } from "../../src/parser/diagnostics.js";
import { stripSpans } from "./helpers.js";

const EXAMPLES_DIR = join(__dirname, "..", "..", "examples");
const EXAMPLES = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith(".nn"))
  .map((f) => readFileSync(join(EXAMPLES_DIR, f), "utf8"));

const RUNS = 200;

function lineCount(text: string): number {
  return text.split(/\r\n|\r|\n/).length;
}

/** Every diagnostic lies within the text, has an E1xx code and a message in plain words. */
function checkDiagnostics(text: string, diagnostics: Diagnostic[]): void {
  const lines = lineCount(text);
  for (const d of diagnostics) {
    expect(d.code).toMatch(/^E1\d\d$/);
    expect(d.severity).toBe("error");
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.message).not.toMatch(/LParen|RParen|LCurly|RCurly|ObjectOpen|Identifier|Kw_|EOF|NaN|undefined/);
    const s = d.span;
    for (const v of [s.startOffset, s.endOffset, s.startLine, s.startColumn, s.endLine, s.endColumn]) expect(Number.isInteger(v)).toBe(true);
    expect(s.startOffset).toBeGreaterThanOrEqual(0);
    expect(s.endOffset).toBeGreaterThanOrEqual(s.startOffset);
    expect(s.endOffset).toBeLessThanOrEqual(text.length);
    expect(s.startLine).toBeGreaterThanOrEqual(1);
    expect(s.startLine).toBeLessThanOrEqual(lines);
    expect(s.endLine).toBeGreaterThanOrEqual(s.startLine);
    expect(s.startColumn).toBeGreaterThanOrEqual(1);
    expect(s.endColumn).toBeGreaterThanOrEqual(1);
  }
}

/** parse() and format() on `text`: no throw, positioned diagnostics, and for valid text the fmt round trip. */
function checkAll(text: string): void {
  const r = parse(text);
  // The fast path (no recovery) and the recovering parser give the same result, spans included.
  expect(r).toEqual(parse(text, { fastPath: false }));
  checkDiagnostics(text, r.diagnostics);
  const f = format(text);
  if (r.diagnostics.length === 0) {
    const again = parse(f.text);
    expect(again.diagnostics).toEqual([]);
    expect(stripSpans(again.program.decls)).toEqual(stripSpans(r.program.decls));
    expect(format(f.text).text).toBe(f.text);
  } else {
    expect(f.text).toBe(text);
  }
}

const WORDS = [
  "model", "block", "train", "input", "for", "in", "repeat", "sweep", "true", "false",
  "dense", "relu", "x", "units", "epochs", "mnist", "image", "a", "b",
  "(", ")", "[", "]", "{", "}", ",", ":", ";", "=", "->", "+", "-", "*", "/",
  "1", "0.5", "1e-4", '"s"', '"unterminated', "# comment", "\n", "\n", "\n", " ", "  ", "@", "'", ".", "3x",
];

describe("parse never throws and always positions its diagnostics", () => {
  it("on random text (any unicode)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        checkAll(s);
      }),
      { numRuns: RUNS },
    );
  });

  it("on random sequences of the language's tokens", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...WORDS), { maxLength: 80 }), fc.array(fc.constantFrom(" ", "", "\n", "\t"), { minLength: 80, maxLength: 80 }), (words, gaps) => {
        checkAll(words.map((w, i) => w + gaps[i]).join(""));
      }),
      { numRuns: RUNS },
    );
  });

  it("on mutated examples (deletions, insertions, duplications)", () => {
    const mutation = fc.record({
      example: fc.nat({ max: EXAMPLES.length - 1 }),
      edits: fc.array(
        fc.record({
          kind: fc.constantFrom("delete", "insert", "duplicate", "replace"),
          at: fc.nat(),
          len: fc.nat({ max: 12 }),
          word: fc.constantFrom(...WORDS),
        }),
        { minLength: 1, maxLength: 4 },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ example, edits }) => {
        let text = EXAMPLES[example]!;
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          if (e.kind === "delete") text = text.slice(0, at) + text.slice(at + e.len);
          else if (e.kind === "insert") text = text.slice(0, at) + e.word + text.slice(at);
          else if (e.kind === "duplicate") text = text.slice(0, at + e.len) + text.slice(at, at + e.len) + text.slice(at + e.len);
          else text = text.slice(0, at) + e.word + text.slice(at + e.len);
        }
        checkAll(text);
      }),
      { numRuns: RUNS },
    );
  });

  it("the mutations do reach errors and valid variants alike", () => {
    // Guards the property above against testing only one kind of input.
    const broken = parse(EXAMPLES[0]!.replace("{", "")).diagnostics;
    expect(broken.length).toBeGreaterThan(0);
    expect(parse(EXAMPLES[0]!.replace("\n", "\n\n")).diagnostics).toEqual([]);
  });
});
