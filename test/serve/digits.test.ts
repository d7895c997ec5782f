// The preprocessing shared by `nnc predict` and the drawing pad (src/runtime/digits.ts), and the
// event log `nnc run` appends for `nnc serve` (src/runtime/run/events.ts).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { classNamesFor, greyFromRgba, preprocessDigit } from "../../src/runtime/digits.js";
import { decodePng } from "../../src/runtime/predict.js";
import { EventLog, removeLonelyEventLogs, teeHooks } from "../../src/runtime/run/events.js";
import { parseEvents } from "../../src/serve/runs.js";
import { fakeIR } from "../runtime/fake-engine.js";

const tmp = mkdtempSync(join(tmpdir(), "nnc-digits-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** RGBA of a 280x280 canvas-like drawing: a thick anti-aliased "7" in black on white. */
function drawing(): Uint8ClampedArray {
  const rgba = new Uint8ClampedArray(280 * 280 * 4);
  for (let y = 0; y < 280; y++) {
    for (let x = 0; x < 280; x++) {
      const top = y > 50 && y < 72 && x > 60 && x < 220;
      const diag = Math.abs(x - (220 - (y - 60) * 0.55)) < 11 && y >= 60 && y < 240;
      const edge = Math.abs(y - 50) < 2 && x > 60 && x < 220;
      const v = top || diag ? 0 : edge ? 128 : 255;
      rgba.set([v, v, v, 255], (y * 280 + x) * 4);
    }
  }
  return rgba;
}

describe("digits.ts: one preprocessing for nnc predict and the page", () => {
  it("gives the same 28x28 input from canvas RGBA as nnc predict from the same pixels saved as PNG", () => {
    const rgba = drawing();
    const png = new PNG({ width: 280, height: 280 });
    png.data.set(rgba);
    const file = PNG.sync.write(png);
    const fromCanvas = preprocessDigit(greyFromRgba(rgba, 280, 280));
    const fromPng = preprocessDigit(decodePng(file));
    expect(Array.from(fromCanvas)).toEqual(Array.from(fromPng));
    // and it is a digit: ink, centred by mass near (14, 14), within a 20x20 box
    let mass = 0;
    let mx = 0;
    let my = 0;
    fromCanvas.forEach((v, i) => {
      mass += v;
      mx += v * (i % 28);
      my += v * Math.floor(i / 28);
    });
    expect(mass).toBeGreaterThan(20);
    expect(Math.abs(mx / mass - 14)).toBeLessThan(1);
    expect(Math.abs(my / mass - 14)).toBeLessThan(1);
  });

  it("composites transparency over white, as a PNG with alpha is read", () => {
    const rgba = new Uint8ClampedArray(4 * 4 * 4); // fully transparent
    rgba.set([0, 0, 0, 255], (1 * 4 + 1) * 4);
    const g = greyFromRgba(rgba, 4, 4);
    expect(g.pixels[0]).toBe(1);
    expect(g.pixels[5]).toBe(0);
  });

  it("names the classes from the model's metadata", () => {
    expect(classNamesFor({}, 10)[3]).toBe("3");
    expect(classNamesFor({ dataset: "fashion_mnist" }, 10)[9]).toBe("Ankle boot");
    expect(classNamesFor({ classNames: ["a", "b"] }, 2)).toEqual(["a", "b"]);
    expect(classNamesFor({ classNames: ["a", "b"] }, 3)).toEqual(["0", "1", "2"]);
  });
});

describe("events.jsonl", () => {
  it("records start, begin, batches (steps within the epoch, whichever way the engine counts), epochs, logs and the end", () => {
    const dir = join(tmp, "run");
    mkdirSync(dir);
    const seen: string[] = [];
    const log = new EventLog(dir, { file: "mlp.nn", ir: fakeIR() });
    const hooks = teeHooks({ onEpochEnd: (e) => seen.push(`progress ${e}`) }, log);
    hooks.onTrainBegin!({ epochs: 2, stepsPerEpoch: 3, trainSamples: 9, validationSamples: 0 });
    for (let step = 0; step < 3; step++) hooks.onBatchEnd!(step, { loss: 1 - step / 10, accuracy: 0.5 });
    hooks.onEpochEnd!(0, { loss: 0.8, val_loss: Number.NaN, lr: 0.001 });
    hooks.log!("checkpoint: val_loss improved, saving");
    for (let step = 3; step < 6; step++) hooks.onBatchEnd!(step, { loss: 0.5 }); // a global step count
    hooks.onEpochEnd!(1, { loss: 0.4 });
    log.end("done");
    const records = parseEvents(readFileSync(join(dir, "events.jsonl"), "utf8"));
    expect(records.map((r) => r.type)).toEqual([
      "start",
      "begin",
      "batch",
      "batch",
      "batch",
      "epoch",
      "log",
      "batch",
      "batch",
      "batch",
      "epoch",
      "end",
    ]);
    expect(records[0]).toMatchObject({ file: "mlp.nn", model: fakeIR().model.name, pid: process.pid });
    expect(records[0]!.settings).toMatchObject({ batchSize: fakeIR().training!.batchSize });
    expect(records.filter((r) => r.type === "batch").map((r) => [r.epoch, r.step])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 1],
      [1, 2],
    ]);
    expect(records[5]).toEqual({ type: "epoch", epoch: 0, logs: { loss: 0.8, val_loss: null, lr: 0.001 } });
    expect(records[11]).toMatchObject({ type: "end", status: "done" });
    expect(seen).toEqual(["progress 0", "progress 1"]);
  });

  it("removes event logs only when they are all a failed run left", () => {
    const lonely = join(tmp, "lonely");
    mkdirSync(join(lonely, "sweep", "1-a"), { recursive: true });
    writeFileSync(join(lonely, "events.jsonl"), "{}\n");
    writeFileSync(join(lonely, "sweep", "1-a", "events.jsonl"), "{}\n");
    removeLonelyEventLogs(lonely);
    expect(existsSync(join(lonely, "events.jsonl"))).toBe(false);
    expect(existsSync(join(lonely, "sweep", "1-a", "events.jsonl"))).toBe(false);
    const kept = join(tmp, "kept");
    mkdirSync(kept);
    writeFileSync(join(kept, "events.jsonl"), "{}\n");
    writeFileSync(join(kept, "history.json"), "{}\n");
    removeLonelyEventLogs(kept);
    expect(existsSync(join(kept, "events.jsonl"))).toBe(true);
  });
});
