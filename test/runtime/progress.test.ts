// The live progress line: it fits the terminal (80 and 120 columns), always shows the ETA, shows
// samples/s and step time where there is room; validation and test passes show progress; the
// header says what runs and why.
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { engineHeader } from "../../src/runtime/run/header.js";
import { ProgressReporter, renderProgressLine, type ProgressLine } from "../../src/runtime/run/progress.js";
import type { Engine } from "../../src/runtime/engine.js";

class Terminal extends Writable {
  text = "";
  isTTY = true;
  constructor(readonly columns: number) {
    super();
  }
  override _write(c: Buffer, _e: string, cb: () => void) {
    this.text += c.toString();
    cb();
  }
  /** Every state of the screen's last line: what each redraw ("\r\x1b[K" + text) left. */
  get lines(): string[] {
    return this.text
      .split(/\r\x1b\[K|\n/)
      .filter((l) => l.length > 0);
  }
}

const epochLine: ProgressLine = {
  label: "epoch 3/10",
  done: 120,
  total: 469,
  eta: 12,
  stats: ["loss 0.1234", "7374 samples/s", "accuracy 0.9612", "17.4 ms/step"],
};

describe("renderProgressLine", () => {
  it("at 120 columns: bar, count, loss, samples/s, accuracy, step time and the ETA", () => {
    const line = renderProgressLine(epochLine, 120);
    expect(line.length).toBeLessThanOrEqual(119);
    expect(line).toMatch(/^epoch 3\/10 \[#+-+\] 120\/469 \| loss 0\.1234 \| 7374 samples\/s \| accuracy 0\.9612 \| 17\.4 ms\/step \| ETA 12\.0s$/);
  });

  it("at 80 columns: the statistics that fit, a bar, and the ETA, never cut", () => {
    const line = renderProgressLine(epochLine, 80);
    expect(line.length).toBeLessThanOrEqual(79);
    expect(line).toMatch(/^epoch 3\/10 \[#+-+\] 120\/469 \| loss 0\.1234 \| 7374 samples\/s \| ETA 12\.0s$/);
  });

  it("narrower still: the bar goes, then everything but the count and the ETA", () => {
    for (const columns of [60, 40, 30, 20]) {
      const line = renderProgressLine({ ...epochLine, eta: 3723 }, columns);
      expect(line.length, String(columns)).toBeLessThanOrEqual(Math.max(19, columns - 1));
      expect(line, String(columns)).toMatch(columns > 20 ? /120\/469 \| (.* \| )?ETA 62m03s$/ : /^120\/469 ETA 62m03s$/);
    }
    expect(renderProgressLine({ ...epochLine, eta: null, stats: [] }, 80)).toMatch(/\| ETA --$/);
  });
});

describe("ProgressReporter on a terminal", () => {
  it("draws the epoch, validation and test lines in place, each within the width, with its ETA", () => {
    for (const columns of [80, 120]) {
      const term = new Terminal(columns);
      let clock = 0;
      const p = new ProgressReporter({ interactive: true, stream: term, now: () => clock });
      p.onTrainBegin({ epochs: 2, stepsPerEpoch: 10, trainSamples: 1280, validationSamples: 300 });
      for (let epoch = 0; epoch < 2; epoch++) {
        for (let s = 0; s < 10; s++) {
          clock += 150;
          p.onBatchEnd(epoch * 10 + s, { loss: 1 / (s + 1), accuracy: 0.5 });
        }
        for (const done of [100, 200, 300]) {
          clock += 120;
          p.onEvaluate("validation", done, 300);
        }
        p.onEpochEnd(epoch, { loss: 0.5, accuracy: 0.9, val_loss: 0.6, val_accuracy: 0.8 });
      }
      for (const done of [500, 1000]) {
        clock += 200;
        p.onEvaluate("test", done, 1000);
      }
      p.stop();
      const live = term.lines.filter((l) => /^(epoch \d+\/2 \[|validation|test)/.test(l));
      for (const l of live) {
        expect(l.length, l).toBeLessThanOrEqual(columns - 1);
        expect(l, l).toMatch(/ETA (--|\d+\.\ds)$/);
      }
      // a step takes 150 ms of 128 samples: 853 samples/s, 150.0 ms/step
      expect(live).toContain(live.find((l) => l.startsWith("epoch 1/2") && l.includes("10/10")));
      expect(live.some((l) => l.includes("853 samples/s"))).toBe(true);
      expect(live.some((l) => l.includes("150.0 ms/step"))).toBe(columns >= 120);
      expect(live.some((l) => /^validation \[#+-*\] 200\/300 \| 833 samples\/s \| ETA 0\.1s$/.test(l))).toBe(true);
      expect(live.some((l) => /^test \[#+-*\] 1000\/1000/.test(l))).toBe(true);
      // the finished lines stay, each on its own line; the live line is erased at the end
      expect(term.text).toMatch(/\r\x1b\[Kepoch 1\/2  loss 0\.5000  accuracy 0\.9000  val_loss 0\.6000  val_accuracy 0\.8000  \d+\.\ds  ETA \d+\.\ds\n/);
      expect(term.text.endsWith("\r\x1b[K")).toBe(true);
    }
  });

  it("not a terminal: no live lines, only the plain epoch lines", () => {
    const term = new Terminal(80);
    const p = new ProgressReporter({ interactive: false, stream: term });
    p.onTrainBegin({ epochs: 1, stepsPerEpoch: 2, trainSamples: 64, validationSamples: 0 });
    p.onBatchEnd(0, { loss: 1 });
    p.onEvaluate("test", 10, 10);
    p.onEpochEnd(0, { loss: 1 });
    expect(term.text).not.toContain("\r");
    expect(term.text.split("\n")).toHaveLength(3);
  });
});

describe("engineHeader", () => {
  const saved = process.env.NNC_THREADS;
  afterEach(() => {
    if (saved === undefined) delete process.env.NNC_THREADS;
    else process.env.NNC_THREADS = saved;
  });
  const fake = (name: "standalone" | "tfjs") => ({ name, train: async () => ({}) }) as unknown as Engine;

  it("states the standalone engine, its kernels and threads, and why", async () => {
    process.env.NNC_THREADS = "3";
    const header = await engineHeader(
      { engine: fake("standalone"), reason: "standalone engine (--engine standalone)" },
      { outDir: "x", kernels: "ts" },
    );
    expect(header).toBe("engine standalone (--engine standalone) · kernels ts (--kernels ts: TypeScript loops) · threads 3 ($NNC_THREADS)");
    delete process.env.NNC_THREADS;
    const auto = await engineHeader(
      { engine: fake("standalone"), reason: "standalone engine (the default on the CPU)" },
      { outDir: "x" },
    );
    expect(auto).toMatch(/^engine standalone \(the default on the CPU\) · kernels simd \(default: WebAssembly SIMD\) · threads \d \(\d+ cores?(, at most 8)?\)$/);
  });

  it("states the tfjs engine, its backend and threads, and why", async () => {
    const header = await engineHeader(
      { engine: fake("tfjs"), reason: "tfjs engine (--engine tfjs) on the cpu backend: --backend cpu" },
      { outDir: "x" },
    );
    expect(header).toBe("engine tfjs (--engine tfjs) · backend cpu (--backend cpu) · threads 1");
  });
});
