// Strings from the .nn file (file name, source lines, monitors, paths, separators) cannot change
// the generated Python program: they enter it only through pyStr (string literals) or hashComment
// (one-line comments). The program is generated with hostile strings everywhere and run; the
// injected code never runs, and the hostile csv path and separator come out byte for byte.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { generatePytorch } from "../../src/compiler/targets/pytorch/index.js";
import { writeSyntheticMnist } from "../helpers/data.js";
import { buildModelIR, ref } from "../standalone/ir-builder.js";
import { PYTHON } from "./python.js";

const work = mkdtempSync(join(tmpdir(), "nnc-pt-injection-"));
const MARK = join(work, "PWNED").replace(/\\/g, "/");
const act = `open(${JSON.stringify(MARK)}, "w")`;
const EVIL = [
  `"; ${act}; "`,
  `"""; ${act}; """`,
  `'''; ${act}; '''`,
  `\n${act} #`,
  `\r${act} #`,
  `\u2028${act} #`,
  `\u0085${act} #`,
  `{${act}}`,
  `\\`,
  `\u0000`,
].join("|");
const CSV_PATH = `log ${EVIL.split("|").slice(0, 3).join("|").replace(/[/\\]/g, "_")} {x}.csv`;

it("hostile .nn strings stay inert in the PyTorch program, and the csv path is kept exactly", () => {
  const ir = buildModelIR(
    [28, 28, 1],
    [{ kind: "flatten" }, { kind: "dense", args: { units: 10, activation: ref("softmax") } }],
    {
      callbacks: [ref("csv_logger", { path: CSV_PATH, separator: EVIL, append: false })],
      batchSize: 16,
    },
  );
  ir.source.file = EVIL;
  for (const l of ir.model.layers) l.source.text = EVIL;
  const program = join(work, "program.py");
  writeFileSync(program, generatePytorch(ir, { sourceText: `${EVIL}\n${EVIL}\n` }));
  const data = writeSyntheticMnist(join(work, "data"), { train: 32, test: 16 });
  const out = join(work, "out");
  const r = spawnSync(PYTHON, [program, "--data", data, "--out", out, "--epochs", "1", "--quiet"], { encoding: "utf8", cwd: work, timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(existsSync(MARK)).toBe(false);
  const csv = readFileSync(join(out, CSV_PATH), "utf8");
  // the separator holds line breaks itself: the header is the whole start of the file (epochs count from 0, as Keras and the standalone program write them)
  expect(csv.startsWith(`${["epoch", "loss", "accuracy", "lr"].join(EVIL)}\n0${EVIL}`)).toBe(true);
  const meta = JSON.parse(readFileSync(join(out, "result.json"), "utf8"));
  expect(meta.files).toContain(CSV_PATH);
});
