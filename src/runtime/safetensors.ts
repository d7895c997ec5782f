// safetensors (https://github.com/huggingface/safetensors, format spec in its README): an 8-byte
// little-endian header length N, N bytes of JSON header, then the tensors' bytes back to back.
//   header: { "<name>": { "dtype": "F32", "shape": [...], "data_offsets": [begin, end] }, ...,
//             "__metadata__": { "<key>": "<string>" } }
// Offsets are relative to the end of the header; the header is padded with spaces to a multiple
// of 8 bytes so the data is aligned. nnc's tensors keep model.json's names and Keras layouts.
// Used by `nnc export --format safetensors` and by the PyTorch engine (weights both ways).

export interface SafetensorsWeight {
  /** model.json's name, e.g. "conv2d_1/kernel". */
  name: string;
  shape: number[];
  dtype: "float32" | "int32";
  data: Float32Array | Int32Array;
}

const DTYPE: Record<SafetensorsWeight["dtype"], string> = { float32: "F32", int32: "I32" };

export function safetensorsBytes(weights: SafetensorsWeight[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const w of weights) {
    if (w.name in header) throw new Error(`safetensors: two weights are named ${w.name}`);
    header[w.name] = { dtype: DTYPE[w.dtype], shape: w.shape, data_offsets: [offset, offset + w.data.byteLength] };
    offset += w.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const w of weights) {
    out.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), pos);
    pos += w.data.byteLength;
  }
  return out;
}

/** A file that is not valid safetensors (or holds a dtype nnc does not read): the message says why. */
export class SafetensorsError extends Error {}

/** The tensors of a safetensors file (F32 and I32), in header order, and its metadata. */
export function readSafetensors(bytes: Uint8Array): { weights: SafetensorsWeight[]; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) throw new SafetensorsError(`not a safetensors file: ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.byteLength) throw new SafetensorsError(`not a safetensors file: a header of ${n} bytes in a file of ${bytes.byteLength}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString("utf8"));
  } catch (e) {
    throw new SafetensorsError(`not a safetensors file: its header is not JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const weights: SafetensorsWeight[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const info = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const dtype = info.dtype === "F32" ? "float32" : info.dtype === "I32" ? "int32" : null;
    if (dtype === null) throw new SafetensorsError(`tensor ${name} has dtype ${info.dtype}; nnc reads F32 and I32`);
    const [begin, end] = info.data_offsets;
    const count = info.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4 || base + end > bytes.byteLength) {
      throw new SafetensorsError(`tensor ${name}: offsets [${begin}, ${end}] do not hold ${count} values of 4 bytes in a file of ${bytes.byteLength} bytes`);
    }
    // copied: the data of a safetensors file need not be 4-byte aligned in this buffer
    // (a Buffer's slice() is a view: copy by hand)
    const copy = new Uint8Array(end - begin);
    copy.set(bytes.subarray(base + begin, base + end));
    const data = dtype === "float32" ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
    weights.push({ name, shape: info.shape, dtype, data });
  }
  return { weights, metadata };
}
