import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { afterAll, describe, expect, it } from "vitest";
import { crc32c, maskedCrc32c, TensorBoardWriter } from "../../src/runtime/tensorboard.js";

const tmp = mkdtempSync(join(tmpdir(), "nnc-tb-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// The relevant subset of tensorflow/core/util/event.proto and framework/summary.proto.
const root = protobuf.parse(`
syntax = "proto3";
package tensorflow;
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what { string file_version = 3; bytes graph_def = 4; Summary summary = 5; }
}
message Summary {
  message Value { string node_name = 7; string tag = 1; oneof value { float simple_value = 2; bytes obsolete_old_style_histogram = 3; } }
  repeated Value value = 1;
}
`).root;
const Event = root.lookupType("tensorflow.Event");

/** Bit-by-bit CRC-32C, independent of the table-driven one under test. */
function slowCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const slowMasked = (d: Uint8Array) => {
  const c = slowCrc32c(d);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
};

/** Reads TFRecords, checking both CRCs of each. */
function readRecords(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = Number(buf.readBigUInt64LE(pos));
    expect(buf.readUInt32LE(pos + 8)).toBe(slowMasked(buf.subarray(pos, pos + 8)));
    const data = buf.subarray(pos + 12, pos + 12 + len);
    expect(buf.readUInt32LE(pos + 12 + len)).toBe(slowMasked(data));
    out.push(data);
    pos += 16 + len;
  }
  expect(pos).toBe(buf.length);
  return out;
}

describe("crc32c", () => {
  it("matches the standard check value and the bitwise reference", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 255));
    expect(crc32c(data)).toBe(slowCrc32c(data));
    expect(maskedCrc32c(data)).toBe(slowMasked(data));
  });
});

describe("TensorBoardWriter", () => {
  it("writes TFRecord-framed Events that protobufjs decodes: file_version, then scalars per epoch", () => {
    const dir = join(tmp, "logs");
    const before = Date.now() / 1000;
    const w = new TensorBoardWriter(dir);
    w.scalars(0, { loss: 0.5, accuracy: 0.875, lr: 1e-3 });
    w.scalars(1, { loss: 0.25, accuracy: 0.9375, lr: 5e-4, val_loss: Number.NaN });
    w.scalars(300, { "epoch/loss": 0.125 });
    w.close();
    expect(() => w.scalars(2, { loss: 1 })).toThrow(/closed/);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${hostname().replace(/[.]/g, "\\.")}$`));
    const events = readRecords(readFileSync(join(dir, files[0]))).map(
      (r) => Event.toObject(Event.decode(r), { longs: Number }) as any,
    );
    expect(events).toHaveLength(4);
    expect(events[0].fileVersion).toBe("brain.Event:2");
    expect(events[0].wallTime).toBeGreaterThanOrEqual(Math.floor(before) - 1);
    expect(events[1].step ?? 0).toBe(0);
    expect(events[1].summary.value.map((v: any) => v.tag)).toEqual(["loss", "accuracy", "lr"]);
    expect(events[1].summary.value.map((v: any) => v.simpleValue)).toEqual([0.5, 0.875, Math.fround(1e-3)]);
    expect(events[2].step).toBe(1);
    expect(Number.isNaN(events[2].summary.value[3].simpleValue)).toBe(true);
    expect(events[3].step).toBe(300);
    expect(events[3].summary.value[0]).toEqual({ tag: "epoch/loss", simpleValue: 0.125 });
    for (const e of events) expect(e.wallTime).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });
});
