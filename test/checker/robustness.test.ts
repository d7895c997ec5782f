// compileSource never throws and never reports an internal error (E999) on mangled input, and
// any IR it returns validates against ir.schema.json. Mutations of the examples and golden
// cases: deleted characters, inserted tokens.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";

const root = join(import.meta.dirname, "../..");
const sources = [
  ...readdirSync(join(root, "examples")).filter((f) => f.endsWith(".nn")).map((f) => readFileSync(join(root, "examples", f), "utf8")),
  ...readdirSync(join(root, "test/golden/semantic")).filter((f) => f.endsWith(".nn")).map((f) => readFileSync(join(root, "test/golden/semantic", f), "utf8")),
];
const validateIR = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(join(root, "src/compiler/ir.schema.json"), "utf8")) as object);
const pieces = ["0", "-1", "1.5", "x", "a", "(", ")", "[", "]", "{", "}", ",", ":", "->", "relu", "dense(3)", "add(a, a)", "\n", "same", "1e400", "/0", "*", "input", "flatten", "concat(a, b)", "= ", "\"s\"", "true", "repeat 2 {", "for u in [1, 2] {", "val_loss", "sweep x in [1]"];

const mutation = fc.record({
  source: fc.integer({ min: 0, max: sources.length - 1 }),
  edits: fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), del: fc.integer({ min: 0, max: 5 }), insert: fc.integer({ min: -1, max: pieces.length - 1 }) }), { minLength: 1, maxLength: 3 }),
});

describe("robustness", () => {
  it("never crashes on mangled sources; returned IR is valid", () => {
    fc.assert(
      fc.property(mutation, ({ source, edits }) => {
        let s = sources[source];
        for (const e of edits) {
          const pos = Math.floor(e.at * s.length);
          s = s.slice(0, pos) + (e.insert >= 0 ? pieces[e.insert] : "") + s.slice(pos + e.del);
        }
        const { ir, diagnostics } = compileSource(s, "fuzz.nn");
        expect(diagnostics.filter((d) => d.code === "E999")).toEqual([]);
        for (const d of diagnostics) expect(d.span.startLine).toBeGreaterThanOrEqual(1);
        if (ir) expect(validateIR(ir)).toBe(true);
        else expect(diagnostics.some((d) => d.severity === "error")).toBe(true);
      }),
      { numRuns: 300, seed: 20261122 },
    );
  });
});
