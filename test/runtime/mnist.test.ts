import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadProgress, loadLocalMnist, loadMnist, MNIST_SOURCES } from "../../src/runtime/data/mnist.js";
import { idxImages, idxLabels, mnistDir, syntheticDigits, writeSyntheticMnist } from "../helpers/data.js";

const tmp = mkdtempSync(join(tmpdir(), "nnc-mnist-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("loadMnist on the real files", () => {
  const dir = mnistDir();
  it("reads ../shared/data/mnist (md5s match the originals)", async () => {
    if (dir === null) {
      console.log("../shared/data/mnist is absent here: only the synthetic-file tests below apply");
      return;
    }
    for (const [file, md5] of Object.entries(MNIST_SOURCES.mnist.md5)) {
      expect(
        createHash("md5")
          .update(readFileSync(join(dir!, file)))
          .digest("hex"),
      ).toBe(md5);
    }
    const test = await loadMnist({ dataset: "mnist", split: "test", dataDir: dir! });
    expect(test.count).toBe(10000);
    expect([test.rows, test.cols]).toEqual([28, 28]);
    expect(test.images.length).toBe(10000 * 784);
    expect(Array.from(test.labels.slice(0, 5))).toEqual([7, 2, 1, 0, 4]);
    let max = 0;
    for (const v of test.images) max = Math.max(max, v);
    expect(max).toBe(1);
    const train = await loadMnist({ dataset: "mnist", split: "train", dataDir: dir!, limit: 100 });
    expect(train.count).toBe(100);
    expect(train.images.length).toBe(100 * 784);
    expect(Array.from(train.labels.slice(0, 5))).toEqual([5, 0, 4, 1, 9]);
  });
});

