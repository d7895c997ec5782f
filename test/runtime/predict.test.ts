import { describe, expect, it } from "vitest";
import { decodePng, preprocessDigit, resampleArea, toProbabilities } from "../../src/runtime/predict.js";
import { loadMnist } from "../../src/runtime/data/mnist.js";
import { mnistDir } from "../helpers/data.js";
import { inkPng, makePng } from "./png.js";

function bbox(a: Float32Array, t = 0.05): { top: number; bottom: number; left: number; right: number } {
  let top = 28,
    bottom = -1,
    left = 28,
    right = -1;
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++)
      if (a[y * 28 + x] > t) {
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
  return { top, bottom, left, right };
}
function com(a: Float32Array): [number, number] {
  let m = 0,
    sy = 0,
    sx = 0;
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) {
      const v = a[y * 28 + x];
      m += v;
      sy += v * y;
      sx += v * x;
    }
  return [sy / m, sx / m];
}

describe("MNIST-style preprocessing", () => {
  const square = inkPng(100, 100, (x, y) => x >= 50 && x < 80 && y >= 10 && y < 40);

  it("inverts a light background, crops, scales to 20x20 and centres by mass", () => {
    const out = preprocessDigit(decodePng(square));
    expect(out).toHaveLength(784);
    expect(bbox(out)).toEqual({ top: 5, bottom: 24, left: 5, right: 24 });
    const [cy, cx] = com(out);
    expect(Math.abs(cy - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(cx - 14)).toBeLessThanOrEqual(0.5);
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(400, 3);
    expect(Math.max(...out)).toBe(1);
  });

  it("keeps the aspect ratio of a tall stroke", () => {
    const bar = inkPng(80, 100, (x, y) => x >= 30 && x < 40 && y >= 20 && y < 80); // 10 wide, 60 tall
    const b = bbox(preprocessDigit(decodePng(bar)));
    expect(b.bottom - b.top + 1).toBe(20);
    expect(b.right - b.left + 1).toBe(3); // round(10 * 20 / 60)
  });

  it("treats light ink on dark paper and black ink on a transparent background the same way", () => {
    const ref = preprocessDigit(decodePng(square));
    const dark = makePng(100, 100, (x, y) =>
      x >= 50 && x < 80 && y >= 10 && y < 40 ? [250, 250, 250, 255] : [10, 10, 10, 255],
    );
    expect(Array.from(preprocessDigit(decodePng(dark)))).toEqual(Array.from(ref));
    const transparent = makePng(100, 100, (x, y) =>
      x >= 50 && x < 80 && y >= 10 && y < 40 ? [0, 0, 0, 255] : [0, 0, 0, 0],
    );
    expect(Array.from(preprocessDigit(decodePng(transparent)))).toEqual(Array.from(ref));
  });

  it("ignores grey paper and a faint border tone", () => {
    const grey = makePng(60, 60, (x, y) =>
      x >= 20 && x < 40 && y >= 20 && y < 40 ? [40, 40, 40, 255] : [200, 200, 200, 255],
    );
    const out = preprocessDigit(decodePng(grey));
    expect(bbox(out)).toEqual({ top: 5, bottom: 24, left: 5, right: 24 });
    expect(out[0]).toBe(0);
    expect(out[14 * 28 + 14]).toBe(1);
  });

  it("says when there is no ink or the file is not a PNG", () => {
    expect(() => preprocessDigit(decodePng(inkPng(20, 20, () => false)), "blank.png")).toThrow(/blank\.png has no ink/);
    expect(() => decodePng(Buffer.from("GIF89a not a png"), "x.gif")).toThrow(/x\.gif is not a readable PNG image/);
  });

  it("area resampling preserves the mean", () => {
    const src = new Float32Array(30 * 30).map((_, i) => (i % 7) / 7);
    const mean = (a: Float32Array) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(resampleArea(src, 30, 30, 20, 20))).toBeCloseTo(mean(src), 5);
    expect(mean(resampleArea(src, 30, 30, 45, 45))).toBeCloseTo(mean(src), 5);
  });

  it("recovers a real MNIST digit drawn large on white paper", async () => {
    const dir = mnistDir();
    if (dir === null) {
      console.log("../shared/data/mnist is absent here: skipping the real-digit round trip");
      return;
    }
    const d = await loadMnist({ dataset: "mnist", split: "test", dataDir: dir, limit: 5 });
    for (let k = 0; k < 5; k++) {
      const digit = d.images.subarray(k * 784, (k + 1) * 784);
      // 4x larger, black on white, with a wide margin
      const png = makePng(160, 140, (x, y) => {
        const sx = Math.floor((x - 24) / 4);
        const sy = Math.floor((y - 14) / 4);
        const v = sx >= 0 && sx < 28 && sy >= 0 && sy < 28 ? digit[sy * 28 + sx] : 0;
        const g = Math.round(255 * (1 - v));
        return [g, g, g, 255];
      });
      const out = preprocessDigit(decodePng(png));
      let dot = 0,
        na = 0,
        nb = 0;
      for (let i = 0; i < 784; i++) {
        dot += out[i] * digit[i];
        na += out[i] ** 2;
        nb += digit[i] ** 2;
      }
      expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.85);
    }
  });
});

describe("toProbabilities", () => {
  it("keeps a distribution and softmaxes logits", () => {
    expect(toProbabilities([0.2, 0.8])).toEqual([0.2, 0.8]);
    const p = toProbabilities([2, 0, -1]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(p[0]).toBeCloseTo(Math.exp(2) / (Math.exp(2) + 1 + Math.exp(-1)), 10);
  });
});
