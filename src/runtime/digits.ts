// Hand-drawn digits: MNIST-style preprocessing, class names and probabilities, shared by
// `nnc predict` (Node, PNG files) and the drawing pad of `nnc serve` (bundled by esbuild into
// the page). The preprocessing: grey, inverted when the background is light, cropped to the
// ink's bounding box, scaled to fit 20x20 keeping the aspect ratio (area-averaged, so strokes
// stay anti-aliased), and placed in a 28x28 field with its centre of mass at the centre.
// Dependency-free (no Node or DOM API), so both get the same 28x28 input from the same pixels
// (test/serve/digits.test.ts, test/serve/browser.test.ts).

export interface GreyImage {
  width: number;
  height: number;
  /** Row-major luminance in [0, 1] (0 black, 1 white). */
  pixels: Float32Array;
}

/** Luminance of RGBA bytes (a PNG's or a canvas's), compositing transparency over white. */
export function greyFromRgba(rgba: ArrayLike<number>, width: number, height: number): GreyImage {
  const pixels = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const r = rgba[i * 4] / 255;
    const g = rgba[i * 4 + 1] / 255;
    const b = rgba[i * 4 + 2] / 255;
    const a = rgba[i * 4 + 3] / 255;
    const lum = 0.299 * r + 0.587 * g + 0.114 * b;
    pixels[i] = lum * a + (1 - a);
  }
  return { width, height, pixels };
}

/** Ink in [0, 1] (1 = full stroke): inverted when the border is lighter than mid-grey, then stretched so the darkest stroke is 1. */
export function inkFromGrey(img: GreyImage): Float32Array {
  const { width, height, pixels } = img;
  let border = 0;
  let n = 0;
  for (let x = 0; x < width; x++) {
    border += pixels[x] + pixels[(height - 1) * width + x];
    n += 2;
  }
  for (let y = 0; y < height; y++) {
    border += pixels[y * width] + pixels[y * width + width - 1];
    n += 2;
  }
  const light = border / n > 0.5;
  const ink = new Float32Array(pixels.length);
  let max = 0;
  for (let i = 0; i < pixels.length; i++) {
    ink[i] = light ? 1 - pixels[i] : pixels[i];
  }
  // subtract the background level: the median ink along the border (paper is rarely pure white)
  const borderInk: number[] = [];
  for (let x = 0; x < width; x++) borderInk.push(ink[x], ink[(height - 1) * width + x]);
  for (let y = 0; y < height; y++) borderInk.push(ink[y * width], ink[y * width + width - 1]);
  borderInk.sort((a, b) => a - b);
  const bg = borderInk[Math.floor(borderInk.length / 2)];
  for (let i = 0; i < ink.length; i++) {
    ink[i] = Math.max(0, ink[i] - bg);
    if (ink[i] > max) max = ink[i];
  }
  if (max > 0) for (let i = 0; i < ink.length; i++) ink[i] /= max;
  return ink;
}

/** Area-averaging resample of a w x h image to tw x th (each output pixel averages the source area it covers). */
export function resampleArea(src: Float32Array, w: number, h: number, tw: number, th: number): Float32Array {
  const out = new Float32Array(tw * th);
  const sx = w / tw;
  const sy = h / th;
  for (let oy = 0; oy < th; oy++) {
    const y0 = oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < tw; ox++) {
      const x0 = ox * sx;
      const x1 = x0 + sx;
      let sum = 0;
      let area = 0;
      for (let y = Math.floor(y0); y < Math.min(h, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        if (wy <= 0) continue;
        for (let x = Math.floor(x0); x < Math.min(w, Math.ceil(x1)); x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          if (wx <= 0) continue;
          sum += src[y * w + x] * wx * wy;
          area += wx * wy;
        }
      }
      out[oy * tw + ox] = area > 0 ? sum / area : 0;
    }
  }
  return out;
}

/** MNIST preprocessing of a grey image: returns 28*28 ink values in [0, 1], or throws when there is no ink. */
export function preprocessDigit(img: GreyImage, name = "image", threshold = 0.2): Float32Array {
  const { width, height } = img;
  const ink = inkFromGrey(img);
  let top = height;
  let bottom = -1;
  let left = width;
  let right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > threshold) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  if (bottom < 0)
    throw new Error(`${name} has no ink: draw a dark digit on a light background (or a light one on dark)`);
  const cw = right - left + 1;
  const ch = bottom - top + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) crop[y * cw + x] = ink[(top + y) * width + left + x];
  // fit into 20x20 keeping the aspect ratio
  const scale = 20 / Math.max(cw, ch);
  const tw = Math.max(1, Math.round(cw * scale));
  const th = Math.max(1, Math.round(ch * scale));
  const small = resampleArea(crop, cw, ch, tw, th);
  // centre of mass
  let mass = 0;
  let my = 0;
  let mx = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      mass += v;
      my += v * y;
      mx += v * x;
    }
  }
  const comY = mass > 0 ? my / mass : (th - 1) / 2;
  const comX = mass > 0 ? mx / mass : (tw - 1) / 2;
  // put the centre of mass at (14, 14), where MNIST's digits have it (measured: 13.99, 14.00 on
  // average over the test set), with a whole-pixel shift
  const offY = Math.round(14 - comY);
  const offX = Math.round(14 - comX);
  const out = new Float32Array(28 * 28);
  for (let y = 0; y < th; y++) {
    const ty = y + offY;
    if (ty < 0 || ty >= 28) continue;
    for (let x = 0; x < tw; x++) {
      const tx = x + offX;
      if (tx < 0 || tx >= 28) continue;
      out[ty * 28 + tx] = Math.min(1, small[y * tw + x]);
    }
  }
  return out;
}

/** Class probabilities (softmax applied when the outputs are not already a distribution). */
export function toProbabilities(values: ArrayLike<number>): number[] {
  const v = Array.from(values);
  const sum = v.reduce((a, b) => a + b, 0);
  if (v.every((x) => x >= 0 && x <= 1) && Math.abs(sum - 1) < 1e-3) return v;
  const max = Math.max(...v);
  const e = v.map((x) => Math.exp(x - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export const DIGIT_NAMES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
export const FASHION_NAMES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** The class names of a model: its metadata's classNames, Fashion-MNIST's, or the digits; numbers when the count differs. */
export function classNamesFor(metadata: Record<string, unknown>, outputs: number): string[] {
  const names = Array.isArray(metadata.classNames)
    ? (metadata.classNames as unknown[]).map(String)
    : metadata.dataset === "fashion_mnist"
      ? FASHION_NAMES
      : DIGIT_NAMES;
  return names.length === outputs ? names : Array.from({ length: outputs }, (_, i) => String(i));
}
