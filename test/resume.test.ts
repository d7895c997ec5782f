// Resuming a run (`nnc run FILE --resume RUN_DIR`) and what a Ctrl-C'd run leaves, driven as a user
// drives them: `nnc run` in a subprocess, stopped with SIGINT after its first epochs (or run with
// --epochs 1 and continued with a larger --epochs), then resumed. The resumed run's final
// weights, history and test figures equal an uninterrupted run's bit for bit: the standalone
// program's resume/ state carries the weights, the optimizer's slots and counters, the random
// streams (shuffle, dropout, augmentation), the callbacks' state and the learning rate.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { writeSyntheticMnist } from "./helpers/data.js";

const root = resolve(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "nnc-resume-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const data = writeSyntheticMnist(join(tmp, "data"), { train: 96, test: 32 });

/** A small model with every kind of training state: dropout and augmentation streams, shuffling, adam, and stateful callbacks (reduce_on_plateau changes the learning rate). */
const source = (epochs: number, width = 16) => `model tiny {
  input image(28, 28, 1)
  flatten
  dense(${width}, activation: relu)
  dropout(0.25)
  dense(10, activation: softmax)
}

train tiny {
  data      mnist(validation_split: 0.25, augment: { rotation: 10 })
  loss      categorical_crossentropy
  optimizer adam(lr: 0.01)
  callbacks [reduce_on_plateau(monitor: val_loss, patience: 1, factor: 0.5), early_stopping(monitor: val_loss, patience: 1000),
             checkpoint(path: "ckpt"), csv_logger(path: "log.csv")]
  metrics   [accuracy]
  epochs    ${epochs}
  batch     16
}
`;
const file = join(tmp, "tiny.nn");
writeFileSync(file, source(3));
const longFile = join(tmp, "long.nn");
writeFileSync(longFile, source(60));

interface Exit {
  code: number | null;
  stderr: string;
  stdout: string;
}

/** `nnc run ARGS` in a subprocess; `onStderr` sees stderr as it grows (and may signal the child). */
function nnc(args: string[], onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Exit> {
  const child = spawn(process.execPath, [join(root, "bin/nnc.js"), ...args], { cwd: tmp, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let stdout = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
    onStderr?.(stderr, (s) => child.kill(s));
  });
  return new Promise((done) => child.on("exit", (code) => done({ code, stderr, stdout })));
}

const run = (nn: string, out: string, more: string[] = [], onStderr?: Parameters<typeof nnc>[1]) =>
  nnc(["run", nn, "--data", data, "--out", out, "--quiet", "--kernels", "ts", ...more], onStderr);
const bytes = (dir: string, name: string) => readFileSync(join(dir, name));
const json = (dir: string, name: string) => JSON.parse(bytes(dir, name).toString()) as Record<string, unknown>;

/** The two runs ended alike: the same weights (final and checkpoint), history, CSV log and test figures. */
function expectSameRun(a: string, b: string): void {
  expect(bytes(a, "model/weights.bin").equals(bytes(b, "model/weights.bin"))).toBe(true);
  expect(bytes(a, "ckpt/weights.bin").equals(bytes(b, "ckpt/weights.bin"))).toBe(true);
  expect(json(a, "history.json")).toEqual(json(b, "history.json"));
  expect(bytes(a, "log.csv").toString()).toBe(bytes(b, "log.csv").toString());
  for (const key of ["epochs", "testAccuracy", "testLoss", "testMetrics"]) expect(json(a, "result.json")[key]).toEqual(json(b, "result.json")[key]);
}

describe("nnc run --resume", () => {
  it("Ctrl-C after the first epochs writes their history, curves, model and result.json; resuming ends exactly where an uninterrupted run ends", async () => {
    const stopped = join(tmp, "stopped");
    const whole = join(tmp, "whole");
    let sent = false;
    const [interrupted, reference] = await Promise.all([
      run(longFile, stopped, [], (text, kill) => {
        if (!sent && text.includes("epoch 2/60")) {
          sent = true;
          kill("SIGINT");
        }
      }),
      run(longFile, whole),
    ]);
    expect(reference.code, reference.stderr).toBe(0);
    expect(interrupted.code, interrupted.stderr).toBe(130);
    const done = Number(/interrupted after epoch (\d+) of 60/.exec(interrupted.stderr)?.[1]);
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(60);
    expect(interrupted.stderr).toContain(`history, curves, the model of epoch ${done} and result.json are in ${stopped}`);
    expect(interrupted.stderr).toContain(`continue it with: nnc run ${longFile} --resume ${stopped}`);

    // the completed epochs' files
    const result = json(stopped, "result.json");
    expect(result).toMatchObject({ epochs: done, interrupted: { epochsPlanned: 60, model: true }, testAccuracy: null, testLoss: null });
    expect(json(stopped, "history.json")).toMatchObject({ epochs: done });
    expect(json(stopped, "history.json").history).toHaveLength(done);
    expect(bytes(stopped, "history.csv").toString().trim().split("\n")).toHaveLength(done + 1);
    expect(bytes(stopped, "curves.svg").toString()).toContain("</svg>");
    expect(bytes(stopped, "curves.png").subarray(1, 4).toString()).toBe("PNG");
    expect(json(stopped, "model/model.json")).toHaveProperty("weightsManifest");
    expect(bytes(stopped, "model/weights.bin").equals(bytes(stopped, "resume/weights.bin"))).toBe(true);
    expect(json(stopped, "resume/state.json")).toMatchObject({ epoch: done, epochs: 60 });
    expect(readdirSync(stopped).filter((n) => n.includes(".tmp-"))).toEqual([]);

    const resumed = await run(longFile, stopped, ["--resume", stopped]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming ${stopped} after epoch ${done} of 60`);
    expect(resumed.stderr).toContain(`(resumed after epoch ${done})`);
    expect(json(stopped, "result.json")).toMatchObject({ epochs: 60, resumedAfter: done });
    expect(json(stopped, "result.json")).not.toHaveProperty("interrupted");
    expectSameRun(stopped, whole);
  }, 300_000);

  it("a finished run goes on with a larger --epochs: 1 epoch, then --resume --epochs 3, equals 3 epochs", async () => {
    const short = join(tmp, "short");
    const three = join(tmp, "three");
    const [first, reference] = await Promise.all([run(file, short, ["--epochs", "1"]), run(file, three)]);
    expect(first.code, first.stderr).toBe(0);
    expect(reference.code, reference.stderr).toBe(0);

    // without a larger --epochs there is nothing left to train
    const again = await nnc(["run", file, "--resume", short]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`--resume: ${short} has already trained 1 epoch, all it was asked for; to train further, add --epochs N with N > 1`);

    const resumed = await nnc(["run", file, "--data", data, "--resume", short, "--epochs", "3", "--quiet"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`resuming ${short} after epoch 1 of 3`);
    expectSameRun(short, three);
  }, 300_000);

  it("refuses another engine, another model, other settings and a folder without a state, with exit 2 and what to do", async () => {
    const dir = join(tmp, "short"); // the previous test's run, 3 epochs done
    const other = join(tmp, "other.nn");
    writeFileSync(other, source(3, 32));
    const cases: [string[], string][] = [
      [["--engine", "tfjs"], "--resume: only the standalone engine can resume a run (it saves the training state after every epoch); the tfjs engine cannot yet. Drop --engine tfjs (or use --engine standalone)"],
      [["--engine", "pytorch"], "the pytorch engine cannot yet. Drop --engine pytorch (or use --engine standalone)"],
      [["--seed", "5"], `--resume: ${dir} was trained with seed 42; drop --seed 5`],
      [["--kernels", "simd"], `--resume: ${dir} was trained with --kernels ts (other kernels round differently); drop --kernels simd`],
    ];
    const results = await Promise.all([
      ...cases.map(([flags]) => nnc(["run", file, "--resume", dir, "--epochs", "4", ...flags])),
      nnc(["run", other, "--resume", dir, "--epochs", "4"]),
      nnc(["run", file, "--resume", join(tmp, "data"), "--epochs", "4"]),
    ]);
    cases.forEach(([, message], i) => {
      expect(results[i]!.code).toBe(2);
      expect(results[i]!.stderr).toContain(message);
    });
    expect(results[4]!.code).toBe(2);
    expect(results[4]!.stderr).toContain(`--resume: ${dir} was trained from a different model than tiny in ${other} (its layers or their settings differ)`);
    expect(results[5]!.code).toBe(2);
    expect(results[5]!.stderr).toContain(`has no resume/state.json, so there is nothing to continue`);
    // nothing was changed by the refusals
    expect(json(dir, "resume/state.json")).toMatchObject({ epoch: 3, epochs: 3 });
  }, 300_000);
});
