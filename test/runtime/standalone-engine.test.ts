// The standalone engine loads each generated program so that it can be freed: a sweep trains one
// program per variant in one process, and each holds its buffers (weights, activations, the data
// set in the kernels' memory) until nothing refers to it. An ES module import would keep every
// program for the life of the process.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compiler/index.js";
import { loadStandaloneProgram } from "../../src/runtime/engines/standalone.js";

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
