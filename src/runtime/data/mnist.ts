// EMBEDDABLE MODULE: imports only node:* built-ins and nothing local. The standalone generator
// copies these functions into generated programs, so each concept is its own top-level function.
//
// MNIST / Fashion-MNIST idx loader. Looks for the four idx files (gzipped or not) in, in order:
//   1. opts.dataDir (or opts.dataDir/<dataset>)           -- `nnc run --data DIR`
//   2. $NNC_DATA (or $NNC_DATA/<dataset>)
//   3. the cache dir: $XDG_CACHE_HOME/nnc/<dataset> or ~/.cache/nnc/<dataset>
//   4. /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), for fashion_mnist
//   5. ../shared/data/<dataset> relative to the working directory (this repository's environment)
// and otherwise (loadMnist) downloads the four .gz files from a known mirror into the cache dir,
// verifying their md5 and writing each atomically (temporary name + rename). A generated program
// reads local files only (loadLocalMnist, which the standalone target copies): nnc's engines make
// sure the cache has the files before they run it, as they do for the PyTorch program.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";

export type MnistDataset = "mnist" | "fashion_mnist";
export type MnistSplit = "train" | "test";

/** One split of a dataset, and where to read it from. */
export interface MnistSplitOptions {
  dataset: MnistDataset;
  split: MnistSplit;
  /** `--data DIR`: when given, the files must be there (or in DIR/<dataset>). */
  dataDir?: string;
  /** Keep only the first `limit` examples. */
  limit?: number;
  /**
   * false: no [0, 1] float copy of the pixels (`images` is then empty; read `pixels`). The
   * standalone engine scales the bytes as it copies each batch: a quarter of the memory.
   */
  floats?: boolean;
  /** Overrides for tests: the cache dir. */
  cacheDir?: string;
}

/** loadMnist's options: the split, and how to download it where it is not found. */
export interface MnistOptions extends MnistSplitOptions {
  /** Overrides for tests: the download mirror (base URL ending in "/"), the expected md5s. */
  mirror?: string;
  checksums?: Record<string, string>;
  /** false: never download (fail with a clear error instead). Default true. */
  download?: boolean;
  /** Download progress (default: downloadProgress(), on stderr). */
  onDownload?: DownloadProgress;
}

export interface MnistData {
  /** count * rows * cols pixels, scaled to [0, 1] (empty when loaded with floats: false). */
  images: Float32Array;
  /** The same pixels as bytes 0..255: a view of the file's bytes, no copy. */
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** The base file names of one split: [images, labels]. */
export function mnistFileNames(split: MnistSplit): [string, string] {
  return split === "train"
    ? ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    : ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];
}

/** Where the original .gz files are published. */
export const MNIST_MIRRORS: Record<MnistDataset, string> = {
  mnist: "https://storage.googleapis.com/cvdf-datasets/mnist/",
  fashion_mnist: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
};

