// Backends, --gpu and engine selection on this machine: no GPU, no @tensorflow/tfjs-node(-gpu).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BackendError, initBackend, isInstalled, missingKernels } from "../../src/runtime/engines/tfjs/backends.js";
import { selectEngine } from "../../src/runtime/engines/select.js";
import { CliError } from "../../src/cli/errors.js";
import { dataDir, exampleIr, repoRoot, tempDir } from "./helpers.js";

const nodeGpu = isInstalled("@tensorflow/tfjs-node-gpu");
const nodeCpu = isInstalled("@tensorflow/tfjs-node");

describe("tfjs backends", () => {
  it("cpu is always there", async () => {
    const c = await initBackend(exampleIr("mlp"), "cpu");
    expect(c.backend).toBe("cpu");
    expect(c.tf.getBackend()).toBe("cpu");
  });

  it("wasm: nnc supplies the Conv2DBackpropFilter tfjs-wasm lacks, so it trains CNNs too", async () => {
    const cnn = await initBackend(exampleIr("cnn"), "wasm");
    expect(cnn.backend).toBe("wasm");
    expect(missingKernels(cnn.tf, "wasm", exampleIr("cnn").model)).toEqual([]);
    // The check itself: a backend without the kernels is reported kernel by kernel.
    expect(missingKernels(cnn.tf, "no-such-backend", exampleIr("cnn").model).map((m) => `${m.kernel}/${m.layer}`)).toEqual(
      expect.arrayContaining(["Conv2DBackpropFilter/conv2d", "MaxPoolGrad/max_pool", "BatchMatMul/dense"]),
    );
  });

  it.skipIf(nodeCpu)("auto without tfjs-node: wasm, saying why", async () => {
    for (const name of ["mlp", "cnn"]) {
      const c = await initBackend(exampleIr(name), "auto");
      expect(c.backend).toBe("wasm");
      expect(c.reason).toMatch(/tfjs-node is not installed; wasm has every kernel this model needs/);
    }
  });

  it.skipIf(nodeCpu)("--backend node without tfjs-node: what to install, and why it may fail", async () => {
    const err = await initBackend(exampleIr("mlp"), "node").catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toBeInstanceOf(CliError);
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/npm install @tensorflow\/tfjs-node`/);
    expect(err.message).toMatch(/libtensorflow/);
  });

  it.skipIf(nodeGpu)("--gpu on a machine without tfjs-node-gpu or a GPU names both attempts", async () => {
    const err = await initBackend(exampleIr("mlp"), "auto", true).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/1\) @tensorflow\/tfjs-node-gpu: .*npm install @tensorflow\/tfjs-node-gpu/);
    expect(err.message).toMatch(/CUDA Toolkit 11\.2 and cuDNN 8\.1/);
    expect(err.message).toMatch(/2\) WebGPU: .*(no GPU adapter|no Vulkan loader)/);
  });

  it("--gpu with a CPU backend is a usage error; unknown backends are refused", async () => {
    await expect(initBackend(exampleIr("mlp"), "cpu", true)).rejects.toThrow(/--gpu cannot be combined with --backend cpu/);
    await expect(initBackend(exampleIr("mlp"), "tpu")).rejects.toThrow(/unknown backend "tpu"/);
  });
});

describe("selectEngine", () => {
  const opts = () => ({ outDir: tempDir() });

  it.skipIf(nodeCpu)("auto without tfjs-node picks the standalone engine and says why", async () => {
    const c = await selectEngine(exampleIr("mlp"), { engine: "auto", backend: "auto", gpu: false }, opts());
    expect(c.engine.name).toBe("standalone");
    expect(c.reason).toMatch(/^standalone engine \(the default on the CPU without @tensorflow\/tfjs-node: /);
  });

  it("auto with --backend picks tfjs and names the backend", async () => {
    const o = opts();
    const c = await selectEngine(exampleIr("mlp"), { engine: "auto", backend: "cpu", gpu: false }, o);
    expect(c.engine.name).toBe("tfjs");
    expect(c.reason).toMatch(/^tfjs engine \(--backend cpu\) on the cpu backend/);
  });

  it("--engine tfjs --backend auto on a CNN names the backend and why", async () => {
    const c = await selectEngine(exampleIr("cnn"), { engine: "tfjs", backend: "auto", gpu: false }, opts());
    expect(c.engine.name).toBe("tfjs");
    expect(c.reason).toMatch(nodeCpu ? /tensorflow backend/ : /wasm backend: auto: .*wasm has every kernel this model needs/);
  });

  it("--engine standalone refuses tfjs-only flags", async () => {
    await expect(selectEngine(exampleIr("mlp"), { engine: "standalone", backend: "wasm", gpu: false }, opts())).rejects.toThrow(
      /--backend wasm applies to the tfjs engine only/,
    );
    // --gpu with the standalone engine is its own WebGPU kernels (test/gpu/standalone-webgpu.test.ts), not a tfjs backend.
    await expect(selectEngine(exampleIr("mlp"), { engine: "standalone", backend: "webgpu", gpu: true }, opts())).rejects.toThrow(
      /--backend webgpu applies to the tfjs engine only; drop it, or use --engine tfjs \(--engine standalone --gpu runs nnc's own WebGPU kernels\)/,
    );
    await expect(selectEngine(exampleIr("mlp"), { engine: "auto", backend: "metal", gpu: false }, opts())).rejects.toThrow(
      /unknown --backend "metal"/,
    );
  });

  it.skipIf(nodeGpu)("--gpu fails before any training", async () => {
    await expect(selectEngine(exampleIr("mlp"), { engine: "auto", backend: "auto", gpu: true }, opts())).rejects.toThrow(
      /--gpu: no GPU backend could be used/,
    );
  });
});

describe("nnc run --engine tfjs (CLI)", () => {
  it("trains on the backend asked for and reports it in --json", () => {
    const out = tempDir();
    const { dir } = dataDir();
    const r = spawnSync(
      process.execPath,
      [
        "bin/nnc.js",
        "run",
        "examples/mlp.nn",
        "--engine",
        "tfjs",
        "--backend",
        "wasm",
        "--epochs",
        "1",
        "--train-limit",
        "512",
        "--test-limit",
        "200",
        "--data",
        dir,
        "--json",
        "--out",
        `${out}/run`,
      ],
      { cwd: repoRoot, encoding: "utf8", timeout: 120_000 },
    );
    expect(r.stderr).toMatch(/^engine tfjs \(--engine tfjs\) · backend wasm \(--backend wasm\) · threads 1/);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(report).toMatchObject({ engine: "tfjs", backend: "wasm", epochs: 1, trainSamples: 512 });
    expect(report.files).toEqual(expect.arrayContaining(["model/model.json", "model/weights.bin"]));
  }, 150_000);
});

describe("nnc run --gpu (CLI)", () => {
  it.skipIf(nodeGpu)(
    "exits non-zero with one clear paragraph and no stack trace",
    () => {
      const out = tempDir();
      const r = spawnSync(process.execPath, ["bin/nnc.js", "run", "examples/mlp.nn", "--gpu", "--out", `${out}/run`], {
        cwd: repoRoot,
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(r.status).not.toBe(0);
      expect(r.status).not.toBe(70); // not an internal error
      expect(r.stderr).toMatch(/nnc: --gpu: no GPU backend could be used\. Tried 1\) @tensorflow\/tfjs-node-gpu/);
      expect(r.stderr).toMatch(/CUDA Toolkit 11\.2 and cuDNN 8\.1/);
      expect(r.stderr).toMatch(/2\) WebGPU/);
      expect(r.stderr).not.toMatch(/^\s+at .*\.(ts|js):\d+/m);
      expect(r.stdout).toBe("");
    },
    90_000,
  );
});
