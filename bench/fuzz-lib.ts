// The front end's fuzzer: generators of hostile and careless .nn text, and the oracle every
// input must pass. Used by test/fuzz.test.ts (a few seconds in CI) and by `npm run fuzz --
// --seconds N` (bench/fuzz.ts: long campaigns in a worker thread with a watchdog).
//
// The oracle: parse + check (compileSource) + fmt on the text never throw, report no internal
// error (E999, E199), and position every diagnostic inside the file.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { compileSource } from "../src/compiler/index.js";
import { format } from "../src/compiler/format.js";
import { parse } from "../src/parser/index.js";
import type { Diagnostic } from "../src/parser/diagnostics.js";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");

/** Every .nn the repository holds (examples, golden cases) and the reference's examples. */
export function seedSources(): string[] {
  const out: string[] = [];
  for (const dir of ["examples", "test/golden/semantic"]) {
    for (const f of readdirSync(join(root, dir))) if (f.endsWith(".nn")) out.push(readFileSync(join(root, dir, f), "utf8"));
  }
  const readme = readFileSync(join(root, "grammar/README.md"), "utf8");
  for (const m of readme.matchAll(/```nn\n([\s\S]*?)```/g)) out.push(m[1]!);
  return out;
}

/** Tokens of the language, and some that are not. */
export const TOKENS = [
  "model", "block", "train", "input", "for", "in", "repeat", "sweep", "true", "false",
  "m", "x", "a", "b", "units", "dense", "conv2d", "max_pool", "flatten", "dropout", "add", "concat", "reshape", "relu", "softmax",
  "image", "vector", "mnist", "adam", "sgd", "epochs", "batch", "loss", "data", "optimizer", "callbacks", "metrics",
  "(", ")", "[", "]", "{", "}", ",", ":", ";", "->", "=", "+", "-", "*", "/",
  "0", "1", "3", "28", "-1", "0.5", "1e-4", "1e400", "1e9", "10000000000", "2.5.1", "3units",
  '"s"', '"../../x"', '"', "\n", "\n", "\n", "  ", "# c", "\r", "\u2028", "\0", "@", "'q'", "é", "\uFEFF",
];

/** Random token soup: `count` tokens joined by spaces. */
export function tokenSoup(bytes: number, seed = 1): string {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const out: string[] = [];
  let n = 0;
  while (n < bytes) {
    const t = TOKENS[Math.floor(rnd() * TOKENS.length)]!;
    out.push(t);
    n += t.length + 1;
  }
  return out.join(" ");
}

/** Pieces spliced into real files: fragments, unbalanced brackets, huge counts, odd characters. */
const PIECES = [
  "0", "-1", "1.5", "x", "a", "(", ")", "[", "]", "{", "}", ",", ":", "->", "relu", "dense(3)", "add(a, a)", "\n", "same",
  "1e400", "/0", "*", "input", "flatten", "concat(a, b)", "= ", '"s"', "true", "repeat 2 {", "for u in [1, 2] {", "val_loss",
  "sweep x in [1]", "conv2d(8)", "repeat 100000 {", "repeat 1e9 { dense(4) }", "dense(1e9)", "batch 1e12", "((((((((((((", "[[[[[[[[",
  "- - - - -", "1 + 1 + 1 + 1 + 1", "block b { b }", "block c(u) { c(u) }", "\r", "\u2028", "\0", "\t", "#", 'tensorboard(dir: "../../x")',
  'csv_logger(path: "/etc/x")', 'checkpoint(path: "..")', "terminate_on_nan", "sgd(lr: 1000000)", "x = ", "input x: image(2, 2, 1)",
  "model", "train m {", "block", "}", "{}", "max_pool(100)", "reshape([0])", "dropout(1)", "epochs 0", "batch 0",
];

export const mutatedSource = (seeds: readonly string[]): fc.Arbitrary<string> =>
  fc
    .record({
      source: fc.integer({ min: 0, max: seeds.length - 1 }),
      edits: fc.array(
        fc.record({
          at: fc.double({ min: 0, max: 1, noNaN: true }),
          del: fc.integer({ min: 0, max: 12 }),
          insert: fc.oneof(fc.constantFrom(...PIECES), fc.constant(""), fc.string({ maxLength: 4 }), fc.string({ unit: "binary", maxLength: 3 })),
          times: fc.constantFrom(1, 1, 1, 2, 5, 70),
        }),
        { minLength: 1, maxLength: 6 },
      ),
    })
    .map(({ source, edits }) => {
      let s = seeds[source]!;
      for (const e of edits) {
        const pos = Math.floor(e.at * s.length);
        s = s.slice(0, pos) + e.insert.repeat(e.times) + s.slice(pos + e.del);
      }
      return s;
    });

export const soupSource: fc.Arbitrary<string> = fc.array(fc.constantFrom(...TOKENS), { maxLength: 400 }).map((t) => t.join(" "));

