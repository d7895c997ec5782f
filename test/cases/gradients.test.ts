// Per-feature cases: the standalone target's backward pass against central finite differences.
import { describe, expect, it } from "vitest";
import { gradientCheck, loadInternals } from "../standalone/harness.js";
import { N, casesIn, fill, hasStochastic } from "./cases.js";
describe("gradients (standalone backward vs finite differences)", () => {
  // Dropout draws a new mask per pass, so finite differences cannot see its gradient here; its
  // fixed-mask gradient is checked in test/standalone/gradients.test.ts.
  for (const c of casesIn("layers", "activations", "regularizers", "losses").filter((x) => !hasStochastic(x.ir))) {
    it(`${c.folder}/${c.name}`, async () => {
      const m = await loadInternals(c.ir);
      m.initializeWeights(3);
      // Small inputs keep float32 sums small and the kinks of relu/max out of the probes' reach.
      fill(m, c.ir, N, 7, 0.1);
      const r = gradientCheck(m, N, { training: true, eps: 1e-3 });
      expect(r.checked).toBeGreaterThan(0);
      expect(r.worst, r.where).toBeLessThan(5e-2);
    });
  }
});

