// kernelSigmoid, a = 1 / (1 + e^-z): the ts loop is the definition (Math.exp); the WebAssembly
// kernel computes e^x as a polynomial in float32 (Cephes's expf) and must stay within 4e-7 of it,
// relative, over the whole float range: the clamped ends, values near 0, NaN and the infinities,
// on counts that are and are not a multiple of 4 (the rest goes to the ts loop).
import { describe, expect, it } from "vitest";
import { KERNEL_MODES, loadKernels } from "./load.js";

const special = [0, -0, 1e-8, -1e-8, 0.5, -0.5, 1, -1, 15, -15, 16.7, -16.7, 30, -30, 80, -80, 87.3, -87.3, 88.5, -88.5, 89, -89, 104, -104, 1000, -1000, Infinity, -Infinity, NaN];

/** The first value off by more than 4e-7 relative (1e-37 absolute below the normal floats), or null. */
function firstOff(z: Float32Array, a: Float32Array): string | null {
  for (let i = 0; i < z.length; i++) {
    const want = Math.fround(1 / (1 + Math.exp(-z[i]!)));
    const got = a[i]!;
    if (Number.isNaN(want) ? !Number.isNaN(got) : !(Math.abs(got - want) <= 4e-7 * want + 1e-37)) return `sigmoid(${z[i]}) = ${got}, want ${want}`;
  }
  return null;
}

for (const cfg of KERNEL_MODES) {
  describe(`kernelSigmoid ${cfg.mode} threads=${cfg.threads}`, () => {
    it("within 4e-7 of 1 / (1 + Math.exp(-z)) from -1000 to 1000, at the ends, on NaN and the infinities", async () => {
      const k = await loadKernels({ ...cfg, uses: new Set(["kernelSigmoid"]) });
      for (const count of [special.length + 3, 4096, 4099]) {
        const z = k.allocF32(count);
        const a = k.allocF32(count).fill(9);
        for (let i = 0; i < count; i++) z[i] = i < special.length ? special[i]! : Math.sinh((i / count - 0.5) * 16) * 0.1;
        k.kernelSigmoid(z, a, count);
        expect(firstOff(z, a)).toBeNull();
      }
      // the ts loop is the definition itself: bit for bit
      if (cfg.mode === "ts") {
        const z = Float32Array.from(special), a = new Float32Array(special.length);
        k.kernelSigmoid(z, a, z.length);
        for (let i = 0; i < z.length; i++) expect(a[i]).toBe(Math.fround(1 / (1 + Math.exp(-z[i]!))));
      }
      k.shutdownKernels();
    });
  });
}