describe("loadMnist on synthetic idx files", () => {
  it("reads gzipped files, scales pixels to [0,1] and honours limit", async () => {
    const dir = writeSyntheticMnist(join(tmp, "syn"), { train: 50, test: 20 });
    const d = await loadMnist({ dataset: "mnist", split: "train", dataDir: dir });
    expect(d.count).toBe(50);
    const ref = syntheticDigits(50, 1);
    expect(d.images[123]).toBeCloseTo(ref.pixels[123] / 255, 6);
    expect(Array.from(d.labels)).toEqual(Array.from(ref.labels));
    const limited = await loadMnist({ dataset: "mnist", split: "test", dataDir: dir, limit: 7 });
    expect(limited.count).toBe(7);
    expect(limited.images.length).toBe(7 * 784);
  });

  it("gives the pixel bytes too, and with floats: false no float copy", async () => {
    const dir = writeSyntheticMnist(join(tmp, "syn-bytes"), { train: 30, test: 10 });
    const floats = await loadMnist({ dataset: "mnist", split: "train", dataDir: dir, limit: 12 });
    const bytes = await loadMnist({ dataset: "mnist", split: "train", dataDir: dir, limit: 12, floats: false });
    const ref = syntheticDigits(30, 1);
    expect(bytes.images.length).toBe(0);
    expect(bytes.pixels.length).toBe(12 * 784);
    expect(Array.from(bytes.pixels)).toEqual(Array.from(ref.pixels.subarray(0, 12 * 784)));
    expect(Array.from(floats.pixels)).toEqual(Array.from(bytes.pixels));
    // The standalone engine scales bytes by v * (1 / 255): the same floats as the loader's v / 255.
    expect(floats.images).toEqual(Float32Array.from(bytes.pixels, (p) => p * (1 / 255)));
    for (let v = 0; v < 256; v++) expect(Math.fround(v * (1 / 255))).toBe(Math.fround(v / 255));
    expect(Array.from(bytes.labels)).toEqual(Array.from(floats.labels));
  });

  it("reads uncompressed files and DIR/<dataset>", async () => {
    const root = join(tmp, "plain");
    const dir = join(root, "fashion_mnist");
    mkdirSync(dir, { recursive: true });
    const { pixels, labels } = syntheticDigits(12, 5);
    writeFileSync(join(dir, "t10k-images-idx3-ubyte"), idxImages(pixels, 12));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), idxLabels(labels));
    const d = await loadMnist({ dataset: "fashion_mnist", split: "test", dataDir: root });
    expect(d.count).toBe(12);
    expect(d.labels[3]).toBe(3);
  });

  it("finds files through $NNC_DATA", async () => {
    const dir = writeSyntheticMnist(join(tmp, "env"), { train: 10, test: 10 });
    const old = process.env.NNC_DATA;
    process.env.NNC_DATA = dir;
    try {
      const d = await loadMnist({ dataset: "mnist", split: "test", cacheDir: join(tmp, "nocache"), download: false });
      expect(d.count).toBe(10);
    } finally {
      if (old === undefined) delete process.env.NNC_DATA;
      else process.env.NNC_DATA = old;
    }
  });

  it("names the folder and the files when --data lacks them", async () => {
    const empty = join(tmp, "empty");
    mkdirSync(empty, { recursive: true });
    await expect(loadMnist({ dataset: "mnist", split: "train", dataDir: empty })).rejects.toThrow(
      /--data .*empty: train-images-idx3-ubyte\(\.gz\) and train-labels-idx1-ubyte\(\.gz\) not found/,
    );
  });

  it("rejects a wrong magic number, a truncated gzip and a short file, naming the file", async () => {
    const dir = writeSyntheticMnist(join(tmp, "bad"), { train: 10, test: 10 });
    const imgs = join(dir, "t10k-images-idx3-ubyte.gz");
    const good = readFileSync(imgs);
    // labels file where the images should be: wrong magic
    writeFileSync(imgs, readFileSync(join(dir, "t10k-labels-idx1-ubyte.gz")));
    await expect(loadMnist({ dataset: "mnist", split: "test", dataDir: dir })).rejects.toThrow(
      /t10k-images-idx3-ubyte\.gz is not an idx3 image file: magic number 0x00000801/,
    );
    writeFileSync(imgs, good.subarray(0, good.length - 20));
    await expect(loadMnist({ dataset: "mnist", split: "test", dataDir: dir })).rejects.toThrow(
      /t10k-images-idx3-ubyte\.gz is corrupt or truncated: gunzip failed/,
    );
    const raw = gunzipSync(good);
    writeFileSync(imgs, gzipSync(raw.subarray(0, raw.length - 100)));
    await expect(loadMnist({ dataset: "mnist", split: "test", dataDir: dir })).rejects.toThrow(
      /t10k-images-idx3-ubyte\.gz is truncated: 7756 bytes, expected 7856 for 10 images of 28x28/,
    );
    writeFileSync(imgs, good);
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(idxLabels(new Uint8Array([1, 2, 3]))));
    await expect(loadMnist({ dataset: "mnist", split: "test", dataDir: dir })).rejects.toThrow(
      /has 10 images but .* has 3 labels/,
    );
  });
});

describe("loadLocalMnist (what a generated program copies: never downloads)", () => {
  it("reads the files where they are, as loadMnist does", async () => {
    const dir = writeSyntheticMnist(join(tmp, "syn-local"), { train: 20, test: 10 });
    const local = loadLocalMnist({ dataset: "mnist", split: "train", dataDir: dir });
    const loaded = await loadMnist({ dataset: "mnist", split: "train", dataDir: dir });
    expect(local.count).toBe(20);
    expect(Array.from(local.labels)).toEqual(Array.from(loaded.labels));
    expect(Array.from(local.images.subarray(0, 784))).toEqual(Array.from(loaded.images.subarray(0, 784)));
  });

  it("without the files, says where to point it and where the files are published", () => {
    const empty = mkdtempSync(join(tmp, "no-data-"));
    const cwd = process.cwd();
    const env = process.env.NNC_DATA;
    delete process.env.NNC_DATA;
    process.chdir(empty); // no ../shared/data from here
    try {
      for (const [dataset, mirror] of [["mnist", "https://storage.googleapis.com/cvdf-datasets/mnist/"], ["fashion_mnist", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]] as const) {
        expect(() => loadLocalMnist({ dataset, split: "test", cacheDir: empty })).toThrow(
          `${dataset} test files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not) not found; pass --data DIR or set $NNC_DATA (\`nnc run\` downloads them into ${empty}; they are also at ${mirror}<name>.gz)`,
        );
        expect(MNIST_SOURCES[dataset].mirror).toBe(mirror);
      }
    } finally {
      process.chdir(cwd);
      if (env !== undefined) process.env.NNC_DATA = env;
    }
    // a --data folder without them: that folder is named
    expect(() => loadLocalMnist({ dataset: "mnist", split: "test", dataDir: empty })).toThrow(`--data ${empty}: t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) not found there`);
  });
});

