// Every catalog entry of the covered categories has a case, and each case's IR and summary are
// pinned by a baseline (test/golden/cases/<folder>/<name>.*): a change to an entry shows in its
// own case's files only. Every value of an enum or boolean parameter is used by some case.
import { describe, expect, it } from "vitest";
import { catalog } from "../../src/compiler/catalog/index.js";
import { formatSummary } from "../../src/compiler/summary.js";
import { expectGolden } from "../helpers/golden.js";
import { FOLDERS, allCases, enumValues, kindsUsed, usesOf, type Folder } from "./cases.js";

describe("per-feature cases", () => {
  for (const [folder, category] of Object.entries(FOLDERS) as [Folder, (typeof FOLDERS)[Folder]][]) {
    it(`every ${category} has a case in test/cases/${folder}/ that uses it`, () => {
      const cases = allCases().filter((c) => c.folder === folder);
      const missing = catalog[category].map((e) => e.name).filter((k) => !cases.some((c) => c.kind === k));
      expect(missing, `add test/cases/${folder}/<name>.nn for each`).toEqual([]);
      for (const c of cases) expect([...kindsUsed(c)], c.file).toContain(c.kind);
    });
  }

  it("every value of every enum or boolean parameter of those entries is used by some case", () => {
    const uses = allCases().flatMap((c) => usesOf(c).map((u) => ({ ...u, source: c.source })));
    const missing: string[] = [];
    for (const category of Object.values(FOLDERS)) {
      for (const entry of catalog[category]) {
        const props = (entry.schema.properties ?? {}) as Record<string, { enum?: unknown[]; type?: unknown; default?: unknown }>;
        for (const [param, schema] of Object.entries(props)) {
          const mine = uses.filter((u) => u.category === category && u.kind === entry.name);
          for (const value of enumValues(schema) ?? []) {
            // a default the checker resolves into another value (mode: auto -> min or max) is
            // covered by a case that leaves the parameter out
            const byDefault = value === schema.default && mine.some((u) => !new RegExp(`\\b${param}\\s*:`).test(u.source));
            if (!mine.some((u) => u.args[param] === value) && !byDefault) missing.push(`${entry.name}(${param}: ${String(value)})`);
          }
        }
      }
    }
    expect(missing, "add a case test/cases/<folder>/<kind>-<variant>.nn for each").toEqual([]);
  });

  for (const c of allCases()) {
    it(`baselines: ${c.folder}/${c.name}`, async () => {
      const { source: _source, ...ir } = c.ir;
      await expectGolden(JSON.stringify(ir, null, 2), `cases/${c.folder}/${c.name}.ir.json`);
      await expectGolden(formatSummary(c.ir.model), `cases/${c.folder}/${c.name}.summary.txt`);
    });
  }
});
