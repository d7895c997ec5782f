// nnc serve end to end in a real browser: Debian's Chromium (/usr/bin/chromium) driven by
// playwright-core, `nnc serve` and `nnc run` as processes of their own. The page is opened on an
// empty runs folder; a tiny model is then trained (`nnc run`, 2 epochs on 5000 MNIST examples)
// and the page must show its epochs arrive while it trains. Then the test draws five MNIST test
// digits on the pad with the mouse (tracing the rows of ink of each 28x28 image scaled to
// 280x280), reads the page's prediction, and checks it against the label and against
// `nnc predict` on the very canvas saved as PNG (and that the page's 28x28 input is identical to
// Node's for that PNG). It screenshots both views and checks that the pad, the model's view and
// the charts hold pixels.
//
// NNC_SCREENSHOTS=1 trains on all 60,000 examples instead and writes docs/serve-draw.png and
// docs/serve-runs.png (the README's pictures).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMnist } from "../../src/runtime/data/mnist.js";
import { decodePng, preprocessDigit } from "../../src/runtime/predict.js";
import { mnistDir } from "../helpers/data.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const nnc = join(repo, "bin", "nnc.js");
const tmp = mkdtempSync(join(tmpdir(), "nnc-browser-"));
const runsDir = join(tmp, "runs");
const data = mnistDir();
const dataArgs = data ? ["--data", data] : [];
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/** The first test example of five classes: 7, 2, 1, 0, 4. */
const DIGITS = [0, 1, 2, 3, 4];

let browser: Browser;
let page: Page;
let server: ChildProcess;
let url = "";
const pageErrors: string[] = [];
/** Every URL the page asked for: all must be the server's (no CDN, nothing from elsewhere). */
const requested: string[] = [];
const children: ChildProcess[] = [];

/** Runs bin/nnc.js to completion; rejects with its stderr on a non-zero exit. */
function nncRun(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [nnc, ...args], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) =>
      code === 0
        ? resolvePromise({ stdout, stderr })
        : reject(new Error(`nnc ${args.join(" ")}: exit ${code}\n${stderr}`)),
    );
  });
}

/** The pixels of a PNG screenshot matching `test`. */
function countPixels(png: Buffer, test: (r: number, g: number, b: number) => boolean): number {
  const img = PNG.sync.read(png);
  let n = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    if (test(img.data[i * 4]!, img.data[i * 4 + 1]!, img.data[i * 4 + 2]!)) n++;
  }
  return n;
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`).toBe(true);
  mkdirSync(runsDir);
  server = spawn(process.execPath, [nnc, "serve", runsDir, "--port", "0"], {
    cwd: repo,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(server);
  url = await new Promise<string>((resolveUrl, reject) => {
    let out = "";
    server.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /nnc serve: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolveUrl(m[1]!);
    });
    server.on("close", (code) => reject(new Error(`nnc serve exited (${code}) before printing its URL`)));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("request", (r) => requested.push(r.url()));
  await page.goto(`${url}#runs`);
  await page.waitForFunction(() => document.body.dataset.ready === "true" || document.body.dataset.error);
  expect(await page.evaluate(() => document.body.dataset.error ?? null)).toBeNull();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
});

interface DrawState {
  version: number;
  predictedVersion: number;
  input: number[] | null;
  top: string | null;
  probabilities: number[] | null;
  /** The pointerType of the last stroke. */
  pointer: string;
}

/**
 * Traces the ink of a 28x28 digit on the pad (10 px per pixel): every other row, each run of ink
 * (>= 128 in that row or the next) is one horizontal mouse stroke, which the 20 px brush makes
 * two rows tall.
 */
async function drawDigit(pixels: Uint8Array): Promise<void> {
  const box = (await page.locator("#pad").boundingBox())!;
  const ink = (x: number, y: number) => pixels[y * 28 + x]! >= 128 || (y + 1 < 28 && pixels[(y + 1) * 28 + x]! >= 128);
  for (let y = 0; y < 28; y += 2) {
    let x = 0;
    while (x < 28) {
      if (!ink(x, y)) {
        x++;
        continue;
      }
      const start = x;
      while (x < 28 && ink(x, y)) x++;
      await page.mouse.move(box.x + start * 10 + 5, box.y + y * 10 + 10);
      await page.mouse.down();
      await page.mouse.move(box.x + (x - 1) * 10 + 5, box.y + y * 10 + 10);
      await page.mouse.up();
    }
  }
  await page.waitForFunction(() => {
    const s = (window as unknown as { nncDraw: DrawState }).nncDraw;
    return s.predictedVersion === s.version;
  });
}