describe("loadMnist download", () => {
  let server: Server;
  let mirror = "";
  const files: Record<string, Buffer> = {};
  const requests: string[] = [];
  const cwd = process.cwd();
  beforeAll(async () => {
    // away from the repository, so ../shared/data/mnist is not found and the loader must download
    const away = join(tmp, "a", "b");
    mkdirSync(away, { recursive: true });
    process.chdir(away);
    const train = syntheticDigits(30, 7);
    const test = syntheticDigits(10, 8);
    files["train-images-idx3-ubyte.gz"] = gzipSync(idxImages(train.pixels, 30));
    files["train-labels-idx1-ubyte.gz"] = gzipSync(idxLabels(train.labels));
    files["t10k-images-idx3-ubyte.gz"] = gzipSync(idxImages(test.pixels, 10));
    files["t10k-labels-idx1-ubyte.gz"] = gzipSync(idxLabels(test.labels));
    server = createServer((req, res) => {
      const name = (req.url ?? "").replace(/^.*\//, "");
      requests.push(name);
      const body = (req.url ?? "").startsWith("/mnist/") ? files[name] : undefined;
      if (!body) {
        res.statusCode = 404;
        res.end("not found");
        return;
      }
      res.setHeader("content-type", "application/octet-stream");
      res.end(body);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error("no address");
    mirror = `http://127.0.0.1:${addr.port}/mnist/`;
  });
  afterAll(async () => {
    process.chdir(cwd);
    await new Promise<void>((ok) => server.close(() => ok()));
  });

  const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

  it("downloads into the cache dir, verifies md5 and then reads from the cache", async () => {
    const cacheDir = join(tmp, "cache-ok");
    const checksums = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)]));
    const d = await loadMnist({ dataset: "mnist", split: "train", cacheDir, mirror, checksums });
    expect(d.count).toBe(30);
    expect(readdirSync(cacheDir).sort()).toEqual(["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]);
    requests.length = 0;
    const again = await loadMnist({ dataset: "mnist", split: "train", cacheDir, mirror, checksums });
    expect(again.count).toBe(30);
    expect(requests).toEqual([]);
  });

  it("reports download progress: each file's start with its size, then the bytes as they arrive", async () => {
    const cacheDir = join(tmp, "cache-progress");
    const checksums = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)]));
    const events: [string, number, number | null][] = [];
    await loadMnist({ dataset: "mnist", split: "test", cacheDir, mirror, checksums, onDownload: (f, r, t) => void events.push([f, r, t]) });
    for (const file of ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]) {
      const mine = events.filter(([f]) => f === file);
      const size = files[file]!.length;
      expect(mine[0]).toEqual([file, 0, size]);
      expect(mine[mine.length - 1]).toEqual([file, size, size]);
    }
    // the default reporter: a line redrawn in place on a terminal, one line per file otherwise
    const out = (isTTY: boolean) => {
      const stream = { isTTY, text: "", write(s: string) { this.text += s; return true; } };
      const report = downloadProgress(stream as unknown as NodeJS.WriteStream);
      report("a.gz", 0, 2_000_000);
      report("a.gz", 2_000_000, 2_000_000);
      return stream.text;
    };
    expect(out(true)).toBe("\rdownloading a.gz: 0.0/2.0 MB (0%)\x1b[K\rdownloading a.gz: 2.0/2.0 MB (100%)\x1b[K\n");
    expect(out(false)).toBe("downloading a.gz (2.0 MB)\n");
  });

  it("uses $XDG_CACHE_HOME/nnc/<dataset> as the default cache", async () => {
    const old = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(tmp, "xdg");
    try {
      const checksums = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, md5(v)]));
      await loadMnist({ dataset: "fashion_mnist", split: "test", mirror, checksums });
      expect(readdirSync(join(tmp, "xdg", "nnc", "fashion_mnist")).sort()).toEqual([
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
      ]);
    } finally {
      if (old === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = old;
    }
  });

  it("refuses a file whose md5 does not match and leaves nothing behind", async () => {
    const cacheDir = join(tmp, "cache-bad");
    // the real MNIST md5s: the synthetic files cannot match them
    await expect(loadMnist({ dataset: "mnist", split: "test", cacheDir, mirror })).rejects.toThrow(
      /checksum mismatch for t10k-images-idx3-ubyte\.gz downloaded from http:\/\/127\.0\.0\.1:\d+\/mnist\/t10k-images-idx3-ubyte\.gz: md5 [0-9a-f]{32}, expected 9fb629c4189551a2d022fa330f9573f3/,
    );
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it("reports an HTTP error with the URL", async () => {
    const wrong = mirror.replace("/mnist/", "/elsewhere/");
    await expect(
      loadMnist({ dataset: "mnist", split: "test", cacheDir: join(tmp, "cache-404"), mirror: wrong }),
    ).rejects.toThrow(
      /cannot download http:\/\/127\.0\.0\.1:\d+\/elsewhere\/t10k-images-idx3-ubyte\.gz: HTTP 404[^]*pass --data DIR/,
    );
  });
});

