// EMBEDDABLE MODULE: imports nothing. The standalone generator copies what a program needs of it
// (with src/runtime/tensorboard.ts, which imports it).
//
// The protobuf wire format, encode only, for the few messages nnc writes by hand: TensorBoard's
// Event/Summary (src/runtime/tensorboard.ts) and ONNX's ModelProto (src/runtime/export/onnx.ts).
//   field key = varint((field << 3) | wire type); wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
// A message is the concatenation of its fields, in any order; a field left out reads as its default.

/** Protobuf base-128 varint of an integer; negative int64 values take ten bytes (two's complement). */
export function protoVarint(value: number | bigint): number[] {
  const bytes: number[] = [];
  if (typeof value === "bigint" || value < 0) {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    return bytes;
  }
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return bytes;
}

/** A varint field (int32, int64, uint64, enum, bool). */
export function protoVarintField(field: number, value: number | bigint): Uint8Array {
  return Uint8Array.from([...protoVarint((field << 3) | 0), ...protoVarint(value)]);
}

/** A length-delimited field: key, length, bytes (an embedded message, bytes, a packed repeated field). */
export function protoBytesField(field: number, data: Uint8Array): Uint8Array {
  const head = [...protoVarint((field << 3) | 2), ...protoVarint(data.length)];
  const out = new Uint8Array(head.length + data.length);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/** A string field, UTF-8. */
export function protoStringField(field: number, text: string): Uint8Array {
  return protoBytesField(field, new TextEncoder().encode(text));
}

/** A float field (fixed32, little-endian). */
export function protoFloatField(field: number, value: number): Uint8Array {
  const key = protoVarint((field << 3) | 5);
  const out = new Uint8Array(key.length + 4);
  out.set(key, 0);
  new DataView(out.buffer).setFloat32(key.length, value, true);
  return out;
}

/** A double field (fixed64, little-endian). */
export function protoDoubleField(field: number, value: number): Uint8Array {
  const key = protoVarint((field << 3) | 1);
  const out = new Uint8Array(key.length + 8);
  out.set(key, 0);
  new DataView(out.buffer).setFloat64(key.length, value, true);
  return out;
}

/** A packed repeated varint field (repeated int64 in proto3, or [packed = true]). */
export function protoPackedVarints(field: number, values: readonly (number | bigint)[]): Uint8Array {
  return protoBytesField(field, Uint8Array.from(values.flatMap((v) => protoVarint(v))));
}

/** Concatenates fields into one message. */
export function protoMessage(fields: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(fields.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const f of fields) {
    out.set(f, offset);
    offset += f.length;
  }
  return out;
}
