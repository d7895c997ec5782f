import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import {
  createRunDir,
  defaultRunDir,
  removeIfEmpty,
  removeTempFiles,
  writeAtomic,
} from "../../src/runtime/run/files.js";
import { historyColumns, historyCsv, historyJson } from "../../src/runtime/run/history.js";
import { curvesSvg, niceTicks, svgToPng } from "../../src/runtime/run/plots.js";
import { formatLogs, ProgressReporter, seconds } from "../../src/runtime/run/progress.js";
import { fallbackSummary } from "../../src/runtime/run/summary.js";
import { bestOf, sweepTable } from "../../src/runtime/run/index.js";
import { fakeModel } from "./fake-engine.js";
import { Writable } from "node:stream";

const tmp = mkdtempSync(join(tmpdir(), "nnc-runfiles-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("run directory files", () => {
  it("defaultRunDir is runs/<model>-<YYYYMMDD-HHMMSS>, suffixed when taken", () => {
    const when = new Date(2026, 0, 2, 3, 4, 5);
    const base = join(tmp, "runs");
    expect(defaultRunDir("my model", when, base)).toBe(join(base, "my_model-20260102-030405"));
    mkdirSync(join(base, "mlp-20260102-030405"), { recursive: true });
    expect(defaultRunDir("mlp", when, base)).toBe(join(base, "mlp-20260102-030405-2"));
  });

  it("writeAtomic leaves only the final file; removeTempFiles clears leftovers; removeIfEmpty only removes empty trees", () => {
    const dir = join(tmp, "atomic");
    writeAtomic(join(dir, "a", "x.json"), "{}");
    expect(readdirSync(join(dir, "a"))).toEqual(["x.json"]);
    writeFileSync(join(dir, "a", `weights.bin.tmp-123-abc9`), "half");
    writeFileSync(join(dir, "keep.tmp"), "not ours");
    expect(removeTempFiles(dir)).toEqual([join(dir, "a", "weights.bin.tmp-123-abc9")]);
    expect(readdirSync(join(dir, "a"))).toEqual(["x.json"]);
    expect(removeIfEmpty(dir)).toBe(false);
    const empty = join(tmp, "empty");
    mkdirSync(join(empty, "model", "sub"), { recursive: true });
    expect(removeIfEmpty(empty)).toBe(true);
    expect(existsSync(empty)).toBe(false);
  });

  it("createRunDir refuses a file", () => {
    const f = join(tmp, "file");
    writeFileSync(f, "");
    expect(() => createRunDir(f)).toThrow(/is a file, not a folder/);
  });
});

describe("history", () => {
  const h = [
    { val_accuracy: 0.9, loss: 0.5, lr: 0.01, accuracy: 0.8, val_loss: 0.4 },
    {
      val_accuracy: 0.95,
      loss: Number.NaN,
      lr: 0.005,
      accuracy: 0.85,
      val_loss: Number.POSITIVE_INFINITY,
      precision: 0.7,
    },
  ];
  it("orders columns loss, metrics, val_loss, val_metrics, lr", () => {
    expect(historyColumns(h)).toEqual(["loss", "accuracy", "precision", "val_loss", "val_accuracy", "lr"]);
  });
  it("writes CSV with nan/inf and empty cells, JSON with null", () => {
    expect(historyCsv(h)).toBe(
      "epoch,loss,accuracy,precision,val_loss,val_accuracy,lr\n1,0.5,0.8,,0.4,0.9,0.01\n2,nan,0.85,0.7,inf,0.95,0.005\n",
    );
    const j = JSON.parse(historyJson(h));
    expect(j.epochs).toBe(2);
    expect(j.history[1]).toEqual({
      epoch: 2,
      loss: null,
      accuracy: 0.85,
      precision: 0.7,
      val_loss: null,
      val_accuracy: 0.95,
      lr: 0.005,
    });
    expect(j.history[0].precision).toBeNull();
  });
  it("bestOf picks by mode and skips missing values", () => {
    expect(bestOf(h, "val_accuracy", "max")).toBe(0.95);
    expect(bestOf(h, "val_loss", "min")).toBe(0.4);
    expect(bestOf(h, "nope", "min")).toBeNull();
  });
});

