// EMBEDDABLE MODULE: imports only node:* built-ins and the embeddable ./protobuf.ts. The
// standalone generator copies it (with what it uses of protobuf.ts) into generated programs; the
// tfjs engine imports it.
//
// KerasTensorBoard lays the files out as Keras's TensorBoard callback does, so TensorBoard
// overlays training and validation curves: <dir>/train/ and <dir>/validation/, each an event file
// with the same tags (epoch_loss, epoch_accuracy, ...; step = epoch), the learning rate as
// epoch_learning_rate in train/, batch_<metric> per batch (step = batches so far) with
// update_freq: batch, and evaluation_<metric>_vs_iterations in validation/ at each epoch end.
//
// A TensorBoard event-file writer: a file events.out.tfevents.<seconds>.<host> holding
// TFRecord-framed records, each a tensorflow.Event protobuf:
//   record = uint64le length, uint32le masked_crc32c(length bytes), data, uint32le masked_crc32c(data)
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
// No protobuf library: the handful of fields is encoded by hand (tests decode it with protobufjs).
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { protoBytesField, protoDoubleField, protoFloatField, protoMessage, protoStringField, protoVarintField } from "./protobuf.js";

let crc32cTable: Uint32Array | null = null;

/** CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), as TFRecord uses. */
export function crc32c(data: Uint8Array): number {
  if (crc32cTable === null) {
    crc32cTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crc32cTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crc32cTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: ((crc >>> 15) | (crc << 17)) + 0xa282ead8, mod 2^32. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Frames one record: length, masked CRC of the length, data, masked CRC of the data. */
export function tfrecordFrame(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** An Event's common head: wall_time (field 1, double) and step (field 2, varint). */
function eventHead(wallTime: number, step: number): Uint8Array {
  return protoMessage([protoDoubleField(1, wallTime), protoVarintField(2, Math.max(0, Math.floor(step)))]);
}

/** The first record of every event file: Event{wall_time, file_version: "brain.Event:2"}. */
export function fileVersionEvent(wallTime: number): Uint8Array {
  return protoMessage([eventHead(wallTime, 0), protoStringField(3, "brain.Event:2")]);
}

/** Event{wall_time, step, summary: Summary{value: [{tag, simple_value}, ...]}}. */
export function scalarEvent(wallTime: number, step: number, scalars: Record<string, number>): Uint8Array {
  const values = Object.entries(scalars).map(([tag, value]) =>
    protoBytesField(1, protoMessage([protoStringField(1, tag), protoFloatField(2, value)])),
  );
  return protoMessage([eventHead(wallTime, step), protoBytesField(5, protoMessage(values))]);
}

/** Appends scalar summaries to a new event file in `dir`; each record is written whole with one write. */
export class TensorBoardWriter {
  readonly path: string;
  private fd: number | null;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    const now = Date.now() / 1000;
    this.path = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`);
    this.fd = openSync(this.path, "a");
    writeSync(this.fd, tfrecordFrame(fileVersionEvent(now)));
  }

  /** One Event with a simple_value per entry, e.g. {loss, accuracy, val_loss, lr}; non-finite values are kept (TensorBoard shows NaN). */
  scalars(step: number, values: Record<string, number>): void {
    if (this.fd === null) throw new Error(`TensorBoard writer for ${this.path} is closed`);
    writeSync(this.fd, tfrecordFrame(scalarEvent(Date.now() / 1000, step, values)));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** How often KerasTensorBoard writes batch scalars: "epoch" (never), "batch" (every batch) or every N batches. */
export type TensorBoardUpdateFreq = "epoch" | "batch" | number;

/** Keras's TensorBoard callback: <dir>/train/ and <dir>/validation/ runs with the same tags. */
export class KerasTensorBoard {
  private readonly train: TensorBoardWriter;
  private validation: TensorBoardWriter | null = null;
  private readonly every: number;
  /** Training batches seen so far (the step of batch scalars). */
  private batches = 0;

  constructor(
    readonly dir: string,
    updateFreq: TensorBoardUpdateFreq = "epoch",
  ) {
    this.every = updateFreq === "batch" ? 1 : updateFreq === "epoch" ? 0 : Math.max(0, Math.floor(updateFreq));
    this.train = new TensorBoardWriter(join(dir, "train"));
  }

  /** After each training batch, with its logs ({loss, accuracy, ...}) and the learning rate it used. */
  batch(logs: Record<string, number | undefined>, learningRate?: number): void {
    this.batches += 1;
    if (this.every === 0 || this.batches % this.every !== 0) return;
    const scalars: Record<string, number> = {};
    for (const [key, value] of Object.entries(logs)) if (value !== undefined) scalars[`batch_${key}`] = value;
    if (learningRate !== undefined) scalars.batch_learning_rate = learningRate;
    this.train.scalars(this.batches, scalars);
  }

  /** At each epoch end, with the epoch's logs: val_* go to validation/ without the prefix, lr to train/ as learning_rate. */
  epoch(epoch: number, logs: Record<string, number>): void {
    const train: Record<string, number> = {};
    const validation: Record<string, number> = {};
    for (const [key, value] of Object.entries(logs)) {
      if (key.startsWith("val_")) validation[`epoch_${key.slice(4)}`] = value;
      else train[`epoch_${key === "lr" ? "learning_rate" : key}`] = value;
    }
    this.train.scalars(epoch, train);
    if (Object.keys(validation).length === 0) return;
    this.validation ??= new TensorBoardWriter(join(this.dir, "validation"));
    this.validation.scalars(epoch, validation);
    const vsIterations: Record<string, number> = {};
    for (const [tag, value] of Object.entries(validation)) vsIterations[`evaluation_${tag.slice(6)}_vs_iterations`] = value;
    this.validation.scalars(this.batches, vsIterations);
  }

  /** The event files written so far. */
  get paths(): string[] {
    return [this.train.path, ...(this.validation ? [this.validation.path] : [])];
  }

  close(): void {
    this.train.close();
    this.validation?.close();
  }
}