const num = fc.oneof(fc.integer({ min: -3, max: 70 }).map(String), fc.constantFrom("0.5", "1e-3", "1e9", "2.5", "units", "u * 2", "(u + 1) / 2"));
const layer = fc.oneof(
  num.map((n) => `dense(${n})`),
  fc.tuple(num, num).map(([a, b]) => `conv2d(${a}, kernel: ${b}, padding: same)`),
  fc.tuple(num, fc.constantFrom("", ", strides: 2")).map(([a, s]) => `max_pool(${a}${s})`),
  fc.constantFrom("flatten", "relu", "dropout(0.5)", "batch_norm", "dense(10, activation: softmax)", "dense(4, activation: sigmoid)", "h(4)", "reshape([7, 7, 16])", "x = dense(4)", "y = x -> relu", "add(x, y)", "concat(x, y)"),
);
const stmt = fc.oneof(
  { weight: 5, arbitrary: layer },
  { weight: 1, arbitrary: fc.tuple(num, layer).map(([n, l]) => `repeat ${n} { ${l} }`) },
  { weight: 1, arbitrary: fc.tuple(fc.array(num, { maxLength: 4 }), layer).map(([xs, l]) => `for units in [${xs.join(", ")}] {\n    ${l}\n  }`) },
);
const setting = fc.constantFrom(
  "data      mnist(validation_split: 0.2)", "data      fashion_mnist", "loss      categorical_crossentropy", "loss      binary_crossentropy",
  "loss      sparse_categorical_crossentropy(from_logits: true)", "optimizer adam(lr: 1e-3)", "optimizer sgd(lr: 1000000)", "epochs    2", "batch     64",
  "batch     1e12", "metrics   [accuracy]", 'callbacks [tensorboard(dir: "tb"), csv_logger(path: "log.csv")]', 'callbacks [checkpoint(path: "../../out")]',
  "callbacks [early_stopping(monitor: val_loss, patience: 2)]", "sweep     units in [8, 16]", "schedule  exponential_decay(decay_steps: 100, decay_rate: 0.9)",
);

/** Programs in the language's shape, with random (often wrong) layers, loops, blocks and settings. */
export const structuredSource: fc.Arbitrary<string> = fc
  .record({
    input: fc.constantFrom("input image(28, 28, 1)", "input vector(784)", "input x: image(28, 28, 1)", "input image(14, 14, 1)", ""),
    body: fc.array(stmt, { maxLength: 12 }),
    block: fc.array(layer, { maxLength: 3 }),
    train: fc.array(setting, { maxLength: 8 }),
  })
  .map(({ input, body, block, train }) =>
    [
      `block h(units = 8) {\n  ${block.join("\n  ")}\n}`,
      `model m(units = 16) {\n  ${[input, ...body].filter(Boolean).join("\n  ")}\n}`,
      `train m {\n  ${train.join("\n  ")}\n}`,
    ].join("\n\n") + "\n",
  );

/** Every generator, for the campaign. */
export function allSources(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 4, arbitrary: mutatedSource(seeds) }, { weight: 2, arbitrary: structuredSource }, { weight: 1, arbitrary: soupSource });
}

export interface Verdict {
  /** What is wrong (empty when the input passes). */
  problems: string[];
  ms: number;
}

function linesOf(text: string): number {
  let n = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) n++;
  }
  return n;
}

function positioned(d: Diagnostic, length: number, lines: number): string | null {
  const s = d.span;
  const ok =
    Number.isInteger(s.startOffset) && Number.isInteger(s.endOffset) && s.startOffset >= 0 && s.startOffset <= s.endOffset && s.endOffset <= length &&
    s.startLine >= 1 && s.startLine <= s.endLine && s.endLine <= lines && s.startColumn >= 1 && s.endColumn >= 1;
  return ok ? null : `${d.code} positioned outside the file: ${JSON.stringify(s)} (length ${length}, ${lines} lines)`;
}

/** What is wrong with a stage's diagnostics on a text of `length` characters and `lines` lines. */
export function diagnosticProblems(stage: string, diags: readonly Diagnostic[], length: number, lines: number): string[] {
  const problems: string[] = [];
  for (const d of diags) {
    if (d.code === "E999" || d.code === "E199") problems.push(`${stage}: internal error ${d.code}: ${d.message}`);
    const p = positioned(d, length, lines);
    if (p) problems.push(`${stage}: ${p}`);
  }
  return problems;
}

/** The oracle: parse + check + fmt on `text`. */
export function judge(text: string): Verdict {
  const problems: string[] = [];
  const t0 = performance.now();
  const length = text.length;
  const lines = linesOf(text);
  const look = (stage: string, diags: readonly Diagnostic[]) => problems.push(...diagnosticProblems(stage, diags, length, lines));
  try {
    look("parse", parse(text).diagnostics);
  } catch (err) {
    problems.push(`parse threw: ${(err as Error).stack ?? String(err)}`);
  }
  try {
    look("check", compileSource(text, "fuzz.nn").diagnostics);
  } catch (err) {
    problems.push(`check threw: ${(err as Error).stack ?? String(err)}`);
  }
  try {
    look("fmt", format(text).diagnostics);
  } catch (err) {
    problems.push(`fmt threw: ${(err as Error).stack ?? String(err)}`);
  }
  return { problems, ms: performance.now() - t0 };
}
