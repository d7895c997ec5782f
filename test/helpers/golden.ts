// Golden files: compare a value against a file under test/golden/, (re)written only when
// vitest runs with -u (`npx vitest run -u`). Built on vitest's toMatchFileSnapshot, which
// honours -u; review golden diffs like code.
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "golden");

/** Asserts that `actual` equals the golden file `path` (relative to test/golden/ unless absolute). */
export async function expectGolden(actual: string, path: string): Promise<void> {
  const file = isAbsolute(path) ? path : join(GOLDEN_DIR, path);
  await expect(actual.endsWith("\n") ? actual : `${actual}\n`).toMatchFileSnapshot(file);
}
