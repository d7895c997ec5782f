// `npm run bench -- --peers` (also `npm run bench:peers`): nnc's standalone engine side by side
// with PyTorch on the CPU, on the same four examples (mlp, cnn, deep without its augmentation,
// twolayer), the same MNIST images and batch sizes, at each thread count.
//
// The PyTorch side is the program nnc itself generates (`nnc compile --target pytorch`), imported
// by bench/peer-pytorch.py, which times the body of its training loop; the nnc side is
// bench/train-one.ts on the standalone engine (simd kernels, NNC_THREADS). Each measurement runs
// in its own process; the two engines alternate (nnc, PyTorch, nnc, PyTorch, ...) over --rounds
// rounds, so that a change in the machine's load falls on both. Both skip --warmup steps and then
// time a fixed number of steps; the report gives samples/s by wall clock and per second of the
// process's CPU time (all threads), the nnc/PyTorch ratios (median over the rounds of each round's
// ratio) and the load average. Results: bench/results/peers-<time>.json.
//
// Flags: --models mlp,cnn  --threads 1,2  --rounds N (default 3)  --scale X (steps x X)
//        --python PATH (default /usr/bin/python3)  --blas DIR (put DIR first on the PyTorch
//        process's LD_LIBRARY_PATH: a libblas.so.3 there replaces the system's)
//        --omp-wait passive|active (OMP_WAIT_POLICY of the PyTorch process; default: unset)  --out FILE
//
// Debian's python3-torch multiplies dense layers through the system's libblas.so.3; with only
// libblas3 installed that is the reference BLAS, several times slower than OpenBLAS. The report
// names the BLAS the PyTorch process loaded (bench/peer-pytorch.py reads /proc/self/maps).
// On a machine with more runnable threads than cores, PyTorch's OpenMP threads spin at every
// barrier for a partner that is not running (libgomp's default wait policy): at 2 threads on a
// loaded 2-core machine its steps took 15 times as long as at 1 thread; --omp-wait passive avoids
// that (and is recorded in the results).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const TS_NODE = ["--import", new URL("../bin/register.mjs", import.meta.url).href];

/** Timed steps per model (warm-up: half as many, at least 10): a few seconds of each engine. */
const STEPS: Record<string, number> = { mlp: 300, cnn: 60, deep: 120, twolayer: 1000 };

interface Side {
  samplesPerSecond: number;
  samplesPerCpuSecond: number;
  load: number;
}

interface PeerRow {
  model: string;
  threads: number;
  round: number;
  nnc: Side | { error: string };
  pytorch: Side | { error: string };
  /** The BLAS libraries the PyTorch process loaded. */
  blas?: string[];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The example's source; deep without its augmentation (the comparison is of the training step). */
function exampleSource(model: string): string {
  const text = readFileSync(join(root, "examples", `${model}.nn`), "utf8");
  return model === "deep" ? text.replace(/,\s*augment:\s*\{[^}]*\}/, "") : text;
}

function resultLine(stdout: string | null): Record<string, unknown> | null {
  const line = (stdout ?? "").split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  return line ? (JSON.parse(line.slice("BENCH_RESULT ".length)) as Record<string, unknown>) : null;
}

function why(child: ReturnType<typeof spawnSync>): string {
  return (child.error?.message ?? String(child.stderr ?? "").trim().split("\n").slice(-1)[0] ?? `exit ${child.status}`).slice(0, 300);
}