describe("nnc serve in Chromium", () => {
  it("shows a run started while the page is open, its epochs arriving as it trains", async () => {
    expect(await page.locator("#run-list li").count()).toBe(0);
    const training = nncRun([
      "run",
      "examples/mlp.nn",
      "--epochs",
      "2",
      // epochs long enough (about a second each here, more under load) that the server's 250 ms
      // poll and this test's 50 ms one both see epoch 1 on its own before epoch 2 arrives
      ...(process.env.NNC_SCREENSHOTS ? [] : ["--train-limit", "15000"]),
      "--test-limit",
      "1000",
      "--out",
      join(runsDir, "mlp"),
      "--quiet",
      ...dataArgs,
    ]);
    let finished = false;
    void training.then(() => (finished = true));
    const counts: { epochs: number; finished: boolean }[] = [];
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const n = await page.locator('#chart-loss circle.epoch-point.train[data-run="mlp"]').count();
      if (counts.length === 0 || counts[counts.length - 1]!.epochs !== n) counts.push({ epochs: n, finished });
      if (n === 2) break;
      await page.waitForTimeout(50);
    }
    await training;
    expect(counts[counts.length - 1]!.epochs).toBe(2);
    // seen growing while the run was still training: epoch 1 on the chart before the run ended
    expect(counts.filter((c) => c.epochs === 1 && !c.finished).length, JSON.stringify(counts)).toBe(1);
    // when it ends, its figures and summary replace "training"
    await page.waitForFunction(() =>
      /\d+\.\d\d%/.test(document.querySelector('#run-list li[data-id="mlp"] .meta')?.textContent ?? ""),
    );
    await page.waitForSelector('.details[data-id="mlp"] pre.summary');
    expect(await page.textContent('.details[data-id="mlp"]')).toMatch(/test accuracy\d+\.\d\d%[^]*adam\(lr: 0\.001/);
  }, 180_000);

  it("shows the run's curves: lines, markers and the best checkpoint", async () => {
    await page.waitForFunction(() => Number(document.getElementById("chart-loss")!.dataset.points) >= 4);
    for (const id of ["#chart-loss", "#chart-accuracy"]) {
      // the run's blue lines and markers
      const shot = await page.locator(id).screenshot();
      expect(
        countPixels(shot, (r, g, b) => b > 180 && r < 120 && g < 160),
        id,
      ).toBeGreaterThan(150);
    }
    expect(await page.locator('#chart-loss path.series.batch[data-run="mlp"]').count()).toBe(1);
    expect(await page.locator('#chart-loss path.series.val[data-run="mlp"]').count()).toBe(1);
    expect(await page.locator('#chart-loss path.series.lr[data-run="mlp"]').count()).toBe(1);
    const best = page.locator('#chart-loss .best-line[data-run="mlp"]');
    expect(await best.count()).toBe(1);
    const history = JSON.parse(readFileSync(join(runsDir, "mlp", "history.json"), "utf8")) as {
      history: { epoch: number; val_loss: number }[];
    };
    const bestEpoch = [...history.history].sort((a, b) => a.val_loss - b.val_loss)[0]!.epoch;
    expect(await best.getAttribute("data-epoch")).toBe(String(bestEpoch));
    if (process.env.NNC_SCREENSHOTS) await page.screenshot({ path: join(repo, "docs", "serve-runs.png") });
    expect(pageErrors).toEqual([]);
    expect(requested.filter((u) => !u.startsWith(url))).toEqual([]);
    expect(requested.some((u) => u.endsWith("/tf.min.js"))).toBe(true);
  });

  it("recognises drawn MNIST digits like nnc predict does, from the identical 28x28 input", async () => {
    await page.goto(`${url}#draw`);
    await page.waitForFunction(() => (window as unknown as { nncDraw: { model: string } }).nncDraw.model === "mlp");
    // the model picker lists the runs that have a model
    expect(
      await page.locator("#model-picker option").evaluateAll((o) => o.map((e) => (e as HTMLOptionElement).value)),
    ).toEqual(["mlp"]);
    const test = await loadMnist({
      dataset: "mnist",
      split: "test",
      dataDir: data ?? undefined,
      limit: 10,
      floats: false,
    });
    const pngs: string[] = [];
    const page28: number[][] = [];
    const pageTop: string[] = [];
    const pageProbs: number[][] = [];
    for (const i of DIGITS) {
      await page.click("#clear");
      await drawDigit(test.pixels.subarray(i * 784, (i + 1) * 784));
      const state = await page.evaluate(() => (window as unknown as { nncDraw: DrawState }).nncDraw);
      expect(state.input).not.toBeNull();
      expect(state.pointer).toBe("mouse");
      page28.push(state.input!);
      pageTop.push(state.top!);
      pageProbs.push(state.probabilities!);
      expect(await page.textContent("#top-class")).toBe(state.top);
      const dataUrl = await page.evaluate(() =>
        (document.getElementById("pad") as HTMLCanvasElement).toDataURL("image/png"),
      );
      const file = join(tmp, `digit-${i}.png`);
      writeFileSync(file, Buffer.from(dataUrl.slice(dataUrl.indexOf(",") + 1), "base64"));
      pngs.push(file);
    }
    // the page's 28x28 is what `nnc predict`'s code makes of the same canvas saved as PNG
    pngs.forEach((file, k) => {
      expect(page28[k], file).toEqual(Array.from(preprocessDigit(decodePng(readFileSync(file)), file)));
    });
    // `nnc predict` on the same PNGs (a process of its own, running while the page is checked)
    const predicting = nncRun(["predict", join(runsDir, "mlp"), ...pngs, "--json"]);
    // the label for at least 4 of the 5
    const labels = DIGITS.map((i) => String(test.labels[i]));
    const right = labels.filter((l, k) => pageTop[k] === l).length;
    expect(right, `page said ${pageTop.join(",")} for ${labels.join(",")}`).toBeGreaterThanOrEqual(4);

    // the Draw view rendered: ink on the pad, a digit in the model's view, bars
    const pad = await page.locator("#pad").screenshot();
    expect(countPixels(pad, (r, g, b) => r + g + b < 100)).toBeGreaterThan(2000);
    expect(countPixels(pad, (r, g, b) => r + g + b > 700)).toBeGreaterThan(20_000);
    const seen = await page.locator("#seen").screenshot();
    expect(countPixels(seen, (r, g, b) => r + g + b > 600)).toBeGreaterThan(300);
    expect(await page.locator("#bars .bar").count()).toBe(5);

    // undo and clear
    const before = await page.evaluate(() => (window as unknown as { nncDraw: DrawState }).nncDraw.input!.join());
    const box = (await page.locator("#pad").boundingBox())!;
    await page.mouse.move(box.x + 20, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + 260, box.y + 260, { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(() => {
      const s = (window as unknown as { nncDraw: DrawState }).nncDraw;
      return s.predictedVersion === s.version;
    });
    const withSlash = await page.evaluate(() => (window as unknown as { nncDraw: DrawState }).nncDraw.input!.join());
    expect(withSlash).not.toBe(before);
    await page.click("#undo");
    await page.waitForFunction((b) => {
      const s = (window as unknown as { nncDraw: DrawState }).nncDraw;
      return s.predictedVersion === s.version && s.input?.join() === b;
    }, before);
    await page.click("#clear");
    await page.waitForFunction(() => {
      const s = (window as unknown as { nncDraw: DrawState }).nncDraw;
      return s.predictedVersion === s.version && s.input === null && s.top === null;
    });

    // a pen and a finger draw too (pointer events of those types, sent through Chromium's input pipeline)
    const cdp = await page.context().newCDPSession(page);
    const settled = (pointer: string) =>
      page.waitForFunction((p) => {
        const s = (window as unknown as { nncDraw: DrawState }).nncDraw;
        return s.predictedVersion === s.version && s.pointer === p && s.input !== null;
      }, pointer);
    const pen = { button: "left", pointerType: "pen", clickCount: 1 } as const;
    await cdp.send("Input.dispatchMouseEvent", { type: "mousePressed", x: box.x + 140, y: box.y + 40, ...pen });
    for (let y = 60; y <= 240; y += 30) {
      await cdp.send("Input.dispatchMouseEvent", {
        type: "mouseMoved",
        x: box.x + 140,
        y: box.y + y,
        buttons: 1,
        ...pen,
      });
    }
    await cdp.send("Input.dispatchMouseEvent", { type: "mouseReleased", x: box.x + 140, y: box.y + 240, ...pen });
    await settled("pen");
    await page.click("#clear");
    await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: true, maxTouchPoints: 1 });
    await cdp.send("Input.dispatchTouchEvent", {
      type: "touchStart",
      touchPoints: [{ x: box.x + 60, y: box.y + 140 }],
    });
    for (let x = 90; x <= 220; x += 30) {
      await cdp.send("Input.dispatchTouchEvent", {
        type: "touchMove",
        touchPoints: [{ x: box.x + x, y: box.y + 140 }],
      });
    }
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await settled("touch");
    await cdp.send("Emulation.setTouchEmulationEnabled", { enabled: false });
    await page.click("#clear");

    if (process.env.NNC_SCREENSHOTS) {
      // the README's picture: a "2" drawn as a hand would, one stroke (arc, diagonal, base)
      const points: [number, number][] = [];
      for (let t = 1.1; t <= 2.25; t += 0.05)
        points.push([140 + 58 * Math.cos(t * Math.PI), 100 + 52 * Math.sin(t * Math.PI)]);
      points.push([110, 180], [80, 228], [140, 226], [205, 229]);
      await page.mouse.move(box.x + points[0]![0], box.y + points[0]![1]);
      await page.mouse.down();
      for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 3 });
      await page.mouse.up();
      await page.waitForFunction(() => {
        const s = (window as unknown as { nncDraw: DrawState }).nncDraw;
        return s.predictedVersion === s.version;
      });
      await page.screenshot({ path: join(repo, "docs", "serve-draw.png") });
    }

    // `nnc predict` says what the page said, with the same probability
    const { stdout } = await predicting;
    const predicted = JSON.parse(stdout) as { top: { label: string; probability: number }[] }[];
    expect(predicted.map((p) => p.top[0]!.label)).toEqual(pageTop);
    predicted.forEach((p, k) => expect(p.top[0]!.probability).toBeCloseTo(Math.max(...pageProbs[k]!), 4));
  });
});
