// `npm run gpu-check` (scripts/gpu-check.sh runs this with the Node it carries): trains mlp and cnn
// for one epoch on every GPU path of nnc and on the CPU (the standalone engine) in the same run,
// prints samples/s and test accuracy side by side, and checks each GPU path's accuracy against the
// CPU's. Each training is what `nnc run FILE --epochs 1 --json` does (the CLI's runFile, called in
// this one process: Node and nnc start once, which keeps a short run quick).
//
//   paths     cpu            --engine standalone                 (the CPU reference)
//             tfjs-node-gpu  --engine tfjs --backend gpu         (CUDA; only when installed)
//             webgpu         --engine tfjs --backend webgpu      (Dawn; NNC_WEBGPU_ADAPTER applies)
//             standalone-webgpu  --engine standalone --gpu       (nnc's WGSL kernels; dense and convolutional chains)
//
// Flags: --models mlp,cnn (example names or .nn files)  --paths cpu,webgpu,...  --train-limit N --test-limit N (a short run,
// e.g. on the software adapter; the accuracy check is then a loose one)  --data DIR  --out FILE
// (default bench/results/gpu-check-<time>.json).
//
// Exit status: 0 when the CPU run and every GPU path that is installed trained and passed the
// accuracy check, and at least one GPU path ran; 1 otherwise.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { arch, cpus, tmpdir, totalmem } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { writeAtomic } from "../src/cli/write-atomic.js";
import { runDeps } from "../src/cli/commands/run.js";
import { runFile } from "../src/runtime/run/index.js";
import { adapterKind, describeAdapter, probeAdapters } from "../src/runtime/webgpu/dawn.js";
import { diagnoseNoAdapter, hasVulkanLoader, vulkanDrivers } from "../src/runtime/webgpu/diagnose.js";
import { isInstalled } from "../src/runtime/engines/tfjs/backends.js";
import { compileSource } from "../src/compiler/index.js";
import { webgpuPlan } from "../src/runtime/engines/standalone-webgpu.js";

const here = dirname(fileURLToPath(import.meta.url));
/** The checkout (examples/ and bench/results/ are under it); NNC_ROOT where this file runs bundled (scripts/gpu-check-pack.sh). */
const root = process.env.NNC_ROOT ?? resolve(here, "..");
const argv = process.argv.slice(2);
function opt(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) usage(`--${name} needs a value`);
  return v;
}
function usage(why: string): never {
  process.stderr.write(
    `gpu-check: ${why}\nusage: gpu-check [--models mlp,cnn] [--paths cpu,tfjs-node-gpu,webgpu,standalone-webgpu] [--train-limit N] [--test-limit N] [--data DIR] [--out FILE]\n`,
  );
  process.exit(2);
}
const known = new Set(["models", "paths", "train-limit", "test-limit", "data", "out"]);
for (const a of argv) if (a.startsWith("--") && !known.has(a.slice(2))) usage(`unknown flag ${a}`);

interface GpuPath {
  id: string;
  label: string;
  request: { engine: "standalone" | "tfjs"; backend: string; gpu: boolean };
  /** Why it is not tried for this .nn file (a package not installed, a model it does not cover), or null. */
  absent: (file: string) => string | null;
}

const PATHS: GpuPath[] = [
  {
    id: "cpu",
    label: "CPU: standalone engine",
    request: { engine: "standalone", backend: "auto", gpu: false },
    absent: () => null,
  },
  {
    id: "tfjs-node-gpu",
    label: "tfjs-node-gpu (CUDA)",
    request: { engine: "tfjs", backend: "gpu", gpu: false },
    absent: () => (isInstalled("@tensorflow/tfjs-node-gpu") ? null : "@tensorflow/tfjs-node-gpu is not installed (optional)"),
  },
  {
    id: "webgpu",
    label: "tfjs + WebGPU (Dawn)",
    request: { engine: "tfjs", backend: "webgpu", gpu: false },
    absent: () => null,
  },
  {
    id: "standalone-webgpu",
    label: "standalone + WebGPU (nnc's WGSL)",
    request: { engine: "standalone", backend: "auto", gpu: true },
    absent: (file) => {
      const { ir } = compileSource(readFileSync(file, "utf8"), file);
      const plan = ir ? webgpuPlan(ir) : "errors";
      return typeof plan === "string" ? `not covered: ${plan}` : null;
    },
  },
];

