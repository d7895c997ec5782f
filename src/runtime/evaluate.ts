// `nnc evaluate RUN_DIR`: the run's saved model (model/model.json, loaded by tf.loadLayersModel on
// tfjs's cpu backend) on the test set of the data set it was trained on (result.json's
// `evaluation`: data set, labels, loss, metrics), with the losses and metrics of the tfjs engine
// (training/tfjs.ts), a confusion matrix, per-class precision and recall, and optionally a
// PNG grid of the misclassified test images (true and predicted class under each).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PNG } from "pngjs";
import * as tf from "@tensorflow/tfjs";
import type { IRRef } from "../compiler/ir.js";
import type { LossKind } from "../compiler/catalog/kinds.js";
import { loadMnist, type MnistDataset } from "./data/mnist.js";
import { CLASSES, lossCall } from "../compiler/targets/tfjs/losses.js";
import * as tfjsTraining from "./training/tfjs.js";
import { metricSums, type LossFn } from "./training/tfjs.js";
import { DIGIT_NAMES, FASHION_NAMES, loadModel } from "./predict.js";
import { writeAtomic } from "./run/files.js";
import { svgToPng } from "./run/plots.js";

export interface EvaluateOptions {
  runDir: string;
  dataDir?: string;
  testLimit?: number;
  /** Where to write the PNG grid of misclassified images. */
  misclassified?: string;
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface ClassScores {
  index: number;
  name: string;
  precision: number | null;
  recall: number | null;
  support: number;
}

export interface Evaluation {
  model: string;
  dataset: MnistDataset;
  samples: number;
  loss: number;
  lossName: string;
  metrics: Record<string, number>;
  classNames: string[];
  /** confusion[true][predicted] */
  confusion: number[][];
  perClass: ClassScores[];
  misclassified: number;
  /** The PNG written, if asked for. */
  misclassifiedPng: string | null;
}

interface EvaluationSettings {
  dataset: MnistDataset;
  classes: number;
  labels: "onehot" | "sparse";
  loss: IRRef;
  metrics: string[];
}

/** A run directory that cannot be evaluated, with what to do about it. */
export class EvaluateError extends Error {}

/** result.json's `evaluation` (written by `nnc run`). */
export function evaluationSettings(runDir: string): EvaluationSettings {
  const path = join(runDir, "result.json");
  if (!existsSync(path)) {
    throw new EvaluateError(
      `${runDir} has no result.json: not a finished run directory of \`nnc run\` (an interrupted run saves no model)`,
    );
  }
  let report: { evaluation?: EvaluationSettings };
  try {
    report = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new EvaluateError(`${path} is not readable JSON (${(err as Error).message})`);
  }
  const e = report.evaluation;
  if (!e || (e.dataset !== "mnist" && e.dataset !== "fashion_mnist") || !e.loss) {
    throw new EvaluateError(
      `${path} does not say which data set and loss the model was trained with (it was written by an older nnc); run the .nn file again to evaluate it`,
    );
  }
  return e;
}

const BATCH = 256;

export async function evaluateRun(options: EvaluateOptions): Promise<Evaluation> {
  const settings = evaluationSettings(options.runDir);
  const loaded = await loadModel(options.runDir);
  const { model } = loaded;
  const classes = settings.classes;
  const classNames = settings.dataset === "fashion_mnist" ? FASHION_NAMES : DIGIT_NAMES;
  const test = await loadMnist({ dataset: settings.dataset, split: "test", dataDir: options.dataDir, limit: options.testLimit });
  const n = test.count;
  const inputShape = loaded.inputShape;
  // the loss as the tfjs program builds it (the tfjs target's one loss table)
  const call = lossCall(settings.loss as IRRef<LossKind>);
  const lossFn = (tfjsTraining[call.fn] as (...args: unknown[]) => LossFn)(...call.args.map((x) => (x === CLASSES ? classes : x)));
  const sums: Record<string, [number, number]> = {};
  let lossSum = 0;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const predicted = new Int32Array(n);
  const probability = new Float32Array(n);
  const per = test.rows * test.cols;
  for (let start = 0; start < n; start += BATCH) {
    const end = Math.min(n, start + BATCH);
    const b = end - start;
    const x = tf.tensor(test.images.subarray(start * per, end * per), [b, ...inputShape]);
    const labels = test.labels.subarray(start, end);
    const y =
      settings.labels === "sparse"
        ? tf.tensor(Float32Array.from(labels), [b, 1])
        : tf.oneHot(tf.tensor1d(Int32Array.from(labels), "int32"), classes).toFloat();
    const p = model.predict(x) as tf.Tensor;
    const loss = lossFn(y, p);
    lossSum += loss.dataSync()[0]! * b;
    for (const [m, [s, c]] of Object.entries(await metricSums(settings.metrics, settings.labels, classes, y, p, settings.loss.kind === "binary_crossentropy"))) {
      const acc = (sums[m] ??= [0, 0]);
      acc[0] += s;
      acc[1] += c;
    }
    const probs = p.dataSync();
    for (let i = 0; i < b; i++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (probs[i * classes + k]! > probs[i * classes + best]!) best = k;
      predicted[start + i] = best;
      probability[start + i] = probs[i * classes + best]!;
      confusion[labels[i]!]![best]! += 1;
    }
    tf.dispose([x, y, p, loss]);
    options.onProgress?.(end, n);
    // let a progress line and Ctrl-C through
    await new Promise((r) => setImmediate(r));
  }
  model.dispose();
  const metrics: Record<string, number> = {};
  for (const m of settings.metrics) {
    const s = sums[m];
    metrics[m] = s && s[1] > 0 ? s[0] / s[1] : 0;
  }
  const perClass: ClassScores[] = classNames.slice(0, classes).map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, v) => a + v, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[c]!, 0);
    return { index: c, name, precision: predictedAs > 0 ? tp / predictedAs : null, recall: support > 0 ? tp / support : null, support };
  });
  const wrong: number[] = [];
  for (let i = 0; i < n; i++) if (predicted[i] !== test.labels[i]) wrong.push(i);
  let png: string | null = null;
  if (options.misclassified) {
    writeAtomic(
      options.misclassified,
      misclassifiedGrid(
        wrong.map((i) => ({
          pixels: test.pixels.subarray(i * per, (i + 1) * per),
          label: classNames[test.labels[i]!]!,
          predicted: classNames[predicted[i]!]!,
          probability: probability[i]!,
          index: i,
        })),
        test.rows,
        test.cols,
        `${String(loaded.metadata.sourceFile ?? "model")}: ${wrong.length} of ${n} test images misclassified`,
      ),
    );
    png = options.misclassified;
  }
  return {
    model: String(model.name),
    dataset: settings.dataset,
    samples: n,
    loss: lossSum / Math.max(1, n),
    lossName: settings.loss.kind,
    metrics,
    classNames: classNames.slice(0, classes),
    confusion,
    perClass,
    misclassified: wrong.length,
    misclassifiedPng: png,
  };
}

