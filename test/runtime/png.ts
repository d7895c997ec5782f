// Test helper: PNG files drawn pixel by pixel with pngjs.
import { PNG } from "pngjs";

export function makePng(
  width: number,
  height: number,
  rgba: (x: number, y: number) => [number, number, number, number],
): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b, a] = rgba(x, y);
      const i = (y * width + x) * 4;
      png.data[i] = r;
      png.data[i + 1] = g;
      png.data[i + 2] = b;
      png.data[i + 3] = a;
    }
  }
  return PNG.sync.write(png);
}

/** Black ink where `ink(x, y)` on white paper. */
export function inkPng(width: number, height: number, ink: (x: number, y: number) => boolean): Buffer {
  return makePng(width, height, (x, y) => (ink(x, y) ? [0, 0, 0, 255] : [255, 255, 255, 255]));
}
