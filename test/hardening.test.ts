// Issue 12, one regression test per finding not covered by a golden diagnostic
// (test/golden/semantic/E304-conv2d-*, E312-*, E313-*, E314-*, W606-*, test/golden/syntax/*-too-deep)
// or by test/fuzz.test.ts, test/kill.test.ts, test/cli-predict.test.ts and test/runtime/mnist.test.ts.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { compileSource } from "../src/compiler/index.js";
import type { ChainStmt, ModelDecl } from "../src/parser/ast.js";
import { format } from "../src/compiler/format.js";
import { parse } from "../src/parser/index.js";
import { lex } from "../src/parser/lexer.js";
import { MAX_PARSE_ERRORS, parseTokens } from "../src/parser/parser.js";
import { tokenSoup } from "../bench/fuzz-lib.js";
import { DEFAULT_LIMITS, exprTerms, parseLimit, STANDALONE_MAX_MEMORY_BYTES, trainingSize } from "../src/compiler/checker/limits.js";
import { pathProblem } from "../src/compiler/checker/paths.js";
import { writeModelDir } from "../src/runtime/data/mnist.js";
import { checkWritable, sweepStaleTemps } from "../src/runtime/run/files.js";
import { DivergenceGuard } from "../src/runtime/run/divergence.js";
import { main } from "../src/cli/main.js";
import { runDeps } from "../src/cli/commands/run.js";
import { writeSyntheticMnist } from "./helpers/data.js";

