// Parse+check speed (issue 3: under 20 ms warm, for an editor checking as you type):
// the largest example and a generated 1,000-line file. Run alone: `node --import ./bin/register.mjs bench/check.ts`;
// `bench/run.ts` calls benchCheck().
import { readdirSync, readFileSync, statSync } from "node:fs";
import { PerformanceObserver } from "node:perf_hooks";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileSource } from "../src/compiler/index.js";
import { checkProgram } from "../src/compiler/checker/index.js";
import { parse } from "../src/parser/index.js";
import { tokenSoup } from "./fuzz-lib.js";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");

/** A 1,000-line .nn file: a block, a model of ~980 layer lines, a train section. */
export function generatedSource(lines = 1000): string {
  const head = [
    "# generated for bench/check.ts",
    "block hidden(units, rate = 0.1) {",
    "  dense(units, init: he_normal, regularizer: l2(1e-4))",
    "  leaky_relu(0.1)",
    "  dropout(rate)",
    "}",
    "",
    "model big(width = 64) {",
    "  input image(28, 28, 1)",
    "  flatten",
  ];
  const tail = [
    "  dense(10, activation: softmax)",
    "}",
    "",
    "train big {",
    "  data      mnist(validation_split: 0.1, augment: { rotation: 10, shift: 0.1 })",
    "  loss      categorical_crossentropy",
    "  optimizer adam(lr: 1e-3)",
    "  callbacks [early_stopping(monitor: val_loss, patience: 3, restore_best: true)]",
    "  metrics   [accuracy]",
    "  epochs    10",
    "  batch     128",
    "}",
  ];
  const body: string[] = [];
  const n = lines - head.length - tail.length;
  for (let i = 0; i < n; i++) {
    if (i % 4 === 0) body.push("  hidden(width)");
    else if (i % 4 === 1) body.push("  dense(width / 2 + 32, activation: relu)");
    else if (i % 4 === 2) body.push("  batch_norm(momentum: 0.9)");
    else body.push("  dense(width, activation: tanh, init: glorot_normal)");
  }
  return [...head, ...body, ...tail].join("\n") + "\n";
}

interface Timing {
  median: number;
  p90: number;
  /** Garbage collections (any kind) per run, while timing. */
  gcPerRun: number;
}

async function timeIt(text: string, file: string, runs: number): Promise<Timing> {
  // Warm up: V8 is still tiering the parser and checker up over the first ~10 runs of the big file.
  for (let i = 0; i < 30; i++) compileSource(text, file);
  const times: number[] = [];
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ["gc"] });
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const { ir } = compileSource(text, file);
    times.push(performance.now() - t0);
    if (!ir) throw new Error(`${file} does not check clean`);
  }
  await new Promise((done) => setTimeout(done, 50)); // GC entries arrive on the event loop
  observer.disconnect();
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(runs / 2)]!, p90: times[Math.floor(runs * 0.9)]!, gcPerRun: gcs / runs };
}

/** Median warm parse+check time in ms: `check.largest_example_ms`, `check.generated_1000_lines_ms`. */
export async function benchCheck(): Promise<Record<string, number>> {
  const dir = join(root, "examples");
  const largest = readdirSync(dir)
    .filter((f) => f.endsWith(".nn"))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0];
  const example = await timeIt(readFileSync(largest, "utf8"), largest, 50);
  const text = generatedSource(1000);
  const generated = await timeIt(text, "generated.nn", 40);
  // The checker alone (parse once), to tell the two stages apart.
  const { program } = parse(text);
  for (let i = 0; i < 30; i++) checkProgram(program, { file: "generated.nn", source: text });
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t0 = performance.now();
    checkProgram(program, { file: "generated.nn", source: text });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  // Token soup (issue 12): parse+check must stay linear in the input's size, however broken.
  const soup = (kb: number): number => {
    const text = tokenSoup(kb * 1024, kb);
    const t: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      compileSource(text, "soup.nn");
      t.push(performance.now() - t0);
    }
    return t.sort((a, b) => a - b)[1]!;
  };
  const soup256k = soup(256);
  const soup1m = soup(1024);
  return {
    "check.token_soup_256kb_ms": round(soup256k),
    "check.token_soup_1mb_ms": round(soup1m),
    // 4 when linear (1 MB is 4 x 256 KB)
    "check.token_soup_1mb_over_256kb": round(soup1m / soup256k),
    "check.largest_example_ms": round(example.median),
    "check.generated_1000_lines_ms": round(generated.median),
    // The runs that include a young-generation collection (it copies the tokens, syntax tree
    // and IR alive at that moment) are the slow tail.
    "check.generated_1000_lines_p90_ms": round(generated.p90),
    "check.generated_1000_lines_gc_per_run": round(generated.gcPerRun),
    "check.generated_1000_lines_checker_only_ms": round(times[Math.floor(times.length / 2)]),
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await benchCheck();
  for (const [k, v] of Object.entries(r)) console.log(`${k}: ${v} ms`);
}
