// The front end's fuzz test (issue 12): parse + check + fmt on generated and mutated inputs
// (bench/fuzz-lib.ts) never throw, never report an internal error (E999, E199), and position
// every diagnostic inside the file. A few seconds here; `npm run fuzz -- --seconds N` runs a
// long campaign in a worker thread with a watchdog.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diagnosticProblems, judge, mutatedSource, seedSources, soupSource, structuredSource } from "../bench/fuzz-lib.js";

const seeds = seedSources();
/** A hang guard, not a speed claim: one small input taking this long means unbounded work. */
const HANG_MS = 1000;

function run(arb: fc.Arbitrary<string>, numRuns: number, seed: number): void {
  let slowest = { ms: 0, text: "" };
  fc.assert(
    fc.property(arb, (text) => {
      const v = judge(text);
      if (v.ms > slowest.ms) slowest = { ms: v.ms, text };
      expect(v.problems).toEqual([]);
    }),
    { numRuns, seed },
  );
  // Judged again when over the guard, so that one pause of a loaded machine does not fail it.
  if (slowest.ms > HANG_MS) expect(judge(slowest.text).ms, `slow input:\n${slowest.text.slice(0, 500)}`).toBeLessThan(HANG_MS);
}

describe("fuzz: parse + check + fmt", () => {
  it("mutated examples and golden cases", () => run(mutatedSource(seeds), 150, 12_001));
  it("programs of random layers, loops, blocks and settings", () => run(structuredSource, 300, 12_002));
  it("token soup", () => run(soupSource, 150, 12_003));
  it("the oracle flags internal errors and diagnostics outside the file", () => {
    const span = { startOffset: 0, endOffset: 3, startLine: 1, startColumn: 1, endLine: 1, endColumn: 4 };
    expect(diagnosticProblems("check", [{ severity: "error", code: "E301", message: "m", span }], 10, 2)).toEqual([]);
    expect(diagnosticProblems("check", [{ severity: "error", code: "E999", message: "boom", span }], 10, 2)).toEqual(["check: internal error E999: boom"]);
    expect(diagnosticProblems("parse", [{ severity: "error", code: "E111", message: "m", span: { ...span, endOffset: 11 } }], 10, 2)).toHaveLength(1);
    expect(diagnosticProblems("parse", [{ severity: "error", code: "E111", message: "m", span: { ...span, startLine: 3, endLine: 3 } }], 10, 2)).toHaveLength(1);
    expect(judge("model m {\n  input vector(4)\n  dense(2)\n}\n").problems).toEqual([]);
    expect(seeds.length).toBeGreaterThan(100);
  });
});
