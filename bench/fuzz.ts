// `npm run fuzz -- --seconds N [--seed S] [--hang-ms MS] [--out DIR]`: a long fuzz campaign of
// the front end (parse + check + fmt) with bench/fuzz-lib.ts's generators and oracle. Inputs
// run one by one in a worker thread; one that takes longer than --hang-ms (default 1000) is a
// hang (after 10 s the worker is replaced). Failing and slow inputs are saved under --out
// (default bench/fuzz-findings/); the figures (inputs, crashes, hangs, slowest) are printed and
// the exit code is 1 when anything was found.
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import { allSources, seedSources, type Verdict } from "./fuzz-lib.js";

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const seconds = Number(opt("seconds", "60"));
let seed = Number(opt("seed", String(Date.now() % 1_000_000)));
const hangMs = Number(opt("hang-ms", "1000"));
const KILL_MS = 10_000;
const outDir = resolve(opt("out", join(import.meta.dirname, "fuzz-findings")));

const arb = allSources(seedSources());
const workerUrl = new URL("./fuzz-worker.mjs", import.meta.url);

function startWorker(): Promise<Worker> {
  const w = new Worker(workerUrl);
  return new Promise((ok, fail) => {
    w.once("message", () => ok(w));
    w.once("error", fail);
  });
}

function judgeIn(w: Worker, text: string): Promise<Verdict | "timeout" | { died: string }> {
  return new Promise((done) => {
    const timer = setTimeout(() => done("timeout"), KILL_MS);
    const onError = (err: Error) => {
      clearTimeout(timer);
      w.off("message", onMessage);
      done({ died: err.message });
    };
    const onMessage = (v: Verdict) => {
      clearTimeout(timer);
      w.off("error", onError);
      done(v);
    };
    w.once("message", onMessage);
    w.once("error", onError);
    w.postMessage(text);
  });
}

let worker = await startWorker();
const stats = { inputs: 0, bytes: 0, crashes: 0, hangs: 0, slowestMs: 0, seed, seconds };
const found: { kind: string; problems: string[]; text: string; ms?: number }[] = [];
const t0 = Date.now();
let lastReport = t0;
console.log(`fuzzing parse + check + fmt for ${seconds} s (seed ${seed}, hang over ${hangMs} ms)`);
while (Date.now() - t0 < seconds * 1000) {
  const batch = fc.sample(arb, { numRuns: 200, seed: seed++ });
  for (const text of batch) {
    const v = await judgeIn(worker, text);
    stats.inputs++;
    stats.bytes += text.length;
    if (v === "timeout" || "died" in v) {
      stats.hangs += v === "timeout" ? 1 : 0;
      stats.crashes += v === "timeout" ? 0 : 1;
      found.push({ kind: v === "timeout" ? "hang" : "crash", problems: [v === "timeout" ? `no answer in ${KILL_MS} ms` : `worker died: ${v.died}`], text });
      await worker.terminate();
      worker = await startWorker();
      continue;
    }
    stats.slowestMs = Math.max(stats.slowestMs, v.ms);
    if (v.problems.length > 0) {
      stats.crashes++;
      found.push({ kind: "crash", problems: v.problems, text });
    } else if (v.ms > hangMs) {
      stats.hangs++;
      found.push({ kind: "hang", problems: [`took ${v.ms.toFixed(0)} ms`], text, ms: v.ms });
    }
  }
  if (Date.now() - lastReport > 30_000) {
    lastReport = Date.now();
    console.log(`  ${Math.round((Date.now() - t0) / 1000)} s: ${stats.inputs} inputs, ${stats.crashes} crashes, ${stats.hangs} hangs, slowest ${stats.slowestMs.toFixed(0)} ms`);
  }
}
await worker.terminate();
const elapsed = (Date.now() - t0) / 1000;
const summary = { ...stats, elapsedSeconds: Math.round(elapsed), inputsPerSecond: Math.round(stats.inputs / elapsed), slowestMs: Math.round(stats.slowestMs) };
console.log(JSON.stringify(summary));
if (found.length > 0) {
  mkdirSync(outDir, { recursive: true });
  found.slice(0, 50).forEach((f, i) => {
    writeFileSync(join(outDir, `${f.kind}-${i + 1}.nn`), f.text);
    writeFileSync(join(outDir, `${f.kind}-${i + 1}.txt`), `${f.problems.join("\n")}\n`);
  });
  console.log(`${found.length} finding(s); the first ${Math.min(found.length, 50)} are in ${outDir}`);
}
process.exit(found.length > 0 ? 1 : 0);
