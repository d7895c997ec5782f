// Every catalog entry of the covered categories has a case, and each case's IR and summary are
// pinned by a baseline (test/golden/cases/<folder>/<name>.*): a change to an entry shows in its
// own case's files only.
import { describe, expect, it } from "vitest";
import { catalog } from "../../src/compiler/catalog/index.js";
import { formatSummary } from "../../src/compiler/summary.js";
import { expectGolden } from "../helpers/golden.js";
import { FOLDERS, allCases, kindsUsed, type Folder } from "./cases.js";

describe("per-feature cases", () => {
  for (const [folder, category] of Object.entries(FOLDERS) as [Folder, (typeof FOLDERS)[Folder]][]) {
    it(`every ${category} has a case in test/cases/${folder}/ that uses it`, () => {
      const cases = allCases().filter((c) => c.folder === folder);
      const missing = catalog[category].map((e) => e.name).filter((k) => !cases.some((c) => c.kind === k));
      expect(missing, `add test/cases/${folder}/<name>.nn for each`).toEqual([]);
      for (const c of cases) expect([...kindsUsed(c)], c.file).toContain(c.kind);
    });
  }

  for (const c of allCases()) {
    it(`baselines: ${c.folder}/${c.name}`, async () => {
      const { source: _source, ...ir } = c.ir;
      await expectGolden(JSON.stringify(ir, null, 2), `cases/${c.folder}/${c.name}.ir.json`);
      await expectGolden(formatSummary(c.ir.model), `cases/${c.folder}/${c.name}.summary.txt`);
    });
  }
});