const models = (opt("models") ?? "mlp,cnn").split(",").filter(Boolean);
const pathIds = (opt("paths") ?? PATHS.map((p) => p.id).join(",")).split(",").filter(Boolean);
for (const id of pathIds) if (!PATHS.some((p) => p.id === id)) usage(`unknown path "${id}"; expected ${PATHS.map((p) => p.id).join(", ")}`);
if (!pathIds.includes("cpu")) usage("--paths must include cpu: the GPU paths are checked against it");
const positive = (name: string): number | undefined => {
  const v = opt(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) usage(`--${name} must be a positive integer, not "${v}"`);
  return Number(v);
};
const trainLimit = positive("train-limit");
const testLimit = positive("test-limit");
const short = trainLimit !== undefined;
const data = opt("data") ?? process.env.NNC_DATA;

/**
 * The accuracy check. A full epoch: each GPU path within 2 points of the CPU engine and at least
 * 93% (one epoch of either model reaches 95-98%). A short run trains on too few samples for its
 * accuracy to mean much: within 15 points of the CPU's, and at least twice chance (20%; give it a
 * model and --train-limit that reach that, e.g. mlp with 512 samples).
 */
const TOLERANCE = short ? 0.15 : 0.02;
const FLOOR = short ? 0.2 : 0.93;

function log(line = ""): void {
  process.stdout.write(line + "\n");
}

