// Property: comments inserted anywhere a line may end (after any token of an example) are all
// kept by fmt, in order, and the round trip and idempotence hold.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { format } from "../../src/compiler/format.js";
import { parse } from "../../src/parser/index.js";
import { lastOffsetOf, lex } from "../../src/parser/lexer.js";
import { stripSpans } from "../parser/helpers.js";

const DIR = join(__dirname, "..", "..", "examples");
const EXAMPLES = readdirSync(DIR)
  .filter((f) => f.endsWith(".nn"))
  .map((f) => readFileSync(join(DIR, f), "utf8"));
const ENDS = EXAMPLES.map((t) => lex(t).tokens.filter((k) => k.tokenType.name !== "Sep").map((k) => lastOffsetOf(k) + 1));

describe("fmt keeps comments wherever they are", () => {
  it("comments after random tokens", () => {
    let valid = 0;
    fc.assert(
      fc.property(fc.nat({ max: EXAMPLES.length - 1 }), fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 5 }), (ex, picks) => {
        const text = EXAMPLES[ex]!;
        const ends = ENDS[ex]!;
        const at = [...new Set(picks.map((p) => ends[p % ends.length]!))].sort((a, b) => b - a);
        let messy = text;
        at.forEach((o, i) => {
          messy = `${messy.slice(0, o)} # c${i}\n${messy.slice(o)}`;
        });
        const before = parse(messy);
        if (before.diagnostics.length > 0) return; // the line break ended a statement too early
        valid++;
        const once = format(messy);
        expect(once.diagnostics).toEqual([]);
        const after = parse(once.text);
        expect(after.diagnostics).toEqual([]);
        expect(stripSpans(after.program.decls)).toEqual(stripSpans(before.program.decls));
        expect(after.program.comments.map((c) => c.text)).toEqual(before.program.comments.map((c) => c.text));
        expect(format(once.text).text).toBe(once.text);
      }),
      { numRuns: 200 },
    );
    // Most insertions land where a line may end; make sure the property was really exercised.
    expect(valid).toBeGreaterThan(50);
  });
});
