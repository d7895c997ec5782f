// The PyTorch target as a user meets it: `nnc compile --target pytorch` writes a Python file that
// Python compiles; what the target cannot express is refused with a positioned diagnostic; a
// missing Python or PyTorch is named by `nnc run --engine pytorch`; the tables cover the catalog.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { catalog } from "../../src/compiler/catalog/index.js";
import { compileSource } from "../../src/compiler/index.js";
import { pytorchDiagnostics } from "../../src/compiler/targets/pytorch/index.js";
import { PY_LAYERS } from "../../src/compiler/targets/pytorch/layers.js";
import { PY_INITIALIZERS, PY_LOSSES, PY_OPTIMIZERS, PY_SCHEDULES } from "../../src/compiler/targets/pytorch/training.js";
import { samePadding } from "../../src/compiler/targets/pytorch/layers.js";
import { writeSyntheticMnist } from "../helpers/data.js";
import { HERE, PYTHON } from "./python.js";

const repo = resolve(HERE, "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "nnc-pt-target-"));
const nnc = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [join(repo, "bin", "nnc.js"), ...args], { encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env } });

describe("the pytorch target's tables cover the catalog", () => {
  const tables: [string, Record<string, unknown>][] = [
    ["layer", PY_LAYERS],
    ["loss", PY_LOSSES],
    ["optimizer", PY_OPTIMIZERS],
    ["schedule", PY_SCHEDULES],
    ["initializer", PY_INITIALIZERS],
  ];
  for (const [category, table] of tables) {
    it(category, () => {
      const names = (catalog[category as keyof typeof catalog] as { name: string }[]).map((e) => e.name);
      expect(names.filter((n) => !(n in table))).toEqual([]);
    });
  }
  it("TensorFlow's same padding puts the odd pixel after", () => {
    expect(samePadding(6, 3, 2)).toEqual([0, 1]);
    expect(samePadding(7, 3, 2)).toEqual([1, 1]);
    expect(samePadding(5, 2, 1)).toEqual([0, 1]);
    expect(samePadding(28, 5, 1)).toEqual([2, 2]);
  });
});

describe("nnc compile --target pytorch", () => {
  it("writes a Python program beside the file that Python compiles, quoting the .nn source", () => {
    const file = join(tmp, "cnn.nn");
    writeFileSync(file, readFileSync(join(repo, "examples", "cnn.nn")));
    const r = nnc(["compile", file, "--target", "pytorch"]);
    expect(r.status, r.stderr).toBe(0);
    const py = join(tmp, "cnn.py");
    expect(existsSync(py)).toBe(true);
    const text = readFileSync(py, "utf8");
    expect(text).toContain("# line 4: conv2d(8, kernel: 5, padding: same, activation: relu) -> [28, 28, 8]");
    expect(text).toContain("class Model(nn.Module):");
    expect(text).toContain("DistributedDataParallel(raw, device_ids=");
    const c = spawnSync(PYTHON, ["-m", "py_compile", py], { encoding: "utf8" });
    expect(c.status, c.stderr).toBe(0);
    const help = spawnSync(PYTHON, [py, "--help"], { encoding: "utf8", timeout: 60_000 });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/--nproc|--init/);
  });

  it("keeps .nn text that could break out of a comment or string inert", () => {
    const file = join(tmp, "evil.nn");
    const src = readFileSync(join(repo, "examples", "mlp.nn"), "utf8").replace(/^/, '# """ \u2028 \\ "\'; import os; os.exit(3)\n');
    writeFileSync(file, src);
    const out = join(tmp, "evil.py");
    const r = nnc(["compile", file, "--target", "pytorch", "-o", out]);
    expect(r.status, r.stderr).toBe(0);
    const c = spawnSync(PYTHON, ["-m", "py_compile", out], { encoding: "utf8" });
    expect(c.status, c.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).not.toContain("\u2028");
  });

  it("refuses what it cannot express with positioned diagnostics (E701), writing nothing", () => {
    const file = join(tmp, "sweep.nn");
    writeFileSync(
      file,
      `model m(width = 16) {
  input image(28, 28, 1)
  flatten
  dense(width, activation: relu)
  dense(10, activation: softmax)
}

train m {
  sweep     width in [8, 16]
  data      mnist(validation_split: 0.1)
  loss      categorical_crossentropy
  optimizer adam
  callbacks [tensorboard]
}
`,
    );
    const out = join(tmp, "sweep.py");
    const r = nnc(["compile", file, "--target", "pytorch", "-o", out]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`${file}:9:3`);
    expect(r.stderr).toContain("E701");
    expect(r.stderr).toMatch(/trains one model; this file sweeps over several/);
    expect(r.stderr).toContain(`${file}:13:`);
    expect(r.stderr).toMatch(/TensorBoard/);
    expect(r.stderr).toMatch(/the pytorch target cannot express this file/);
    expect(existsSync(out)).toBe(false);
  });

  it("points at the entry in the train section, never at a comment, a string or a name that spells it", () => {
    const source = `# tensorboard: a model called tensorboard
model tensorboard {
  input image(28, 28, 1)
  flatten
  dense(10, activation: softmax)
}

train tensorboard {  # tensorboard
  data      mnist(validation_split: 0.1)
  loss      categorical_crossentropy
  optimizer sgd
  callbacks [csv_logger(path: "tensorboard#1.csv"),
             tensorboard(dir: "tb")]
}
`;
    const { ir } = compileSource(source, "tb.nn");
    const [d, ...more] = pytorchDiagnostics(ir!, source);
    expect(more).toEqual([]);
    expect([d!.span.startLine, d!.span.startColumn, d!.span.endColumn]).toEqual([13, 14, 25]);
  });
});