const root = resolve(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "nnc-hardening-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const codes = (text: string, limits = {}) => compileSource(text, "t.nn", { limits }).diagnostics.map((d) => `${d.code} ${d.span.startLine}:${d.span.startColumn}`);
const M = (body: string, train = "") => `model m {\n  input vector(4)\n${body}\n  dense(10, activation: softmax)\n}\n${train}`;

describe("crashes", () => {
  it("deep nesting is refused quickly in a worker thread too (as a language server runs it)", async () => {
    const worker = new Worker(
      `const { register } = require("node:module");
       const { pathToFileURL } = require("node:url");
       const { parentPort, workerData } = require("node:worker_threads");
       register(pathToFileURL(workerData.hooks).href);
       import(pathToFileURL(workerData.parser).href).then(({ parse }) => {
         const out = [];
         for (const n of [300, 10000]) {
           const d = parse("model m {\\n  dense(" + "(".repeat(n) + "1" + ")".repeat(n) + ")\\n}\\n").diagnostics;
           out.push(d.map((x) => x.code + " " + x.span.startLine + ":" + x.span.startColumn).join(","));
         }
         parentPort.postMessage(out);
       });`,
      { eval: true, workerData: { hooks: join(root, "bin/ts-hooks.mjs"), parser: join(root, "src/parser/index.ts") } },
    );
    const out = await new Promise<string[]>((done, fail) => {
      worker.once("message", done);
      worker.once("error", fail);
    });
    await worker.terminate();
    expect(out).toEqual(["E120 2:71", "E120 2:71"]);
  });

  it("a 30,000-term sum is checked (E312) and formatted without overflowing the stack", () => {
    // (30,000 nested calls of the old recursive evaluate and printer overflowed the stack)
    const sum = Array.from({ length: 30_000 }, () => "1").join(" + ");
    const text = M(`  dense(${sum})`);
    expect(codes(text)).toEqual(["E312 3:9"]);
    expect(codes(text, { terms: 40_000 })).toEqual([]);
    const formatted = format(text);
    expect(formatted.diagnostics).toEqual([]);
    expect(formatted.text.replace(/\s+/g, "")).toBe(text.replace(/\s+/g, ""));
    const chain = (parse(text).program.decls[0] as ModelDecl).body[1] as ChainStmt;
    expect(exprTerms(chain.steps[0]!.args![0]!.value)).toBe(30_000);
  });
});

describe("linear in the input", () => {
  it("the recovering parser stops after MAX_PARSE_ERRORS errors (chevrotain copies its error list per attempt)", () => {
    const { tokens } = lex(tokenSoup(256 * 1024, 7));
    const { parser } = parseTokens(tokens);
    expect(parser.errors.length).toBeGreaterThan(MAX_PARSE_ERRORS);
    expect(parser.errors.length).toBeLessThan(MAX_PARSE_ERRORS + 40);
    const d = parse(tokenSoup(256 * 1024, 7)).diagnostics;
    expect(d.at(-1)!.code).toBe("E119");
  });
});

describe("limits", () => {
  it("each limit can be raised: --limit NAME=N", () => {
    expect(parseLimit("layers=20000")).toEqual(["layers", 20000]);
    expect(parseLimit("memory=8G")).toEqual(["memory", 8e9]);
    expect(parseLimit("repeat = 1_000k")).toEqual(["repeat", 1e6]);
    expect(parseLimit("layer=3")).toMatch(/unknown limit "layer" \(names: repeat, loop/);
    expect(parseLimit("layers=0")).toMatch(/must be at least 1/);
    expect(codes(M("  repeat 20000 { relu }"))).toEqual(["E312 3:10"]);
    expect(codes(M("  repeat 20000 { relu }"), { repeat: 30000, layers: 30000, steps: 100000 })).toEqual([]);
  });

  it("a `for` over more items than the loop limit (raised terms) is E312 at its list", () => {
    const items = Array.from({ length: 150 }, () => "4").join(", ");
    expect(codes(M(`  for u in [${items}] { dense(u) }`), { loop: 100 })).toEqual(["E312 3:12"]);
  });

  it("the memory limit (default: this machine's memory) is E313 at `batch`", () => {
    const train = "train m {\n  data      mnist\n  loss      categorical_crossentropy\n  optimizer adam\n  batch     64\n}\n";
    const text = "model m {\n  input image(28, 28, 1)\n  flatten\n  dense(512)\n  dense(10, activation: softmax)\n}\n" + train;
    expect(codes(text)).toEqual([]);
    const d = compileSource(text, "t.nn", { limits: { memory: 1_000_000 } }).diagnostics;
    expect(d.map((x) => `${x.code} ${x.span.startLine}:${x.span.startColumn}`)).toEqual(["E313 11:13"]);
    expect(d[0]!.message).toMatch(/^training this model needs about \d+\.\d MiB .* over the limit of 977 KiB \(limit `memory`\)$/);
    expect(d[0]!.hint).toBe("use a smaller `batch` or fewer units, or raise the limit with `--limit memory=1G`");
  });

  it("a model over the standalone engine's WebAssembly memory gets W607, and `run` refuses that engine before training", async () => {
    const train = "train m {\n  data      mnist\n  loss      categorical_crossentropy\n  optimizer adam\n  batch     100000\n}\n";
    const text = "model m {\n  input image(28, 28, 1)\n  flatten\n  dense(4096)\n  dense(10, activation: softmax)\n}\n" + train;
    const { ir, diagnostics } = compileSource(text, "t.nn", { limits: { memory: 1e13 } });
    expect(diagnostics.map((x) => x.code)).toEqual(["W607"]);
    expect(trainingSize(ir!.model, ir!.training).bytes).toBeGreaterThan(STANDALONE_MAX_MEMORY_BYTES);
  });

  it("the standalone limit is the generated program's WebAssembly.Memory maximum", () => {
    const gen = readFileSync(join(root, "src/compiler/targets/standalone/kernels/index.ts"), "utf8");
    const pages = Number(/new WebAssembly\.Memory\(\{ initial: \d+, maximum: (\d+)/.exec(gen)![1]);
    expect(pages * 65536).toBe(STANDALONE_MAX_MEMORY_BYTES);
    expect(DEFAULT_LIMITS.memory).toBeGreaterThan(0);
  });
});

describe("paths inside the run directory", () => {
  it.each([
    ["logs", null],
    ["logs/../tb", null],
    ["a/b/c.csv", null],
    ["../../outside/tb", "climbs out of it with `..`"],
    ["logs/../../x", "climbs out of it with `..`"],
    ["..\\..\\x", "climbs out of it with `..`"],
    ["/etc/x", "is absolute"],
    ["C:\\x", "is absolute"],
    ["~/x", "is absolute"],
    ["", "is empty"],
    [".", "is the run directory itself"],
    ["a\u0000b", "holds a NUL character, which no file name can"],
    ["a\u2028b\n.csv", null],
    ["model/x", "would replace `model`, which `nnc run` writes itself"],
    ["history.csv", "would replace `history.csv`, which `nnc run` writes itself"],
  ])("%j: %s", (p, problem) => expect(pathProblem(p)).toBe(problem));
});

describe("saves whole or absent", () => {
  it("writeModelDir replaces a model folder whole and never writes NaN weights", () => {
    const dir = join(tmp, "save", "model");
    const w = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);
    writeModelDir(dir, { "weights.bin": w([1, 2]), "model.json": '{"v":1}' });
    writeModelDir(dir, { "weights.bin": w([3, 4, 5]), "model.json": '{"v":2}' });
    expect(readFileSync(join(dir, "model.json"), "utf8")).toBe('{"v":2}');
    expect(readFileSync(join(dir, "weights.bin")).length).toBe(12);
    expect(() => writeModelDir(dir, { "weights.bin": w([1, Number.NaN, Infinity]), "model.json": '{"v":3}' })).toThrow(
      /not saving the model in .*save\/model: 2 of its 3 weights are NaN or infinite \(training diverged\)/,
    );
    expect(readFileSync(join(dir, "model.json"), "utf8")).toBe('{"v":2}');
    expect(readdirSync(join(tmp, "save"))).toEqual(["model"]);
  });

  it("the next run sweeps temporary files of dead processes, not of live ones", () => {
    const dir = join(tmp, "sweep", "run-1");
    mkdirSync(join(dir, "model.tmp-999999-abc"), { recursive: true });
    writeFileSync(join(dir, "model.tmp-999999-abc", "weights.bin"), "x");
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeFileSync(join(dir, `history.json.tmp-${dead}-q1w2e3`), "{");
    writeFileSync(join(dir, `curves.png.tmp-${process.pid}-zzz`), "mine, in flight");
    const removed = sweepStaleTemps(join(tmp, "sweep")).map((p) => p.slice(dir.length + 1)).sort();
    expect(removed).toEqual([`history.json.tmp-${dead}-q1w2e3`, "model.tmp-999999-abc"]);
    expect(readdirSync(dir)).toEqual([`curves.png.tmp-${process.pid}-zzz`]);
  });

  it("writability and free space are checked before training, naming the folder and the cause", () => {
    const dir = join(tmp, "space");
    mkdirSync(dir);
    expect(() => checkWritable(dir, 1e18)).toThrow(/^not enough free space in .*space: the run writes about \d+(\.\d)? MiB \(the model, checkpoints and logs\) and \d+(\.\d)? MiB are free; free some space or choose another --out$/);
    expect(() => checkWritable(dir, 1000)).not.toThrow();
    expect(readdirSync(dir)).toEqual([]);
    expect(() => checkWritable("/proc", 1000)).toThrow(/^cannot write in the run directory \/proc: /);
  });
});

describe("divergence", () => {
  it("the guard stops at the first non-finite loss with the epoch and batch (whole-run steps too)", () => {
    const seen: string[] = [];
    const g = new DivergenceGuard({ onBatchEnd: (s) => seen.push(`b${s}`), onEpochEnd: (e) => seen.push(`e${e}`) });
    g.onTrainBegin({ epochs: 3, stepsPerEpoch: 10, trainSamples: 100, validationSamples: 0 });
    for (let s = 0; s < 10; s++) g.onBatchEnd(s, { loss: 1 });
    g.onEpochEnd(0, { loss: 1 });
    g.onBatchEnd(10, { loss: 2 }); // the tfjs engine counts steps over the run
    g.onBatchEnd(11, { loss: Number.NaN });
    g.onBatchEnd(12, { loss: Infinity });
    expect(g.diverged).toEqual({ epoch: 2, batch: 2, stepsPerEpoch: 10, loss: Number.NaN });
    expect(g.controller.signal.aborted).toBe(true);
    expect(String((g.controller.signal.reason as Error).message)).toMatch(/^training diverged: the loss became NaN at epoch 2, batch 2 of 10; stopped without saving the model/);
    expect(seen.at(-1)).toBe("b12");
  });
});

describe("nnc run end to end (standalone engine, synthetic data)", () => {
  class Capture extends Writable {
    text = "";
    isTTY = false;
    override _write(chunk: Buffer, _enc: string, cb: () => void): void {
      this.text += chunk.toString();
      cb();
    }
  }
  const saved = { ...runDeps };
  let err: Capture;
  let cliErr = "";
  beforeEach(() => {
    err = new Capture();
    runDeps.stdout = new Capture();
    runDeps.stderr = err;
    runDeps.handleSigint = false;
    cliErr = "";
    vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => ((cliErr += c.toString()), true));
  });
  afterEach(() => {
    Object.assign(runDeps, saved);
    vi.restoreAllMocks();
  });
  const data = writeSyntheticMnist(join(tmp, "data"), { train: 512, test: 64 });
  const nan = join(tmp, "nan.nn");
  writeFileSync(
    nan,
    `model mlp {
  input image(28, 28, 1)
  flatten
  dense(512, activation: relu)
  dense(10, activation: softmax)
}

train mlp {
  data      mnist(validation: test)
  loss      categorical_crossentropy
  optimizer sgd(lr: 1000000)
  callbacks [checkpoint(path: "ckpt")]
  epochs    3
  batch     32
}
`,
  );

  it("a diverging run stops with exit 3, the epoch and batch, and saves no model", async () => {
    const out = join(tmp, "diverged");
    const code = await main(["node", "nnc", "run", nan, "--data", data, "--out", out, "--quiet", "--kernels", "ts"]);
    expect(code).toBe(3);
    expect(cliErr).toMatch(/^nnc: training diverged: the loss became (NaN|Infinity) at epoch 1, batch \d+ of 16; stopped without saving the model/m);
    expect(existsSync(join(out, "model"))).toBe(false);
    expect(existsSync(join(out, "ckpt"))).toBe(false);
  });

  it("--kernels with the tfjs engine is an error, before anything runs", async () => {
    expect(await main(["node", "nnc", "run", nan, "--engine", "tfjs", "--kernels", "simd"])).toBe(2);
    expect(cliErr).toMatch(/--kernels chooses the standalone engine's kernels; it does not apply with --engine tfjs/);
  });

  it("compile flags of the other target are errors", async () => {
    expect(await main(["node", "nnc", "compile", nan, "--target", "tfjs", "--kernels", "simd", "-o", "-"])).toBe(2);
    expect(cliErr).toMatch(/^nnc: --kernels does not apply to --target tfjs \(drop it, or use --target standalone\)\n$/);
  });

  it("compile -o into a missing folder names the folder, not a temporary file", async () => {
    expect(await main(["node", "nnc", "compile", nan, "-o", join(tmp, "no/such/dir/x.ts")])).toBe(2);
    expect(cliErr).toMatch(/^nnc: cannot write .*no\/such\/dir\/x\.ts: the folder .*no\/such\/dir does not exist\n$/);
    expect(cliErr).not.toMatch(/tmp\b.*\.tmp|\.[0-9a-f]{8}\.tmp/);
  });
});
