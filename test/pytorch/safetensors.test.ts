// nnc's safetensors reader and writer (src/runtime/safetensors.ts): the format's framing, a round
// trip, and clear errors on files that are not safetensors.
import { describe, expect, it } from "vitest";
import { readSafetensors, safetensorsBytes, SafetensorsError } from "../../src/runtime/safetensors.js";

describe("safetensors", () => {
  const bytes = safetensorsBytes(
    [
      { name: "dense_1/kernel", shape: [2, 3], dtype: "float32", data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) },
      { name: "steps", shape: [1], dtype: "int32", data: Int32Array.from([7]) },
    ],
    { source: "x.nn" },
  );
  it("frames the header as the format says: u64 length, JSON padded to 8 bytes, then the data", () => {
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8"));
    expect(header["dense_1/kernel"]).toEqual({ dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
    expect(header.steps).toEqual({ dtype: "I32", shape: [1], data_offsets: [24, 28] });
    expect(header.__metadata__).toEqual({ source: "x.nn" });
    expect(bytes.byteLength).toBe(8 + n + 28);
  });
  it("reads back what it wrote, from a Buffer view at any offset", () => {
    const pool = Buffer.alloc(bytes.byteLength + 3);
    pool.set(bytes, 3);
    const { weights, metadata } = readSafetensors(pool.subarray(3));
    expect(metadata).toEqual({ source: "x.nn" });
    expect(weights.map((w) => [w.name, w.dtype, w.shape, [...w.data]])).toEqual([
      ["dense_1/kernel", "float32", [2, 3], [1, 2, 3, 4, 5, 6.5]],
      ["steps", "int32", [1], [7]],
    ]);
  });
  it("says what is wrong with a file that is not safetensors", () => {
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(SafetensorsError);
    expect(() => readSafetensors(bytes.subarray(0, 20))).toThrow(/header of \d+ bytes in a file of 20/);
    expect(() => readSafetensors(bytes.subarray(0, bytes.byteLength - 4))).toThrow(/steps: offsets \[24, 28\]/);
    const bad = Buffer.from(bytes);
    bad.write("[", 8);
    expect(() => readSafetensors(bad)).toThrow(/header is not JSON/);
  });
});
