// `npm run bench`: the standalone engine's speed.
//   1. nnc's own matrix multiply (gemm), GFLOP/s per kernel mode and thread count, on the seed
//      models' shapes (bench/gemm.ts);
//   2. training throughput (samples/s, s/epoch extrapolated to a full MNIST epoch, peak RSS) of
//      examples mlp, cnn, deep and twolayer on the standalone engine in each kernel mode and on
//      tfjs (every backend present), each in its own process (bench/train-one.ts), with the ratio
//      to the tfjs backends measured in the same run;
//   3. bench/check.ts's benchCheck(), when that file exists;
//   4. bench/lsp.ts's benchLsp(): the language server's diagnostics latency after a one-character
//      edit in a 1,000-line file, and its heap over 10,000 edits (--no-lsp, --lsp-edits N).
// Figures are printed as tables and saved to bench/results/<timestamp>.json.
//
// Flags: --steps N (max timed steps per model, default 5000)  --seconds S (max timed seconds per
// model, default 6)  --warmup-seconds W (standalone training before timing, default 2)  --models
// mlp,cnn  --quick (gemm only on a few shapes, 30 steps, 1 s warm-up, 4 s timed)
// --no-gemm  --no-train  --threads 1,2 (gemm thread counts)  --train-threads 1,2 (simd engine
// runs; NNC_THREADS of the standalone engine)  --out FILE
// --peers: instead, nnc side by side with PyTorch (bench/peers.ts, its own flags)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { benchGemm, GEMM_SHAPES, type GemmResult } from "./gemm.js";

/** Node with nnc's TypeScript hooks (bin/register.mjs): how every benchmark child process runs. */
const TS_NODE = ["--import", new URL("../bin/register.mjs", import.meta.url).href];
import type { TrainBenchResult } from "./train-one.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};

const quick = flag("quick");
const steps = Number(opt("steps", quick ? "30" : "5000"));
const seconds = Number(opt("seconds", quick ? "4" : "6"));
/** Standalone runs train this long before the timed steps: V8 optimises the loops as they run. */
const warmupSeconds = Number(opt("warmup-seconds", quick ? "1" : "2"));
const models = opt("models", "mlp,cnn,deep,twolayer").split(",");
const threadCounts = opt("threads", "1,2").split(",").map(Number);
const trainThreads = opt("train-threads", "1,2").split(",").map(Number);

/** The PyTorch figures of issue 5 (2 cores, Zen 4) and the targets (half of them). */
const PYTORCH: Record<string, number> = { mlp: 36250, cnn: 5992, deep: 2893, twolayer: 193757 };
const TARGET: Record<string, number> = { mlp: 18000, cnn: 3000, deep: 1450, twolayer: 100000 };

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

function log(line: string): void {
  process.stderr.write(line + "\n");
}

