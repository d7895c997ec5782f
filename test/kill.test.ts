// Saves are whole or absent (issue 12): `nnc run` is killed with SIGKILL at random points of a
// short run that saves a checkpoint and a CSV log every epoch, 20 times. After each kill no
// folder holds weights without a model.json (or weights that do not match it), and no file
// under its final name is half-written; the next run sweeps the temporary files the kill left.
// Also: SIGTERM stops a run like Ctrl-C (exit 143, temporary files removed).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sweepStaleTemps, TEMP_FILE } from "../src/runtime/run/files.js";
import { writeSyntheticMnist } from "./helpers/data.js";

const root = resolve(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "nnc-kill-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = writeSyntheticMnist(join(tmp, "data"), { train: 64, test: 32 });
const file = join(tmp, "tiny.nn");
writeFileSync(
  file,
  `model tiny {
  input image(28, 28, 1)
  flatten
  dense(16, activation: relu)
  dense(10, activation: softmax)
}

train tiny {
  data      mnist(validation_split: 0.25)
  loss      categorical_crossentropy
  optimizer adam
  callbacks [checkpoint(path: "ckpt"), csv_logger(path: "log.csv")]
  epochs    60
  batch     16
}
`,
);

interface Child {
  kill(signal: NodeJS.Signals): void;
  /** Resolves with stderr so far once it contains `text`. */
  waitFor(text: string): Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startRun(out: string): Child {
  const child = spawn(process.execPath, [join(root, "bin/nnc.js"), "run", file, "--data", data, "--out", out, "--quiet", "--kernels", "ts"], {
    cwd: tmp,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const waiters: { text: string; done: (s: string) => void }[] = [];
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
    for (const w of waiters.splice(0)) {
      if (stderr.includes(w.text)) w.done(stderr);
      else waiters.push(w);
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal, stderr })),
  );
  return {
    kill: (s) => child.kill(s),
    waitFor: (text) =>
      new Promise((done, fail) => {
        if (stderr.includes(text)) return done(stderr);
        waiters.push({ text, done });
        void exit.then(() => (stderr.includes(text) ? done(stderr) : fail(new Error(`the run ended before printing "${text}":\n${stderr}`))));
      }),
    exit,
  };
}

/** Every file under dir, relative paths. */
function walk(dir: string, prefix = ""): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? [`${prefix}${name}/`, ...walk(p, `${prefix}${name}/`)] : [`${prefix}${name}`];
  });
}

/** What is wrong with a run directory after a kill (temporary entries aside). */
function problems(out: string): string[] {
  const found: string[] = [];
  const entries = walk(out).filter((e) => !e.split("/").some((part) => TEMP_FILE.test(part)));
  for (const e of entries) {
    const p = join(out, e);
    if (e.endsWith("/")) {
      const names = readdirSync(p);
      if (names.includes("weights.bin") && !names.includes("model.json")) found.push(`${e}: weights.bin without model.json`);
      if (names.includes("model.json")) {
        try {
          const json = JSON.parse(readFileSync(join(p, "model.json"), "utf8")) as { weightsManifest: { weights: { shape: number[] }[] }[] };
          const bytes = json.weightsManifest.flatMap((g) => g.weights).reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
          if (!names.includes("weights.bin")) found.push(`${e}: model.json without weights.bin`);
          else if (statSync(join(p, "weights.bin")).size !== bytes) found.push(`${e}: weights.bin is not the ${bytes} bytes model.json describes`);
        } catch (err) {
          found.push(`${e}model.json: ${(err as Error).message}`);
        }
      }
      continue;
    }
    const text = readFileSync(p);
    if (e.endsWith(".json")) {
      try {
        JSON.parse(text.toString());
      } catch {
        found.push(`${e}: half-written JSON`);
      }
    } else if (e.endsWith(".csv") && text.length > 0 && text[text.length - 1] !== 10) found.push(`${e}: half-written CSV`);
    else if (e.endsWith(".png") && !text.subarray(-12).includes(Buffer.from("IEND"))) found.push(`${e}: half-written PNG`);
    else if (e.endsWith(".svg") && !text.toString().trimEnd().endsWith("</svg>")) found.push(`${e}: half-written SVG`);
  }
  return found;
}

describe("killing nnc run", () => {
  it("SIGKILL at 20 random points leaves whole files or none, and the next run sweeps the rest", async () => {
    let rand = 20261202;
    const next = () => ((rand = (rand * 1103515245 + 12345) >>> 0) / 4294967296);
    const outcomes: string[] = [];
    const trial = async (i: number): Promise<void> => {
      const out = join(tmp, `kill-${i}`);
      const child = startRun(out);
      // Kill during training (where the saves are), at a random moment of it.
      await child.waitFor("training on");
      await new Promise((r) => setTimeout(r, Math.floor(next() * 1200)));
      child.kill("SIGKILL");
      const { signal, stderr } = await child.exit;
      outcomes.push(`${i}: ${signal ?? "finished"}, ${(stderr.match(/epoch \d+\/60/g) ?? []).length} epochs, ${walk(out).filter((e) => TEMP_FILE.test(e.replace(/\/$/, ""))).length} temporary`);
      expect(problems(out), `trial ${i}:\n${stderr}`).toEqual([]);
      sweepStaleTemps(out);
      expect(walk(out).filter((e) => e.split("/").some((part) => TEMP_FILE.test(part)))).toEqual([]);
    };
    // Four at a time, 20 in all.
    for (let i = 0; i < 20; i += 4) await Promise.all([trial(i), trial(i + 1), trial(i + 2), trial(i + 3)]);
    expect(outcomes).toHaveLength(20);
    console.log(outcomes.join("\n"));
  }, 600_000); // ~30 s on an idle machine; generous for a loaded one

  it("SIGTERM stops the run like Ctrl-C: exit 143, no temporary file left", async () => {
    const out = join(tmp, "term");
    const child = startRun(out);
    await child.waitFor("epoch 2/60");
    child.kill("SIGTERM");
    const { code, stderr } = await child.exit;
    expect(code).toBe(143);
    expect(stderr).toMatch(/interrupted \(SIGTERM\): stopping after this batch/);
    expect(problems(out)).toEqual([]);
    expect(walk(out).filter((e) => TEMP_FILE.test(e.replace(/\/$/, "")))).toEqual([]);
  }, 300_000);
});
