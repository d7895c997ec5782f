// Every catalog entry has a standalone implementation: fails when a concept is added to the
// catalog (src/compiler/catalog) without teaching the standalone target about it.
import { describe, expect, it } from "vitest";
import { catalog } from "../../src/compiler/catalog/index.js";
import { STANDALONE_SUPPORT } from "../../src/compiler/targets/standalone/index.js";
import { fillInitializer, Random } from "../../src/runtime/random.js";

describe("the standalone target implements the whole catalog", () => {
  for (const [category, supported] of Object.entries(STANDALONE_SUPPORT)) {
    it(`${category}`, () => {
      const entries = catalog[category as keyof typeof catalog];
      expect(entries, `catalog has no category ${category}`).toBeDefined();
      const missing = entries
        .map((e) => e.name)
        .filter((name) => !supported.includes(name));
      expect(
        missing,
        `catalog ${category} entries without a standalone implementation`,
      ).toEqual([]);
    });
  }
  it("initializer (random.ts, shared with the tfjs engine)", () => {
    for (const entry of catalog.initializer) {
      const out = new Float32Array(12);
      expect(
        () =>
          fillInitializer(
            { kind: entry.name, args: {} },
            [3, 4],
            new Random(1),
            out,
          ),
        entry.name,
      ).not.toThrow();
    }
  });
  it("covers every category the target consumes", () => {
    const categories = Object.keys(catalog).filter(
      (c) => !["input_shape", "setting", "initializer"].includes(c),
    );
    expect(categories.filter((c) => !(c in STANDALONE_SUPPORT))).toEqual([]);
  });
});