/** Known mirrors and md5s of the original .gz files. */
export const MNIST_SOURCES: Record<MnistDataset, { mirror: string; md5: Record<string, string> }> = {
  mnist: {
    mirror: MNIST_MIRRORS.mnist,
    md5: {
      "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
      "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
      "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
      "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
  },
  fashion_mnist: {
    mirror: MNIST_MIRRORS.fashion_mnist,
    md5: {
      "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
      "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
      "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
      "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
  },
};

/** Rows and columns of every MNIST / Fashion-MNIST image. */
export const MNIST_SIDE = 28;

/** The published files, uncompressed: size, and md5 where known (Fashion-MNIST's gz md5s are above). */
export const MNIST_RAW: Record<MnistDataset, Record<string, { bytes: number; md5?: string }>> = {
  mnist: {
    "train-images-idx3-ubyte": { bytes: 47040016, md5: "6bbc9ace898e44ae57da46a324031adb" },
    "train-labels-idx1-ubyte": { bytes: 60008, md5: "a25bea736e30d166cdddb491f175f624" },
    "t10k-images-idx3-ubyte": { bytes: 7840016, md5: "2646ac647ad5339dbf082846283269ea" },
    "t10k-labels-idx1-ubyte": { bytes: 10008, md5: "27ae3e4e09519cfbb04c329615203637" },
  },
  fashion_mnist: {
    "train-images-idx3-ubyte": { bytes: 47040016 },
    "train-labels-idx1-ubyte": { bytes: 60008 },
    "t10k-images-idx3-ubyte": { bytes: 7840016 },
    "t10k-labels-idx1-ubyte": { bytes: 10008 },
  },
};

/**
 * Checks an idx file against the published one, once per file (a marker in the cache,
 * ~/.cache/nnc/verified/, remembers its path, size and mtime): a file of the published
 * size must have its md5 (a zeroed or altered copy is refused), a .gz its published md5; a file
 * of another size is taken as a deliberate subset, except in nnc's own download cache.
 */
export function verifyIdxFile(path: string, data: Buffer, dataset: MnistDataset, name: string, inCache: boolean): void {
  const known = MNIST_RAW[dataset][name];
  if (known === undefined) return;
  let stamp: string;
  try {
    const st = statSync(path);
    stamp = JSON.stringify({ size: st.size, mtimeMs: st.mtimeMs });
  } catch {
    return;
  }
  const marker = join(dirname(mnistCacheDir(dataset)), "verified", `${md5Hex(Buffer.from(resolve(path)))}-${name}`);
  try {
    if (readFileSync(marker, "utf8") === stamp) return;
  } catch {
    // not verified yet
  }
  const fix = inCache ? "delete it and run again to download it anew" : "replace it with the published file";
  if (data.length !== known.bytes) {
    if (inCache) throw new Error(`${path} is ${data.length} bytes uncompressed, but the published ${dataset} file is ${known.bytes}: ${fix}`);
    return; // a subset or a file of one's own, given with --data or $NNC_DATA: used as it is
  }
  if (known.md5 !== undefined) {
    const got = md5Hex(data);
    if (got !== known.md5) throw new Error(`${path} is not the published ${dataset} file: its md5 is ${got}, expected ${known.md5} (corrupt or altered); ${fix}`);
  } else if (path.endsWith(".gz")) {
    const want = MNIST_SOURCES[dataset].md5[`${name}.gz`];
    const got = md5Hex(readFileSync(path));
    if (want !== undefined && got !== want) throw new Error(`${path} is not the published ${dataset} file: its md5 is ${got}, expected ${want} (corrupt or altered); ${fix}`);
  }
  try {
    mkdirSync(dirname(marker), { recursive: true });
    writeFileSync(marker, stamp);
  } catch {
    // no writable cache: verified again next time
  }
}

/** The cache directory for a dataset: $XDG_CACHE_HOME/nnc/<dataset> or ~/.cache/nnc/<dataset>. */
export function mnistCacheDir(dataset: MnistDataset): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "nnc", dataset);
}

/** The path of `name` (uncompressed or .gz) in dir, or null. */
function findIdxFile(dir: string, name: string): string | null {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** The first directory among `dirs` holding both files of the split, or null. */
function findMnistDir(dirs: string[], names: [string, string]): string | null {
  for (const dir of dirs) {
    if (findIdxFile(dir, names[0]) !== null && findIdxFile(dir, names[1]) !== null) return dir;
  }
  return null;
}

/** Reads an idx file, gunzipping it when it is gzipped (by magic bytes, whatever its name). */
export function readIdxFile(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (err) {
      throw new Error(
        `${path} is corrupt or truncated: gunzip failed (${(err as Error).message}); delete it and try again`,
      );
    }
  }
  return raw;
}

/**
 * Checks an idx file's header and size (idx3 images: magic 0x803, [count, rows, cols]; idx1
 * labels: magic 0x801, [count]) and returns its dimensions and a view of its first `limit` items.
 */
