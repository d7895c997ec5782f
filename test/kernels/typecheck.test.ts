// The emitted kernel source is strict-TypeScript clean in every mode (it lands in the generated
// program, which is checked with `tsc --strict --noEmit`).
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { kernelSource } from "./load.js";
import { KERNEL_FUNCTIONS } from "../../src/compiler/targets/standalone/kernels/index.js";

const root = resolve(import.meta.dirname, "../..");

describe("emitted kernels", () => {
  it("pass tsc --strict --noEmit in every mode", () => {
    const dir = mkdtempSync(join(tmpdir(), "nnc-kernels-tsc-"));
    try {
      const files: string[] = [];
      for (const mode of ["ts", "simd"] as const) {
        for (const threads of [1, 2]) {
          const file = join(dir, `kernels-${mode}-${threads}.ts`);
          writeFileSync(file, kernelSource({ mode, threads }));
          files.push(file);
        }
      }
      let out = "";
      try {
        execFileSync(
          join(root, "node_modules/.bin/tsc"),
          ["--ignoreConfig", "--strict", "--noEmit", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext", "--types", "node", "--typeRoots", join(root, "node_modules/@types"), ...files],
          { encoding: "utf8", stdio: "pipe", cwd: dir },
        );
      } catch (e) {
        out = String((e as { stdout?: string }).stdout ?? e);
      }
      expect(out).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("ts mode with one thread reads as plain TypeScript (no wasm, no workers)", () => {
    const src = kernelSource({ mode: "ts", threads: 1 });
    expect(src).not.toMatch(/WebAssembly|Worker|SharedArrayBuffer|Atomics/);
    expect(src).toMatch(/function gemm\(/);
  });

  it("one function per kernel: the TypeScript fallbacks are inlined, and one thread has no worker pool", () => {
    // The direct convolutions share their TypeScript loops (kernelConvPaddedTs) and split their
    // jobs across the pool even on one thread: left out here.
    const uses = new Set(KERNEL_FUNCTIONS.filter((k) => !k.startsWith("kernelConv2d")));
    for (const mode of ["ts", "simd"] as const) {
      for (const threads of [1, 2]) {
        const src = kernelSource({ mode, threads, uses });
        expect(src, `${mode}/${threads}`).not.toMatch(/function \w+Ts\(|\w+Ts\(/);
        for (const name of ["kernelBiasAdd", "adamUpdate", "kernelIm2col", "kernelMaxPool"]) {
          expect(src.split(`function ${name}(`).length, `${mode}/${threads} ${name}`).toBe(2);
        }
        if (mode === "simd") expect(/Worker|Atomics|KERNEL_CTL_/.test(src), `${mode}/${threads}`).toBe(threads > 1);
      }
    }
  });
});