describe("data checked before use (issue 12)", () => {
  const write = (name: string, images: Buffer, labels: Buffer): string => {
    const dir = join(tmp, "checked", name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "t10k-images-idx3-ubyte"), images);
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), labels);
    return dir;
  };

  it("images of another size than the model's input are refused, naming the file", async () => {
    const dir = write("small", idxImages(new Uint8Array(3 * 14 * 14).fill(9), 3, 14, 14), idxLabels(new Uint8Array([1, 2, 3])));
    await expect(loadMnist({ dataset: "mnist", split: "test", dataDir: dir })).rejects.toThrow(
      /small\/t10k-images-idx3-ubyte holds 14x14 images, but mnist images \(and the model's input\) are 28x28: this is not a mnist file/,
    );
  });

  it("a file of no examples is refused", async () => {
    const dir = write("empty", idxImages(new Uint8Array(0), 0), idxLabels(new Uint8Array(0)));
    await expect(loadMnist({ dataset: "mnist", split: "test", dataDir: dir })).rejects.toThrow(/empty\/t10k-images-idx3-ubyte holds no images: there is nothing to test on/);
  });

  it("a blank (all-zero) subset is refused", async () => {
    const dir = write("blank", idxImages(new Uint8Array(5 * 784), 5), idxLabels(new Uint8Array([1, 2, 3, 4, 5])));
    await expect(loadMnist({ dataset: "mnist", split: "test", dataDir: dir })).rejects.toThrow(/blank\/t10k-images-idx3-ubyte is blank: every pixel of its 5 images is 0/);
  });

  it("a file of the published size that is not the published file (zeroed but for one pixel) is refused by its md5", async () => {
    const pixels = new Uint8Array(10000 * 784);
    pixels[0] = 255;
    const labels = new Uint8Array(10000);
    const dir = write("zeroed", idxImages(pixels, 10000), idxLabels(labels));
    await expect(loadMnist({ dataset: "mnist", split: "test", dataDir: dir })).rejects.toThrow(
      /zeroed\/t10k-images-idx3-ubyte is not the published mnist file: its md5 is [0-9a-f]{32}, expected 2646ac647ad5339dbf082846283269ea \(corrupt or altered\); replace it with the published file/,
    );
  });

  it("the published files are verified once: a marker in the cache remembers them", async () => {
    const dir = mnistDir();
    if (dir === null) return console.log("../shared/data/mnist is absent: the marker test needs the published files");
    const old = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(tmp, "xdg-verified");
    try {
      await loadMnist({ dataset: "mnist", split: "test", dataDir: dir, limit: 10 });
      const markers = readdirSync(join(tmp, "xdg-verified", "nnc", "verified"));
      expect(markers.sort().map((m) => m.replace(/^[0-9a-f]{32}-/, ""))).toEqual(["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]);
    } finally {
      if (old === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = old;
    }
  });
});
