// EMBEDDABLE MODULE: imports only node:* built-ins and nothing local. The standalone generator
// copies it into generated programs; the tfjs engine imports it.
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

/** Protobuf base-128 varint of a non-negative integer (up to 2^53). */
function protoVarint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return bytes;
}

/** A length-delimited protobuf field: key, length, bytes. */
function protoBytesField(field: number, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...protoVarint(data.length)]), data]);
}

/** An Event's common head: wall_time (field 1, double) and step (field 2, varint). */
function eventHead(wallTime: number, step: number): Buffer {
  const head = Buffer.alloc(9);
  head[0] = (1 << 3) | 1;
  head.writeDoubleLE(wallTime, 1);
  return Buffer.concat([head, Buffer.from([(2 << 3) | 0, ...protoVarint(Math.max(0, Math.floor(step)))])]);
}

/** The first record of every event file: Event{wall_time, file_version: "brain.Event:2"}. */
export function fileVersionEvent(wallTime: number): Buffer {
  return Buffer.concat([eventHead(wallTime, 0), protoBytesField(3, Buffer.from("brain.Event:2", "utf8"))]);
}

/** Event{wall_time, step, summary: Summary{value: [{tag, simple_value}, ...]}}. */
export function scalarEvent(wallTime: number, step: number, scalars: Record<string, number>): Buffer {
  const values: Buffer[] = [];
  for (const [tag, value] of Object.entries(scalars)) {
    const simple = Buffer.alloc(5);
    simple[0] = (2 << 3) | 5;
    simple.writeFloatLE(value, 1);
    values.push(protoBytesField(1, Buffer.concat([protoBytesField(1, Buffer.from(tag, "utf8")), simple])));
  }
  return Buffer.concat([eventHead(wallTime, step), protoBytesField(5, Buffer.concat(values))]);
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