function parseIdx(buf: Buffer, path: string, images: boolean, limit?: number): { dims: number[]; count: number; data: Uint8Array } {
  const header = images ? 16 : 8;
  const [idx, kind, magicWanted] = images ? ["idx3", "image", 0x803] : ["idx1", "label", 0x801];
  if (buf.length < header) throw new Error(`${path} is truncated: ${buf.length} bytes, shorter than the ${header}-byte ${idx} header`);
  const magic = buf.readUInt32BE(0);
  if (magic !== magicWanted) {
    const hex = (v: number) => `0x${v.toString(16).padStart(8, "0")}`;
    throw new Error(`${path} is not an ${idx} ${kind} file: magic number ${hex(magic)}, expected ${hex(magicWanted)}`);
  }
  const dims: number[] = [];
  for (let at = 4; at < header; at += 4) dims.push(buf.readUInt32BE(at));
  const [total, rows = 1, cols = 1] = dims as [number, number?, number?];
  const expected = header + total * rows * cols;
  if (buf.length !== expected) {
    const items = images ? `${total} images of ${rows}x${cols}` : `${total} labels`;
    throw new Error(`${path} is ${buf.length < expected ? "truncated" : "corrupt"}: ${buf.length} bytes, expected ${expected} for ${items}`);
  }
  const count = limit !== undefined && limit >= 0 ? Math.min(limit, total) : total;
  return { dims, count, data: buf.subarray(header, header + count * rows * cols) };
}

/** Parses an idx3 (images) file into [0, 1] floats (unless `floats` is false) and a view of its pixel bytes. */
export function parseIdxImages(
  buf: Buffer,
  path: string,
  limit?: number,
  floats = true,
): { images: Float32Array; pixels: Uint8Array; count: number; rows: number; cols: number } {
  const { dims, count, data: pixels } = parseIdx(buf, path, true, limit);
  const images = new Float32Array(floats ? pixels.length : 0);
  if (floats) for (let i = 0; i < pixels.length; i++) images[i] = pixels[i]! / 255;
  return { images, pixels, count, rows: dims[1]!, cols: dims[2]! };
}

/** Parses an idx1 (labels) file, checking that labels are < classes. */
export function parseIdxLabels(buf: Buffer, path: string, limit?: number, classes = 10): Uint8Array {
  const { count, data } = parseIdx(buf, path, false, limit);
  const labels = new Uint8Array(data);
  for (let i = 0; i < count; i++) {
    if (labels[i]! >= classes) throw new Error(`${path} is corrupt: label ${labels[i]} at index ${i} is not a class 0-${classes - 1}`);
  }
  return labels;
}

/** md5 of a buffer, hex. */
function md5Hex(data: Buffer): string {
  return createHash("md5").update(data).digest("hex");
}

/** Writes data to path atomically: a temporary file in the same directory, then rename. */
export function writeFileAtomic(path: string, data: Buffer | Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    throw err;
  }
}

/**
 * Writes a model folder whole or not at all: every file into `dir.tmp-<pid>-<random>/`, then
 * that folder renamed to `dir` (an existing `dir` is first renamed aside under a temporary name
 * and removed after). A process killed at any point leaves `dir` as it was, absent, or complete,
 * plus temporary folders the next run sweeps. `weights.bin` is float32: a model with a NaN or
 * infinite weight (training diverged) is never written.
 */