function sh(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

interface RunRecord {
  model: string;
  path: string;
  label: string;
  status: "ok" | "failed" | "absent";
  message?: string;
  backend?: string;
  reason?: string;
  samplesPerSecond?: number;
  testAccuracy?: number;
  seconds?: number;
  trainSamples?: number;
  wallSeconds?: number;
  check?: { pass: boolean; why: string };
}

function modelName(model: string): string {
  return basename(model, ".nn");
}

/** A .nn file: an example's name (mlp, cnn, ...) or a path. */
function modelFile(model: string): string {
  return model.endsWith(".nn") ? resolve(model) : join(root, "examples", `${model}.nn`);
}

/** Collects what a run writes (the --json report, its log lines). */
class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer | string, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/**
 * One `nnc run FILE <path args> --epochs 1 --json --quiet`, in this process (the CLI's own
 * runFile: what `nnc run` does after parsing its flags; one process keeps the check quick).
 */
async function train(model: string, path: GpuPath, outRoot: string): Promise<RunRecord> {
  const rec: RunRecord = {
    model,
    path: path.id,
    label: path.label,
    status: "failed",
  };
  const file = modelFile(model);
  const absent = path.absent(file);
  if (absent) return { ...rec, status: "absent", message: absent };
  const stdout = new Capture();
  const stderr = new Capture();
  const t0 = performance.now();
  try {
    const code = await runFile(
      {
        file,
        source: readFileSync(file, "utf8"),
        ...path.request,
        dataDir: data,
        epochs: 1,
        trainLimit,
        testLimit,
        out: join(outRoot, `${basename(file, ".nn")}-${path.id}`),
        json: true,
        quiet: true,
      },
      { ...runDeps, stdout, stderr, handleSigint: false },
    );
    if (code !== 0) throw new Error(`nnc run exited ${code}: ${stderr.text.trim().split("\n").at(-1)}`);
  } catch (e) {
    rec.message = (e as Error).message;
    return rec;
  } finally {
    rec.wallSeconds = (performance.now() - t0) / 1000;
  }
  const j = JSON.parse(stdout.text.trim().split("\n").at(-1)!) as Record<string, unknown>;
  return {
    ...rec,
    status: "ok",
    backend: String(j.backend),
    reason: String(j.reason ?? ""),
    samplesPerSecond: Number(j.samplesPerSecond),
    testAccuracy: Number(j.testAccuracy),
    seconds: Number(j.seconds),
    trainSamples: Number(j.trainSamples),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

async function main(): Promise<number> {
  const started = new Date();
  const kind = adapterKind();
  const gpuName = sh("nvidia-smi", ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]);
  log(`nnc gpu-check, ${started.toISOString()}`);
  log(
    `  node ${process.version} (${process.execPath}), ${process.platform}-${arch()}, ${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB`,
  );
  log(`  nvidia-smi: ${gpuName ?? "not available"}`);
  if (process.platform === "linux") {
    const drivers = vulkanDrivers();
    log(
      `  Vulkan loader libvulkan.so.1: ${hasVulkanLoader() ? "found" : "MISSING"}; drivers (ICDs): ${drivers.map((d) => d.manifest).join(", ") || "none"}`,
    );
  }
  const probe = probeAdapters(kind);
  const adapter = probe.found ? describeAdapter(probe.found.adapter) : null;
  log(
    `  WebGPU adapter (NNC_WEBGPU_ADAPTER=${process.env.NNC_WEBGPU_ADAPTER ?? "gpu"}): ${adapter ?? `none. ${probe.loadError ?? diagnoseNoAdapter(probe)}`}`,
  );
  if (probe.found?.adapter.software)
    log("  (a software adapter: its timings are of the CPU imitating a GPU; this run checks the script, not the speed)");
  log(
    `  ${short ? `short run: --train-limit ${trainLimit}${testLimit ? ` --test-limit ${testLimit}` : ""}` : "one full epoch per model"}; accuracy check: within ${TOLERANCE * 100} points of the CPU engine, at least ${FLOOR * 100}%`,
  );
  log();

  const outRoot = mkdtempSync(join(tmpdir(), "nnc-gpu-check-"));
  const records: RunRecord[] = [];
  try {
    for (const model of models) {
      let cpu: RunRecord | undefined;
      for (const id of pathIds) {
        const path = PATHS.find((p) => p.id === id)!;
        const rec = await train(model, path, outRoot);
        if (id === "cpu") cpu = rec;
        if (rec.status === "ok" && id !== "cpu") {
          if (cpu?.status !== "ok") rec.check = { pass: false, why: "no CPU figure to compare with" };
          else {
            const diff = Math.abs(rec.testAccuracy! - cpu.testAccuracy!);
            const pass = diff <= TOLERANCE && rec.testAccuracy! >= FLOOR;
            rec.check = {
              pass,
              why: `${(rec.testAccuracy! * 100).toFixed(2)}% vs CPU ${(cpu.testAccuracy! * 100).toFixed(2)}% (${(diff * 100).toFixed(2)} points)`,
            };
          }
        } else if (rec.status === "ok") {
          rec.check = {
            pass: rec.testAccuracy! >= FLOOR,
            why: `${(rec.testAccuracy! * 100).toFixed(2)}%`,
          };
        }
        log(
          `${modelName(model)} on ${path.label}: ` +
            (rec.status === "ok"
              ? `${Math.round(rec.samplesPerSecond!)} samples/s, test accuracy ${(rec.testAccuracy! * 100).toFixed(2)}% (${rec.wallSeconds!.toFixed(1)} s in all)`
              : `${rec.status === "absent" ? "not tried" : "FAILED"}: ${rec.message}`),
        );
        records.push(rec);
      }
    }
  } finally {
    rmSync(outRoot, { recursive: true, force: true });
  }

  log();
  const rows = [["model", "path", "samples/s", "x CPU", "test acc", "check"]];
  for (const r of records) {
    const cpu = records.find((c) => c.model === r.model && c.path === "cpu");
    const ratio = r.status === "ok" && cpu?.status === "ok" ? (r.samplesPerSecond! / cpu.samplesPerSecond!).toFixed(2) : "";
    rows.push([
      modelName(r.model),
      r.label,
      r.status === "ok" ? String(Math.round(r.samplesPerSecond!)) : r.status === "absent" ? (r.message?.startsWith("not covered") ? "not covered" : "not installed") : "failed",
      ratio,
      r.status === "ok" ? `${(r.testAccuracy! * 100).toFixed(2)}%` : "",
      r.check ? (r.check.pass ? "ok" : `FAIL: ${r.check.why}`) : r.status === "failed" ? "FAIL" : "",
    ]);
  }
  log(table(rows));

  const failures = records.filter((r) => r.status === "failed" || (r.check && !r.check.pass));
  const gpuRan = records.some((r) => r.path !== "cpu" && r.status === "ok");
  const ok = failures.length === 0 && gpuRan;
  log();
  log(
    ok
      ? `gpu-check passed${probe.found?.adapter.software ? " (on the software adapter)" : ""}`
      : `gpu-check FAILED: ${failures.map((f) => `${modelName(f.model)} on ${f.label}: ${f.message ?? f.check?.why}`).join("; ") || "no GPU path ran"}`,
  );

  const out = opt("out") ?? join(root, "bench", "results", `gpu-check-${started.toISOString().replace(/[:.]/g, "-")}.json`);
  mkdirSync(dirname(out), { recursive: true });
  const report = {
    kind: "gpu-check",
    started: started.toISOString(),
    node: process.version,
    platform: `${process.platform}-${arch()}`,
    cpus: cpus().length,
    nvidiaSmi: gpuName,
    webgpuAdapter: probe.found?.adapter ?? null,
    adapterRequest: kind,
    trainLimit: trainLimit ?? null,
    testLimit: testLimit ?? null,
    passed: ok,
    runs: records,
  };
  writeAtomic(out, JSON.stringify(report, null, 2) + "\n");
  log(`figures saved to ${out}`);
  return ok ? 0 : 1;
}

process.exitCode = await main();
