import { describe, expect, it } from "vitest";
import {
  affineMatrix,
  applyAffine,
  augmentBatch,
  fillIndex,
  type AugmentConfig,
} from "../../src/runtime/data/augment.js";

const none: AugmentConfig = { rotation: 0, widthShift: 0, heightShift: 0, zoom: 0, shear: 0, fill: "nearest", cval: 0 };
const constRng = (v: number) => () => v;

function image(h: number, w: number, f: (r: number, c: number) => number): Float32Array {
  const a = new Float32Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) a[r * w + c] = f(r, c);
  return a;
}
function centroid(a: Float32Array, h: number, w: number): [number, number, number] {
  let m = 0,
    sr = 0,
    sc = 0;
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      const v = a[r * w + c];
      m += v;
      sr += v * r;
      sc += v * c;
    }
  return [m, sr / m, sc / m];
}

describe("augmentBatch", () => {
  it("is the identity (and draws nothing) when every range is zero", () => {
    const src = new Float32Array(3 * 28 * 28).map((_, i) => ((i * 7919) % 256) / 255);
    const dst = new Float32Array(src.length);
    let calls = 0;
    augmentBatch(src, dst, 3, 28, 28, none, () => (calls++, 0.5));
    expect(dst).toEqual(src);
    expect(calls).toBe(0);
  });

  it("a height shift moves rows and a width shift moves columns by the drawn amount", () => {
    const src = image(28, 28, (r, c) => (r >= 10 && r < 14 && c >= 8 && c < 12 ? 1 : 0));
    const [m0, r0, c0] = centroid(src, 28, 28);
    const dst = new Float32Array(src.length);
    // rng 0.75 draws +half the range: 6/28 * 28 / 2 = 3 pixels; input = output + 3, so content moves up by 3
    augmentBatch(src, dst, 1, 28, 28, { ...none, heightShift: 6 / 28 }, constRng(0.75));
    const [m1, r1, c1] = centroid(dst, 28, 28);
    expect(m1).toBeCloseTo(m0, 4);
    expect(r1).toBeCloseTo(r0 - 3, 4);
    expect(c1).toBeCloseTo(c0, 4);
    augmentBatch(src, dst, 1, 28, 28, { ...none, widthShift: 10 / 28 }, constRng(0.25));
    const [m2, r2, c2] = centroid(dst, 28, 28);
    expect(m2).toBeCloseTo(m0, 4);
    expect(r2).toBeCloseTo(r0, 4);
    expect(c2).toBeCloseTo(c0 + 5, 4); // rng 0.25 draws -half the range: -5 columns, content moves right
  });

  it("rotates about the centre (90 degrees maps the top-centre pixel to the right-centre)", () => {
    const src = image(7, 7, (r, c) => (r === 0 && c === 3 ? 1 : 0));
    const dst = new Float32Array(49);
    augmentBatch(src, dst, 1, 7, 7, { ...none, rotation: 180, fill: "constant" }, constRng(0.75)); // theta = +90
    const hot = Array.from(dst)
      .map((v, i) => [v, i] as const)
      .filter(([v]) => v > 0.5)
      .map(([, i]) => [Math.floor(i / 7), i % 7]);
    expect(hot).toEqual([[3, 6]]);
  });

  it("zoom < 1 magnifies about the centre; shear (Keras's [[1, -sin], [0, cos]]) keeps the centre column fixed", () => {
    const src = image(9, 9, (r, c) => (r === 5 && c === 5 ? 1 : 0)); // offset (1, 1) from the centre (4, 4)
    const dst = new Float32Array(81);
    applyAffine(src, dst, 0, 9, 9, 1, affineMatrix(0, 0, 0, 0, 0.5, 0.5), { ...none, fill: "constant" });
    expect(dst[6 * 9 + 6]).toBeCloseTo(1, 6); // out offset (2, 2) samples in offset (1, 1)
    expect(dst[4 * 9 + 4]).toBe(0);
    const col = image(9, 9, (r, c) => (c === 4 ? r + 1 : 0));
    applyAffine(col, dst, 0, 9, 9, 1, affineMatrix(0, 0, 0, (20 * Math.PI) / 180, 1, 1), { ...none, fill: "constant" });
    for (let r = 0; r < 9; r++) expect(dst[r * 9 + 4]).toBeCloseTo(r + 1, 5);
    expect(dst[4 * 9 + 8]).toBe(0); // off the centre column the content slides along the rows
  });

  it("fills beyond the border by mode: nearest, reflect, wrap, constant", () => {
    const src = image(4, 4, (_r, c) => c);
    const dst = new Float32Array(16);
    const rowOf = (fill: AugmentConfig["fill"]) => {
      // widthShift 1 with rng 0.75: ty = +0.5 * 4 = 2 columns, input col = output col + 2
      augmentBatch(src, dst, 1, 4, 4, { ...none, widthShift: 1, fill, cval: -1 }, constRng(0.75));
      return Array.from(dst.slice(4, 8));
    };
    expect(rowOf("nearest")).toEqual([2, 3, 3, 3]);
    expect(rowOf("reflect")).toEqual([2, 3, 3, 2]);
    expect(rowOf("wrap")).toEqual([2, 3, 0, 1]);
    expect(rowOf("constant")).toEqual([2, 3, -1, -1]);
    expect([-1, -2, -5, 4, 5, 9].map((i) => fillIndex(i, 4, "reflect"))).toEqual([0, 1, 3, 3, 2, 1]);
    expect([-1, -5, 4, 9].map((i) => fillIndex(i, 4, "wrap"))).toEqual([3, 3, 0, 1]);
  });

  it("nearest interpolation picks whole pixels; channels are handled independently", () => {
    const src = new Float32Array(2 * 5 * 5 * 3);
    for (let p = 0; p < 25; p++) {
      src[p * 3] = p;
      src[p * 3 + 1] = -p;
      src[p * 3 + 2] = 7;
    }
    const dst = new Float32Array(src.length);
    const cfg: AugmentConfig = { ...none, rotation: 30, zoom: 0.2, interpolation: "nearest" };
    let s = 1;
    const rng = () => (s = (s * 16807) % 2147483647) / 2147483647;
    augmentBatch(src, dst, 1, 5, 5, cfg, rng, 3);
    for (let p = 0; p < 25; p++) {
      expect(Number.isInteger(dst[p * 3])).toBe(true);
      expect(dst[p * 3 + 1]).toBe(-dst[p * 3]);
      expect(dst[p * 3 + 2]).toBe(7);
    }
  });

  it("is deterministic for a given rng and varies per image", () => {
    const one = image(28, 28, (r, c) => (Math.abs(r - 14) < 6 && Math.abs(c - 14) < 2 ? 1 : 0));
    const src = new Float32Array(2 * 784);
    src.set(one, 0);
    src.set(one, 784);
    const cfg: AugmentConfig = {
      rotation: 15,
      widthShift: 0.1,
      heightShift: 0.1,
      zoom: 0.1,
      shear: 10,
      fill: "nearest",
      cval: 0,
    };
    const run = () => {
      let s = 42;
      const rng = () => (s = (s * 48271) % 2147483647) / 2147483647;
      const d = new Float32Array(src.length);
      augmentBatch(src, d, 2, 28, 28, cfg, rng);
      return d;
    };
    const a = run();
    expect(run()).toEqual(a);
    expect(a.slice(0, 784)).not.toEqual(a.slice(784));
    const [m] = centroid(a.slice(0, 784), 28, 28);
    const [m0] = centroid(one, 28, 28);
    expect(Math.abs(m - m0) / m0).toBeLessThan(0.3);
  });
});
