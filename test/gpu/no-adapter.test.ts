// `nnc run --gpu` / `--backend webgpu` where Dawn really finds no adapter: the Vulkan driver
// manifests (ICDs) and the EGL vendor are hidden from the real loaders through their own
// environment variables (VK_DRIVER_FILES / VK_ICD_FILENAMES, __EGL_VENDOR_LIBRARY_FILENAMES), so
// Dawn runs and answers "no adapter" as it would on a machine without them. nnc must exit 1 with
// one paragraph naming what is missing and how to get it, no stack trace (Dawn's native warnings,
// which carry C++ source positions, stay out of the terminal), nothing on stdout, no run folder.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isInstalled } from "../../src/runtime/engines/tfjs/backends.js";
import { repoRoot, tempDir } from "../tfjs/helpers.js";

const hidden = tempDir("nnc-no-icd-");
const NO_VULKAN = {
  VK_DRIVER_FILES: join(hidden, "no_icd.json"),
  VK_ICD_FILENAMES: join(hidden, "no_icd.json"),
};
const NO_EGL = {
  __EGL_VENDOR_LIBRARY_FILENAMES: join(hidden, "no_egl_vendor.json"),
};

function nnc(args: string[], env: Record<string, string>) {
  const out = join(tempDir(), "run");
  const base = { ...process.env };
  delete base.NNC_WEBGPU_ADAPTER;
  const r = spawnSync(process.execPath, ["bin/nnc.js", "run", "examples/mlp.nn", ...args, "--out", out], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...base, ...env },
  });
  return { ...r, out };
}

function expectCleanFailure(r: ReturnType<typeof nnc>): void {
  expect(r.status).toBe(1);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1); // one paragraph: no Dawn warnings, no stack
  expect(r.stderr).toMatch(/^nnc: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toMatch(/\.(cpp|ts|js):\d+/);
  expect(existsSync(r.out)).toBe(false);
}

describe("no WebGPU adapter (ICDs and EGL hidden from the real loaders)", () => {
  it("--backend webgpu: names the missing Vulkan driver, what Dawn said, and the software option", () => {
    const r = nnc(["--backend", "webgpu"], NO_VULKAN);
    expectCleanFailure(r);
    expect(r.stderr).toMatch(
      /WebGPU \(Dawn, from the `webgpu` package\) found no GPU adapter: no Vulkan driver: VK_DRIVER_FILES=\S+no_icd\.json names no driver manifest that exists\./,
    );
    expect(r.stderr).toMatch(/Dawn said: .*Found no drivers/);
    expect(r.stderr).toMatch(/set NNC_WEBGPU_ADAPTER=software\.$/m);
  });

  it.skipIf(isInstalled("@tensorflow/tfjs-node-gpu"))(
    "nnc run examples/mlp.nn --gpu: both GPU paths named, tfjs-node-gpu first, exit 1",
    () => {
      const r = nnc(["--gpu"], NO_VULKAN);
      expectCleanFailure(r);
      expect(r.stderr).toMatch(
        /^nnc: --gpu: no GPU backend could be used\. Tried 1\) @tensorflow\/tfjs-node-gpu: .*npm install @tensorflow\/tfjs-node-gpu/,
      );
      expect(r.stderr).toMatch(/2\) WebGPU: WebGPU \(Dawn, from the `webgpu` package\) found no GPU adapter: no Vulkan driver/);
      expect(r.stderr).toMatch(/Run without --gpu to train on the CPU\.$/m);
    },
  );

  it("NNC_WEBGPU_ADAPTER=software without EGL or lavapipe: names them and the packages", () => {
    const r = nnc(["--gpu"], {
      ...NO_VULKAN,
      ...NO_EGL,
      NNC_WEBGPU_ADAPTER: "software",
    });
    expectCleanFailure(r);
    expect(r.stderr).toMatch(/NNC_WEBGPU_ADAPTER=software: Dawn found no software adapter: Mesa's OpenGL ES over EGL needs an EGL vendor/);
    expect(r.stderr).toMatch(/apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri mesa-vulkan-drivers/);
    expect(r.stderr).toMatch(/Couldn't create the default EGL display/);
  });

  it("--gpu --engine standalone (nnc's own WGSL kernels): the same paragraph, exit 1", () => {
    const r = nnc(["--gpu", "--engine", "standalone"], NO_VULKAN);
    expectCleanFailure(r);
    expect(r.stderr).toMatch(/^nnc: WebGPU \(Dawn, from the `webgpu` package\) found no GPU adapter: no Vulkan driver/);
  });

  it("an unknown NNC_WEBGPU_ADAPTER is refused, naming the choices", () => {
    const r = nnc(["--backend", "webgpu"], { NNC_WEBGPU_ADAPTER: "fast" });
    expectCleanFailure(r);
    expect(r.stderr).toMatch(/NNC_WEBGPU_ADAPTER="fast" is not a WebGPU adapter choice; use `gpu` .* or `software`/);
  });
});
