import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import protobuf from "protobufjs";
import { afterAll, describe, expect, it } from "vitest";
import { crc32c, KerasTensorBoard, maskedCrc32c, TensorBoardWriter } from "../../src/runtime/tensorboard.js";
import { protoVarint } from "../../src/runtime/protobuf.js";

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

/** Every event of the one event file in `dir`, decoded. */
function eventsIn(dir: string): any[] {
  const files = readdirSync(dir);
  expect(files).toHaveLength(1);
  return readRecords(readFileSync(join(dir, files[0]!))).map((r) => Event.toObject(Event.decode(r), { longs: Number }));
}

/** [step, {tag: value}] of each scalar event (the file_version event left out). */
function scalarsOf(events: any[]): [number, Record<string, number>][] {
  return events
    .filter((e) => e.summary)
    .map((e) => [e.step ?? 0, Object.fromEntries(e.summary.value.map((v: any) => [v.tag, v.simpleValue]))]);
}

describe("KerasTensorBoard", () => {
  it("writes train/ and validation/ runs with the same epoch tags, the learning rate in train/, as Keras does", () => {
    const dir = join(tmp, "keras-epoch");
    const tb = new KerasTensorBoard(dir, "epoch");
    for (let b = 0; b < 3; b++) tb.batch({ loss: 1 - b / 10 }, 0.01);
    tb.epoch(0, { loss: 0.5, accuracy: 0.75, val_loss: 0.625, val_accuracy: 0.5, lr: 0.01 });
    for (let b = 0; b < 3; b++) tb.batch({ loss: 0.5 }, 0.005);
    tb.epoch(1, { loss: 0.25, accuracy: 0.875, val_loss: 0.375, val_accuracy: 0.75, lr: 0.005 });
    tb.close();
    expect(readdirSync(dir).sort()).toEqual(["train", "validation"]);
    expect(tb.paths.map((p) => p.slice(dir.length + 1).split("/")[0])).toEqual(["train", "validation"]);
    const train = scalarsOf(eventsIn(join(dir, "train")));
    // update_freq: epoch: no batch scalars
    expect(train).toEqual([
      [0, { epoch_loss: 0.5, epoch_accuracy: 0.75, epoch_learning_rate: Math.fround(0.01) }],
      [1, { epoch_loss: 0.25, epoch_accuracy: 0.875, epoch_learning_rate: Math.fround(0.005) }],
    ]);
    const validation = scalarsOf(eventsIn(join(dir, "validation")));
    expect(validation).toEqual([
      [0, { epoch_loss: 0.625, epoch_accuracy: 0.5 }],
      [3, { evaluation_loss_vs_iterations: 0.625, evaluation_accuracy_vs_iterations: 0.5 }],
      [1, { epoch_loss: 0.375, epoch_accuracy: 0.75 }],
      [6, { evaluation_loss_vs_iterations: 0.375, evaluation_accuracy_vs_iterations: 0.75 }],
    ]);
    // the tags TensorBoard overlays: the same in both runs
    const tags = (rows: [number, Record<string, number>][]) => new Set(rows.flatMap(([, v]) => Object.keys(v)).filter((t) => t.startsWith("epoch_")));
    expect([...tags(validation)].every((t) => tags(train).has(t))).toBe(true);
  });

  it("update_freq: batch writes batch_<metric> and batch_learning_rate at every batch (step = batches so far)", () => {
    const dir = join(tmp, "keras-batch");
    const tb = new KerasTensorBoard(dir, "batch");
    tb.batch({ loss: 0.75, accuracy: 0.5 }, 0.1);
    tb.batch({ loss: 0.5, accuracy: undefined }, 0.05);
    tb.epoch(0, { loss: 0.5, lr: 0.05 });
    tb.close();
    // no validation logs: no validation run
    expect(readdirSync(dir)).toEqual(["train"]);
    expect(scalarsOf(eventsIn(join(dir, "train")))).toEqual([
      [1, { batch_loss: 0.75, batch_accuracy: 0.5, batch_learning_rate: Math.fround(0.1) }],
      [2, { batch_loss: 0.5, batch_learning_rate: Math.fround(0.05) }],
      [0, { epoch_loss: 0.5, epoch_learning_rate: Math.fround(0.05) }],
    ]);
  });

  it("update_freq: N writes every N-th batch", () => {
    const dir = join(tmp, "keras-every-2");
    const tb = new KerasTensorBoard(dir, 2);
    for (let b = 0; b < 5; b++) tb.batch({ loss: b });
    tb.close();
    expect(scalarsOf(eventsIn(join(dir, "train"))).map(([step]) => step)).toEqual([2, 4]);
  });
});

describe("protoVarint", () => {
  it("encodes as protobufjs does, negative int64 included", () => {
    for (const v of [0, 1, 127, 128, 300, 2 ** 31, 2 ** 53 - 1, -1, -2, -(2 ** 40)]) {
      const w = protobuf.Writer.create();
      w.int64(v);
      expect(protoVarint(v), String(v)).toEqual(Array.from(w.finish()));
    }
  });
});