export function writeModelDir(dir: string, files: Record<string, Buffer | Uint8Array | string>): void {
  const weights = files["weights.bin"];
  if (weights !== undefined && typeof weights !== "string") {
    const floats = new Float32Array(weights.buffer, weights.byteOffset, Math.floor(weights.byteLength / 4));
    let bad = 0;
    for (let i = 0; i < floats.length; i++) if (!Number.isFinite(floats[i]!)) bad++;
    if (bad > 0) {
      throw new Error(`not saving the model in ${dir}: ${bad} of its ${floats.length} weights are NaN or infinite (training diverged); lower the learning rate`);
    }
  }
  const suffix = () => `.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const tmp = `${dir}${suffix()}`;
  mkdirSync(tmp, { recursive: true });
  try {
    for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
    let old: string | null = null;
    if (existsSync(dir)) {
      old = `${dir}${suffix()}`;
      renameSync(dir, old);
    }
    renameSync(tmp, dir);
    if (old !== null) rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Called as a download goes: at its start (received 0) and as bytes arrive; total is null when the server does not say. */
export type DownloadProgress = (file: string, received: number, total: number | null) => void;

/**
 * The default download progress, on stderr: on a terminal one line redrawn in place
 * ("downloading train-images-idx3-ubyte.gz: 4.2/9.9 MB (42%)"), otherwise one line per file.
 */
export function downloadProgress(stream: NodeJS.WriteStream = process.stderr): DownloadProgress {
  let last = 0;
  return (file, received, total) => {
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const size = total === null ? `${mb(received)} MB` : `${mb(received)}/${mb(total)} MB (${Math.floor((100 * received) / Math.max(total, 1))}%)`;
    const done = total !== null && received >= total;
    if (!stream.isTTY) {
      if (received === 0) stream.write(`downloading ${file}${total === null ? "" : ` (${mb(total)} MB)`}\n`);
      return;
    }
    const now = Date.now();
    if (!done && received !== 0 && now - last < 100) return;
    last = now;
    stream.write(`\rdownloading ${file}: ${size}\x1b[K${done ? "\n" : ""}`);
  };
}

/** Downloads url (following redirects) into memory, reporting progress as the bytes arrive. */
async function fetchBytes(url: string, file: string, onProgress: DownloadProgress): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(120_000), redirect: "follow" });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(`cannot download ${url}: ${cause ?? (err as Error).message}`);
  }
  if (!response.ok) throw new Error(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
  const total = Number(response.headers.get("content-length")) || null;
  onProgress(file, 0, total);
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    if (response.body === null) {
      chunks.push(new Uint8Array(await response.arrayBuffer()));
      received = chunks[0]!.length;
    } else {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        received += value.length;
        onProgress(file, received, total);
      }
    }
  } catch (err) {
    throw new Error(`cannot download ${url}: ${(err as Error).message} after ${received} bytes`);
  }
  if (total === null) onProgress(file, received, received);
  return Buffer.concat(chunks);
}

/** Downloads the .gz files of a split into dir, verifying each md5 and writing atomically. */
export async function downloadMnist(
  names: string[],
  dir: string,
  mirror: string,
  checksums: Record<string, string>,
  onProgress: DownloadProgress = downloadProgress(),
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const name of names) {
    const file = `${name}.gz`;
    const dest = join(dir, file);
    if (existsSync(dest)) continue;
    const url = mirror.endsWith("/") ? `${mirror}${file}` : `${mirror}/${file}`;
    const data = await fetchBytes(url, file, onProgress);
    const want = checksums[file];
    const got = md5Hex(data);
    if (want !== undefined && got !== want) {
      throw new Error(
        `checksum mismatch for ${file} downloaded from ${url}: md5 ${got}, expected ${want} (the file was not saved)`,
      );
    }
    writeFileAtomic(dest, data);
  }
}

/**
 * The folder holding both files of the split, without downloading: opts.dataDir (or
 * dataDir/<dataset>), which must hold them, else the first of $NNC_DATA (or $NNC_DATA/<dataset>),
 * the cache dir, /usr/share/datasets/fashion-mnist (for fashion_mnist) and
 * ../shared/data/<dataset> that does; null when none does.
 */
export function findMnist(opts: MnistSplitOptions): string | null {
  const names = mnistFileNames(opts.split);
  const sub = opts.dataset;
  if (opts.dataDir !== undefined) {
    const given = resolve(opts.dataDir);
    const dir = findMnistDir([given, join(given, sub)], names);
    if (dir === null) {
      const missing = names.filter((n) => findIdxFile(given, n) === null);
      throw new Error(
        `--data ${opts.dataDir}: ${missing.map((n) => `${n}(.gz)`).join(" and ")} not found there (nor in ${join(opts.dataDir, sub)})`,
      );
    }
    return dir;
  }
  const dirs: string[] = [];
  const env = process.env.NNC_DATA;
  if (env) dirs.push(resolve(env), join(resolve(env), sub));
  dirs.push(opts.cacheDir ?? mnistCacheDir(opts.dataset));
  if (opts.dataset === "fashion_mnist") dirs.push("/usr/share/datasets/fashion-mnist");
  dirs.push(resolve("..", "shared", "data", sub));
  return findMnistDir(dirs, names);
}

/**
 * Reads one split from dir (found by findMnist) and checks what the model needs: idx headers and
 * sizes, as many labels as images, 28x28 images, at least one, some ink. `verify`, when given,
 * sees each file's bytes before they are parsed.
 */
export function readMnist(
  dir: string,
  opts: MnistSplitOptions,
  verify?: (path: string, data: Buffer, name: string) => void,
): MnistData {
  const names = mnistFileNames(opts.split);
  const imagesPath = findIdxFile(dir, names[0]) as string;
  const labelsPath = findIdxFile(dir, names[1]) as string;
  const imagesBuf = readIdxFile(imagesPath);
  const labelsBuf = readIdxFile(labelsPath);
  verify?.(imagesPath, imagesBuf, names[0]);
  verify?.(labelsPath, labelsBuf, names[1]);
  const img = parseIdxImages(imagesBuf, imagesPath, opts.limit, opts.floats !== false);
  const labels = parseIdxLabels(labelsBuf, labelsPath, opts.limit);
  const totalImages = imagesBuf.readUInt32BE(4);
  const totalLabels = labelsBuf.readUInt32BE(4);
  if (totalImages !== totalLabels) {
    throw new Error(`${imagesPath} has ${totalImages} images but ${labelsPath} has ${totalLabels} labels`);
  }
  // What the model was checked against: 28x28 images, at least one example, some ink.
  if (img.rows !== MNIST_SIDE || img.cols !== MNIST_SIDE) {
    throw new Error(`${imagesPath} holds ${img.rows}x${img.cols} images, but ${opts.dataset} images (and the model's input) are ${MNIST_SIDE}x${MNIST_SIDE}: this is not a ${opts.dataset} file`);
  }
  if (img.count === 0) throw new Error(`${imagesPath} holds no images: there is nothing to ${opts.split === "train" ? "train on" : "test on"}`);
  let ink = 0;
  for (let i = 0; i < img.pixels.length && ink === 0; i++) ink = img.pixels[i]!;
  if (ink === 0) throw new Error(`${imagesPath} is blank: every pixel of its ${img.count} images is 0 (a corrupt or zeroed file); replace it`);
  return { images: img.images, pixels: img.pixels, labels, count: img.count, rows: img.rows, cols: img.cols };
}

/**
 * Loads one split from local files, never downloading (what a generated program does; `nnc run`
 * downloads the files into the cache dir first, with loadMnist, when they are nowhere else).
 */
export function loadLocalMnist(opts: MnistSplitOptions): MnistData {
  const dir = findMnist(opts);
  if (dir === null) {
    throw new Error(
      `${opts.dataset} ${opts.split} files (${mnistFileNames(opts.split).join(", ")}, gzipped or not) not found; pass --data DIR or set $NNC_DATA (\`nnc run\` downloads them into ${opts.cacheDir ?? mnistCacheDir(opts.dataset)}; they are also at ${MNIST_MIRRORS[opts.dataset]}<name>.gz)`,
    );
  }
  return readMnist(dir, opts);
}

/**
 * Loads one split of MNIST or Fashion-MNIST, pixels scaled to [0, 1]: from local files
 * (findMnist), else downloaded into the cache dir; files of the published size must be the
 * published ones (verifyIdxFile).
 */
export async function loadMnist(opts: MnistOptions): Promise<MnistData> {
  const names = mnistFileNames(opts.split);
  const cacheDir = opts.cacheDir ?? mnistCacheDir(opts.dataset);
  let dir = findMnist({ ...opts, cacheDir });
  if (dir === null) {
    if (opts.download === false) {
      throw new Error(`${opts.dataset} ${opts.split} files (${names.join(", ")}) not found; pass --data DIR or set $NNC_DATA`);
    }
    const source = MNIST_SOURCES[opts.dataset];
    const mirror = opts.mirror ?? source.mirror;
    const missing = names.filter((n) => findIdxFile(cacheDir, n) === null);
    try {
      await downloadMnist(missing, cacheDir, mirror, opts.checksums ?? source.md5, opts.onDownload ?? downloadProgress());
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\n(${opts.dataset} was not found locally; pass --data DIR or set $NNC_DATA to a folder with the idx files)`,
      );
    }
    dir = cacheDir;
  }
  // nnc's own download cache holds the published files only (unless a test names its own md5s).
  const inCache = resolve(dir) === resolve(cacheDir) && opts.checksums === undefined;
  return readMnist(dir, opts, (path, data, name) => verifyIdxFile(path, data, opts.dataset, name, inCache));
}
