// `npm run gpu-check` (scripts/gpu-check.sh + bench/gpu-check.ts) in its short mode on the software
// WebGPU adapter: it proves the script (every path runs, the table and the JSON are written, the
// accuracy check compares), not the speed. On a GPU machine the same script times the real thing.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dataDir, repoRoot, tempDir } from "../tfjs/helpers.js";

describe("npm run gpu-check", () => {
  it("short run on the software adapter: trains on the CPU and on WebGPU, compares, saves the figures", () => {
    const out = join(tempDir(), "gpu-check.json");
    const { dir } = dataDir();
    const env = { ...process.env, NNC_WEBGPU_ADAPTER: "software" };
    const r = spawnSync(
      "bash",
      [
        "scripts/gpu-check.sh",
        // small_cnn instead of cnn: the lecture's CNN takes minutes on the software adapter.
        "--models",
        "mlp,test/gpu/fixtures/small_cnn.nn",
        "--train-limit",
        "512",
        "--test-limit",
        "200",
        "--data",
        dir,
        "--out",
        out,
      ],
      { cwd: repoRoot, encoding: "utf8", env, timeout: 170_000 },
    );
    console.log(r.stdout);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/WebGPU adapter \(NNC_WEBGPU_ADAPTER=software\): .*software, not a GPU/);
    expect(r.stdout).toMatch(/^mlp +CPU: standalone engine +\d+ +1\.00 +\d+\.\d\d% +ok$/m);
    expect(r.stdout).toMatch(/^mlp +tfjs \+ WebGPU \(Dawn\) +\d+ +\d+\.\d\d +\d+\.\d\d% +ok$/m);
    expect(r.stdout).toMatch(/^small_cnn +tfjs \+ WebGPU \(Dawn\) +\d+ +\d+\.\d\d +\d+\.\d\d% +ok$/m);
    expect(r.stdout).toMatch(/^mlp +standalone \+ WebGPU \(nnc's WGSL\) +\d+ +\d+\.\d\d +\d+\.\d\d% +ok$/m);
    expect(r.stdout).toMatch(/^small_cnn +standalone \+ WebGPU \(nnc's WGSL\) +\d+ +\d+\.\d\d +\d+\.\d\d% +ok$/m);
    expect(r.stdout).toMatch(/gpu-check passed \(on the software adapter\)/);
    const report = JSON.parse(readFileSync(out, "utf8"));
    expect(report).toMatchObject({
      kind: "gpu-check",
      passed: true,
      adapterRequest: "software",
      trainLimit: 512,
    });
    expect(report.webgpuAdapter.software).toBe(true);
    for (const model of ["mlp", "test/gpu/fixtures/small_cnn.nn"]) {
      for (const path of ["cpu", "webgpu"]) {
        const run = report.runs.find((x: { model: string; path: string }) => x.model === model && x.path === path);
        expect(run).toMatchObject({ status: "ok" });
        expect(run.samplesPerSecond).toBeGreaterThan(0);
        expect(run.testAccuracy).toBeGreaterThanOrEqual(0.2);
      }
      const gpu = report.runs.find((x: { model: string; path: string }) => x.model === model && x.path === "webgpu");
      expect(gpu.backend).toBe("webgpu");
      expect(gpu.check.pass).toBe(true);
    }
    for (const model of ["mlp", "test/gpu/fixtures/small_cnn.nn"]) {
      const standalone = report.runs.find((x: { model: string; path: string }) => x.model === model && x.path === "standalone-webgpu");
      expect(standalone).toMatchObject({ status: "ok", backend: "webgpu", check: { pass: true } });
    }
  }, 180_000);

  it("a failing GPU path fails the check (exit 1), naming it", () => {
    const out = join(tempDir(), "gpu-check.json");
    const hidden = tempDir("nnc-no-icd-");
    const env = {
      ...process.env,
      VK_DRIVER_FILES: join(hidden, "none.json"),
      VK_ICD_FILENAMES: join(hidden, "none.json"),
    };
    delete env.NNC_WEBGPU_ADAPTER;
    const r = spawnSync(
      "bash",
      [
        "scripts/gpu-check.sh",
        "--models",
        "mlp",
        "--paths",
        "cpu,webgpu",
        "--train-limit",
        "256",
        "--test-limit",
        "100",
        "--data",
        dataDir().dir,
        "--out",
        out,
      ],
      { cwd: repoRoot, encoding: "utf8", env, timeout: 120_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /mlp on tfjs \+ WebGPU \(Dawn\): FAILED: WebGPU \(Dawn, from the `webgpu` package\) found no GPU adapter: no Vulkan driver/,
    );
    expect(r.stdout).toMatch(/gpu-check FAILED: mlp on tfjs \+ WebGPU \(Dawn\)/);
    expect(JSON.parse(readFileSync(out, "utf8")).passed).toBe(false);
  }, 130_000);

  it("without Node (none carried in .node/, none on PATH) says how to carry one", () => {
    // A copy of the script in a checkout-shaped folder with no .node/, run with a PATH without node.
    const root = tempDir("nnc-no-node-");
    mkdirSync(join(root, "scripts"));
    copyFileSync(join(repoRoot, "scripts/gpu-check.sh"), join(root, "scripts/gpu-check.sh"));
    const r = spawnSync("/bin/bash", [join(root, "scripts/gpu-check.sh")], {
      encoding: "utf8",
      env: { PATH: join(root, "no-bin") },
    });
    expect(existsSync(join(root, ".node"))).toBe(false);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^gpu-check: no Node here: neither .*\/\.node\/bin\/node nor node on PATH\. On a machine with npm, run `npm run fetch-node`/,
    );
  });
});
