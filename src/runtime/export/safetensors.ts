// safetensors (https://github.com/huggingface/safetensors, format spec in its README): an 8-byte
// little-endian header length N, N bytes of JSON header, then the tensors' bytes back to back.
//   header: { "<name>": { "dtype": "F32", "shape": [...], "data_offsets": [begin, end] }, ...,
//             "__metadata__": { "<key>": "<string>" } }
// Offsets are relative to the end of the header; the header is padded with spaces to a multiple
// of 8 bytes so the data is aligned. The tensors keep model.json's names and Keras layouts
// (dense [in, out], conv2d [kh, kw, in, out]).
import type { SavedWeight } from "./saved-model.js";

const DTYPE: Record<SavedWeight["dtype"], string> = { float32: "F32", int32: "I32" };

export function safetensorsBytes(weights: SavedWeight[], metadata: Record<string, string> = {}): Uint8Array {
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