export interface MisclassifiedImage {
  pixels: Uint8Array;
  label: string;
  predicted: string;
  probability: number;
  index: number;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A PNG grid (at most `max` images, in test-set order): each image with its index, true and predicted class. */
export function misclassifiedGrid(images: MisclassifiedImage[], rows: number, cols: number, title: string, max = 100): Buffer {
  const shown = images.slice(0, max);
  const perRow = 10;
  const cellW = 92;
  const cellH = 96;
  const scale = 2;
  const lines = Math.max(1, Math.ceil(shown.length / perRow));
  const width = perRow * cellW + 16;
  const height = 40 + lines * cellH + 8;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans">`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="14" fill="#111">${esc(title)}${images.length > max ? ` (the first ${max} shown)` : ""}</text>`,
  ];
  if (shown.length === 0) parts.push(`<text x="${width / 2}" y="70" text-anchor="middle" font-size="13" fill="#444">none</text>`);
  shown.forEach((img, k) => {
    const x = 8 + (k % perRow) * cellW;
    const y = 36 + Math.floor(k / perRow) * cellH;
    const png = new PNG({ width: cols, height: rows });
    for (let i = 0; i < rows * cols; i++) {
      const v = 255 - img.pixels[i]!; // ink dark on white
      png.data[i * 4] = v;
      png.data[i * 4 + 1] = v;
      png.data[i * 4 + 2] = v;
      png.data[i * 4 + 3] = 255;
    }
    const uri = `data:image/png;base64,${PNG.sync.write(png).toString("base64")}`;
    const iw = cols * scale;
    parts.push(
      `<image x="${x + (cellW - iw) / 2}" y="${y}" width="${iw}" height="${rows * scale}" image-rendering="optimizeSpeed" href="${uri}"/>`,
      `<text x="${x + cellW / 2}" y="${y + rows * scale + 13}" text-anchor="middle" font-size="10" fill="#1a7f37">true ${esc(img.label)}</text>`,
      `<text x="${x + cellW / 2}" y="${y + rows * scale + 25}" text-anchor="middle" font-size="10" fill="#c62828">pred ${esc(img.predicted)} (${(img.probability * 100).toFixed(0)}%)</text>`,
      `<text x="${x + 2}" y="${y + 9}" font-size="8" fill="#888">#${img.index}</text>`,
    );
  });
  parts.push("</svg>");
  return svgToPng(parts.join("\n"));
}

const pct = (v: number | null) => (v === null ? "   n/a" : `${(v * 100).toFixed(1).padStart(5)}%`);

/** The report `nnc evaluate` prints. */
export function formatEvaluation(e: Evaluation): string {
  const out: string[] = [];
  const metrics = Object.entries(e.metrics)
    .map(([k, v]) => `  ${k} ${v.toFixed(4)}`)
    .join("");
  out.push(`${e.model} on the ${e.dataset} test set (${e.samples} images): loss ${e.loss.toFixed(4)} (${e.lossName})${metrics}`);
  out.push("");
  out.push("confusion matrix (rows: true class, columns: predicted class)");
  const w = Math.max(4, ...e.confusion.flat().map((v) => String(v).length + 1));
  out.push(`${"".padStart(6)}${e.confusion.map((_, c) => String(c).padStart(w)).join("")}`);
  e.confusion.forEach((row, r) => out.push(`${String(r).padStart(6)}${row.map((v) => String(v).padStart(w)).join("")}`));
  out.push("");
  const nameW = Math.max(5, ...e.perClass.map((c) => `${c.index} ${c.name}`.length));
  out.push(`${"class".padEnd(nameW)}  precision  recall  support`);
  for (const c of e.perClass) {
    const label = c.name === String(c.index) ? c.name : `${c.index} ${c.name}`;
    out.push(`${label.padEnd(nameW)}     ${pct(c.precision)}  ${pct(c.recall)}  ${String(c.support).padStart(7)}`);
  }
  out.push("");
  out.push(
    `misclassified: ${e.misclassified} of ${e.samples}${e.misclassifiedPng ? ` (images: ${e.misclassifiedPng})` : ""}`,
  );
  return out.join("\n");
}
