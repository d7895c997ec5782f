// The standalone engine loads each generated program so that it can be freed: a sweep trains one
// program per variant in one process, and each holds its buffers (weights, activations, the data
// set in the kernels' memory) until nothing refers to it. An ES module import would keep every
// program for the life of the process.
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { kernelSettings, loadStandaloneProgram } from "../../src/runtime/engines/standalone.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

describe("standalone engine program loading", () => {
  it("a program nothing refers to any more is garbage collected, with its kernel memory", async () => {
    const text = readFileSync(join(__dirname, "..", "..", "examples", "twolayer.nn"), "utf8");
    const { ir } = compileSource(text, "examples/twolayer.nn");
    // (in a function of its own, so that no local of this one still holds a program)
    const load = async (): Promise<WeakRef<object>> => {
      const program = await loadStandaloneProgram(ir!, { mode: "simd", threads: 1 });
      expect(typeof program.train).toBe("function");
      return new WeakRef(program);
    };
    const refs = [await load(), await load()];
    for (let round = 0; round < 5 && refs.some((r) => r.deref() !== undefined); round++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      gc();
    }
    expect(refs.map((r) => r.deref() === undefined)).toEqual([true, true]);
  });
});

describe("$NNC_THREADS", () => {
  const withEnv = (value: string | undefined, f: () => void): void => {
    const saved = process.env.NNC_THREADS;
    if (value === undefined) delete process.env.NNC_THREADS;
    else process.env.NNC_THREADS = value;
    try {
      f();
    } finally {
      if (saved === undefined) delete process.env.NNC_THREADS;
      else process.env.NNC_THREADS = saved;
    }
  };
  it("sets the threads, 1 to 64; unset, the cores (at most 8)", () => {
    withEnv("3", () => expect(kernelSettings({})).toEqual({ mode: "simd", threads: 3 }));
    withEnv("64", () => expect(kernelSettings({ kernels: "ts" })).toEqual({ mode: "ts", threads: 64 }));
    withEnv(undefined, () => expect(kernelSettings({}).threads).toBe(Math.max(1, Math.min(8, availableParallelism()))));
  });
  it("anything else is an error naming the value, not a silent default", () => {
    for (const bad of ["0", "65", "abc", "1.5", "-2"]) {
      withEnv(bad, () => expect(() => kernelSettings({})).toThrow(`NNC_THREADS must be a whole number from 1 to 64, not \`${bad}\``));
    }
  });
});