async function main(): Promise<void> {
  if (flag("peers")) {
    // nnc side by side with PyTorch (bench/peers.ts), instead of the rest
    const { benchPeers } = await import("./peers.js");
    await benchPeers(argv);
    return;
  }
  const started = new Date();
  const report: Record<string, unknown> = {
    date: started.toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverageAtStart: loadavg() },
    flags: argv,
  };

  // 1. gemm
  let gemm: GemmResult[] = [];
  if (!flag("no-gemm")) {
    log("gemm GFLOP/s ...");
    const configs = [
      ...threadCounts.map((threads) => ({ mode: "ts" as const, threads })),
      ...threadCounts.map((threads) => ({ mode: "simd" as const, threads })),
    ];
    const shapes = quick ? GEMM_SHAPES.slice(0, 3) : GEMM_SHAPES;
    gemm = await benchGemm(configs, shapes, quick ? 60 : 100, log);
    report.gemm = gemm;
    const names = [...new Set(gemm.map((g) => `${g.mode}/${g.threads}t`))];
    const cpuNames = names.filter((n) => n.endsWith("/1t"));
    const rows = [["gemm GFLOP/s", ...names, ...cpuNames.map((n) => `${n} /cpu-s`)]];
    const find = (n: string, s: string) => gemm.find((g) => `${g.mode}/${g.threads}t` === n && g.shape === s);
    for (const s of shapes) {
      rows.push([
        s.name,
        ...names.map((n) => find(n, s.name)?.gflops.toFixed(1) ?? "-"),
        ...cpuNames.map((n) => find(n, s.name)?.gflopsCpu?.toFixed(1) ?? "-"),
      ]);
    }
    console.log("\n" + table(rows));
    console.log("GFLOP/s = 2*M*N*K per wall-clock second; /cpu-s: per second of CPU time (the idle-machine rate of one thread)\n");
  }

  // 2. training throughput
  const train: TrainBenchResult[] = [];
  if (!flag("no-train")) {
    const variants: { engine: string; kernels?: string; backend?: string; threads?: number }[] = [
      { engine: "standalone", kernels: "ts", threads: 1 },
      ...trainThreads.map((threads) => ({ engine: "standalone", kernels: "simd", threads })),
      { engine: "tfjs", backend: "cpu" },
      { engine: "tfjs", backend: "wasm" },
    ];
    for (const model of models) {
      for (const v of variants) {
        const label = v.engine === "standalone" ? `standalone/${v.kernels}/${v.threads}t` : `tfjs/${v.backend}`;
        if (v.engine === "tfjs" && v.backend === "wasm" && model === "cnn") {
          // tfjs-backend-wasm has no Conv2DBackpropFilter / Conv2DBackpropInput kernels in Node.
          train.push({ model, engine: "tfjs", variant: label, ok: false, error: "cannot train (tfjs wasm backend lacks conv2d gradients)" });
          log(`train ${model} ${label}: cannot train`);
          continue;
        }
        // tfjs's pure-JS backend is slow: give it fewer steps.
        const s = v.engine === "tfjs" ? Math.max(5, Math.min(12, Math.floor(steps / 5))) : steps;
        const args = [...TS_NODE, join(here, "train-one.ts"), "--model", model, "--engine", v.engine, "--steps", String(s), "--seconds", String(seconds)];
        if (v.engine === "standalone") args.push("--warmup-seconds", String(warmupSeconds));
        if (v.kernels) args.push("--kernels", v.kernels);
        if (v.backend) args.push("--backend", v.backend);
        // tfjs's cpu backend takes seconds per batch on the larger models: one warm-up step.
        if (v.engine === "tfjs") args.push("--warmup", v.backend === "cpu" ? "1" : "2");
        const t0 = Date.now();
        const env = { ...process.env, ...(v.threads ? { NNC_THREADS: String(v.threads) } : {}) };
        const child = spawnSync(process.execPath, args, { cwd: root, env, encoding: "utf8", timeout: (seconds * 4 + (v.engine === "tfjs" ? 400 : 150)) * 1000, maxBuffer: 64 << 20 });
        const line = (child.stdout ?? "").split("\n").find((l) => l.startsWith("BENCH_RESULT "));
        let r: TrainBenchResult;
        if (line) r = JSON.parse(line.slice("BENCH_RESULT ".length)) as TrainBenchResult;
        else {
          const why = child.error?.message ?? (child.stderr ?? "").trim().split("\n").slice(-1)[0] ?? `exit ${child.status}`;
          r = { model, engine: v.engine, variant: label, ok: false, error: why.slice(0, 300) };
        }
        r.variant = label;
        train.push(r);
        log(
          `train ${model} ${label}: ` +
            (r.ok ? `${r.samplesPerSecond!.toFixed(0)} samples/s, peak RSS ${r.peakRssMB!.toFixed(0)} MB` : `failed: ${r.error}`) +
            ` (${((Date.now() - t0) / 1000).toFixed(0)} s)`,
        );
      }
    }
    report.train = train;
    const rows = [["model", "engine", "samples/s", "/cpu-s", "s/epoch", "vs tfjs/cpu", "vs tfjs/wasm", "target", "PyTorch", "peak RSS MB", "RSS warm→end MB"]];
    for (const r of train) {
      const ref = (backend: string) => train.find((x) => x.model === r.model && x.variant === `tfjs/${backend}` && x.ok)?.samplesPerSecond;
      const ratio = (backend: string) => {
        const b = ref(backend);
        return r.ok && b ? `${(r.samplesPerSecond! / b).toFixed(1)}x` : "-";
      };
      rows.push([
        r.model,
        r.variant,
        r.ok ? r.samplesPerSecond!.toFixed(0) : r.error?.startsWith("cannot train") ? "cannot train" : "failed",
        r.ok && r.samplesPerCpuSecond ? r.samplesPerCpuSecond.toFixed(0) : "-",
        r.ok ? r.secondsPerEpoch!.toFixed(1) : "-",
        ratio("cpu"),
        ratio("wasm"),
        r.engine === "standalone" ? String(TARGET[r.model] ?? "-") : "",
        r.engine === "standalone" ? String(PYTORCH[r.model] ?? "-") : "",
        r.ok ? r.peakRssMB!.toFixed(0) : "-",
        r.ok ? `${r.rssAfterWarmupMB!.toFixed(0)}→${r.rssEndMB!.toFixed(0)}` : "-",
      ]);
    }
    console.log(table(rows));
    console.log(
      "samples/s: wall clock, steady state (after warm-up); /cpu-s: per second of the process's CPU time\n" +
        "(all threads), what one thread would reach on an idle machine; s/epoch: a 60,000-image epoch\n" +
        "(48,000 with validation_split 0.2) at that rate; ratios are of samples/s, same run.\n",
    );
    const failed = train.filter((r) => !r.ok && !r.error?.startsWith("cannot train"));
    for (const r of failed) console.log(`  ${r.model} ${r.variant}: ${r.error}`);
  }

  // 3. where the standalone step's time goes, and whether it allocates (bench/step-profile.ts)
  if (!flag("no-train") && !flag("no-profile")) {
    const profiles: unknown[] = [];
    const rows = [["model", "kernels", "forward ms", "loss ms", "backward ms", "optimizer ms", "step ms", "CPU ms", "samples/cpu-s", "heap growth B/step"]];
    for (const model of models) {
      for (const threads of trainThreads) {
        const child = spawnSync(process.execPath, [...TS_NODE, join(here, "step-profile.ts"), model, "simd", String(threads), quick ? "10" : "20"], {
          cwd: root,
          encoding: "utf8",
          timeout: 300_000,
          maxBuffer: 64 << 20,
        });
        try {
          const p = JSON.parse((child.stdout ?? "").slice((child.stdout ?? "").indexOf("{"))) as {
            msPerStep: Record<string, number>;
            cpuMsPerStep: number;
            samplesPerCpuSecond: number;
            heapGrowthBytes: number;
            steps: number;
          };
          profiles.push(p);
          const f = (x: number | undefined) => (x ?? NaN).toFixed(2);
          rows.push([model, `simd/${threads}t`, f(p.msPerStep.forward), f(p.msPerStep.loss), f(p.msPerStep.backward), f(p.msPerStep.optimizer), f(p.msPerStep.total), f(p.cpuMsPerStep), p.samplesPerCpuSecond.toFixed(0), (p.heapGrowthBytes / p.steps).toFixed(0)]);
        } catch {
          const why = child.error?.message ?? (child.stderr ?? "").split("\n").filter((l) => l.trim() && !l.includes("npm warn")).slice(-1)[0] ?? `exit ${child.status}`;
          profiles.push({ model, threads, error: why });
          rows.push([model, `simd/${threads}t`, "failed", "", "", "", "", "", "", ""]);
          console.log(`  step profile ${model} simd/${threads}t failed: ${why}`);
        }
      }
    }
    report.stepProfile = profiles;
    console.log(table(rows));
    console.log("heap growth: bytes the heap grows per training step without a GC (0 when the step allocates nothing)\n");
  }

  // 4. the checker's benchmark, when present
  const checkFile = join(here, "check.ts");
  if (existsSync(checkFile) && !flag("no-check")) {
    try {
      const mod = (await import(pathToFileURL(checkFile).href)) as { benchCheck?: () => unknown };
      if (typeof mod.benchCheck === "function") {
        report.check = await mod.benchCheck();
        console.log("parse+check, warm (ms unless named otherwise; target: median under 20 ms):");
        for (const [k, v] of Object.entries(report.check as Record<string, number>)) console.log(`  ${k}: ${v}`);
      }
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      report.check = { error: message };
      console.log(`benchCheck failed: ${message}`);
    }
  }

  // 5. the language server (bench/lsp.ts)
  if (!flag("no-lsp")) {
    try {
      const { benchLsp } = await import("./lsp.js");
      report.lsp = await benchLsp(Number(opt("lsp-edits", "10000")), log);
      console.log("language server, warm (ms unless named otherwise; target: median and p90 under 10 ms, no heap growth):");
      for (const [k, v] of Object.entries(report.lsp as Record<string, number>)) console.log(`  ${k}: ${v}`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      report.lsp = { error: message };
      console.log(`benchLsp failed: ${message}`);
    }
  }

  const resultsDir = join(here, "results");
  mkdirSync(resultsDir, { recursive: true });
  const out = opt("out", join(resultsDir, `${started.toISOString().replace(/[:.]/g, "-")}.json`));
  writeFileSync(out, JSON.stringify(report, null, 2) + "\n");
  console.log(`saved ${out}`);
}

await main();
