// A minimal WebAssembly binary encoder: just what nnc's kernels need (one imported shared memory,
// functions over i32 / f32 / v128 locals, structured control flow, loads/stores, SIMD arithmetic).
// nnc runs it at compile time; the generated program only embeds the resulting bytes (base64).

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function str(s: string): number[] {
  const bytes = [...Buffer.from(s, "utf8")];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Instruction helpers: each returns the bytes of one instruction. */
export const op = {
  block: () => [0x02, 0x40],
  loop: () => [0x03, 0x40],
  if: () => [0x04, 0x40],
  else: () => [0x05],
  end: () => [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  return: () => [0x0f],
  /** Calls function `index` of the module (its position in encodeModule's list). */
  call: (index: number) => [0x10, ...uleb(index)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v | 0)],
  f32: (v: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return [0x43, ...b];
  },
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  i32Store: (offset = 0) => [0x36, 2, ...uleb(offset)],
  f32Load: (offset = 0) => [0x2a, 2, ...uleb(offset)],
  f32Store: (offset = 0) => [0x38, 2, ...uleb(offset)],
  i32Load8U: (offset = 0) => [0x2d, 0, ...uleb(offset)],
  f32ConvertI32U: () => [0xb3],
  i32Eqz: () => [0x45],
  i32Eq: () => [0x46],
  i32Ne: () => [0x47],
  i32LtS: () => [0x48],
  i32GtS: () => [0x4a],
  i32LeS: () => [0x4c],
  i32GeS: () => [0x4e],
  i32Add: () => [0x6a],
  i32Sub: () => [0x6b],
  i32Mul: () => [0x6c],
  i32Shl: () => [0x74],
  i32ShrU: () => [0x76],
  i32And: () => [0x71],
  i32Or: () => [0x72],
  select: () => [0x1b],
  f32Add: () => [0x92],
  f32Mul: () => [0x94],
  // SIMD (prefix 0xfd). Memory alignment hint 4 = 16 bytes; wasm allows unaligned access anyway.
  v128Load: (offset = 0) => [0xfd, ...uleb(0x00), 4, ...uleb(offset)],
  v128Load32Splat: (offset = 0) => [0xfd, ...uleb(0x09), 2, ...uleb(offset)],
  v128Store: (offset = 0) => [0xfd, ...uleb(0x0b), 4, ...uleb(offset)],
  v128Zero: () => [0xfd, ...uleb(0x0c), ...new Array<number>(16).fill(0)],
  f32x4Splat: () => [0xfd, ...uleb(0x13)],
  f32x4Add: () => [0xfd, ...uleb(0xe4)],
  f32x4Mul: () => [0xfd, ...uleb(0xe6)],
  /** relaxed SIMD: a * b + c (fused or not, as the CPU does it best). */
  f32x4RelaxedMadd: () => [0xfd, ...uleb(0x105)],
  f32x4Sub: () => [0xfd, ...uleb(0xe5)],
  f32x4Div: () => [0xfd, ...uleb(0xe7)],
  f32x4Sqrt: () => [0xfd, ...uleb(0xe3)],
  f32x4Neg: () => [0xfd, ...uleb(0xe1)],
  f32x4Min: () => [0xfd, ...uleb(0xe8)],
  f32x4Max: () => [0xfd, ...uleb(0xe9)],
  /** Rounded to the nearest integer, ties to even. */
  f32x4Nearest: () => [0xfd, ...uleb(0x6a)],
  /** f32 lanes to i32, truncated (saturating). */
  i32x4TruncSatF32x4S: () => [0xfd, ...uleb(0xf8)],
  i32x4Shl: () => [0xfd, ...uleb(0xab)],
  f32Sub: () => [0x93],
  f32Div: () => [0x95],
  f32Sqrt: () => [0x91],
  f32Gt: () => [0x5e],
  f32Ne: () => [0x5c],
  f64Add: () => [0xa0],
  f64Div: () => [0xa3],
  f64ConvertI32S: () => [0xb7],
  f64PromoteF32: () => [0xbb],
  f32DemoteF64: () => [0xb6],
  f64Zero: () => [0x44, 0, 0, 0, 0, 0, 0, 0, 0],
  i32x4Splat: () => [0xfd, ...uleb(0x11)],
  i32x4ReplaceLane: (lane: number) => [0xfd, ...uleb(0x1c), lane],
  i32x4Add: () => [0xfd, ...uleb(0xae)],
  i32x4Eq: () => [0xfd, ...uleb(0x37)],
  i32x4Mul: () => [0xfd, ...uleb(0xb5)],
  i32x4ShrU: () => [0xfd, ...uleb(0xad)],
  i32x4GeU: () => [0xfd, ...uleb(0x40)],
  v128Or: () => [0xfd, ...uleb(0x50)],
  v128Xor: () => [0xfd, ...uleb(0x51)],
  i32Xor: () => [0x73],
  i32GeU: () => [0x4f],
  f64x2Splat: () => [0xfd, ...uleb(0x14)],
  f64x2Add: () => [0xfd, ...uleb(0xf0)],
  f64x2Div: () => [0xfd, ...uleb(0xf3)],
  /** Two f32 (8 bytes) into the low half of a vector, the high half zero. */
  v128Load64Zero: (offset = 0) => [0xfd, ...uleb(0x5d), 3, ...uleb(offset)],
  /** The low 8 bytes of a vector (two f32) to memory. */
  v128Store64Lane0: (offset = 0) => [0xfd, ...uleb(0x5b), 3, ...uleb(offset), 0],
  /** The two low f32 lanes widened to f64x2 (exactly). */
  f64x2PromoteLowF32x4: () => [0xfd, ...uleb(0x5f)],
  /** f64x2 rounded to the two low f32 lanes (to nearest even, as a store to a Float32Array), the high ones zero. */
  f32x4DemoteF64x2Zero: () => [0xfd, ...uleb(0x5e)],
  f32x4Gt: () => [0xfd, ...uleb(0x44)],
  f32x4Ne: () => [0xfd, ...uleb(0x42)],
  i32x4Sub: () => [0xfd, ...uleb(0xb1)],
  i32x4ExtractLane: (lane: number) => [0xfd, ...uleb(0x1b), lane],
  i16x8ExtendLowI8x16U: () => [0xfd, ...uleb(0x89)],
  i16x8ExtendHighI8x16U: () => [0xfd, ...uleb(0x8a)],
  i32x4ExtendLowI16x8U: () => [0xfd, ...uleb(0xa9)],
  i32x4ExtendHighI16x8U: () => [0xfd, ...uleb(0xaa)],
  f32x4ConvertI32x4U: () => [0xfd, ...uleb(0xfb)],
  v128And: () => [0xfd, ...uleb(0x4e)],
  /** 1 when any bit of the vector is set. */
  v128AnyTrue: () => [0xfd, ...uleb(0x53)],
  v128Bitselect: () => [0xfd, ...uleb(0x52)],
};

/** One function under construction: params, extra locals, and a flat body of bytes. */
export class Func {
  readonly locals: ValType[] = [];
  readonly body: number[] = [];
  constructor(
    readonly name: string,
    readonly params: ValType[],
  ) {}
  /** Declares a new local and returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }
  emit(...code: number[][]): this {
    for (const c of code) this.body.push(...c);
    return this;
  }
}

/**
 * A module that imports one memory as `env.mem` (shared when `shared`, with the given page
 * limits) and exports every function under its name. Functions return nothing.
 */
export function encodeModule(funcs: Func[], memory: { min: number; max: number; shared: boolean }): Uint8Array {
  const types: number[][] = funcs.map((f) => [0x60, ...uleb(f.params.length), ...f.params, 0]);
  const memLimits = memory.shared ? [0x03, ...uleb(memory.min), ...uleb(memory.max)] : [0x01, ...uleb(memory.min), ...uleb(memory.max)];
  const imports = vec([[...str("env"), ...str("mem"), 0x02, ...memLimits]]);
  const fnSection = vec(funcs.map((_, i) => uleb(i)));
  const exports = vec(funcs.map((f, i) => [...str(f.name), 0x00, ...uleb(i)]));
  const bodies = funcs.map((f) => {
    // Run-length encode local declarations.
    const groups: number[][] = [];
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      groups.push([...uleb(j - i), f.locals[i]!]);
      i = j;
    }
    const code = [...vec(groups), ...f.body, 0x0b];
    return [...uleb(code.length), ...code];
  });
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, imports),
    ...section(3, fnSection),
    ...section(7, exports),
    ...section(10, vec(bodies)),
  ];
  return Uint8Array.from(bytes);
}

/** `for (i = start; i < end; i += step) body` where start/end are instruction bytes leaving an i32. */
export function forLoop(i: number, start: number[], end: number[], step: number[], body: number[]): number[] {
  return [
    ...start, ...op.set(i),
    ...op.block(), ...op.loop(),
    ...op.get(i), ...end, ...op.i32GeS(), ...op.brIf(1),
    ...body,
    ...op.get(i), ...step, ...op.i32Add(), ...op.set(i),
    ...op.br(0),
    ...op.end(), ...op.end(),
  ];
}