describe("curves", () => {
  it("niceTicks covers the range with round steps", () => {
    expect(niceTicks(0.03, 0.97, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.9, 0.98, 5)).toEqual([0.9, 0.92, 0.94, 0.96, 0.98]);
    expect(niceTicks(2, 2).length).toBeGreaterThan(1);
  });

  it("draws loss and accuracy panels as valid SVG, escaping the title, and renders a PNG with visible text", () => {
    const h = Array.from({ length: 6 }, (_, i) => ({
      loss: 1 / (i + 1),
      accuracy: 0.5 + i / 20,
      val_loss: 1.1 / (i + 1),
      val_accuracy: 0.55 + i / 20,
    }));
    const svg = curvesSvg(h, "a <b> & c");
    expect(svg).toContain("a &lt;b&gt; &amp; c");
    expect(svg.match(/<path /g)).toHaveLength(4);
    expect(svg).toContain(">loss</text>");
    expect(svg).toContain(">accuracy</text>");
    const noAcc = curvesSvg([{ loss: 1 }, { loss: 0.5 }]);
    expect(noAcc).not.toContain(">accuracy</text>");
    const png = PNG.sync.read(svgToPng(svg));
    expect([png.width, png.height]).toEqual([1920, 792]);
    // text is rendered: the title band (above the panels) has dark pixels in its middle
    let dark = 0;
    for (let y = 20; y < 60; y++) for (let x = 700; x < 1220; x++) if (png.data[(y * png.width + x) * 4] < 100) dark++;
    expect(dark).toBeGreaterThan(200);
  });
});

describe("progress and tables", () => {
  class Capture extends Writable {
    text = "";
    override _write(c: Buffer, _e: string, cb: () => void) {
      this.text += c.toString();
      cb();
    }
  }
  it("prints one plain line per epoch when not interactive", () => {
    const s = new Capture();
    const p = new ProgressReporter({ interactive: false, stream: s, prefix: "[w=1] " });
    p.onTrainBegin({ epochs: 2, stepsPerEpoch: 3, trainSamples: 90, validationSamples: 10 });
    p.onBatchEnd(0, { loss: 1 });
    p.onEpochEnd(0, { lr: 0.001, val_loss: 0.5, loss: 0.6, accuracy: 0.7 });
    p.log("reduce_on_plateau: lr 0.001 -> 0.0005");
    p.onEpochEnd(1, { loss: 0.4 });
    expect(s.text).toMatch(
      /^\[w=1\] training on 90 samples, validating on 10: 2 epochs of 3 steps\n\[w=1\] epoch 1\/2  loss 0\.6000  accuracy 0\.7000  val_loss 0\.5000  lr 0\.001  \d+\.\ds  ETA \d+\.\ds\n\[w=1\] reduce_on_plateau: lr 0\.001 -> 0\.0005\n\[w=1\] epoch 2\/2  loss 0\.4000  \d+\.\ds\n$/,
    );
    expect(formatLogs({ val_accuracy: 0.5, loss: Number.NaN })).toBe("loss NaN  val_accuracy 0.5000");
    // Durations: rounded to the second before splitting (the ETA once read "835m60s").
    expect([41.26, 59.96, 63.4, 50159.7, 3599.6].map(seconds)).toEqual(["41.3s", "1m00s", "1m03s", "836m00s", "60m00s"]);
  });
  it("sweepTable marks the best row", () => {
    expect(
      sweepTable(
        ["latent"],
        [
          { values: { latent: 100 }, metric: 0.9 },
          { values: { latent: 200 }, metric: null },
        ],
        "val_accuracy",
        0,
      ),
    ).toBe("#  latent  val_accuracy\n-  ------  ------------\n1  100     0.9000  <- best\n2  200     n/a");
  });
  it("fallbackSummary lists layers and params", () => {
    expect(fallbackSummary(fakeModel("m", 32))).toMatch(
      /Model: "m"[^]*dense_1 \(dense\)\s+\(None, 32\)\s+25120[^]*Total params: 25450/,
    );
  });
});
