// `nnc evaluate RUN_DIR`: golden output on a small, deterministic run (synthetic idx files, the
// standalone engine's TypeScript kernels on one thread), its agreement with the run's own test
// figures, the misclassified-images PNG, and its errors.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSyntheticMnist } from "./helpers/data.js";
import { expectGolden } from "./helpers/golden.js";
import { nnc, trainRun } from "./helpers/run-dir.js";

const here = dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "nnc-evaluate-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = join(tmp, "data");
const runDir = join(tmp, "run");

beforeAll(async () => {
  writeSyntheticMnist(data, { train: 96, test: 40 });
  const r = await trainRun(join(here, "export", "fixtures", "half-trained.nn"), runDir, ["--data", data]);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

describe("nnc evaluate", () => {
  it("prints loss, metrics, the confusion matrix and per-class precision/recall (golden)", async () => {
    const png = join(tmp, "wrong.png");
    const r = await nnc("evaluate", runDir, "--data", data, "--misclassified", png);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    await expectGolden(r.stdout.replaceAll(png, "<tmp>/wrong.png"), "evaluate/half-trained.txt");
  }, 60_000);

  it("agrees with the run's own test evaluation, and --json has it all", async () => {
    const r = await nnc("evaluate", runDir, "--data", data, "--json");
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout);
    const result = JSON.parse(readFileSync(join(runDir, "result.json"), "utf8"));
    expect(result.evaluation).toMatchObject({ dataset: "mnist", classes: 10, labels: "onehot", metrics: ["accuracy"] });
    expect(e.samples).toBe(40);
    expect(e.metrics.accuracy).toBe(result.testAccuracy);
    expect(e.loss).toBeCloseTo(result.testLoss, 5);
    const total = e.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    const diagonal = e.confusion.reduce((a: number, row: number[], i: number) => a + row[i]!, 0);
    expect(total).toBe(40);
    expect(diagonal / total).toBe(e.metrics.accuracy);
    expect(e.misclassified).toBe(total - diagonal);
    expect(e.perClass.map((c: { support: number }) => c.support)).toEqual(e.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0)));
  }, 60_000);

  it("--test-limit evaluates the first N test images", async () => {
    const r = await nnc("evaluate", runDir, "--data", data, "--json", "--test-limit", "10");
    expect(JSON.parse(r.stdout).samples).toBe(10);
  }, 60_000);

  it("writes the misclassified images as a PNG grid", async () => {
    const png = join(tmp, "grid.png");
    const r = await nnc("evaluate", runDir, "--data", data, "--json", "--misclassified", png);
    const e = JSON.parse(r.stdout);
    expect(e.misclassified).toBeGreaterThan(10);
    const image = PNG.sync.read(readFileSync(png));
    // 10 images a row, 92 x 96 px cells under a 40 px title, rendered at 2x
    expect(image.width).toBe((10 * 92 + 16) * 2);
    expect(image.height).toBe((40 + Math.ceil(e.misclassified / 10) * 96 + 8) * 2);
    // the digits are drawn: dark ink in the first cell
    let dark = 0;
    for (let y = 80; y < 190; y++) for (let x = 16; x < 200; x++) if (image.data[(y * image.width + x) * 4]! < 64) dark++;
    expect(dark).toBeGreaterThan(50);
  }, 60_000);

  it("a folder that is not a finished run: a clear error, exit 2", async () => {
    const empty = join(tmp, "empty");
    mkdirSync(empty);
    const r = await nnc("evaluate", empty);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`nnc: ${empty} has no result.json: not a finished run directory of \`nnc run\``);
    const usage = await nnc("evaluate", runDir, "--test-limit", "0");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--test-limit must be a positive integer");
  });
});
