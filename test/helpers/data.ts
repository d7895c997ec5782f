// Test data: the real MNIST files where this environment has them, else small synthetic idx files.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** ../shared/data/mnist relative to the repository root, when it holds the four idx files; else null. */
export function mnistDir(): string | null {
  const dir = resolve(repoRoot, "..", "shared", "data", "mnist");
  const names = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
  ];
  return names.every((n) => existsSync(join(dir, `${n}.gz`)) || existsSync(join(dir, n))) ? dir : null;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** idx3 bytes for `count` 28x28 uint8 images. */
export function idxImages(pixels: Uint8Array, count: number, rows = 28, cols = 28): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x803, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(rows, 8);
  header.writeUInt32BE(cols, 12);
  return Buffer.concat([header, Buffer.from(pixels.buffer, pixels.byteOffset, count * rows * cols)]);
}

/** idx1 bytes for labels. */
export function idxLabels(labels: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x801, 0);
  header.writeUInt32BE(labels.length, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

/**
 * Synthetic, learnable "digits": class c is a bright 8x8 square placed on a 5x2 grid cell chosen by c,
 * jittered by up to 2 pixels, with faint noise. A linear model separates them easily.
 */
export function syntheticDigits(count: number, seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  const rand = mulberry32(seed);
  const pixels = new Uint8Array(count * 784);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 10;
    labels[i] = c;
    const base = i * 784;
    for (let p = 0; p < 784; p++) pixels[base + p] = Math.floor(rand() * 30);
    const top = 2 + Math.floor(c / 5) * 13 + Math.floor(rand() * 5) - 2;
    const left = 1 + (c % 5) * 5 + Math.floor(rand() * 3) - 1;
    for (let y = Math.max(0, top); y < Math.min(28, top + 8); y++) {
      for (let x = Math.max(0, left); x < Math.min(28, left + 8); x++)
        pixels[base + y * 28 + x] = 200 + Math.floor(rand() * 55);
    }
  }
  return { pixels, labels };
}

/** Writes the four MNIST idx files (gzipped) with synthetic digits into dir; returns dir. */
export function writeSyntheticMnist(dir: string, sizes: { train: number; test: number }, seed = 1): string {
  mkdirSync(dir, { recursive: true });
  const train = syntheticDigits(sizes.train, seed);
  const test = syntheticDigits(sizes.test, seed + 1000);
  writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gzipSync(idxImages(train.pixels, sizes.train)));
  writeFileSync(join(dir, "train-labels-idx1-ubyte.gz"), gzipSync(idxLabels(train.labels)));
  writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), gzipSync(idxImages(test.pixels, sizes.test)));
  writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(idxLabels(test.labels)));
  return dir;
}