describe("nnc run --engine pytorch names what is missing", () => {
  const file = join(repo, "examples", "mlp.nn");
  it("no Python", () => {
    const r = nnc(["run", file, "--engine", "pytorch", "--out", join(tmp, "r1")], { NNC_PYTHON: join(tmp, "no-such-python") });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`the pytorch engine needs Python, and ${join(tmp, "no-such-python")} does not exist`);
    expect(r.stderr).toMatch(/NNC_PYTHON/);
    expect(existsSync(join(tmp, "r1", "model"))).toBe(false);
  });
  it("a Python without torch", () => {
    // the real Python, without its site-packages (where Debian's python3-torch lives)
    const bare = join(tmp, "python-without-torch");
    writeFileSync(bare, `#!/bin/sh\nexec ${PYTHON} -S "$@"\n`);
    chmodSync(bare, 0o755);
    const r = nnc(["run", file, "--engine", "pytorch", "--out", join(tmp, "r2")], { NNC_PYTHON: bare });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the pytorch engine needs PyTorch, and .*python-without-torch cannot import torch/);
    expect(r.stderr).toMatch(/python3-torch/);
  });
  it("--nproc without --engine pytorch", () => {
    const r = nnc(["run", file, "--engine", "standalone", "--nproc", "2", "--out", join(tmp, "r3")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--nproc applies to the pytorch engine only/);
  });
});

describe("nnc run --engine pytorch --gpu", () => {
  it("trains on CUDA where PyTorch sees it, else says it sees no CUDA device", () => {
    const cuda = spawnSync(PYTHON, ["-c", "import torch; print(int(torch.cuda.is_available()))"], { encoding: "utf8" }).stdout.trim() === "1";
    const r = nnc(["run", join(repo, "examples", "mlp.nn"), "--engine", "pytorch", "--gpu", "--epochs", "1", "--data", writeSyntheticMnist(join(tmp, "data"), { train: 256, test: 64 }), "--out", join(tmp, "gpu"), "--json"]);
    if (cuda) {
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim().split("\n").pop()!).backend).toMatch(/^cuda/);
    } else {
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/--gpu: PyTorch .* sees no CUDA device; drop --gpu to train on the CPU/);
    }
  });
});
