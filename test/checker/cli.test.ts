// `nnc summary` and `nnc compile --emit ir` through the CLI's main(), in-process.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";

const root = join(import.meta.dirname, "../..");

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(["node", "nnc", ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("nnc summary", () => {
  it("prints the Keras-style table with totals", async () => {
    const r = await run("summary", join(root, "examples/regularized.nn"));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Total params: 671,754");
    expect(r.stdout).toContain("Non-trainable params: 1,024");
    expect(r.stdout).toContain("batch_norm_1 (batch_norm)");
  });

  it("--format json prints the documented object", async () => {
    const r = await run("summary", join(root, "examples/cnn.nn"), "--format", "json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.totalParams).toBe(82_934);
    expect(j.trainableParams).toBe(82_934);
    expect(j.nonTrainableParams).toBe(0);
    expect(j.layers[1]).toEqual({ name: "conv2d_1", kind: "conv2d", outputShape: [28, 28, 8], params: 208 });
  });

  it("exits 1 with the diagnostics on a file with errors, 2 on a missing file or bad format", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-summary-"));
    const bad = join(dir, "bad.nn");
    writeFileSync(bad, "model m {\n  input image(28, 28, 1)\n  dense(10)\n}\n");
    const r = await run("summary", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("E401");
    expect(r.stdout).toBe("");
    expect((await run("summary", join(dir, "missing.nn"))).code).toBe(2);
    expect((await run("summary", join(root, "examples/mlp.nn"), "--format", "yaml")).code).toBe(2);
  });
});

describe("nnc compile --emit ir", () => {
  it("prints the JSON IR to stdout", async () => {
    const r = await run("compile", join(root, "examples/mlp.nn"), "--emit", "ir");
    expect(r.code).toBe(0);
    const ir = JSON.parse(r.stdout);
    expect(ir.irVersion).toBe(1);
    expect(ir.model.params.total).toBe(407_050);
  });

  it("writes to --out atomically, leaving no temporary file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-compile-"));
    const out = join(dir, "mlp.ir.json");
    const r = await run("compile", join(root, "examples/mlp.nn"), "--emit", "ir", "-o", out);
    expect(r.code).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8")).model.name).toBe("mlp");
    expect(readdirSync(dir)).toEqual(["mlp.ir.json"]);
  });

  it("writes nothing when the file has errors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-compile-"));
    const src = join(dir, "bad.nn");
    writeFileSync(src, "model m {\n  input image(28, 28, 1)\n  dnese(10)\n}\n");
    const r = await run("compile", src, "-o", join(dir, "bad.ts"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("did you mean `dense`?");
    expect(readdirSync(dir)).toEqual(["bad.nn"]);
  });

  it("rejects an unknown target or emit kind with exit 2", async () => {
    expect((await run("compile", join(root, "examples/mlp.nn"), "--target", "onnx")).code).toBe(2);
    expect((await run("compile", join(root, "examples/mlp.nn"), "--emit", "asm")).code).toBe(2);
  });
});

describe("nnc compile code options", () => {
  it("--tfjs-package sets the package the tfjs program imports", async () => {
    const r = await run("compile", join(root, "examples/mlp.nn"), "--target", "tfjs", "--tfjs-package", "@tensorflow/tfjs-node-gpu", "-o", "-");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('import * as tf from "@tensorflow/tfjs-node-gpu";');
    // The default runs wherever nnc does.
    const plain = await run("compile", join(root, "examples/mlp.nn"), "--target", "tfjs", "-o", "-");
    expect(plain.stdout).toContain('import * as tf from "@tensorflow/tfjs";');
  });

  it("the default simd kernels (as nnc run trains) are WebAssembly; --kernels ts, the teaching mode, is not", async () => {
    const simd = await run("compile", join(root, "examples/twolayer.nn"), "-o", "-");
    expect(simd.code).toBe(0);
    expect(simd.stdout).toContain("WebAssembly");
    expect(simd.stdout).toContain('const KERNELS = "simd";');
    const ts = await run("compile", join(root, "examples/twolayer.nn"), "--kernels", "ts", "-o", "-");
    expect(ts.stdout).not.toContain("WebAssembly");
    expect(ts.stdout).toContain('const KERNELS = "ts";');
  });

  it("-o picks the language by its extension: .js is JavaScript with the comments and `node FILE` in the header; another extension is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-compile-js-"));
    try {
      const js = await run("compile", join(root, "examples/twolayer.nn"), "--target", "tfjs", "-o", join(dir, "two.js"));
      expect(js.code).toBe(0);
      const text = readFileSync(join(dir, "two.js"), "utf8");
      expect(text).toContain("// Run: node two.js [--data DIR]");
      expect(text).toContain("/** The model of `model twolayer`");
      expect(text).not.toMatch(/: (number|string|Promise<void>)\b[,)=]/);
      const bad = await run("compile", join(root, "examples/twolayer.nn"), "-o", join(dir, "two.mjs"));
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("the standalone target writes TypeScript (.ts, run with npx tsx) or JavaScript (.js, run with node); name it e.g. -o two.js");
      expect(existsSync(join(dir, "two.mjs"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects a bad --kernels, --threads or --tfjs-package with exit 2 and one line", async () => {
    for (const args of [["--kernels", "avx"], ["--threads", "0"], ["--tfjs-package", "tensorflow"]]) {
      const r = await run("compile", join(root, "examples/mlp.nn"), ...args, "-o", "-");
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
  });
});