export async function benchPeers(argv: string[]): Promise<void> {
  const opt = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const models = opt("models", "mlp,cnn,deep,twolayer").split(",");
  const threads = opt("threads", "1,2").split(",").map(Number);
  const rounds = Number(opt("rounds", "3"));
  const scale = Number(opt("scale", "1"));
  const python = opt("python", "/usr/bin/python3");
  const blas = opt("blas", "");
  const ompWait = opt("omp-wait", "");
  const log = (line: string) => process.stderr.write(line + "\n");

  const probe = spawnSync(python, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  if (probe.status !== 0) {
    console.log(`--peers: ${python} cannot import torch (${why(probe)}); install python3-torch (Debian) or pass --python PATH`);
    process.exitCode = 1;
    return;
  }
  const dataDir = [process.env.NNC_DATA, join(root, "..", "shared", "data", "mnist")].find((d) => d && existsSync(join(d, "train-images-idx3-ubyte.gz")));
  if (!dataDir) {
    console.log("--peers: no MNIST found (set NNC_DATA to a folder with the idx files)");
    process.exitCode = 1;
    return;
  }

  const { compileSource } = (await import("../src/compiler/index.js")) as typeof import("../src/compiler/index.js");
  const { generatePytorch } = (await import("../src/compiler/targets/pytorch/index.js")) as typeof import("../src/compiler/targets/pytorch/index.js");
  const work = mkdtempSync(join(tmpdir(), "nnc-bench-peers-"));
  const started = new Date();
  const rows: PeerRow[] = [];
  try {
    // The same .nn for both: the nnc side trains it, the PyTorch side runs nnc's PyTorch program of it.
    const programs = new Map<string, { nn: string; py: string; lr: number }>();
    for (const model of models) {
      const source = exampleSource(model);
      const nn = join(work, `${model}.nn`);
      writeFileSync(nn, source);
      const { ir, diagnostics } = compileSource(source, nn);
      if (!ir || !ir.training) throw new Error(`${model}.nn does not compile: ${JSON.stringify(diagnostics.slice(0, 2))}`);
      const py = join(work, `${model}.py`);
      writeFileSync(py, generatePytorch(ir, { sourceText: source }));
      programs.set(model, { nn, py, lr: Number((ir.training.optimizer.args as { lr: number }).lr) });
    }
    const pythonEnv: NodeJS.ProcessEnv = { ...process.env };
    // OpenBLAS tuning meant for nnc's machine setup, not PyTorch's
    delete pythonEnv.OPENBLAS_CORETYPE;
    delete pythonEnv.OPENBLAS_L2_SIZE;
    if (ompWait) pythonEnv.OMP_WAIT_POLICY = ompWait.toUpperCase();
    if (blas) pythonEnv.LD_LIBRARY_PATH = [resolve(blas), pythonEnv.LD_LIBRARY_PATH].filter(Boolean).join(":");

    for (let round = 1; round <= rounds; round++) {
      for (const model of models) {
        const p = programs.get(model)!;
        const steps = Math.max(10, Math.round((STEPS[model] ?? 100) * scale));
        const warmup = Math.max(10, Math.round(steps / 2));
        for (const t of threads) {
          const row: PeerRow = { model, threads: t, round, nnc: { error: "not run" }, pytorch: { error: "not run" } };
          const nncChild = spawnSync(
            process.execPath,
            [...TS_NODE, join(here, "train-one.ts"), "--model", model, "--file", p.nn, "--engine", "standalone", "--kernels", "simd",
              "--warmup", String(warmup), "--warmup-seconds", "0", "--steps", String(steps), "--seconds", "1000"],
            { cwd: root, env: { ...process.env, NNC_THREADS: String(t), NNC_DATA: dataDir }, encoding: "utf8", timeout: 600_000, maxBuffer: 64 << 20 },
          );
          const r = resultLine(nncChild.stdout);
          row.nnc = r && r.ok
            ? { samplesPerSecond: r.samplesPerSecond as number, samplesPerCpuSecond: r.samplesPerCpuSecond as number, load: r.loadAverage as number }
            : { error: (r?.error as string | undefined) ?? why(nncChild) };
          const pyChild = spawnSync(
            python,
            [join(here, "peer-pytorch.py"), p.py, "--data", dataDir, "--threads", String(t), "--warmup", String(warmup), "--steps", String(steps), "--lr", String(p.lr)],
            { cwd: root, env: { ...pythonEnv, OMP_NUM_THREADS: String(t), MKL_NUM_THREADS: String(t), OPENBLAS_NUM_THREADS: String(t) }, encoding: "utf8", timeout: 600_000, maxBuffer: 64 << 20 },
          );
          const q = resultLine(pyChild.stdout);
          row.pytorch = q && q.ok
            ? { samplesPerSecond: q.samplesPerSecond as number, samplesPerCpuSecond: q.samplesPerCpuSecond as number, load: q.loadAverage as number }
            : { error: why(pyChild) };
          if (q) row.blas = q.blas as string[];
          rows.push(row);
          const show = (s: Side | { error: string }) => ("error" in s ? `failed: ${s.error}` : `${s.samplesPerSecond.toFixed(0)}/s, ${s.samplesPerCpuSecond.toFixed(0)}/cpu-s`);
          log(`round ${round} ${model} ${t}t: nnc ${show(row.nnc)}; pytorch ${show(row.pytorch)} (load ${loadavg()[0]!.toFixed(2)})`);
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const out: string[][] = [["model", "threads", "nnc samples/s", "PyTorch samples/s", "nnc/PyTorch wall", "nnc /cpu-s", "PyTorch /cpu-s", "nnc/PyTorch CPU", "load avg", "rounds"]];
  const summary: unknown[] = [];
  for (const model of models) {
    for (const t of threads) {
      const ok = rows.filter((r) => r.model === model && r.threads === t && !("error" in r.nnc) && !("error" in r.pytorch)) as (PeerRow & { nnc: Side; pytorch: Side })[];
      const s = {
        model,
        threads: t,
        rounds: ok.length,
        nncSamplesPerSecond: median(ok.map((r) => r.nnc.samplesPerSecond)),
        pytorchSamplesPerSecond: median(ok.map((r) => r.pytorch.samplesPerSecond)),
        ratioWall: median(ok.map((r) => r.nnc.samplesPerSecond / r.pytorch.samplesPerSecond)),
        nncSamplesPerCpuSecond: median(ok.map((r) => r.nnc.samplesPerCpuSecond)),
        pytorchSamplesPerCpuSecond: median(ok.map((r) => r.pytorch.samplesPerCpuSecond)),
        ratioCpu: median(ok.map((r) => r.nnc.samplesPerCpuSecond / r.pytorch.samplesPerCpuSecond)),
        load: median(ok.flatMap((r) => [r.nnc.load, r.pytorch.load])),
      };
      summary.push(s);
      const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "-");
      const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
      out.push([model, String(t), f0(s.nncSamplesPerSecond), f0(s.pytorchSamplesPerSecond), f2(s.ratioWall), f0(s.nncSamplesPerCpuSecond), f0(s.pytorchSamplesPerCpuSecond), f2(s.ratioCpu), f2(s.load), `${ok.length}/${rounds}`]);
    }
  }
  console.log("\n" + table(out));
  console.log(
    "samples/s: wall clock over the timed steps (steady state, after the warm-up steps); /cpu-s: per second of\n" +
      "the process's CPU time (all its threads); ratios: median over the rounds of nnc/PyTorch in the same round\n" +
      "(> 1: nnc faster); load avg: the 1-minute load average as the runs ended (2 cores: above 2, the figures\n" +
      "are those of a shared machine, and the CPU-time ratio is the steadier one).\n",
  );
  const blasUsed = [...new Set(rows.flatMap((r) => r.blas ?? []))];
  console.log(`PyTorch ${probe.stdout.trim()} loaded: ${blasUsed.join(", ") || "no BLAS library"}; OMP_WAIT_POLICY ${ompWait || "unset"}`);
  if (blasUsed.some((b) => b.includes("/blas/libblas.so"))) {
    console.log("  (that is the reference BLAS of Debian's libblas3: PyTorch's dense products run far below its usual speed;\n" +
      "   install libopenblas0-pthread, or unpack its .deb and pass --blas <dir holding its libblas.so.3>)");
  }
  for (const r of rows) {
    if ("error" in r.nnc) console.log(`  round ${r.round} ${r.model} ${r.threads}t nnc: ${r.nnc.error}`);
    if ("error" in r.pytorch) console.log(`  round ${r.round} ${r.model} ${r.threads}t pytorch: ${r.pytorch.error}`);
  }
  const report = {
    date: started.toISOString(),
    kind: "peers",
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGB: Math.round(totalmem() / 2 ** 30), node: process.version, torch: probe.stdout.trim(), loadAverageAtStart: loadavg() },
    flags: argv,
    pytorchBlas: blasUsed,
    ompWaitPolicy: ompWait || "default (unset)",
    steps: Object.fromEntries(models.map((m) => [m, Math.max(10, Math.round((STEPS[m] ?? 100) * scale))])),
    summary,
    rounds: rows,
    loadAverageAtEnd: loadavg(),
  };
  const resultsDir = join(here, "results");
  mkdirSync(resultsDir, { recursive: true });
  const file = opt("out", join(resultsDir, `peers-${started.toISOString().replace(/[:.]/g, "-")}.json`));
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  console.log(`saved ${file}`);
}
