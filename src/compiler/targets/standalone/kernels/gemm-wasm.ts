// The WebAssembly SIMD gemm kernels that nnc emits into the generated program, built with the
// minimal encoder in wasm-encoder.ts. Three exported functions (byte addresses, byte strides):
//
//   pack_a(src, ps, ks, n, kc, dst)  copy op(A)[n x kc] into panels of MR rows: panel p holds
//                                    element (p*MR + r, k) at dst[p*MR*kc + k*MR + r], zero padded
//   pack_b(src, ps, ks, n, kc, dst)  same with panels of NR columns (op(B)^T seen as [n x kc])
//   kernel(ap, bp, c, ldc, mc, nc, kc, accumulate, tile)
//                                    C[mc x nc] (row stride ldc bytes) = or += packed A · packed B,
//                                    with an MR x NR register tile of f32x4 accumulators
//
// (ps: byte stride between consecutive rows of a panel, ks: byte stride along k.)

import { F32, F64, forLoop, Func, I32, op, V128, encodeModule } from "./wasm-encoder.js";

export interface GemmWasmShape {
  /** Rows of the register tile. */
  MR: number;
  /** Columns of the register tile (a multiple of 4: one f32x4 per 4 columns). */
  NR: number;
  /** Unrolling of the loop over k. */
  unrollK?: number;
  /** Multiply-add with relaxed SIMD's f32x4.relaxed_madd (one fused instruction where the CPU has FMA). */
  fma?: boolean;
}

export const DEFAULT_SHAPE: GemmWasmShape = { MR: 4, NR: 8, unrollK: 1, fma: true };

const ifF32 = () => [0x04, F32];

/** The f32x4 a * b + c (c's code last): one relaxed-SIMD multiply-add with fma, else a multiply then an add. */
function madd(fma: boolean, a: number[], b: number[], c: number[]): number[] {
  return fma ? [...a, ...b, ...c, ...op.f32x4RelaxedMadd()] : [...c, ...a, ...b, ...op.f32x4Mul(), ...op.f32x4Add()];
}

/** Local acc += a * b (f32x4 locals). */
function maddInto(fma: boolean, a: number, b: number, acc: number): number[] {
  return [...madd(fma, op.get(a), op.get(b), op.get(acc)), ...op.set(acc)];
}
const i32And = () => [0x71];

/** pack(src, ps, ks, n, kc, dst) with panels of width P. */
function buildPack(name: string, P: number): Func {
  const f = new Func(name, [I32, I32, I32, I32, I32, I32]);
  const [src, ps, ks, n, kc, dst] = [0, 1, 2, 3, 4, 5];
  const p0 = f.local(I32);
  const kp = f.local(I32);
  const rem = f.local(I32);
  const k = f.local(I32);
  const offs: number[] = [];
  for (let r = 0; r < P; r++) offs.push(f.local(I32));
  const one = op.i32(1);

  // offs[r] = r * ps
  for (let r = 0; r < P; r++) f.emit(op.get(ps), op.i32(r), op.i32Mul(), op.set(offs[r]!));

  const advance = [...op.get(dst), ...op.i32(P * 4), ...op.i32Add(), ...op.set(dst), ...op.get(kp), ...op.get(ks), ...op.i32Add(), ...op.set(kp)];

  // Full panel, contiguous along the panel (ps == 4): vector copies.
  const vecBody: number[] = [];
  for (let q = 0; q < P / 4; q++) vecBody.push(...op.get(dst), ...op.get(kp), ...op.v128Load(q * 16), ...op.v128Store(q * 16));
  vecBody.push(...advance);
  // Full panel, strided: scalar copies.
  const fullBody: number[] = [];
  for (let r = 0; r < P; r++) {
    fullBody.push(...op.get(dst), ...op.get(kp), ...op.get(offs[r]!), ...op.i32Add(), ...op.f32Load(), ...op.f32Store(r * 4));
  }
  fullBody.push(...advance);
  // Partial panel: zero padding beyond rem.
  const partBody: number[] = [];
  for (let r = 0; r < P; r++) {
    partBody.push(
      ...op.get(dst),
      ...op.i32(r), ...op.get(rem), ...op.i32LtS(),
      ...ifF32(), ...op.get(kp), ...op.get(offs[r]!), ...op.i32Add(), ...op.f32Load(),
      ...op.else(), ...op.f32(0), ...op.end(),
      ...op.f32Store(r * 4),
    );
  }
  partBody.push(...advance);

  const kLoop = (body: number[]) => forLoop(k, op.i32(0), op.get(kc), one, body);

  const panel = [
    ...op.get(src), ...op.get(p0), ...op.get(ps), ...op.i32Mul(), ...op.i32Add(), ...op.set(kp),
    ...op.get(n), ...op.get(p0), ...op.i32Sub(), ...op.set(rem),
    ...op.get(rem), ...op.i32(P), ...op.i32GeS(),
    ...op.if(),
    ...(P % 4 === 0
      ? [...op.get(ps), ...op.i32(4), ...op.i32Eq(), ...op.if(), ...kLoop(vecBody), ...op.else(), ...kLoop(fullBody), ...op.end()]
      : kLoop(fullBody)),
    ...op.else(),
    ...kLoop(partBody),
    ...op.end(),
  ];
  f.emit(forLoop(p0, op.i32(0), op.get(n), op.i32(P), panel));
  return f;
}

/**
 * The register-tiled kernel. With `packedA`, A comes packed by pack_a (params ap, bp, c, ldc, mc,
 * nc, kc, accumulate, tile); without, A is read in place with byte strides ps (between rows) and
 * ks (along k) (params a, ps, ks, bp, c, ldc, mc, nc, kc, accumulate, tile), which saves the
 * packing when op(B) has few columns (each element of A is then used only a few times).
 */
function buildKernel(MR: number, NR: number, packedA: boolean, unrollK: number, fma = false): Func {
  const NV = NR / 4;
  const f = packedA
    ? new Func("kernel", [I32, I32, I32, I32, I32, I32, I32, I32, I32])
    : new Func("kernel_strided", [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [ap, aps, aks] = packedA ? [0, -1, -1] : [0, 1, 2];
  const sh = packedA ? 0 : 2;
  const [bp, c, ldc, mc, nc, kc, accumulate, tile] = [1, 2, 3, 4, 5, 6, 7, 8].map((x) => x + sh) as [number, number, number, number, number, number, number, number];
  const j0 = f.local(I32), i0 = f.local(I32), a = f.local(I32), b = f.local(I32), k = f.local(I32);
  const bpj = f.local(I32), api = f.local(I32), cp = f.local(I32), rows = f.local(I32), cols = f.local(I32);
  const rr = f.local(I32), cc = f.local(I32), addr = f.local(I32);
  const acc: number[][] = [];
  for (let r = 0; r < MR; r++) {
    acc.push([]);
    for (let q = 0; q < NV; q++) acc[r]!.push(f.local(V128));
  }
  const bv: number[] = [];
  for (let q = 0; q < NV; q++) bv.push(f.local(V128));
  const av = f.local(V128);
  const kEnd = f.local(I32);
  // Strided A: offsets of the MR rows (clamped to the last valid row on a partial tile).
  const offs: number[] = [];
  if (!packedA) for (let r = 0; r < MR; r++) offs.push(f.local(I32));

  // Inner product over k for one MR x NR tile.
  const micro: number[] = [];
  for (let r = 0; r < MR; r++) for (let q = 0; q < NV; q++) micro.push(...op.v128Zero(), ...op.set(acc[r]![q]!));
  if (packedA) {
    micro.push(...op.get(api), ...op.set(a));
  } else {
    // a = ap + i0*ps; offs[r] = min(r, mc - i0 - 1) * ps
    micro.push(...op.get(ap), ...op.get(i0), ...op.get(aps), ...op.i32Mul(), ...op.i32Add(), ...op.set(a));
    for (let r = 0; r < MR; r++) {
      micro.push(
        ...op.i32(r), ...op.get(mc), ...op.get(i0), ...op.i32Sub(), ...op.i32(1), ...op.i32Sub(), ...op.tee(kEnd),
        ...op.i32(r), ...op.get(kEnd), ...op.i32LtS(), ...op.select(),
        ...op.get(aps), ...op.i32Mul(), ...op.set(offs[r]!),
      );
    }
  }
  micro.push(...op.get(bpj), ...op.set(b));
  const aStep = packedA ? op.i32(MR * 4) : op.get(aks);
  /** One step along k: B at immediate offset u*NR floats, packed A at u*MR floats. */
  const step = (u: number): number[] => {
    const out: number[] = [];
    for (let q = 0; q < NV; q++) out.push(...op.get(b), ...op.v128Load((u * NR + q * 4) * 4), ...op.set(bv[q]!));
    for (let r = 0; r < MR; r++) {
      if (packedA) out.push(...op.get(a), ...op.v128Load32Splat((u * MR + r) * 4), ...op.set(av));
      else out.push(...op.get(a), ...op.get(offs[r]!), ...op.i32Add(), ...op.v128Load32Splat(), ...op.set(av));
      for (let q = 0; q < NV; q++) {
        out.push(...maddInto(fma, av, bv[q]!, acc[r]![q]!));
      }
    }
    if (!packedA) out.push(...op.get(a), ...aStep, ...op.i32Add(), ...op.set(a));
    return out;
  };
  /** The loop over k in steps of `by` (k counts down from kc while k >= by). */
  const kLoop = (by: number): number[] => {
    const body: number[] = [];
    for (let u = 0; u < by; u++) body.push(...step(u));
    if (packedA) body.push(...op.get(a), ...op.i32(by * MR * 4), ...op.i32Add(), ...op.set(a));
    body.push(...op.get(b), ...op.i32(by * NR * 4), ...op.i32Add(), ...op.set(b));
    return [
      ...op.block(), ...op.loop(),
      ...op.get(k), ...op.i32(by), ...op.i32LtS(), ...op.brIf(1),
      ...body,
      ...op.get(k), ...op.i32(by), ...op.i32Sub(), ...op.set(k),
      ...op.br(0),
      ...op.end(), ...op.end(),
    ];
  };
  micro.push(...op.get(kc), ...op.set(k));
  if (unrollK > 1) micro.push(...kLoop(unrollK));
  micro.push(...kLoop(1));
  // cp = c + i0*ldc + j0*4
  micro.push(...op.get(c), ...op.get(i0), ...op.get(ldc), ...op.i32Mul(), ...op.i32Add(), ...op.get(j0), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.set(cp));
  // rows = mc - i0, cols = nc - j0
  micro.push(...op.get(mc), ...op.get(i0), ...op.i32Sub(), ...op.set(rows), ...op.get(nc), ...op.get(j0), ...op.i32Sub(), ...op.set(cols));

  const storeFull = (accum: boolean): number[] => {
    const out: number[] = [];
    for (let r = 0; r < MR; r++) {
      for (let q = 0; q < NV; q++) {
        out.push(...op.get(cp));
        if (accum) out.push(...op.get(cp), ...op.v128Load(q * 16), ...op.get(acc[r]![q]!), ...op.f32x4Add());
        else out.push(...op.get(acc[r]![q]!));
        out.push(...op.v128Store(q * 16));
      }
      if (r < MR - 1) out.push(...op.get(cp), ...op.get(ldc), ...op.i32Add(), ...op.set(cp));
    }
    return out;
  };
  const storePartial: number[] = [];
  for (let r = 0; r < MR; r++) for (let q = 0; q < NV; q++) storePartial.push(...op.get(tile), ...op.get(acc[r]![q]!), ...op.v128Store((r * NR + q * 4) * 4));
  // for rr < min(rows, MR): for cc < min(cols, NR): C[cp + rr*ldc + cc*4] (+)= tile[rr*NR + cc]
  const cellBody = [
    ...op.get(cp), ...op.get(rr), ...op.get(ldc), ...op.i32Mul(), ...op.i32Add(), ...op.get(cc), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.set(addr),
    ...op.get(addr),
    ...op.get(tile), ...op.get(rr), ...op.i32(NR * 4), ...op.i32Mul(), ...op.i32Add(), ...op.get(cc), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.f32Load(),
    ...op.get(addr), ...op.f32Load(), ...op.f32(0), ...op.get(accumulate), ...op.select(),
    ...op.f32Add(),
    ...op.f32Store(),
  ];
  const minRows = [...op.get(rows), ...op.i32(MR), ...op.get(rows), ...op.i32(MR), ...op.i32LtS(), ...op.select()];
  const minCols = [...op.get(cols), ...op.i32(NR), ...op.get(cols), ...op.i32(NR), ...op.i32LtS(), ...op.select()];
  storePartial.push(...forLoop(rr, op.i32(0), minRows, op.i32(1), forLoop(cc, op.i32(0), minCols, op.i32(1), cellBody)));

  micro.push(
    ...op.get(rows), ...op.i32(MR), ...op.i32GeS(), ...op.get(cols), ...op.i32(NR), ...op.i32GeS(), ...i32And(),
    ...op.if(),
    ...op.get(accumulate), ...op.if(), ...storeFull(true), ...op.else(), ...storeFull(false), ...op.end(),
    ...op.else(),
    ...storePartial,
    ...op.end(),
    // api += MR*kc*4
    ...op.get(api), ...op.get(kc), ...op.i32(MR * 4), ...op.i32Mul(), ...op.i32Add(), ...op.set(api),
  );

  const jBody = [
    ...op.get(ap), ...op.set(api),
    ...forLoop(i0, op.i32(0), op.get(mc), op.i32(MR), micro),
    ...op.get(bpj), ...op.get(kc), ...op.i32(NR * 4), ...op.i32Mul(), ...op.i32Add(), ...op.set(bpj),
  ];
  f.emit(op.get(bp), op.set(bpj), forLoop(j0, op.i32(0), op.get(nc), op.i32(NR), jBody));
  return f;
}

/**
 * adam(value, grad, m, v, n, args), in place over n floats, with the six f32 at byte address args
 * = [lrT, beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon]: m = beta1*m + (1-beta1)*g;
 * v = beta2*v + (1-beta2)*g*g; value -= lrT * m / (sqrt(v) + epsilon). Four at a time, then the
 * tail one by one. The hyperparameters come through memory, not as f32 arguments: a call from
 * JavaScript boxes every non-integer number it passes, and the training step must not allocate.
 */
function buildAdam(): Func {
  const f = new Func("adam", [I32, I32, I32, I32, I32, I32]);
  const [value, grad, m, v, n, args] = [0, 1, 2, 3, 4, 5];
  const [lrT, b1, c1, b2, c2, eps] = [f.local(F32), f.local(F32), f.local(F32), f.local(F32), f.local(F32), f.local(F32)];
  f.emit(
    op.get(args), op.f32Load(0), op.set(lrT), op.get(args), op.f32Load(4), op.set(b1), op.get(args), op.f32Load(8), op.set(c1),
    op.get(args), op.f32Load(12), op.set(b2), op.get(args), op.f32Load(16), op.set(c2), op.get(args), op.f32Load(20), op.set(eps),
  );
  const i = f.local(I32), end4 = f.local(I32), off = f.local(I32);
  const g = f.local(V128), mv = f.local(V128), vv = f.local(V128);
  const sg = f.local(F32), sm = f.local(F32), sv = f.local(F32);
  const V = [f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const [vLr, vB1, vC1, vB2, vC2, vEps] = V as [number, number, number, number, number, number];
  f.emit(
    op.get(lrT), op.f32x4Splat(), op.set(vLr), op.get(b1), op.f32x4Splat(), op.set(vB1), op.get(c1), op.f32x4Splat(), op.set(vC1),
    op.get(b2), op.f32x4Splat(), op.set(vB2), op.get(c2), op.f32x4Splat(), op.set(vC2), op.get(eps), op.f32x4Splat(), op.set(vEps),
    // end4 = n & ~3
    op.get(n), op.i32(-4), [0x71], op.set(end4),
  );
  const addr = (base: number) => [...op.get(base), ...op.get(off), ...op.i32Add()];
  const vecBody = [
    ...op.get(i), ...op.i32(4), ...op.i32Mul(), ...op.set(off),
    ...addr(grad), ...op.v128Load(), ...op.set(g),
    // m = b1*m + c1*g
    ...op.get(vB1), ...addr(m), ...op.v128Load(), ...op.f32x4Mul(), ...op.get(vC1), ...op.get(g), ...op.f32x4Mul(), ...op.f32x4Add(), ...op.set(mv),
    // v = b2*v + c2*g*g
    ...op.get(vB2), ...addr(v), ...op.v128Load(), ...op.f32x4Mul(), ...op.get(vC2), ...op.get(g), ...op.f32x4Mul(), ...op.get(g), ...op.f32x4Mul(), ...op.f32x4Add(), ...op.set(vv),
    ...addr(m), ...op.get(mv), ...op.v128Store(),
    ...addr(v), ...op.get(vv), ...op.v128Store(),
    // value -= lrT*m / (sqrt(v) + eps)
    ...addr(value),
    ...addr(value), ...op.v128Load(),
    ...op.get(vLr), ...op.get(mv), ...op.f32x4Mul(), ...op.get(vv), ...op.f32x4Sqrt(), ...op.get(vEps), ...op.f32x4Add(), ...op.f32x4Div(),
    ...op.f32x4Sub(), ...op.v128Store(),
  ];
  const scalarBody = [
    ...op.get(i), ...op.i32(4), ...op.i32Mul(), ...op.set(off),
    ...addr(grad), ...op.f32Load(), ...op.set(sg),
    ...op.get(b1), ...addr(m), ...op.f32Load(), ...op.f32Mul(), ...op.get(c1), ...op.get(sg), ...op.f32Mul(), ...op.f32Add(), ...op.set(sm),
    ...op.get(b2), ...addr(v), ...op.f32Load(), ...op.f32Mul(), ...op.get(c2), ...op.get(sg), ...op.f32Mul(), ...op.get(sg), ...op.f32Mul(), ...op.f32Add(), ...op.set(sv),
    ...addr(m), ...op.get(sm), ...op.f32Store(),
    ...addr(v), ...op.get(sv), ...op.f32Store(),
    ...addr(value),
    ...addr(value), ...op.f32Load(),
    ...op.get(lrT), ...op.get(sm), ...op.f32Mul(), ...op.get(sv), ...op.f32Sqrt(), ...op.get(eps), ...op.f32Add(), ...op.f32Div(),
    ...op.f32Sub(), ...op.f32Store(),
  ];
  f.emit(forLoop(i, op.i32(0), op.get(end4), op.i32(4), vecBody));
  f.emit(forLoop(i, op.get(end4), op.get(n), op.i32(1), scalarBody));
  return f;
}

/**
 * sgd(value, grad, n, args): value -= lr * grad over n floats, four at a time, then the tail; lr
 * is the f32 at byte address args (through memory, like adam's hyperparameters).
 */
function buildSgd(): Func {
  const f = new Func("sgd", [I32, I32, I32, I32]);
  const [value, grad, n, args] = [0, 1, 2, 3];
  const lr = f.local(F32);
  f.emit(op.get(args), op.f32Load(0), op.set(lr));
  const i = f.local(I32), end4 = f.local(I32), vLr = f.local(V128);
  const at = (base: number) => [...op.get(base), ...op.get(i), ...op.i32(4), ...op.i32Mul(), ...op.i32Add()];
  f.emit(op.get(lr), op.f32x4Splat(), op.set(vLr), op.get(n), op.i32(-4), [0x71], op.set(end4));
  f.emit(forLoop(i, op.i32(0), op.get(end4), op.i32(4), [
    ...at(value), ...at(value), ...op.v128Load(), ...op.get(vLr), ...at(grad), ...op.v128Load(), ...op.f32x4Mul(), ...op.f32x4Sub(), ...op.v128Store(),
  ]));
  f.emit(forLoop(i, op.get(end4), op.get(n), op.i32(1), [
    ...at(value), ...at(value), ...op.f32Load(), ...op.get(lr), ...at(grad), ...op.f32Load(), ...op.f32Mul(), ...op.f32Sub(), ...op.f32Store(),
  ]));
  return f;
}

/**
 * bytes_to_floats(src, dst, n): dst[i] = src[i] / 255 over n bytes (pixel bytes to [0, 1]), 16 at a
 * time: bytes widened to 32-bit integers, converted, divided in float32 (correctly rounded, so
 * the same float as the TypeScript loop's v * (1 / 255) for every byte; a float32 multiply by
 * 1/255 would differ for half of them). Then the tail one by one.
 */
function buildBytesToFloats(): Func {
  const f = new Func("bytes_to_floats", [I32, I32, I32]);
  const [src, dst, n] = [0, 1, 2];
  const i = f.local(I32), end16 = f.local(I32), v = f.local(V128), half = f.local(V128), d255 = f.local(V128);
  f.emit(op.f32(255), op.f32x4Splat(), op.set(d255), op.get(n), op.i32(-16), i32And(), op.set(end16));
  // dst byte address of float i (+ 16 * part)
  const out = () => [...op.get(dst), ...op.get(i), ...op.i32(4), ...op.i32Mul(), ...op.i32Add()];
  const quarter = (widen: number[]) => [...op.get(half), ...widen, ...op.f32x4ConvertI32x4U(), ...op.get(d255), ...op.f32x4Div()];
  const body = [
    ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.set(v),
    ...op.get(v), ...op.i16x8ExtendLowI8x16U(), ...op.set(half),
    ...out(), ...quarter(op.i32x4ExtendLowI16x8U()), ...op.v128Store(0),
    ...out(), ...quarter(op.i32x4ExtendHighI16x8U()), ...op.v128Store(16),
    ...op.get(v), ...op.i16x8ExtendHighI8x16U(), ...op.set(half),
    ...out(), ...quarter(op.i32x4ExtendLowI16x8U()), ...op.v128Store(32),
    ...out(), ...quarter(op.i32x4ExtendHighI16x8U()), ...op.v128Store(48),
  ];
  f.emit(forLoop(i, op.i32(0), op.get(end16), op.i32(16), body));
  f.emit(forLoop(i, op.get(end16), op.get(n), op.i32(1), [
    ...out(), ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.i32Load8U(), ...op.f32ConvertI32U(), ...op.f32(255), ...op.f32Div(), ...op.f32Store(),
  ]));
  return f;
}

/**
 * bias_relu(z, a, bias, rows, cols) / bias_add(z, bias, rows, cols): z[r, j] += bias[j] over
 * rows x cols floats (four columns at a time, then the last cols % 4 one by one), and for
 * bias_relu a[r, j] = z > 0 ? z : 0 (a NaN gives 0, as in the TypeScript loop).
 */
function buildBiasAct(relu: boolean): Func {
  const f = relu ? new Func("bias_relu", [I32, I32, I32, I32, I32]) : new Func("bias_add", [I32, I32, I32, I32]);
  const [z, a, bias, rows, cols] = relu ? [0, 1, 2, 3, 4] : [0, -1, 1, 2, 3];
  const r = f.local(I32), q = f.local(I32), rowBytes = f.local(I32), vecBytes = f.local(I32), v = f.local(V128), zero = f.local(V128), s = f.local(F32);
  f.emit(op.get(cols), op.i32(4), op.i32Mul(), op.set(rowBytes), op.get(rowBytes), op.i32(-16), i32And(), op.set(vecBytes), op.v128Zero(), op.set(zero));
  const body = [
    // v = z[q] + bias[q]; z[q] = v
    ...op.get(z), ...op.get(q), ...op.i32Add(),
    ...op.get(z), ...op.get(q), ...op.i32Add(), ...op.v128Load(),
    ...op.get(bias), ...op.get(q), ...op.i32Add(), ...op.v128Load(),
    ...op.f32x4Add(), ...op.tee(v), ...op.v128Store(),
    ...(relu
      ? [...op.get(a), ...op.get(q), ...op.i32Add(), ...op.get(v), ...op.get(v), ...op.get(zero), ...op.f32x4Gt(), ...op.v128And(), ...op.v128Store()]
      : []),
  ];
  // the last cols % 4 columns, one at a time (the same float32 sum; relu: NaN and -0 give 0 as above)
  const tail = [
    ...op.get(z), ...op.get(q), ...op.i32Add(),
    ...op.get(z), ...op.get(q), ...op.i32Add(), ...op.f32Load(),
    ...op.get(bias), ...op.get(q), ...op.i32Add(), ...op.f32Load(),
    ...op.f32Add(), ...op.tee(s), ...op.f32Store(),
    ...(relu ? [...op.get(a), ...op.get(q), ...op.i32Add(), ...op.get(s), ...op.f32(0), ...op.get(s), ...op.f32(0), ...op.f32Gt(), ...op.select(), ...op.f32Store()] : []),
  ];
  f.emit(
    forLoop(r, op.i32(0), op.get(rows), op.i32(1), [
      ...forLoop(q, op.i32(0), op.get(vecBytes), op.i32(16), body),
      ...forLoop(q, op.get(vecBytes), op.get(rowBytes), op.i32(4), tail),
      ...op.get(z), ...op.get(rowBytes), ...op.i32Add(), ...op.set(z),
      ...(relu ? [...op.get(a), ...op.get(rowBytes), ...op.i32Add(), ...op.set(a)] : []),
    ]),
  );
  return f;
}

/** mul(a, b, out, count): out = a * b over count floats (a multiple of 4): dropout's gradient (g times its mask). */
function buildMul(): Func {
  const f = new Func("mul", [I32, I32, I32, I32]);
  const [a, b, out, count] = [0, 1, 2, 3];
  const i = f.local(I32), end = f.local(I32);
  f.emit(op.get(count), op.i32(4), op.i32Mul(), op.set(end));
  f.emit(
    forLoop(i, op.i32(0), op.get(end), op.i32(16), [
      ...op.get(out), ...op.get(i), ...op.i32Add(),
      ...op.get(a), ...op.get(i), ...op.i32Add(), ...op.v128Load(),
      ...op.get(b), ...op.get(i), ...op.i32Add(), ...op.v128Load(),
      ...op.f32x4Mul(), ...op.v128Store(),
    ]),
  );
  return f;
}

/** relu_backward(z, g, dz, count): dz = z > 0 ? g : 0 over count floats (a multiple of 4). */
function buildReluBackward(): Func {
  const f = new Func("relu_backward", [I32, I32, I32, I32]);
  const [z, g, dz, count] = [0, 1, 2, 3];
  const i = f.local(I32), end = f.local(I32), zero = f.local(V128);
  f.emit(op.get(count), op.i32(4), op.i32Mul(), op.set(end), op.v128Zero(), op.set(zero));
  f.emit(
    forLoop(i, op.i32(0), op.get(end), op.i32(16), [
      ...op.get(dz), ...op.get(i), ...op.i32Add(),
      ...op.get(g), ...op.get(i), ...op.i32Add(), ...op.v128Load(),
      ...op.get(z), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.get(zero), ...op.f32x4Gt(),
      ...op.v128And(), ...op.v128Store(),
    ]),
  );
  return f;
}

/**
 * piecewise_linear(z, a, count, args): a = z > 0 ? z : slope * z; piecewise_linear_backward(z, g, dz,
 * count, args): dz = z > 0 ? g : slope * g. count a multiple of 4; slope is the f32 at byte address args.
 */
function buildPiecewiseLinear(backward: boolean): Func {
  const f = backward ? new Func("piecewise_linear_backward", [I32, I32, I32, I32, I32]) : new Func("piecewise_linear", [I32, I32, I32, I32]);
  const [z, g, out, count, args] = backward ? [0, 1, 2, 3, 4] : [0, -1, 1, 2, 3];
  const i = f.local(I32), end = f.local(I32), zero = f.local(V128), slope = f.local(V128), v = f.local(V128);
  f.emit(op.get(count), op.i32(4), op.i32Mul(), op.set(end), op.v128Zero(), op.set(zero));
  f.emit(op.get(args), op.f32Load(0), op.f32x4Splat(), op.set(slope));
  const src = backward ? g : z;
  f.emit(
    forLoop(i, op.i32(0), op.get(end), op.i32(16), [
      ...op.get(out), ...op.get(i), ...op.i32Add(),
      ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.tee(v),
      ...op.get(slope), ...op.get(v), ...op.f32x4Mul(),
      ...op.get(z), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.get(zero), ...op.f32x4Gt(),
      ...op.v128Bitselect(), ...op.v128Store(),
    ]),
  );
  return f;
}

/**
 * sigmoid(z, a, count): a = 1 / (1 + e^-z), four at a time (count a multiple of 4). e^x is
 * Cephes's expf: x clamped to [-87.33, 88.37] (where e^x is a normal float), split as n ln 2 + r
 * with n = round(x / ln 2) and |r| <= ln 2 / 2 (ln 2 in two parts, so that r is exact), e^r by its
 * degree-7 minimax polynomial, times 2^n built in the exponent bits: within 2 ulp of e^x, so that
 * sigmoid is within 3e-7 of 1 / (1 + Math.exp(-z)) (test/kernels/sigmoid.test.ts).
 */
function buildSigmoid(): Func {
  const f = new Func("sigmoid", [I32, I32, I32]);
  const [z, a, count] = [0, 1, 2];
  const i = f.local(I32), end = f.local(I32), x = f.local(V128), n = f.local(V128), r = f.local(V128), y = f.local(V128);
  const k = (v: number): number[] => [...op.f32(v), ...op.f32x4Splat()];
  const C = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
  const poly: number[] = [...k(C[0]!)];
  for (const c of C.slice(1)) poly.push(...op.get(r), ...op.f32x4Mul(), ...k(c), ...op.f32x4Add());
  f.emit(op.get(count), op.i32(4), op.i32Mul(), op.set(end));
  f.emit(
    forLoop(i, op.i32(0), op.get(end), op.i32(16), [
      // x = clamp(-z)
      ...op.get(z), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.f32x4Neg(),
      ...k(-87.33), ...op.f32x4Max(), ...k(88.37), ...op.f32x4Min(), ...op.set(x),
      // n = round(x / ln 2); r = x - n * ln 2 (0.693359375 exact in float32, then the rest of ln 2)
      ...op.get(x), ...k(1.44269504088896341), ...op.f32x4Mul(), ...op.f32x4Nearest(), ...op.set(n),
      ...op.get(x), ...op.get(n), ...k(0.693359375), ...op.f32x4Mul(), ...op.f32x4Sub(),
      ...op.get(n), ...k(-2.12194440e-4), ...op.f32x4Mul(), ...op.f32x4Sub(), ...op.set(r),
      // e^r = 1 + r + r^2 * P(r)
      ...poly, ...op.get(r), ...op.get(r), ...op.f32x4Mul(), ...op.f32x4Mul(), ...op.get(r), ...op.f32x4Add(), ...k(1), ...op.f32x4Add(), ...op.set(y),
      // a = 1 / (1 + e^r * 2^n), 2^n as the float whose exponent bits are n + 127
      ...op.get(a), ...op.get(i), ...op.i32Add(),
      ...k(1),
      ...k(1), ...op.get(y), ...op.get(n), ...op.i32x4TruncSatF32x4S(), ...op.i32(127), ...op.i32x4Splat(), ...op.i32x4Add(), ...op.i32(23), ...op.i32x4Shl(), ...op.f32x4Mul(), ...op.f32x4Add(),
      ...op.f32x4Div(), ...op.v128Store(),
    ]),
  );
  return f;
}

/** bias_grad(dz, db, rows, cols): db[j] = sum over r of dz[r, j], row by row (four columns at a time, then the rest). */
function buildBiasGrad(): Func {
  const f = new Func("bias_grad", [I32, I32, I32, I32]);
  const [dz, db, rows, cols] = [0, 1, 2, 3];
  const r = f.local(I32), q = f.local(I32), rowBytes = f.local(I32), vecBytes = f.local(I32);
  f.emit(op.get(cols), op.i32(4), op.i32Mul(), op.set(rowBytes), op.get(rowBytes), op.i32(-16), i32And(), op.set(vecBytes));
  f.emit(forLoop(q, op.i32(0), op.get(vecBytes), op.i32(16), [...op.get(db), ...op.get(q), ...op.i32Add(), ...op.v128Zero(), ...op.v128Store()]));
  f.emit(forLoop(q, op.get(vecBytes), op.get(rowBytes), op.i32(4), [...op.get(db), ...op.get(q), ...op.i32Add(), ...op.f32(0), ...op.f32Store()]));
  f.emit(
    forLoop(r, op.i32(0), op.get(rows), op.i32(1), [
      ...forLoop(q, op.i32(0), op.get(vecBytes), op.i32(16), [
        ...op.get(db), ...op.get(q), ...op.i32Add(),
        ...op.get(db), ...op.get(q), ...op.i32Add(), ...op.v128Load(),
        ...op.get(dz), ...op.get(q), ...op.i32Add(), ...op.v128Load(),
        ...op.f32x4Add(), ...op.v128Store(),
      ]),
      // the last cols % 4 columns, one at a time
      ...forLoop(q, op.get(vecBytes), op.get(rowBytes), op.i32(4), [
        ...op.get(db), ...op.get(q), ...op.i32Add(),
        ...op.get(db), ...op.get(q), ...op.i32Add(), ...op.f32Load(),
        ...op.get(dz), ...op.get(q), ...op.i32Add(), ...op.f32Load(),
        ...op.f32Add(), ...op.f32Store(),
      ]),
      ...op.get(dz), ...op.get(rowBytes), ...op.i32Add(), ...op.set(dz),
    ]),
  );
  return f;
}

/**
 * im2col / col2im over an NHWC batch (byte addresses x, cols; everything else in elements):
 * (x, cols, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft). Row (b, oy, ox) of cols holds
 * the kh x kw x c window at (oy*sh - padTop, ox*sw - padLeft), zeros outside the image. Each
 * window row is one contiguous run of x: copied (im2col) or added back (col2im) 4 floats at a time.
 */
function buildIm2col(name: string, adjoint: boolean): Func {
  const f = new Func(name, new Array<typeof I32>(14).fill(I32));
  const [x, cols, n, h, w, c, kh, kw, sh, sw, oh, ow, padTop, padLeft] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
  const b = f.local(I32), oy = f.local(I32), ox = f.local(I32), ky = f.local(I32);
  const y = f.local(I32), x0 = f.local(I32), kx0 = f.local(I32), kx1 = f.local(I32);
  const p = f.local(I32), xb = f.local(I32), src = f.local(I32), i = f.local(I32), len = f.local(I32), len4 = f.local(I32);
  const rowBytes = f.local(I32), imageBytes = f.local(I32), cB = f.local(I32), tmp = f.local(I32);
  // zero(len bytes at p + off) / copy or add
  const zeroRun = (startBytes: number[], bytes: number[]) =>
    // for i = 0; i < bytes; i += 4: f32 store 0 at p + start + i
    forLoop(i, op.i32(0), bytes, op.i32(4), [
      ...op.get(p), ...(startBytes.length > 0 ? [...startBytes, ...op.i32Add()] : []), ...op.get(i), ...op.i32Add(), ...op.f32(0), ...op.f32Store(),
    ]);
  const moveVec = adjoint
    ? // dx[src+i] += cols[p+i]
      [...op.get(src), ...op.get(i), ...op.i32Add(), ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.get(tmp), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.f32x4Add(), ...op.v128Store()]
    : [...op.get(tmp), ...op.get(i), ...op.i32Add(), ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.v128Store()];
  const moveOne = adjoint
    ? [...op.get(src), ...op.get(i), ...op.i32Add(), ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.f32Load(), ...op.get(tmp), ...op.get(i), ...op.i32Add(), ...op.f32Load(), ...op.f32Add(), ...op.f32Store()]
    : [...op.get(tmp), ...op.get(i), ...op.i32Add(), ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.f32Load(), ...op.f32Store()];
  const kyBody = [
    // y = oy*sh - padTop + ky
    ...op.get(oy), ...op.get(sh), ...op.i32Mul(), ...op.get(padTop), ...op.i32Sub(), ...op.get(ky), ...op.i32Add(), ...op.set(y),
    // valid kx range: kx0 = max(0, -x0), kx1 = min(kw, w - x0); empty when the row is outside
    // kx0 = (0 < -x0) ? -x0 : 0   (select(a, b, cond) = cond ? a : b)
    ...op.i32(0), ...op.get(x0), ...op.i32Sub(), ...op.i32(0), ...op.i32(0), ...op.i32(0), ...op.get(x0), ...op.i32Sub(), ...op.i32LtS(), ...op.select(), ...op.set(kx0),
    ...op.get(kw), ...op.get(w), ...op.get(x0), ...op.i32Sub(), ...op.get(kw), ...op.get(w), ...op.get(x0), ...op.i32Sub(), ...op.i32LtS(), ...op.select(), ...op.set(kx1),
    // kx1 = (kw < w - x0) ? kw : w - x0
    ...op.get(y), ...op.i32(0), ...op.i32LtS(), ...op.get(y), ...op.get(h), ...op.i32GeS(), ...[0x72] /* i32.or */, ...op.get(kx1), ...op.get(kx0), ...op.i32LeS(), ...[0x72],
    ...op.if(),
    ...(adjoint ? [] : zeroRun([], op.get(rowBytes))),
    ...op.else(),
    // before the run: zeros for kx in [0, kx0)
    ...(adjoint ? [] : zeroRun([], [...op.get(kx0), ...op.get(cB), ...op.i32Mul()])),
    // the run: src = xb + ((y*w + x0 + kx0) * c) * 4, dst = p + kx0*cB, len = (kx1-kx0)*cB bytes
    ...op.get(xb), ...op.get(y), ...op.get(w), ...op.i32Mul(), ...op.get(x0), ...op.i32Add(), ...op.get(kx0), ...op.i32Add(), ...op.get(cB), ...op.i32Mul(), ...op.i32Add(), ...op.set(src),
    ...op.get(p), ...op.get(kx0), ...op.get(cB), ...op.i32Mul(), ...op.i32Add(), ...op.set(tmp),
    ...op.get(kx1), ...op.get(kx0), ...op.i32Sub(), ...op.get(cB), ...op.i32Mul(), ...op.set(len),
    ...op.get(len), ...op.i32(-16), ...[0x71], ...op.set(len4),
    ...forLoop(i, op.i32(0), op.get(len4), op.i32(16), moveVec),
    ...forLoop(i, op.get(len4), op.get(len), op.i32(4), moveOne),
    // after the run: zeros for kx in [kx1, kw)
    ...(adjoint ? [] : zeroRun([...op.get(kx1), ...op.get(cB), ...op.i32Mul()], [...op.get(kw), ...op.get(kx1), ...op.i32Sub(), ...op.get(cB), ...op.i32Mul()])),
    ...op.end(),
    ...op.get(p), ...op.get(rowBytes), ...op.i32Add(), ...op.set(p),
  ];
  const oxBody = [
    ...op.get(ox), ...op.get(sw), ...op.i32Mul(), ...op.get(padLeft), ...op.i32Sub(), ...op.set(x0),
    ...forLoop(ky, op.i32(0), op.get(kh), op.i32(1), kyBody),
  ];
  f.emit(
    op.get(c), op.i32(4), op.i32Mul(), op.set(cB),
    op.get(kw), op.get(cB), op.i32Mul(), op.set(rowBytes),
    op.get(h), op.get(w), op.i32Mul(), op.get(cB), op.i32Mul(), op.set(imageBytes),
    op.get(cols), op.set(p),
    forLoop(b, op.i32(0), op.get(n), op.i32(1), [
      ...op.get(x), ...op.get(b), ...op.get(imageBytes), ...op.i32Mul(), ...op.i32Add(), ...op.set(xb),
      ...forLoop(oy, op.i32(0), op.get(oh), op.i32(1), forLoop(ox, op.i32(0), op.get(ow), op.i32(1), oxBody)),
    ]),
  );
  return f;
}

/**
 * The window loops of a pooling function with parameters (x, out|grad, [arg,] n, h, w, c, ph, pw,
 * sh, sw, oh, ow, padTop, padLeft) from index `geo` on (n at geo): for each output (b, oy, ox),
 * the window's rows [yStart, yEnd) and columns [xStart, xEnd) inside the image, `first` (the
 * element index of the window's first position in the image) and `o` (the output's element index,
 * advanced by c after each window) are set before `body` runs. With `b0` (a parameter's index),
 * only images b0 <= b < n (a thread's share of the batch).
 */
function poolLoops(f: Func, geo: number, body: (l: PoolLocals) => number[], b0?: number): number[] {
  const [n, h, w, c, ph, pw, sh, sw, oh, ow, padTop, padLeft] = Array.from({ length: 12 }, (_, k) => geo + k) as [number, number, number, number, number, number, number, number, number, number, number, number];
  const l: PoolLocals = {
    h, w, c,
    b: f.local(I32), oy: f.local(I32), ox: f.local(I32), y0: f.local(I32), yStart: f.local(I32), yEnd: f.local(I32),
    x0: f.local(I32), xStart: f.local(I32), xEnd: f.local(I32), first: f.local(I32), o: f.local(I32), y: f.local(I32), xx: f.local(I32),
  };
  // max(a, 0) and min(a, b) with select(a, b, cond) = cond ? a : b
  const max0 = (a: number) => [...op.get(a), ...op.i32(0), ...op.get(a), ...op.i32(0), ...op.i32GtS(), ...op.select()];
  const minOf = (a: number[], b: number[]) => [...a, ...b, ...a, ...b, ...op.i32LtS(), ...op.select()];
  const oxBody = [
    ...op.get(l.ox), ...op.get(sw), ...op.i32Mul(), ...op.get(padLeft), ...op.i32Sub(), ...op.set(l.x0),
    ...max0(l.x0), ...op.set(l.xStart),
    ...minOf([...op.get(l.x0), ...op.get(pw), ...op.i32Add()], op.get(w)), ...op.set(l.xEnd),
    // first = ((b*h + yStart)*w + xStart)*c
    ...op.get(l.b), ...op.get(h), ...op.i32Mul(), ...op.get(l.yStart), ...op.i32Add(), ...op.get(w), ...op.i32Mul(), ...op.get(l.xStart), ...op.i32Add(), ...op.get(c), ...op.i32Mul(), ...op.set(l.first),
    ...body(l),
    ...op.get(l.o), ...op.get(c), ...op.i32Add(), ...op.set(l.o),
  ];
  const oyBody = [
    ...op.get(l.oy), ...op.get(sh), ...op.i32Mul(), ...op.get(padTop), ...op.i32Sub(), ...op.set(l.y0),
    ...max0(l.y0), ...op.set(l.yStart),
    ...minOf([...op.get(l.y0), ...op.get(ph), ...op.i32Add()], op.get(h)), ...op.set(l.yEnd),
    ...forLoop(l.ox, op.i32(0), op.get(ow), op.i32(1), oxBody),
  ];
  const first = b0 === undefined ? op.i32(0) : op.get(b0);
  return [
    // o = b0*oh*ow*c
    ...first, ...op.get(oh), ...op.i32Mul(), ...op.get(ow), ...op.i32Mul(), ...op.get(c), ...op.i32Mul(), ...op.set(l.o),
    ...forLoop(l.b, first, op.get(n), op.i32(1), forLoop(l.oy, op.i32(0), op.get(oh), op.i32(1), oyBody)),
  ];
}

interface PoolLocals {
  h: number; w: number; c: number;
  b: number; oy: number; ox: number; y0: number; yStart: number; yEnd: number;
  x0: number; xStart: number; xEnd: number; first: number; o: number; y: number; xx: number;
}

/** for y in [yStart, yEnd), xx in [xStart, xEnd): i = ((b*h + y)*w + xx)*c + ch; body. */
function windowLoops(l: PoolLocals, i: number, ch: number, body: number[]): number[] {
  return forLoop(l.y, op.get(l.yStart), op.get(l.yEnd), op.i32(1), forLoop(l.xx, op.get(l.xStart), op.get(l.xEnd), op.i32(1), [
    ...op.get(l.b), ...op.get(l.h), ...op.i32Mul(), ...op.get(l.y), ...op.i32Add(), ...op.get(l.w), ...op.i32Mul(), ...op.get(l.xx), ...op.i32Add(),
    ...op.get(l.c), ...op.i32Mul(), ...op.get(ch), ...op.i32Add(), ...op.set(i),
    ...body,
  ]));
}

/** Byte address base + 4 * element index. */
const at4 = (base: number, index: number[]) => [...op.get(base), ...index, ...op.i32(4), ...op.i32Mul(), ...op.i32Add()];

/**
 * max_pool(x, out, arg, n, h, w, c, ph, pw, sh, sw, oh, ow, padTop, padLeft) over an NHWC batch:
 * out = the largest value of each window (the positions inside the image), arg = its element
 * index in x. The running maximum starts at the window's first position and is replaced only by
 * a greater value (f32x4.gt, false for NaN), as in the TypeScript loop: the same values and
 * indices, ties to the first. Four channels at a time, then the remaining ones one by one; 2x2
 * windows side by side inside the image read their four positions at fixed offsets.
 */
function buildMaxPool(): Func {
  const f = new Func("max_pool", new Array<typeof I32>(16).fill(I32));
  const [x, out, arg, b0] = [0, 1, 2, 15];
  const c = 6;
  const ch = f.local(I32), c4 = f.local(I32), i = f.local(I32), sat = f.local(I32);
  const iota = f.local(V128), best = f.local(V128), idx = f.local(V128), v = f.local(V128), m = f.local(V128);
  const sbest = f.local(F32), sv = f.local(F32);
  f.emit(
    op.get(c), op.i32(-4), op.i32And(), op.set(c4),
    // iota = [0, 1, 2, 3]
    op.v128Zero(), op.i32(1), op.i32x4ReplaceLane(1), op.i32(2), op.i32x4ReplaceLane(2), op.i32(3), op.i32x4ReplaceLane(3), op.set(iota),
  );
  // 2x2 windows side by side inside the image (pool 2 on even sizes), channels a multiple of 4:
  // the window's four positions are fixed offsets from its top-left one.
  const [h, w, ph, pw, sh, sw, oh, ow, padTop, padLeft] = [4, 5, 7, 8, 9, 10, 11, 12, 13, 14];
  const is = (p: number, v: number) => [...op.get(p), ...op.i32(v), ...op.i32Eq()];
  const and = op.i32And();
  const b = f.local(I32), oy = f.local(I32), ox = f.local(I32), o = f.local(I32), first = f.local(I32), pa = f.local(I32), rs = f.local(I32);
  const offC = f.local(V128), offR = f.local(V128), offRC = f.local(V128), base = f.local(V128);
  /** Compares the position at byte address `addr` (index base + off) with the running maximum. */
  const candidate = (addr: number[], off: number) => [
    ...addr, ...op.v128Load(), ...op.set(v),
    ...op.get(v), ...op.get(best), ...op.f32x4Gt(), ...op.set(m),
    ...op.get(v), ...op.get(best), ...op.get(m), ...op.v128Bitselect(), ...op.set(best),
    ...op.get(base), ...op.get(off), ...op.i32x4Add(), ...op.get(idx), ...op.get(m), ...op.v128Bitselect(), ...op.set(idx),
  ];
  f.emit(
    is(ph, 2), is(pw, 2), and, is(sh, 2), and, is(sw, 2), and, is(padTop, 0), and, is(padLeft, 0), and,
    op.get(oh), op.get(oh), op.i32Add(), op.get(h), op.i32LeS(), and,
    op.get(ow), op.get(ow), op.i32Add(), op.get(w), op.i32LeS(), and,
    op.get(c), op.i32(3), op.i32And(), op.i32Eqz(), and,
    op.if(),
    // rs: bytes from one image row to the next; the index offsets of the other three positions
    op.get(w), op.get(c), op.i32Mul(), op.i32(4), op.i32Mul(), op.set(rs),
    op.get(c), op.i32x4Splat(), op.set(offC),
    op.get(w), op.get(c), op.i32Mul(), op.i32x4Splat(), op.set(offR),
    op.get(w), op.get(c), op.i32Mul(), op.get(c), op.i32Add(), op.i32x4Splat(), op.set(offRC),
    op.get(b0), op.get(oh), op.i32Mul(), op.get(ow), op.i32Mul(), op.get(c), op.i32Mul(), op.set(o),
    forLoop(b, op.get(b0), op.get(3), op.i32(1), forLoop(oy, op.i32(0), op.get(oh), op.i32(1), forLoop(ox, op.i32(0), op.get(ow), op.i32(1), [
      // first = ((b*h + 2*oy)*w + 2*ox)*c
      ...op.get(b), ...op.get(h), ...op.i32Mul(), ...op.get(oy), ...op.get(oy), ...op.i32Add(), ...op.i32Add(), ...op.get(w), ...op.i32Mul(),
      ...op.get(ox), ...op.get(ox), ...op.i32Add(), ...op.i32Add(), ...op.get(c), ...op.i32Mul(), ...op.set(first),
      ...forLoop(ch, op.i32(0), op.get(c), op.i32(4), [
        ...at4(x, [...op.get(first), ...op.get(ch), ...op.i32Add()]), ...op.tee(pa), ...op.v128Load(), ...op.set(best),
        ...op.get(first), ...op.get(ch), ...op.i32Add(), ...op.i32x4Splat(), ...op.get(iota), ...op.i32x4Add(), ...op.tee(base), ...op.set(idx),
        ...candidate([...op.get(pa), ...op.get(c), ...op.i32(4), ...op.i32Mul(), ...op.i32Add()], offC),
        ...candidate([...op.get(pa), ...op.get(rs), ...op.i32Add()], offR),
        ...candidate([...op.get(pa), ...op.get(rs), ...op.i32Add(), ...op.get(c), ...op.i32(4), ...op.i32Mul(), ...op.i32Add()], offRC),
        ...at4(out, [...op.get(o), ...op.get(ch), ...op.i32Add()]), ...op.get(best), ...op.v128Store(),
        ...at4(arg, [...op.get(o), ...op.get(ch), ...op.i32Add()]), ...op.get(idx), ...op.v128Store(),
      ]),
      ...op.get(o), ...op.get(c), ...op.i32Add(), ...op.set(o),
    ]))),
    op.return(),
    op.end(),
  );
  f.emit(poolLoops(f, 3, (l) => [
    ...forLoop(ch, op.i32(0), op.get(c4), op.i32(4), [
      ...at4(x, [...op.get(l.first), ...op.get(ch), ...op.i32Add()]), ...op.v128Load(), ...op.set(best),
      ...op.get(l.first), ...op.get(ch), ...op.i32Add(), ...op.i32x4Splat(), ...op.get(iota), ...op.i32x4Add(), ...op.set(idx),
      ...windowLoops(l, i, ch, [
        ...at4(x, op.get(i)), ...op.v128Load(), ...op.set(v),
        ...op.get(v), ...op.get(best), ...op.f32x4Gt(), ...op.set(m),
        ...op.get(v), ...op.get(best), ...op.get(m), ...op.v128Bitselect(), ...op.set(best),
        ...op.get(i), ...op.i32x4Splat(), ...op.get(iota), ...op.i32x4Add(), ...op.get(idx), ...op.get(m), ...op.v128Bitselect(), ...op.set(idx),
      ]),
      ...at4(out, [...op.get(l.o), ...op.get(ch), ...op.i32Add()]), ...op.get(best), ...op.v128Store(),
      ...at4(arg, [...op.get(l.o), ...op.get(ch), ...op.i32Add()]), ...op.get(idx), ...op.v128Store(),
    ]),
    ...forLoop(ch, op.get(c4), op.get(c), op.i32(1), [
      ...op.get(l.first), ...op.get(ch), ...op.i32Add(), ...op.set(sat),
      ...at4(x, op.get(sat)), ...op.f32Load(), ...op.set(sbest),
      ...windowLoops(l, i, ch, [
        ...at4(x, op.get(i)), ...op.f32Load(), ...op.tee(sv), ...op.get(sbest), ...op.f32Gt(),
        ...op.if(), ...op.get(sv), ...op.set(sbest), ...op.get(i), ...op.set(sat), ...op.end(),
      ]),
      ...at4(out, [...op.get(l.o), ...op.get(ch), ...op.i32Add()]), ...op.get(sbest), ...op.f32Store(),
      ...at4(arg, [...op.get(l.o), ...op.get(ch), ...op.i32Add()]), ...op.get(sat), ...op.i32Store(),
    ]),
  ], b0));
  return f;
}

/** max_pool_backward(g, arg, dx, count): dx[arg[i]] += g[i] for i < count (f32 adds, as the TypeScript loop rounds them). */
function buildMaxPoolBackward(): Func {
  const f = new Func("max_pool_backward", [I32, I32, I32, I32]);
  const [g, arg, dx, count] = [0, 1, 2, 3];
  const i = f.local(I32), a = f.local(I32);
  f.emit(forLoop(i, op.i32(0), op.get(count), op.i32(1), [
    ...at4(dx, [...op.get(arg), ...op.get(i), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.i32Load()]), ...op.tee(a),
    ...op.get(a), ...op.f32Load(), ...at4(g, op.get(i)), ...op.f32Load(), ...op.f32Add(),
    ...op.f32Store(),
  ]));
  return f;
}

/**
 * max_pool_relu_backward(g, arg, pooled, dz, db, hasDb, n, h, w, c, ph, pw, oh, ow, b0): for
 * windows side by side that cover the image (stride = pool size, no padding) over a relu layer's
 * output, c a multiple of 4, that layer's dz written whole in one pass, window by window, for
 * images b0 <= b < n: each of the window's positions gets g where it is the maximum (arg) and the
 * maximum is > 0, else 0; with hasDb, db = the column sums of dz, added window by window (the
 * floats of the TypeScript loop). No fill before and no scatter: every position of dz belongs to
 * one window.
 */
function buildMaxPoolReluBackward(): Func {
  const f = new Func("max_pool_relu_backward", new Array<typeof I32>(15).fill(I32));
  const [g, arg, pooled, dz, db, hasDb, n, h, w, c, ph, pw, oh, ow, b0] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const b = f.local(I32), oy = f.local(I32), ox = f.local(I32), ch = f.local(I32), ky = f.local(I32), kx = f.local(I32);
  const o = f.local(I32), first = f.local(I32), row = f.local(I32), idx = f.local(I32), rowStep = f.local(I32);
  const iota = f.local(V128), gm = f.local(V128), av = f.local(V128);
  const kxBody = [
    ...op.get(row), ...op.get(kx), ...op.get(c), ...op.i32Mul(), ...op.i32Add(), ...op.set(idx),
    ...at4(dz, op.get(idx)),
    ...op.get(gm), ...op.get(av), ...op.get(idx), ...op.i32x4Splat(), ...op.get(iota), ...op.i32x4Add(), ...op.i32x4Eq(), ...op.v128And(),
    ...op.v128Store(),
  ];
  // four channels of a window: gm = pooled > 0 ? g : 0, added onto db; av = where the maxima are
  const head = [
    ...at4(g, [...op.get(o), ...op.get(ch), ...op.i32Add()]), ...op.v128Load(),
    ...at4(pooled, [...op.get(o), ...op.get(ch), ...op.i32Add()]), ...op.v128Load(), ...op.v128Zero(), ...op.f32x4Gt(), ...op.v128And(), ...op.set(gm),
    ...op.get(hasDb), ...op.if(),
    ...at4(db, op.get(ch)), ...at4(db, op.get(ch)), ...op.v128Load(), ...op.get(gm), ...op.f32x4Add(), ...op.v128Store(),
    ...op.end(),
    ...at4(arg, [...op.get(o), ...op.get(ch), ...op.i32Add()]), ...op.v128Load(), ...op.set(av),
  ];
  // then each of the window's positions gets gm where it is the maximum, 0 elsewhere
  const general = [
    ...head,
    ...forLoop(ky, op.i32(0), op.get(ph), op.i32(1), [
      // row = first + ky*w*c + ch: the window row's first element of these channels
      ...op.get(first), ...op.get(ky), ...op.get(rowStep), ...op.i32Mul(), ...op.i32Add(), ...op.get(ch), ...op.i32Add(), ...op.set(row),
      ...forLoop(kx, op.i32(0), op.get(pw), op.i32(1), kxBody),
    ]),
  ];
  f.emit(
    op.v128Zero(), op.i32(1), op.i32x4ReplaceLane(1), op.i32(2), op.i32x4ReplaceLane(2), op.i32(3), op.i32x4ReplaceLane(3), op.set(iota),
    op.get(w), op.get(c), op.i32Mul(), op.set(rowStep),
    op.get(hasDb), op.if(),
    forLoop(ch, op.i32(0), op.get(c), op.i32(4), [...at4(db, op.get(ch)), ...op.v128Zero(), ...op.v128Store()]),
    op.end(),
  );
  /** Every window (b, oy, ox), o its first pooled value, first its first position in dz; body per four channels. */
  const windows = (body: number[]) => [
    ...op.get(b0), ...op.get(oh), ...op.i32Mul(), ...op.get(ow), ...op.i32Mul(), ...op.get(c), ...op.i32Mul(), ...op.set(o),
    ...forLoop(b, op.get(b0), op.get(n), op.i32(1), forLoop(oy, op.i32(0), op.get(oh), op.i32(1), forLoop(ox, op.i32(0), op.get(ow), op.i32(1), [
      // first = ((b*h + oy*ph)*w + ox*pw)*c
      ...op.get(b), ...op.get(h), ...op.i32Mul(), ...op.get(oy), ...op.get(ph), ...op.i32Mul(), ...op.i32Add(), ...op.get(w), ...op.i32Mul(),
      ...op.get(ox), ...op.get(pw), ...op.i32Mul(), ...op.i32Add(), ...op.get(c), ...op.i32Mul(), ...op.set(first),
      ...forLoop(ch, op.i32(0), op.get(c), op.i32(4), body),
      ...op.get(o), ...op.get(c), ...op.i32Add(), ...op.set(o),
    ]))),
  ];
  // 2x2 windows: the four positions at fixed offsets (bytes c*4, row, row + c*4; as index vectors
  // offC, offR, offRC) from the window's first, written straight, without the loops over ky, kx
  const p0 = f.local(I32), cB = f.local(I32), rB = f.local(I32), base = f.local(V128);
  const offC = f.local(V128), offR = f.local(V128), offRC = f.local(V128);
  const put = (addr: number[], off: number | null) => [
    ...addr,
    ...op.get(gm), ...op.get(av), ...op.get(base), ...(off === null ? [] : [...op.get(off), ...op.i32x4Add()]), ...op.i32x4Eq(), ...op.v128And(),
    ...op.v128Store(),
  ];
  const twoByTwo = [
    ...head,
    ...op.get(first), ...op.get(ch), ...op.i32Add(), ...op.i32x4Splat(), ...op.get(iota), ...op.i32x4Add(), ...op.set(base),
    ...at4(dz, [...op.get(first), ...op.get(ch), ...op.i32Add()]), ...op.set(p0),
    ...put(op.get(p0), null),
    ...put([...op.get(p0), ...op.get(cB), ...op.i32Add()], offC),
    ...put([...op.get(p0), ...op.get(rB), ...op.i32Add()], offR),
    ...put([...op.get(p0), ...op.get(rB), ...op.i32Add(), ...op.get(cB), ...op.i32Add()], offRC),
  ];
  f.emit(
    op.get(ph), op.i32(2), op.i32Eq(), op.get(pw), op.i32(2), op.i32Eq(), op.i32And(), op.if(),
    op.get(c), op.i32(4), op.i32Mul(), op.set(cB),
    op.get(rowStep), op.i32(4), op.i32Mul(), op.set(rB),
    op.get(c), op.i32x4Splat(), op.set(offC),
    op.get(rowStep), op.i32x4Splat(), op.set(offR),
    op.get(rowStep), op.get(c), op.i32Add(), op.i32x4Splat(), op.set(offRC),
    windows(twoByTwo),
    op.return(),
    op.end(),
  );
  f.emit(windows(general));
  return f;
}

/**
 * relu_pool_bias_grad(g, pooled, db, count, c): db = the column sums of max_pool_relu_backward's
 * values (g where pooled > 0, else 0) over count values, c a multiple of 4: its bias gradient, on
 * its own, in its order (the same floats), for when its dz is written by parts across threads.
 */
function buildReluPoolBiasGrad(): Func {
  const f = new Func("relu_pool_bias_grad", [I32, I32, I32, I32, I32]);
  const [g, pooled, db, count, c] = [0, 1, 2, 3, 4];
  const i = f.local(I32), ch = f.local(I32);
  f.emit(
    forLoop(ch, op.i32(0), op.get(c), op.i32(4), [...at4(db, op.get(ch)), ...op.v128Zero(), ...op.v128Store()]),
    forLoop(i, op.i32(0), op.get(count), op.get(c), forLoop(ch, op.i32(0), op.get(c), op.i32(4), [
      ...at4(db, op.get(ch)),
      ...at4(db, op.get(ch)), ...op.v128Load(),
      ...at4(g, [...op.get(i), ...op.get(ch), ...op.i32Add()]), ...op.v128Load(),
      ...at4(pooled, [...op.get(i), ...op.get(ch), ...op.i32Add()]), ...op.v128Load(), ...op.v128Zero(), ...op.f32x4Gt(), ...op.v128And(),
      ...op.f32x4Add(), ...op.v128Store(),
    ])),
  );
  return f;
}

/**
 * avg_pool(x, out, n, h, w, c, ...) and avg_pool_backward(g, dx, n, h, w, c, ...), padding
 * excluded from the average: out = (sum of the window's values) / count; dx += g / count over
 * each window. In f64, as the TypeScript loops compute (a JavaScript number), summed in the same
 * order and rounded to f32 once at the store: the same floats. Two channels at a time (f64x2),
 * then the last one alone.
 */
function buildAvgPool(backward: boolean): Func {
  const f = new Func(backward ? "avg_pool_backward" : "avg_pool", new Array<typeof I32>(14).fill(I32));
  const [src, dst] = [0, 1];
  const c = 5;
  const ch = f.local(I32), c2 = f.local(I32), i = f.local(I32);
  const cnt = f.local(V128), s = f.local(V128);
  const scnt = f.local(F64), ss = f.local(F64);
  f.emit(op.get(c), op.i32(-2), op.i32And(), op.set(c2));
  f.emit(poolLoops(f, 2, (l) => [
    // count = (yEnd - yStart) * (xEnd - xStart)
    ...op.get(l.yEnd), ...op.get(l.yStart), ...op.i32Sub(), ...op.get(l.xEnd), ...op.get(l.xStart), ...op.i32Sub(), ...op.i32Mul(),
    ...op.f64ConvertI32S(), ...op.tee(scnt), ...op.f64x2Splat(), ...op.set(cnt),
    ...forLoop(ch, op.i32(0), op.get(c2), op.i32(2), backward
      ? [
          // s = g[o + ch .. +2] / count; dx[i] = f32(dx[i] + s) over the window
          ...at4(src, [...op.get(l.o), ...op.get(ch), ...op.i32Add()]), ...op.v128Load64Zero(), ...op.f64x2PromoteLowF32x4(), ...op.get(cnt), ...op.f64x2Div(), ...op.set(s),
          ...windowLoops(l, i, ch, [
            ...at4(dst, op.get(i)),
            ...at4(dst, op.get(i)), ...op.v128Load64Zero(), ...op.f64x2PromoteLowF32x4(), ...op.get(s), ...op.f64x2Add(), ...op.f32x4DemoteF64x2Zero(),
            ...op.v128Store64Lane0(),
          ]),
        ]
      : [
          ...op.v128Zero(), ...op.set(s),
          ...windowLoops(l, i, ch, [...op.get(s), ...at4(src, op.get(i)), ...op.v128Load64Zero(), ...op.f64x2PromoteLowF32x4(), ...op.f64x2Add(), ...op.set(s)]),
          ...at4(dst, [...op.get(l.o), ...op.get(ch), ...op.i32Add()]), ...op.get(s), ...op.get(cnt), ...op.f64x2Div(), ...op.f32x4DemoteF64x2Zero(), ...op.v128Store64Lane0(),
        ]),
    ...forLoop(ch, op.get(c2), op.get(c), op.i32(1), backward
      ? [
          ...at4(src, [...op.get(l.o), ...op.get(ch), ...op.i32Add()]), ...op.f32Load(), ...op.f64PromoteF32(), ...op.get(scnt), ...op.f64Div(), ...op.set(ss),
          ...windowLoops(l, i, ch, [
            ...at4(dst, op.get(i)),
            ...at4(dst, op.get(i)), ...op.f32Load(), ...op.f64PromoteF32(), ...op.get(ss), ...op.f64Add(), ...op.f32DemoteF64(),
            ...op.f32Store(),
          ]),
        ]
      : [
          ...op.f64Zero(), ...op.set(ss),
          ...windowLoops(l, i, ch, [...op.get(ss), ...at4(src, op.get(i)), ...op.f32Load(), ...op.f64PromoteF32(), ...op.f64Add(), ...op.set(ss)]),
          ...at4(dst, [...op.get(l.o), ...op.get(ch), ...op.i32Add()]), ...op.get(ss), ...op.get(scnt), ...op.f64Div(), ...op.f32DemoteF64(), ...op.f32Store(),
        ]),
  ]));
  return f;
}

const i32DivU = () => [0x6e];

/** Rows of the direct convolution's register tile (x 8 columns). */
export const CONV_MR = 4;

/**
 * What conv_fwd does with a tile's sums before it stores them, by its mode argument: 0 and 1 (the
 * sums as they are: stored, or added onto out), 2 (plus the bias, f32 at byte address bias, the
 * tile's columns from j0 bytes), 3 (plus the bias, then relu: 0 where the sum is not > 0, as
 * kernelBiasRelu computes it). The bias is added to each sum once, in f32: the floats of a pass
 * over z after it. bv: NV scratch vectors.
 */
function convEpilogue(acc: number[][], bv: number[], mode: number, bias: number, j0: number): number[] {
  const code: number[] = [...op.get(mode), ...op.i32(2), ...op.i32GeS(), ...op.if()];
  bv.forEach((v, q) => code.push(...op.get(bias), ...op.get(j0), ...op.i32Add(), ...op.v128Load(q * 16), ...op.set(v)));
  for (const row of acc) row.forEach((a, q) => code.push(...op.get(a), ...op.get(bv[q]!), ...op.f32x4Add(), ...op.set(a)));
  code.push(...op.get(mode), ...op.i32(3), ...op.i32Eq(), ...op.if());
  for (const row of acc) for (const a of row) code.push(...op.get(a), ...op.get(a), ...op.v128Zero(), ...op.f32x4Gt(), ...op.v128And(), ...op.set(a));
  code.push(...op.end(), ...op.end());
  return code;
}

/**
 * conv_fwd(spec, x, koff, w, out, m0, m1, n, k, oh, ow, imgBytes, rowBytes, colBytes, mode, bias): the
 * direct ("implicit im2col") convolution over a zero-padded NHWC batch x, for output rows m0..m1
 * (row i = (b, oy, ox), b = i / (oh*ow)): out[i, j] (=|+=, by mode: convEpilogue) sum over kk < k of
 * x[row(i) + koff[kk]] * w[kk, j], where row(i) = b*imgBytes + oy*rowBytes + ox*colBytes (bytes)
 * and koff (i32 byte offsets, one per (ky, kx, c) in the kernel's order) places each kernel tap in
 * the window. w is the kernel as stored, [k, n] row-major, read in place (n a multiple of 8: one
 * register tile of MR x 8 outputs is two f32x4 per row). No patch matrix is ever written: each
 * tile reads its MR windows straight from the padded image. With spec >= 0 it runs instead the
 * body generated for that entry of the module's ConvShape list (see buildShapedConvForward).
 */
function buildConvForward(MR: number, fma: boolean, shaped: number[]): Func {
  const f = new Func("conv_fwd", new Array<typeof I32>(16).fill(I32));
  const [spec, x, koff, w, out, m0, m1, n, k, oh, ow, imgBytes, rowBytes, colBytes, mode, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  // spec >= 0: the body specialised to that shape (buildShapedConvForward), function shaped[spec]
  for (let i = 0; i < shaped.length; i++) {
    f.emit(op.get(spec), op.i32(i), op.i32Eq(), op.if(), op.get(x), op.get(w), op.get(out), op.get(m0), op.get(m1), op.get(mode), op.get(bias), op.call(shaped[i]!), op.return(), op.end());
  }
  const NV = 2;
  const i0 = f.local(I32), j0 = f.local(I32), rows = f.local(I32), ohw = f.local(I32), ldc = f.local(I32), kEnd = f.local(I32);
  const b = f.local(I32), rem = f.local(I32), kp = f.local(I32), bp = f.local(I32), ko = f.local(I32), cp = f.local(I32);
  const offs: number[] = [];
  for (let r = 0; r < MR; r++) offs.push(f.local(I32));
  const acc: number[][] = [];
  for (let r = 0; r < MR; r++) acc.push([f.local(V128), f.local(V128)]);
  const bv = [f.local(V128), f.local(V128)];
  const av = f.local(V128);
  f.emit(op.get(oh), op.get(ow), op.i32Mul(), op.set(ohw), op.get(n), op.i32(4), op.i32Mul(), op.set(ldc));
  f.emit(op.get(koff), op.get(k), op.i32(4), op.i32Mul(), op.i32Add(), op.set(kEnd));
  // The window corner of the next row, (b, oy, ox) -> caddr, stepped row by row (no division in
  // the loops: TurboFan compiles this kernel several times slower with an i32.div_u in its loop).
  const coy = f.local(I32), cox = f.local(I32), cimg = f.local(I32), caddr = f.local(I32);
  f.emit(
    op.get(m0), op.get(ohw), i32DivU(), op.set(b),
    op.get(m0), op.get(b), op.get(ohw), op.i32Mul(), op.i32Sub(), op.set(rem),
    op.get(rem), op.get(ow), i32DivU(), op.set(coy),
    op.get(rem), op.get(coy), op.get(ow), op.i32Mul(), op.i32Sub(), op.set(cox),
    op.get(x), op.get(b), op.get(imgBytes), op.i32Mul(), op.i32Add(), op.set(cimg),
    op.get(cimg), op.get(coy), op.get(rowBytes), op.i32Mul(), op.i32Add(), op.get(cox), op.get(colBytes), op.i32Mul(), op.i32Add(), op.set(caddr),
  );
  const tile: number[] = [];
  // rows = m1 - i0; the windows of the tile's rows (a row past m1 repeats the one before)
  tile.push(...op.get(m1), ...op.get(i0), ...op.i32Sub(), ...op.set(rows));
  for (let r = 0; r < MR; r++) {
    if (r === 0) tile.push(...op.get(caddr), ...op.set(offs[0]!));
    else tile.push(...op.get(caddr), ...op.get(offs[r - 1]!), ...op.i32(r), ...op.get(rows), ...op.i32LtS(), ...op.select(), ...op.set(offs[r]!));
    tile.push(
      // next row: ox + 1, or the next output row, or the next image
      ...op.get(caddr), ...op.get(colBytes), ...op.i32Add(), ...op.set(caddr),
      ...op.get(cox), ...op.i32(1), ...op.i32Add(), ...op.tee(cox), ...op.get(ow), ...op.i32Eq(),
      ...op.if(),
      ...op.i32(0), ...op.set(cox),
      ...op.get(coy), ...op.i32(1), ...op.i32Add(), ...op.tee(coy), ...op.get(oh), ...op.i32Eq(),
      ...op.if(), ...op.i32(0), ...op.set(coy), ...op.get(cimg), ...op.get(imgBytes), ...op.i32Add(), ...op.set(cimg), ...op.end(),
      ...op.get(cimg), ...op.get(coy), ...op.get(rowBytes), ...op.i32Mul(), ...op.i32Add(), ...op.set(caddr),
      ...op.end(),
    );
  }
  const panel: number[] = [];
  for (let r = 0; r < MR; r++) for (let q = 0; q < NV; q++) panel.push(...op.v128Zero(), ...op.set(acc[r]![q]!));
  panel.push(...op.get(w), ...op.get(j0), ...op.i32Add(), ...op.set(bp), ...op.get(koff), ...op.set(kp));
  const step: number[] = [...op.get(kp), ...op.i32Load(), ...op.set(ko)];
  for (let q = 0; q < NV; q++) step.push(...op.get(bp), ...op.v128Load(q * 16), ...op.set(bv[q]!));
  for (let r = 0; r < MR; r++) {
    step.push(...op.get(offs[r]!), ...op.get(ko), ...op.i32Add(), ...op.v128Load32Splat(), ...op.set(av));
    for (let q = 0; q < NV; q++) {
      step.push(...maddInto(fma, av, bv[q]!, acc[r]![q]!));
    }
  }
  step.push(...op.get(kp), ...op.i32(4), ...op.i32Add(), ...op.set(kp), ...op.get(bp), ...op.get(ldc), ...op.i32Add(), ...op.set(bp));
  panel.push(
    ...op.block(), ...op.loop(),
    ...op.get(kp), ...op.get(kEnd), ...op.i32GeS(), ...op.brIf(1),
    ...step,
    ...op.br(0),
    ...op.end(), ...op.end(),
  );
  panel.push(...convEpilogue(acc, bv, mode, bias, j0));
  // cp = out + i0*ldc + j0; rows past m1 are not stored
  panel.push(...op.get(out), ...op.get(i0), ...op.get(ldc), ...op.i32Mul(), ...op.i32Add(), ...op.get(j0), ...op.i32Add(), ...op.set(cp));
  for (let r = 0; r < MR; r++) {
    const add: number[] = [], put: number[] = [];
    for (let q = 0; q < NV; q++) {
      add.push(...op.get(cp), ...op.get(cp), ...op.v128Load(q * 16), ...op.get(acc[r]![q]!), ...op.f32x4Add(), ...op.v128Store(q * 16));
      put.push(...op.get(cp), ...op.get(acc[r]![q]!), ...op.v128Store(q * 16));
    }
    panel.push(
      ...op.i32(r), ...op.get(rows), ...op.i32LtS(), ...op.if(),
      ...op.get(mode), ...op.i32(1), ...op.i32Eq(), ...op.if(), ...add, ...op.else(), ...put, ...op.end(),
      ...op.end(),
      ...op.get(cp), ...op.get(ldc), ...op.i32Add(), ...op.set(cp),
    );
  }
  tile.push(...forLoop(j0, op.i32(0), op.get(ldc), op.i32(NV * 16), panel));
  f.emit(forLoop(i0, op.get(m0), op.get(m1), op.i32(MR), tile));
  return f;
}

/**
 * A convolution's shape as the compiler knows it (the padded input [hp, wp, c], the window, the
 * strides, the output [oh, ow, f]): conv_fwd gets a body of its own for each one the program runs.
 */
export interface ConvShape {
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  hp: number;
  wp: number;
  oh: number;
  ow: number;
  f: number;
}

/** A conv2d layer's geometry, as the kernelConv2d* functions take it after n. */
export interface ConvGeometry {
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  oh: number;
  ow: number;
  padTop: number;
  padLeft: number;
  f: number;
}

/**
 * The shapes of a direct conv2d layer that get bodies of their own: its forward pass (over the
 * input zero-bordered to hp x wp, as kernelConvPadded computes it) and, when its input takes a
 * gradient, that gradient's convolution (dz zero-bordered, with the kernel turned around: stride 1).
 */
export function directConvShapes(g: ConvGeometry, inputGrad: boolean): ConvShape[] {
  const hp = Math.max(g.padTop + g.h, (g.oh - 1) * g.sh + g.kh);
  const wp = Math.max(g.padLeft + g.w, (g.ow - 1) * g.sw + g.kw);
  const forward = { c: g.c, kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, hp, wp, oh: g.oh, ow: g.ow, f: g.f };
  if (!inputGrad) return [forward];
  return [forward, { c: g.f, kh: g.kh, kw: g.kw, sh: 1, sw: 1, hp: g.h + g.kh - 1, wp: g.w + g.kw - 1, oh: g.h, ow: g.w, f: g.c }];
}

/**
 * The register tile of the shaped convolution: MR neighbouring output positions x NV f32x4 of
 * channels. 16 channels at a time where f allows (2 positions: each input read once for all 16;
 * cnn's conv2 forward 33-35 GFLOP/s against 33 with 4 x 8, alternating in one process), else 4
 * positions x 8 channels.
 */
export function shapedConvTile(s: ConvShape): { MR: number; NV: number } {
  return s.f % 16 === 0 ? { MR: 2, NV: 4 } : { MR: 4, NV: 2 };
}

/**
 * conv_fwd_shape_<i>(x, w, out, m0, m1, mode, bias): conv_fwd for one ConvShape, whose sizes are
 * constants of the code: rows m0..m1 of out (multiples of ow: whole output rows), each output row
 * in tiles of neighbouring positions x channels (shapedConvTile; the last tile of a row takes
 * what is left of it). Every load of the window is at a constant offset from one pointer, which
 * steps through the taps ky, kx, ch in three loops: no offset table, no address arithmetic per
 * load (bench/conv.ts, forward and input gradient: 1.1 to 2x conv_fwd's general loops on the seed
 * models' layers).
 */
function buildShapedConvForward(s: ConvShape, index: number, fma: boolean): Func {
  const f = new Func(`conv_fwd_shape_${index}`, [I32, I32, I32, I32, I32, I32, I32]);
  const [x, w, out, m0, m1, mode, bias] = [0, 1, 2, 3, 4, 5, 6];
  const { MR, NV } = shapedConvTile(s);
  const line = f.local(I32), lineEnd = f.local(I32), b = f.local(I32), oy = f.local(I32), ox = f.local(I32), j0 = f.local(I32);
  const ky = f.local(I32), kx = f.local(I32), ch = f.local(I32);
  const xrow = f.local(I32), xp = f.local(I32), wp = f.local(I32), orow = f.local(I32), cp = f.local(I32);
  const acc: number[][] = [];
  for (let r = 0; r < MR; r++) acc.push(Array.from({ length: NV }, () => f.local(V128)));
  const bv = Array.from({ length: NV }, () => f.local(V128));
  const av = f.local(V128);
  const colBytes = s.c * 4, rowBytes = s.wp * colBytes, imgBytes = s.hp * rowBytes, ldo = s.f * 4;
  // one tap: the kernel's NV * 4 columns at wp, the tile's MR inputs at constant offsets from xp
  const tap = (rows: number): number[] => {
    const code: number[] = [];
    for (let q = 0; q < NV; q++) code.push(...op.get(wp), ...op.v128Load(q * 16), ...op.set(bv[q]!));
    for (let r = 0; r < rows; r++) {
      code.push(...op.get(xp), ...op.v128Load32Splat(r * s.sw * colBytes), ...op.set(av));
      for (let q = 0; q < NV; q++) {
        code.push(...maddInto(fma, av, bv[q]!, acc[r]![q]!));
      }
    }
    return code;
  };
  const step = (local: number, bytes: number) => [...op.get(local), ...op.i32(bytes), ...op.i32Add(), ...op.set(local)];
  // the taps in kernel order ky, kx, ch: per tap, wp steps by a kernel row (f floats) and xp by a float
  const taps = (rows: number): number[] => {
    const perTap = [...tap(rows), ...step(wp, ldo), ...step(xp, 4)];
    const perKx = s.c === 1 ? perTap : forLoop(ch, op.i32(0), op.i32(s.c), op.i32(1), perTap);
    return forLoop(ky, op.i32(0), op.i32(s.kh), op.i32(1), [
      ...forLoop(kx, op.i32(0), op.i32(s.kw), op.i32(1), perKx),
      ...step(xp, rowBytes - s.kw * colBytes),
    ]);
  };
  // one tile: rows positions from ox, 8 channels from j0 (bytes)
  const tile = (rows: number): number[] => {
    const code: number[] = [];
    for (let r = 0; r < rows; r++) for (let q = 0; q < NV; q++) code.push(...op.v128Zero(), ...op.set(acc[r]![q]!));
    code.push(...op.get(xrow), ...op.get(ox), ...op.i32(s.sw * colBytes), ...op.i32Mul(), ...op.i32Add(), ...op.set(xp));
    code.push(...op.get(w), ...op.get(j0), ...op.i32Add(), ...op.set(wp));
    code.push(...taps(rows));
    code.push(...convEpilogue(acc.slice(0, rows), bv, mode, bias, j0));
    code.push(...op.get(orow), ...op.get(ox), ...op.i32(ldo), ...op.i32Mul(), ...op.i32Add(), ...op.get(j0), ...op.i32Add(), ...op.set(cp));
    const add: number[] = [], put: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let q = 0; q < NV; q++) {
        add.push(...op.get(cp), ...op.get(cp), ...op.v128Load(r * ldo + q * 16), ...op.get(acc[r]![q]!), ...op.f32x4Add(), ...op.v128Store(r * ldo + q * 16));
        put.push(...op.get(cp), ...op.get(acc[r]![q]!), ...op.v128Store(r * ldo + q * 16));
      }
    }
    code.push(...op.get(mode), ...op.i32(1), ...op.i32Eq(), ...op.if(), ...add, ...op.else(), ...put, ...op.end());
    return code;
  };
  const panels = (rows: number) => forLoop(j0, op.i32(0), op.i32(ldo), op.i32(NV * 16), tile(rows));
  const full = Math.floor(s.ow / MR) * MR, rest = s.ow - full;
  const rowCode: number[] = [
    // xrow: the row's first window corner; orow: its first output
    ...op.get(x), ...op.get(b), ...op.i32(imgBytes), ...op.i32Mul(), ...op.i32Add(), ...op.get(oy), ...op.i32(s.sh * rowBytes), ...op.i32Mul(), ...op.i32Add(), ...op.set(xrow),
    ...op.get(out), ...op.get(line), ...op.i32(s.ow * ldo), ...op.i32Mul(), ...op.i32Add(), ...op.set(orow),
  ];
  if (full > 0) rowCode.push(...forLoop(ox, op.i32(0), op.i32(full), op.i32(MR), panels(MR)));
  if (rest > 0) rowCode.push(...op.i32(full), ...op.set(ox), ...panels(rest));
  // next output row: oy + 1, or the next image
  rowCode.push(
    ...op.get(oy), ...op.i32(1), ...op.i32Add(), ...op.tee(oy), ...op.i32(s.oh), ...op.i32Eq(),
    ...op.if(), ...op.i32(0), ...op.set(oy), ...op.get(b), ...op.i32(1), ...op.i32Add(), ...op.set(b), ...op.end(),
  );
  // line = m0 / ow, b = line / oh, oy = line % oh (divisions once, outside the loops)
  f.emit(
    op.get(m0), op.i32(s.ow), i32DivU(), op.set(line),
    op.get(m1), op.i32(s.ow), i32DivU(), op.set(lineEnd),
    op.get(line), op.i32(s.oh), i32DivU(), op.set(b),
    op.get(line), op.get(b), op.i32(s.oh), op.i32Mul(), op.i32Sub(), op.set(oy),
    forLoop(line, op.get(line), op.get(lineEnd), op.i32(1), rowCode),
  );
  return f;
}

/**
 * conv_dw(x, koff, dz, dw, images, k0, k1, n, oh, ow, imgBytes, rowBytes, colBytes): the kernel
 * gradient of conv_fwd, rows k0..k1 of dw [k, n] (n a multiple of 8): dw[kk, j] += sum over the
 * images b and outputs (oy, ox) of x[row(b, oy, ox) + koff[kk]] * dz[(b, oy, ox), j]. Image by
 * image (its padded input and its dz stay in cache), in tiles of MR taps x 8 columns: each image's
 * sum is formed in registers, then added onto dw. Where a tile's four taps are neighbours in the
 * image (four channels of one window position: always when c is a multiple of 4), each splat is at
 * a constant offset from one pointer, without an addition per load.
 */
function buildConvFilterGrad(MR: number, fma: boolean): Func {
  const f = new Func("conv_dw", new Array<typeof I32>(13).fill(I32));
  const [x, koff, dz, dw, images, k0, k1, n, oh, ow, imgBytes, rowBytes, colBytes] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const NV = 2;
  const bi = f.local(I32), kt = f.local(I32), j0 = f.local(I32), rows = f.local(I32), ldc = f.local(I32), xb = f.local(I32), dzb = f.local(I32);
  const oy = f.local(I32), p = f.local(I32), pEnd = f.local(I32), dzp = f.local(I32), dp = f.local(I32), imgDz = f.local(I32), near_ = f.local(I32);
  const ko: number[] = [];
  for (let r = 0; r < MR; r++) ko.push(f.local(I32));
  const acc: number[][] = [];
  for (let r = 0; r < MR; r++) acc.push([f.local(V128), f.local(V128)]);
  const bv = [f.local(V128), f.local(V128)];
  const av = f.local(V128);
  f.emit(op.get(n), op.i32(4), op.i32Mul(), op.set(ldc), op.get(oh), op.get(ow), op.i32Mul(), op.get(ldc), op.i32Mul(), op.set(imgDz));
  // the inner loop: one output position (p in the padded image, dzp in dz) per step; `splat(r)`
  // loads tap r of the tile from the window at p
  const positionStep = (splat: (r: number) => number[]): number[] => {
    const code: number[] = [];
    for (let q = 0; q < NV; q++) code.push(...op.get(dzp), ...op.v128Load(q * 16), ...op.set(bv[q]!));
    for (let r = 0; r < MR; r++) {
      code.push(...splat(r), ...op.set(av));
      for (let q = 0; q < NV; q++) code.push(...maddInto(fma, av, bv[q]!, acc[r]![q]!));
    }
    code.push(...op.get(p), ...op.get(colBytes), ...op.i32Add(), ...op.set(p), ...op.get(dzp), ...op.get(ldc), ...op.i32Add(), ...op.set(dzp));
    return code;
  };
  const step = positionStep((r) => [...op.get(p), ...op.get(ko[r]!), ...op.i32Add(), ...op.v128Load32Splat()]);
  // the same step when the tile's taps are neighbours in the image (four channels of one window
  // position, or four kx of one row when c = 1): p points at the first, the others at +4, +8, +12
  const near = positionStep((r) => [...op.get(p), ...op.v128Load32Splat(4 * r)]);
  const rowLoop = (body: number[], start: number[]) => [
    ...op.get(xb), ...op.get(oy), ...op.get(rowBytes), ...op.i32Mul(), ...op.i32Add(), ...start, ...op.set(p),
    ...op.get(p), ...op.get(ow), ...op.get(colBytes), ...op.i32Mul(), ...op.i32Add(), ...op.set(pEnd),
    ...op.block(), ...op.loop(),
    ...op.get(p), ...op.get(pEnd), ...op.i32GeS(), ...op.brIf(1),
    ...body,
    ...op.br(0),
    ...op.end(), ...op.end(),
  ];
  const panel: number[] = [];
  for (let r = 0; r < MR; r++) for (let q = 0; q < NV; q++) panel.push(...op.v128Zero(), ...op.set(acc[r]![q]!));
  panel.push(...op.get(dzb), ...op.get(j0), ...op.i32Add(), ...op.set(dzp));
  panel.push(
    ...op.get(near_), ...op.if(),
    ...forLoop(oy, op.i32(0), op.get(oh), op.i32(1), rowLoop(near, [...op.get(ko[0]!), ...op.i32Add()])),
    ...op.else(),
    ...forLoop(oy, op.i32(0), op.get(oh), op.i32(1), rowLoop(step, [])),
    ...op.end(),
  );
  // dw[kt + r, j0..] += acc[r] for the taps that exist
  panel.push(...op.get(dw), ...op.get(kt), ...op.get(ldc), ...op.i32Mul(), ...op.i32Add(), ...op.get(j0), ...op.i32Add(), ...op.set(dp));
  for (let r = 0; r < MR; r++) {
    const add: number[] = [];
    for (let q = 0; q < NV; q++) add.push(...op.get(dp), ...op.get(dp), ...op.v128Load(q * 16), ...op.get(acc[r]![q]!), ...op.f32x4Add(), ...op.v128Store(q * 16));
    panel.push(...op.i32(r), ...op.get(rows), ...op.i32LtS(), ...op.if(), ...add, ...op.end(), ...op.get(dp), ...op.get(ldc), ...op.i32Add(), ...op.set(dp));
  }
  const tile: number[] = [...op.get(k1), ...op.get(kt), ...op.i32Sub(), ...op.set(rows)];
  for (let r = 0; r < MR; r++) {
    // ko[r] = koff[r < rows ? kt + r : k1 - 1]
    tile.push(
      ...op.get(koff),
      ...op.get(kt), ...op.i32(r), ...op.i32Add(), ...op.get(k1), ...op.i32(1), ...op.i32Sub(), ...op.i32(r), ...op.get(rows), ...op.i32LtS(), ...op.select(),
      ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.i32Load(), ...op.set(ko[r]!),
    );
  }
  // near_ = every tap of the tile at ko[0] + 4r (a whole tile: rows >= MR)
  tile.push(...op.get(rows), ...op.i32(MR), ...op.i32GeS());
  for (let r = 1; r < MR; r++) tile.push(...op.get(ko[r]!), ...op.get(ko[0]!), ...op.i32Sub(), ...op.i32(4 * r), ...op.i32Eq(), ...op.i32And());
  tile.push(...op.set(near_));
  tile.push(...forLoop(j0, op.i32(0), op.get(ldc), op.i32(NV * 16), panel));
  f.emit(
    op.get(x), op.set(xb), op.get(dz), op.set(dzb),
    forLoop(bi, op.i32(0), op.get(images), op.i32(1), [
      ...forLoop(kt, op.get(k0), op.get(k1), op.i32(MR), tile),
      ...op.get(xb), ...op.get(imgBytes), ...op.i32Add(), ...op.set(xb),
      ...op.get(dzb), ...op.get(imgDz), ...op.i32Add(), ...op.set(dzb),
    ]),
  );
  return f;
}

/**
 * conv_sparse_dw / conv_sparse_dx(win, dz, mat, images, oh, ow, f, kh, kwc, imgBytes, rowBytes,
 * colBytes, winRowBytes, j0, j1): a convolution's gradients from the non-zero values of dz alone,
 * those of output channels j0 <= j < j1 (a thread's share of conv_sparse_dw: the rows of mat it
 * owns). For each dz[b, oy, ox, j] that is not zero, its kh rows of kwc floats (kw window positions x c channels,
 * next to each other in a padded NHWC image) meet row j of mat (kh x kwc floats): conv_sparse_dw
 * adds dz times the window of the padded input win onto mat (the kernel gradient, transposed:
 * [f, kh, kw, c]); conv_sparse_dx adds dz times mat (the kernel, transposed) onto the window of win
 * (the padded input gradient). The window of (b, oy, ox) starts at win + b*imgBytes + oy*rowBytes
 * + ox*colBytes; its rows are winRowBytes apart. Four floats at a time, then the rest of a row one
 * by one. Behind relu and max pooling most of dz is zero (max pooling's gradient reaches one value
 * of each window), and the work shrinks with it.
 */
/** The locals of conv_sparse_*'s loops over dz (nonzeroLoops), declared in f. */
function nonzeroLocals(f: Func) {
  const [b, oy, ox, j, dzp, corner, mp, skip] = Array.from({ length: 8 }, () => f.local(I32));
  return { b: b!, oy: oy!, ox: ox!, j: j!, dzp: dzp!, corner: corner!, mp: mp!, skip: skip!, v: f.local(F32), vs: f.local(V128) };
}

/**
 * The loops of conv_sparse_*: every value of dz in order (b, oy, ox, j), j from j0 to j1; for one
 * that is not zero, v holds it, vs its splat, mp row j of mat and corner its window's first float
 * in win, then `body` runs. The sizes are code (a parameter's value, or a constant of a
 * specialised body).
 */
function nonzeroLoops(
  l: ReturnType<typeof nonzeroLocals>,
  [win, dz, mat, images, j0, j1]: [number, number, number, number, number, number],
  size: { oh: number[]; ow: number[]; f: number[]; imgBytes: number[]; rowBytes: number[]; colBytes: number[]; matRow: number[] },
  body: number[],
): number[] {
  const value = [
    ...op.get(l.dzp), ...op.f32Load(), ...op.set(l.v),
    ...op.get(l.dzp), ...op.i32(4), ...op.i32Add(), ...op.set(l.dzp),
    ...op.get(l.v), ...op.f32(0), ...op.f32Ne(), ...op.if(),
    ...op.get(l.v), ...op.f32x4Splat(), ...op.set(l.vs),
    ...op.get(mat), ...op.get(l.j), ...size.matRow, ...op.i32Mul(), ...op.i32Add(), ...op.set(l.mp),
    ...body,
    ...op.end(),
  ];
  return [
    // dzp: dz[0, 0, 0, j0]; skip: the bytes from a position's channel j1 to the next one's j0
    ...op.get(dz), ...op.get(j0), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.set(l.dzp),
    ...size.f, ...op.get(j1), ...op.i32Sub(), ...op.get(j0), ...op.i32Add(), ...op.i32(4), ...op.i32Mul(), ...op.set(l.skip),
    ...forLoop(l.b, op.i32(0), op.get(images), op.i32(1),
      forLoop(l.oy, op.i32(0), size.oh, op.i32(1), [
        ...op.get(win), ...op.get(l.b), ...size.imgBytes, ...op.i32Mul(), ...op.i32Add(), ...op.get(l.oy), ...size.rowBytes, ...op.i32Mul(), ...op.i32Add(), ...op.set(l.corner),
        ...forLoop(l.ox, op.i32(0), size.ow, op.i32(1), [
          ...forLoop(l.j, op.get(j0), op.get(j1), op.i32(1), value),
          ...op.get(l.dzp), ...op.get(l.skip), ...op.i32Add(), ...op.set(l.dzp),
          ...op.get(l.corner), ...size.colBytes, ...op.i32Add(), ...op.set(l.corner),
        ]),
      ]),
    ),
  ];
}

function buildConvSparse(name: "conv_sparse_dw" | "conv_sparse_dx", fma: boolean, shaped: number[]): Func {
  const f = new Func(name, new Array<typeof I32>(16).fill(I32));
  const [spec, win, dz, mat, images, oh, ow, nf, kh, kwc, imgBytes, rowBytes, colBytes, winRowBytes, j0, j1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  // spec >= 0: the body specialised to that shape (buildShapedConvSparse)
  for (let i = 0; i < shaped.length; i++) {
    f.emit(op.get(spec), op.i32(i), op.i32Eq(), op.if(), op.get(win), op.get(dz), op.get(mat), op.get(images), op.get(j0), op.get(j1), op.call(shaped[i]!), op.return(), op.end());
  }
  const l = nonzeroLocals(f);
  const ky = f.local(I32), t = f.local(I32), wp = f.local(I32), rowEnd4 = f.local(I32), rowEnd = f.local(I32), matRow = f.local(I32);
  const { mp, v, vs } = l;
  // dst += vs * src, over one row: dst and src are the window's row (wp) and mat's (mp), one way or the other
  const [dst, src] = name === "conv_sparse_dw" ? [mp, wp] : [wp, mp];
  const row = [
    ...forLoop(t, op.i32(0), op.get(rowEnd4), op.i32(16), [
      ...op.get(dst), ...op.get(t), ...op.i32Add(),
      ...madd(fma, op.get(vs), [...op.get(src), ...op.get(t), ...op.i32Add(), ...op.v128Load()], [...op.get(dst), ...op.get(t), ...op.i32Add(), ...op.v128Load()]),
      ...op.v128Store(),
    ]),
    ...forLoop(t, op.get(rowEnd4), op.get(rowEnd), op.i32(4), [
      ...op.get(dst), ...op.get(t), ...op.i32Add(),
      ...op.get(dst), ...op.get(t), ...op.i32Add(), ...op.f32Load(),
      ...op.get(v), ...op.get(src), ...op.get(t), ...op.i32Add(), ...op.f32Load(), ...op.f32Mul(), ...op.f32Add(),
      ...op.f32Store(),
    ]),
    ...op.get(wp), ...op.get(winRowBytes), ...op.i32Add(), ...op.set(wp),
    ...op.get(mp), ...op.get(rowEnd), ...op.i32Add(), ...op.set(mp),
  ];
  f.emit(
    op.get(kwc), op.i32(4), op.i32Mul(), op.set(rowEnd),
    op.get(rowEnd), op.i32(-16), op.i32And(), op.set(rowEnd4),
    op.get(rowEnd), op.get(kh), op.i32Mul(), op.set(matRow),
    nonzeroLoops(
      l,
      [win, dz, mat, images, j0, j1],
      { oh: op.get(oh), ow: op.get(ow), f: op.get(nf), imgBytes: op.get(imgBytes), rowBytes: op.get(rowBytes), colBytes: op.get(colBytes), matRow: op.get(matRow) },
      [...op.get(l.corner), ...op.set(wp), ...forLoop(ky, op.i32(0), op.get(kh), op.i32(1), row)],
    ),
  );
  return f;
}

/**
 * conv_sparse_dw_shape_<i> / conv_sparse_dx_shape_<i>(win, dz, mat, images, j0, j1): conv_sparse_dw /
 * conv_sparse_dx for one ConvShape (the forward pass's), its sizes constants of the code: each
 * non-zero value's kh rows of kw * c floats are written out in full, every load and store at a
 * constant offset from the window's corner or from mat's row.
 */
function buildShapedConvSparse(name: "conv_sparse_dw" | "conv_sparse_dx", s: ConvShape, index: number, fma: boolean): Func {
  const f = new Func(`${name}_shape_${index}`, [I32, I32, I32, I32, I32, I32]);
  const l = nonzeroLocals(f);
  const kwc = s.kw * s.c, colBytes = s.sw * s.c * 4, rowBytes = s.sh * s.wp * s.c * 4, imgBytes = s.hp * s.wp * s.c * 4, winRowBytes = s.wp * s.c * 4;
  const body: number[] = [];
  for (let ky = 0; ky < s.kh; ky++) {
    for (let t = 0; t < kwc; t += 4) {
      const winAt = ky * winRowBytes + t * 4, matAt = (ky * kwc + t) * 4;
      const [dstP, dstAt, srcP, srcAt] = name === "conv_sparse_dw" ? [l.mp, matAt, l.corner, winAt] : [l.corner, winAt, l.mp, matAt];
      if (t + 4 <= kwc) {
        body.push(...op.get(dstP), ...madd(fma, op.get(l.vs), [...op.get(srcP), ...op.v128Load(srcAt)], [...op.get(dstP), ...op.v128Load(dstAt)]), ...op.v128Store(dstAt));
      } else {
        for (let u = t; u < kwc; u++) {
          const d = dstAt + (u - t) * 4, sr = srcAt + (u - t) * 4;
          body.push(...op.get(dstP), ...op.get(dstP), ...op.f32Load(d), ...op.get(l.v), ...op.get(srcP), ...op.f32Load(sr), ...op.f32Mul(), ...op.f32Add(), ...op.f32Store(d));
        }
      }
    }
  }
  f.emit(
    nonzeroLoops(
      l,
      [0, 1, 2, 3, 4, 5],
      { oh: op.i32(s.oh), ow: op.i32(s.ow), f: op.i32(s.f), imgBytes: op.i32(imgBytes), rowBytes: op.i32(rowBytes), colBytes: op.i32(colBytes), matRow: op.i32(s.kh * kwc * 4) },
      body,
    ),
  );
  return f;
}

/** count_nonzero(src, n, out): the number of values of src[0..n) that are not zero, stored at out (i32). */
function buildCountNonzero(): Func {
  const f = new Func("count_nonzero", [I32, I32, I32]);
  const [src, n, out] = [0, 1, 2];
  const i = f.local(I32), end4 = f.local(I32), end = f.local(I32), acc = f.local(V128), count = f.local(I32);
  f.emit(
    op.get(n), op.i32(4), op.i32Mul(), op.set(end), op.get(end), op.i32(-16), op.i32And(), op.set(end4),
    op.v128Zero(), op.set(acc),
    // f32x4.ne gives -1 in a lane that is not zero: subtracting it counts
    forLoop(i, op.i32(0), op.get(end4), op.i32(16), [...op.get(acc), ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.v128Zero(), ...op.f32x4Ne(), ...op.i32x4Sub(), ...op.set(acc)]),
    op.get(acc), op.i32x4ExtractLane(0), op.get(acc), op.i32x4ExtractLane(1), op.i32Add(), op.get(acc), op.i32x4ExtractLane(2), op.i32Add(), op.get(acc), op.i32x4ExtractLane(3), op.i32Add(), op.set(count),
    forLoop(i, op.get(end4), op.get(end), op.i32(4), [
      ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.f32Load(), ...op.f32(0), ...op.f32Ne(), ...op.get(count), ...op.i32Add(), ...op.set(count),
    ]),
    op.get(out), op.get(count), op.i32Store(),
  );
  return f;
}

/**
 * crop_copy(src, dst, n, h, w, c, hp, wp, top, left, accumulate): the inverse of pad_copy, each
 * [h, w, c] image of dst (=|+=) the [hp, wp, c] image of src from (top, left), row by row.
 */
function buildCropCopy(): Func {
  const f = new Func("crop_copy", new Array<typeof I32>(11).fill(I32));
  const [src, dst, n, h, w, c, hp, wp, top, left, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const b = f.local(I32), y = f.local(I32), i = f.local(I32), len = f.local(I32), len4 = f.local(I32), s = f.local(I32), srcRow = f.local(I32), srcImg = f.local(I32);
  f.emit(op.get(w), op.get(c), op.i32Mul(), op.i32(4), op.i32Mul(), op.set(len), op.get(len), op.i32(-16), op.i32And(), op.set(len4));
  f.emit(op.get(wp), op.get(c), op.i32Mul(), op.i32(4), op.i32Mul(), op.set(srcRow), op.get(hp), op.get(srcRow), op.i32Mul(), op.set(srcImg));
  const rowCopy = (add: boolean) => [
    ...forLoop(i, op.i32(0), op.get(len4), op.i32(16), [
      ...op.get(dst), ...op.get(i), ...op.i32Add(),
      ...(add ? [...op.get(dst), ...op.get(i), ...op.i32Add(), ...op.v128Load()] : []),
      ...op.get(s), ...op.get(i), ...op.i32Add(), ...op.v128Load(),
      ...(add ? op.f32x4Add() : []),
      ...op.v128Store(),
    ]),
    ...forLoop(i, op.get(len4), op.get(len), op.i32(4), [
      ...op.get(dst), ...op.get(i), ...op.i32Add(),
      ...(add ? [...op.get(dst), ...op.get(i), ...op.i32Add(), ...op.f32Load()] : []),
      ...op.get(s), ...op.get(i), ...op.i32Add(), ...op.f32Load(),
      ...(add ? op.f32Add() : []),
      ...op.f32Store(),
    ]),
  ];
  const row = [
    // s = src + b*srcImg + (y + top)*srcRow + left*c*4
    ...op.get(src), ...op.get(b), ...op.get(srcImg), ...op.i32Mul(), ...op.i32Add(),
    ...op.get(y), ...op.get(top), ...op.i32Add(), ...op.get(srcRow), ...op.i32Mul(), ...op.i32Add(),
    ...op.get(left), ...op.get(c), ...op.i32Mul(), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.set(s),
    ...op.get(accumulate), ...op.if(), ...rowCopy(true), ...op.else(), ...rowCopy(false), ...op.end(),
    ...op.get(dst), ...op.get(len), ...op.i32Add(), ...op.set(dst),
  ];
  f.emit(forLoop(b, op.i32(0), op.get(n), op.i32(1), forLoop(y, op.i32(0), op.get(h), op.i32(1), row)));
  return f;
}

/**
 * zero(dst, bytes): dst[0..bytes) = 0, 16 bytes at a time (bytes a multiple of 16): the padded
 * input gradient before conv_sparse_dx adds onto it, each thread its own images' share.
 */
function buildZero(): Func {
  const f = new Func("zero", [I32, I32]);
  const [dst, bytes] = [0, 1];
  const i = f.local(I32);
  f.emit(forLoop(i, op.i32(0), op.get(bytes), op.i32(16), [...op.get(dst), ...op.get(i), ...op.i32Add(), ...op.v128Zero(), ...op.v128Store()]));
  return f;
}

/**
 * pad_copy(src, dst, n, h, w, c, hp, wp, top, left): copies each [h, w, c] image of src into the
 * [hp, wp, c] image of dst at (top, left), row by row (4 floats at a time, then the tail). The
 * border of dst is not written: it stays as allocated, zero.
 */
function buildPadCopy(): Func {
  const f = new Func("pad_copy", new Array<typeof I32>(10).fill(I32));
  const [src, dst, n, h, w, c, hp, wp, top, left] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const b = f.local(I32), y = f.local(I32), i = f.local(I32), len = f.local(I32), len4 = f.local(I32), d = f.local(I32), dstRow = f.local(I32), dstImg = f.local(I32);
  f.emit(op.get(w), op.get(c), op.i32Mul(), op.i32(4), op.i32Mul(), op.set(len), op.get(len), op.i32(-16), i32And(), op.set(len4));
  f.emit(op.get(wp), op.get(c), op.i32Mul(), op.i32(4), op.i32Mul(), op.set(dstRow), op.get(hp), op.get(dstRow), op.i32Mul(), op.set(dstImg));
  const row = [
    // d = dst + b*dstImg + (y + top)*dstRow + left*c*4
    ...op.get(dst), ...op.get(b), ...op.get(dstImg), ...op.i32Mul(), ...op.i32Add(),
    ...op.get(y), ...op.get(top), ...op.i32Add(), ...op.get(dstRow), ...op.i32Mul(), ...op.i32Add(),
    ...op.get(left), ...op.get(c), ...op.i32Mul(), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.set(d),
    ...forLoop(i, op.i32(0), op.get(len4), op.i32(16), [...op.get(d), ...op.get(i), ...op.i32Add(), ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.v128Store()]),
    ...forLoop(i, op.get(len4), op.get(len), op.i32(4), [...op.get(d), ...op.get(i), ...op.i32Add(), ...op.get(src), ...op.get(i), ...op.i32Add(), ...op.f32Load(), ...op.f32Store()]),
    ...op.get(src), ...op.get(len), ...op.i32Add(), ...op.set(src),
  ];
  f.emit(forLoop(b, op.i32(0), op.get(n), op.i32(1), forLoop(y, op.i32(0), op.get(h), op.i32(1), row)));
  return f;
}

/**
 * Columns of the blocks sparse_rows holds in registers: four f32x4 (with eight, V8 spills them:
 * 13 GFLOP/s on the mlp's first layer against 19 with four, 12 with two; bench/gemm.ts --sparse).
 */
export const SPARSE_NC = 16;

/**
 * csr_rows(a, rows, cols, rs, cs, ptr, ent, r0, r1): lists the non-zero values of rows r0 to r1 of
 * a [rows x cols] matrix read at a + r*rs + k*cs (bytes; so that a stored matrix and its transpose
 * are both read in place), row by row: 8 bytes per value, k*SPARSE_NC*4 (the byte offset of the
 * row of B it multiplies in sparse_rows's packed panel; i32) and the value (f32). Row r's values
 * start at ent + r*cols*8, room for the whole row, so that every row is listed on its own (rows
 * split across threads); ptr[r] (i32) is the address where they end. ent must hold rows*cols
 * entries. A contiguous row (cs = 4) is read four values at a time: four zeros cost one test.
 */
function buildCsrRows(): Func {
  const f = new Func("csr_rows", new Array<typeof I32>(9).fill(I32));
  const [a, rows, cols, rs, cs, ptr, ent, r0, r1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = f.local(I32), k = f.local(I32), p = f.local(I32), e = f.local(I32), v = f.local(F32), k4 = f.local(I32);
  /** Value k of the row (at p): listed when it is not zero; then p steps to the next. */
  const value = [
    ...op.get(p), ...op.f32Load(), ...op.tee(v), ...op.f32(0), ...op.f32Ne(),
    ...op.if(),
    ...op.get(e), ...op.get(k), ...op.i32(SPARSE_NC * 4), ...op.i32Mul(), ...op.i32Store(),
    ...op.get(e), ...op.get(v), ...op.f32Store(4),
    ...op.get(e), ...op.i32(8), ...op.i32Add(), ...op.set(e),
    ...op.end(),
    ...op.get(p), ...op.get(cs), ...op.i32Add(), ...op.set(p),
  ];
  // A contiguous row (cs = 4) is read four values at a time, and a group of four zeros skipped at once.
  const groups = [
    ...op.get(cs), ...op.i32(4), ...op.i32Eq(), ...op.if(),
    ...op.block(), ...op.loop(),
    ...op.get(k), ...op.i32(4), ...op.i32Add(), ...op.get(cols), ...op.i32GtS(), ...op.brIf(1),
    ...op.get(p), ...op.v128Load(), ...op.v128AnyTrue(),
    ...op.if(),
    ...op.get(k), ...op.i32(4), ...op.i32Add(), ...op.set(k4),
    ...forLoop(k, op.get(k), op.get(k4), op.i32(1), value),
    ...op.else(),
    ...op.get(k), ...op.i32(4), ...op.i32Add(), ...op.set(k),
    ...op.get(p), ...op.i32(16), ...op.i32Add(), ...op.set(p),
    ...op.end(),
    ...op.br(0),
    ...op.end(), ...op.end(),
    ...op.end(),
  ];
  const row = [
    ...op.get(ent), ...op.get(r), ...op.get(cols), ...op.i32Mul(), ...op.i32(8), ...op.i32Mul(), ...op.i32Add(), ...op.set(e),
    ...op.get(a), ...op.get(r), ...op.get(rs), ...op.i32Mul(), ...op.i32Add(), ...op.set(p),
    ...op.i32(0), ...op.set(k),
    ...groups,
    ...forLoop(k, op.get(k), op.get(cols), op.i32(1), value),
    ...op.get(ptr), ...op.get(r), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.get(e), ...op.i32Store(),
  ];
  void rows; // the matrix's rows: this call lists r0..r1 of them
  f.emit(forLoop(r, op.get(r0), op.get(r1), op.i32(1), row));
  return f;
}

/**
 * sparse_rows(ptr, b, c, rows, kb, n, accumulate, panel, j0, j1): columns j0..j1 of C [rows x n]
 * (=|+=) the sparse rows csr_rows listed times B [kb x n] (its ent at ptr + (rows + 1)*4): C[r, j]
 * = sum over row r's entries (k, x) of x * B[k, j]. Columns in blocks of SPARSE_NC (j0 a multiple of it): each block of B is
 * first copied into panel [kb x SPARSE_NC] (contiguous, so that it stays in cache: rows of B read
 * in place sit a power of two apart and would fall in the same few cache sets), then every row
 * of C sums its entries' rows of the panel in SPARSE_NC / 4 f32x4 registers. The last n % SPARSE_NC
 * columns (when j1 = n) go four, then one at a time, reading B in place.
 */
function buildSparseRows(fma: boolean): Func {
  const f = new Func("sparse_rows", new Array<typeof I32>(10).fill(I32));
  const [ptr, b, c, rows, kb, n, accumulate, panel, j0, j1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const NV = SPARSE_NC / 4;
  const r = f.local(I32), e = f.local(I32), e0 = f.local(I32), e1 = f.local(I32), jb = f.local(I32), jEnd = f.local(I32), ldc = f.local(I32), cp = f.local(I32), bp = f.local(I32), k = f.local(I32), src = f.local(I32);
  const ent = f.local(I32), entRow = f.local(I32);
  const av = f.local(V128), sacc = f.local(F32);
  const acc: number[] = [];
  for (let q = 0; q < NV; q++) acc.push(f.local(V128));
  /** Row r: its entries e0..e1 (from ent + r*kb*8 to ptr[r], as csr_rows lists them) and cp, the address of C[r, jb]. */
  const rowStart = [
    ...op.get(ent), ...op.get(r), ...op.get(entRow), ...op.i32Mul(), ...op.i32Add(), ...op.set(e0),
    ...op.get(ptr), ...op.get(r), ...op.i32(4), ...op.i32Mul(), ...op.i32Add(), ...op.i32Load(), ...op.set(e1),
    ...op.get(c), ...op.get(r), ...op.get(ldc), ...op.i32Mul(), ...op.i32Add(), ...op.get(jb), ...op.i32Add(), ...op.set(cp),
  ];
  /** Columns from jb in blocks of nv f32x4 while a whole block fits before jEnd, every row of C per block; B from the panel (packed) or in place. */
  const blocks = (nv: number, packed: boolean): number[] => {
    const init: number[] = [], step: number[] = [], store: number[] = [], pack: number[] = [];
    for (let q = 0; q < nv; q++) {
      init.push(
        ...op.get(accumulate), ...op.if(),
        ...op.get(cp), ...op.v128Load(q * 16), ...op.set(acc[q]!),
        ...op.else(), ...op.v128Zero(), ...op.set(acc[q]!), ...op.end(),
      );
      step.push(...madd(fma, op.get(av), [...op.get(bp), ...op.v128Load(q * 16)], op.get(acc[q]!)), ...op.set(acc[q]!));
      store.push(...op.get(cp), ...op.get(acc[q]!), ...op.v128Store(q * 16));
      pack.push(...op.get(e), ...op.get(src), ...op.v128Load(q * 16), ...op.v128Store(q * 16));
    }
    // bp: the panel's row (offset k*SPARSE_NC*4 from csr_rows), or B's row in place (k*n*4 + jb*4)
    const rowOf = packed
      ? [...op.get(panel), ...op.get(e), ...op.i32Load(), ...op.i32Add()]
      : [...op.get(b), ...op.get(e), ...op.i32Load(), ...op.i32(Math.log2(SPARSE_NC * 4)), ...op.i32ShrU(), ...op.get(ldc), ...op.i32Mul(), ...op.i32Add(), ...op.get(jb), ...op.i32Add()];
    const entry = [...op.get(e), ...op.v128Load32Splat(4), ...op.set(av), ...rowOf, ...op.set(bp), ...step];
    // the panel: row k of the block of B at panel + k*SPARSE_NC*4 (e and src walk the panel and B)
    const packBlock = packed
      ? [
          ...op.get(b), ...op.get(jb), ...op.i32Add(), ...op.set(src), ...op.get(panel), ...op.set(e),
          ...forLoop(k, op.i32(0), op.get(kb), op.i32(1), [
            ...pack,
            ...op.get(e), ...op.i32(SPARSE_NC * 4), ...op.i32Add(), ...op.set(e),
            ...op.get(src), ...op.get(ldc), ...op.i32Add(), ...op.set(src),
          ]),
        ]
      : [];
    return [
      ...op.block(), ...op.loop(),
      ...op.get(jb), ...op.i32(nv * 16), ...op.i32Add(), ...op.get(jEnd), ...op.i32GtS(), ...op.brIf(1),
      ...packBlock,
      ...forLoop(r, op.i32(0), op.get(rows), op.i32(1), [...rowStart, ...init, ...forLoop(e, op.get(e0), op.get(e1), op.i32(8), entry), ...store]),
      ...op.get(jb), ...op.i32(nv * 16), ...op.i32Add(), ...op.set(jb),
      ...op.br(0),
      ...op.end(), ...op.end(),
    ];
  };
  // the last n % 4 columns, one at a time
  const tail = forLoop(jb, op.get(jb), op.get(jEnd), op.i32(4), forLoop(r, op.i32(0), op.get(rows), op.i32(1), [
    ...rowStart,
    ...op.get(cp), ...op.f32Load(), ...op.f32(0), ...op.get(accumulate), ...op.select(), ...op.set(sacc),
    ...forLoop(e, op.get(e0), op.get(e1), op.i32(8), [
      ...op.get(sacc),
      ...op.get(e), ...op.f32Load(4),
      ...op.get(b), ...op.get(e), ...op.i32Load(), ...op.i32(Math.log2(SPARSE_NC * 4)), ...op.i32ShrU(), ...op.get(ldc), ...op.i32Mul(), ...op.i32Add(), ...op.get(jb), ...op.i32Add(), ...op.f32Load(),
      ...op.f32Mul(), ...op.f32Add(), ...op.set(sacc),
    ]),
    ...op.get(cp), ...op.get(sacc), ...op.f32Store(),
  ]));
  f.emit(
    op.get(n), op.i32(4), op.i32Mul(), op.set(ldc),
    // the entries: after ptr's rows + 1 ints, kb (8-byte) entries a row
    op.get(ptr), op.get(rows), op.i32(1), op.i32Add(), op.i32(4), op.i32Mul(), op.i32Add(), op.set(ent),
    op.get(kb), op.i32(8), op.i32Mul(), op.set(entRow),
    op.get(j0), op.i32(4), op.i32Mul(), op.set(jb), op.get(j1), op.i32(4), op.i32Mul(), op.set(jEnd),
    blocks(NV, true), blocks(1, false), tail,
  );
  return f;
}

/** The increment of mulberry32's state (src/runtime/random.ts, Random.next). */
const MULBERRY32_STEP = 0x6d2b79f5;

/**
 * dropout(x, out, mask, count, args): the dropout mask from the uniform stream of
 * src/runtime/random.ts (mulberry32), four draws at a time, and out = x * mask. args (byte
 * address) holds the stream's state before the first draw (u32), the threshold T (u32) and the
 * scale (f32): draw i is the mulberry32 output u of state + (i + 1) * step, and the value is dropped
 * (mask 0) when u < T, the integer form of next() < rate (T = ceil(rate * 2^32)), kept (mask scale)
 * otherwise: the same numbers as the one-by-one loop. The caller advances the stream by count.
 */
function buildDropout(): Func {
  const f = new Func("dropout", [I32, I32, I32, I32, I32]);
  const [x, out, mask, count, args] = [0, 1, 2, 3, 4];
  const i = f.local(I32), end = f.local(I32), s = f.local(V128), t = f.local(V128), thr = f.local(V128), scale = f.local(V128), m = f.local(V128);
  const st = f.local(I32), ti = f.local(I32), ms = f.local(F32), tailEnd = f.local(I32);
  const splat = (v: number) => [...op.i32(v), ...op.i32x4Splat()];
  // the mulberry32 mix of the vector t, in place (Random.next's three lines)
  const mix = [
    // t = imul(t ^ (t >>> 15), t | 1)
    ...op.get(t), ...op.get(t), ...op.i32(15), ...op.i32x4ShrU(), ...op.v128Xor(), ...op.get(t), ...splat(1), ...op.v128Or(), ...op.i32x4Mul(), ...op.set(t),
    // t ^= t + imul(t ^ (t >>> 7), t | 61)
    ...op.get(t), ...op.get(t), ...op.get(t), ...op.get(t), ...op.i32(7), ...op.i32x4ShrU(), ...op.v128Xor(), ...op.get(t), ...splat(61), ...op.v128Or(), ...op.i32x4Mul(), ...op.i32x4Add(), ...op.v128Xor(), ...op.set(t),
    // u = t ^ (t >>> 14)
    ...op.get(t), ...op.get(t), ...op.i32(14), ...op.i32x4ShrU(), ...op.v128Xor(), ...op.set(t),
  ];
  const mixScalar = [
    ...op.get(ti), ...op.get(ti), ...op.i32(15), ...op.i32ShrU(), ...op.i32Xor(), ...op.get(ti), ...op.i32(1), ...op.i32Or(), ...op.i32Mul(), ...op.set(ti),
    ...op.get(ti), ...op.get(ti), ...op.get(ti), ...op.get(ti), ...op.i32(7), ...op.i32ShrU(), ...op.i32Xor(), ...op.get(ti), ...op.i32(61), ...op.i32Or(), ...op.i32Mul(), ...op.i32Add(), ...op.i32Xor(), ...op.set(ti),
    ...op.get(ti), ...op.get(ti), ...op.i32(14), ...op.i32ShrU(), ...op.i32Xor(), ...op.set(ti),
  ];
  f.emit(
    op.get(args), op.i32Load(), op.set(st),
    op.get(args), op.i32Load(4), op.i32x4Splat(), op.set(thr),
    op.get(args), op.f32Load(8), op.f32x4Splat(), op.set(scale),
    // s = the states of draws 0..3: state + (1, 2, 3, 4) * step
    op.get(st), op.i32x4Splat(),
    op.v128Zero(), op.i32(MULBERRY32_STEP), op.i32x4ReplaceLane(0), op.i32(2 * MULBERRY32_STEP), op.i32x4ReplaceLane(1),
    op.i32(3 * MULBERRY32_STEP), op.i32x4ReplaceLane(2), op.i32(4 * MULBERRY32_STEP), op.i32x4ReplaceLane(3),
    op.i32x4Add(), op.set(s),
    op.get(count), op.i32(-4), op.i32And(), op.i32(4), op.i32Mul(), op.set(end),
    forLoop(i, op.i32(0), op.get(end), op.i32(16), [
      ...op.get(s), ...op.set(t), ...mix,
      // kept where u >= T (unsigned): mask = scale there, +0 elsewhere
      ...op.get(t), ...op.get(thr), ...op.i32x4GeU(), ...op.get(scale), ...op.v128And(), ...op.set(m),
      ...op.get(mask), ...op.get(i), ...op.i32Add(), ...op.get(m), ...op.v128Store(),
      ...op.get(out), ...op.get(i), ...op.i32Add(), ...op.get(x), ...op.get(i), ...op.i32Add(), ...op.v128Load(), ...op.get(m), ...op.f32x4Mul(), ...op.v128Store(),
      ...op.get(s), ...splat(4 * MULBERRY32_STEP), ...op.i32x4Add(), ...op.set(s),
    ]),
    // the last count % 4 values, one at a time
    op.get(st), op.get(end), op.i32(4), i32DivU(), op.i32(MULBERRY32_STEP), op.i32Mul(), op.i32Add(), op.set(st),
    op.get(count), op.i32(4), op.i32Mul(), op.set(tailEnd),
    forLoop(i, op.get(end), op.get(tailEnd), op.i32(4), [
      ...op.get(st), ...op.i32(MULBERRY32_STEP), ...op.i32Add(), ...op.tee(st), ...op.set(ti), ...mixScalar,
      ...op.get(args), ...op.f32Load(8), ...op.f32(0), ...op.get(ti), ...op.get(args), ...op.i32Load(4), ...op.i32GeU(), ...op.select(), ...op.set(ms),
      ...op.get(mask), ...op.get(i), ...op.i32Add(), ...op.get(ms), ...op.f32Store(),
      ...op.get(out), ...op.get(i), ...op.i32Add(), ...op.get(x), ...op.get(i), ...op.i32Add(), ...op.f32Load(), ...op.get(ms), ...op.f32Mul(), ...op.f32Store(),
    ]),
  );
  return f;
}

/**
 * channel_moments(x, rows, c, mean, sq): per channel of x [rows x c] (c a multiple of 4), the mean
 * and the sum of squared deviations from it, four channels at a time, row after row (each
 * channel's sums run over the rows in order, in float32).
 */
function buildChannelMoments(): Func {
  const f = new Func("channel_moments", [I32, I32, I32, I32, I32]);
  const [x, rows, c, mean, sq] = [0, 1, 2, 3, 4];
  const r = f.local(I32), j = f.local(I32), cb = f.local(I32), p = f.local(I32), n = f.local(V128), d = f.local(V128);
  const zero = (buf: number) => forLoop(j, op.i32(0), op.get(cb), op.i32(16), [...op.get(buf), ...op.get(j), ...op.i32Add(), ...op.v128Zero(), ...op.v128Store()]);
  /** For every row: buf[j] += term(x[r, j]) (term leaves a vector), 16 bytes at a time. */
  const sumRows = (buf: number, term: number[]) =>
    forLoop(r, op.i32(0), op.get(rows), op.i32(1), [
      ...op.get(x), ...op.get(r), ...op.get(cb), ...op.i32Mul(), ...op.i32Add(), ...op.set(p),
      ...forLoop(j, op.i32(0), op.get(cb), op.i32(16), [
        ...op.get(buf), ...op.get(j), ...op.i32Add(),
        ...op.get(buf), ...op.get(j), ...op.i32Add(), ...op.v128Load(),
        ...op.get(p), ...op.get(j), ...op.i32Add(), ...op.v128Load(), ...term,
        ...op.f32x4Add(), ...op.v128Store(),
      ]),
    ]);
  // (x - mean)^2
  const squared = [...op.get(mean), ...op.get(j), ...op.i32Add(), ...op.v128Load(), ...op.f32x4Sub(), ...op.tee(d), ...op.get(d), ...op.f32x4Mul()];
  f.emit(
    op.get(c), op.i32(4), op.i32Mul(), op.set(cb),
    zero(mean), zero(sq),
    sumRows(mean, []),
    op.get(rows), op.f32ConvertI32U(), op.f32x4Splat(), op.set(n),
    forLoop(j, op.i32(0), op.get(cb), op.i32(16), [
      ...op.get(mean), ...op.get(j), ...op.i32Add(), ...op.get(mean), ...op.get(j), ...op.i32Add(), ...op.v128Load(), ...op.get(n), ...op.f32x4Div(), ...op.v128Store(),
    ]),
    sumRows(sq, squared),
  );
  return f;
}

/**
 * channel_normalize(x, mean, invStd, gamma, beta, xhat, out, rows, c): xhat = (x - mean) * invStd,
 * out = gamma * xhat + beta, per channel of x [rows x c] (c a multiple of 4), four at a time.
 */
function buildChannelNormalize(): Func {
  const f = new Func("channel_normalize", new Array<typeof I32>(9).fill(I32));
  const [x, mean, invStd, gamma, beta, xhat, out, rows, c] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = f.local(I32), j = f.local(I32), cb = f.local(I32), o = f.local(I32), v = f.local(V128);
  const at = (buf: number) => [...op.get(buf), ...op.get(j), ...op.i32Add()];
  f.emit(
    op.get(c), op.i32(4), op.i32Mul(), op.set(cb),
    forLoop(r, op.i32(0), op.get(rows), op.i32(1), [
      ...op.get(r), ...op.get(cb), ...op.i32Mul(), ...op.set(o),
      ...forLoop(j, op.i32(0), op.get(cb), op.i32(16), [
        ...op.get(x), ...op.get(o), ...op.i32Add(), ...op.get(j), ...op.i32Add(), ...op.v128Load(),
        ...at(mean), ...op.v128Load(), ...op.f32x4Sub(), ...at(invStd), ...op.v128Load(), ...op.f32x4Mul(), ...op.set(v),
        ...op.get(xhat), ...op.get(o), ...op.i32Add(), ...op.get(j), ...op.i32Add(), ...op.get(v), ...op.v128Store(),
        ...op.get(out), ...op.get(o), ...op.i32Add(), ...op.get(j), ...op.i32Add(),
        ...at(gamma), ...op.v128Load(), ...op.get(v), ...op.f32x4Mul(), ...at(beta), ...op.v128Load(), ...op.f32x4Add(), ...op.v128Store(),
      ]),
    ]),
  );
  return f;
}

/**
 * channel_normalize_backward(g, xhat, gamma, invStd, dgamma, dbeta, dx, rows, c, accumulate): per
 * channel of [rows x c] (c a multiple of 4), dgamma = sum g * xhat, dbeta = sum g (over the rows,
 * in order), then, when dx is not 0, dx (=|+=) gamma * invStd / rows * (rows * g - dbeta - xhat * dgamma).
 */
function buildChannelNormalizeBackward(): Func {
  const f = new Func("channel_normalize_backward", new Array<typeof I32>(10).fill(I32));
  const [g, xhat, gamma, invStd, dgamma, dbeta, dx, rows, c, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const r = f.local(I32), j = f.local(I32), cb = f.local(I32), o = f.local(I32), n = f.local(V128), gv = f.local(V128), v = f.local(V128);
  const at = (buf: number) => [...op.get(buf), ...op.get(j), ...op.i32Add()];
  const row = (buf: number) => [...op.get(buf), ...op.get(o), ...op.i32Add(), ...op.get(j), ...op.i32Add()];
  f.emit(
    op.get(c), op.i32(4), op.i32Mul(), op.set(cb),
    op.get(rows), op.f32ConvertI32U(), op.f32x4Splat(), op.set(n),
    forLoop(j, op.i32(0), op.get(cb), op.i32(16), [...at(dgamma), ...op.v128Zero(), ...op.v128Store(), ...at(dbeta), ...op.v128Zero(), ...op.v128Store()]),
    forLoop(r, op.i32(0), op.get(rows), op.i32(1), [
      ...op.get(r), ...op.get(cb), ...op.i32Mul(), ...op.set(o),
      ...forLoop(j, op.i32(0), op.get(cb), op.i32(16), [
        ...row(g), ...op.v128Load(), ...op.set(gv),
        ...at(dgamma), ...at(dgamma), ...op.v128Load(), ...op.get(gv), ...row(xhat), ...op.v128Load(), ...op.f32x4Mul(), ...op.f32x4Add(), ...op.v128Store(),
        ...at(dbeta), ...at(dbeta), ...op.v128Load(), ...op.get(gv), ...op.f32x4Add(), ...op.v128Store(),
      ]),
    ]),
    op.get(dx), op.if(),
    forLoop(r, op.i32(0), op.get(rows), op.i32(1), [
      ...op.get(r), ...op.get(cb), ...op.i32Mul(), ...op.set(o),
      ...forLoop(j, op.i32(0), op.get(cb), op.i32(16), [
        // (gamma * invStd / rows) * (rows * g - dbeta - xhat * dgamma)
        ...at(gamma), ...op.v128Load(), ...at(invStd), ...op.v128Load(), ...op.f32x4Mul(), ...op.get(n), ...op.f32x4Div(),
        ...op.get(n), ...row(g), ...op.v128Load(), ...op.f32x4Mul(), ...at(dbeta), ...op.v128Load(), ...op.f32x4Sub(),
        ...row(xhat), ...op.v128Load(), ...at(dgamma), ...op.v128Load(), ...op.f32x4Mul(), ...op.f32x4Sub(),
        ...op.f32x4Mul(), ...op.set(v),
        ...row(dx),
        ...op.get(accumulate), ...op.if(), ...row(dx), ...op.v128Load(), ...op.get(v), ...op.f32x4Add(), ...op.set(v), ...op.end(),
        ...op.get(v), ...op.v128Store(),
      ]),
    ]),
    op.end(),
  );
  return f;
}

/** Functions of the module besides the gemm ones, each left out when false (default: all in). */
export interface GemmWasmExtras {
  adam?: boolean;
  sgd?: boolean;
  im2col?: boolean;
  col2im?: boolean;
  biasRelu?: boolean;
  biasAdd?: boolean;
  reluBackward?: boolean;
  mul?: boolean;
  biasGrad?: boolean;
  piecewiseLinear?: boolean;
  piecewiseLinearBackward?: boolean;
  sigmoid?: boolean;
  bytesToFloats?: boolean;
  maxPool?: boolean;
  maxPoolBackward?: boolean;
  maxPoolReluBackward?: boolean;
  avgPool?: boolean;
  avgPoolBackward?: boolean;
  /** conv_fwd, conv_dw, pad_copy and the gradients from dz's non-zero values (conv_sparse_dw, conv_sparse_dx, count_nonzero, crop_copy): the direct convolution (kernelConv2d*). */
  conv?: boolean;
  /** The convolutions the program runs, each given a body of its own in conv_fwd (its index there is its spec). */
  convShapes?: readonly ConvShape[];
  /** csr_rows and sparse_rows: products that skip the zeros of their left operand (kernelSparseGemm). */
  sparse?: boolean;
  /** dropout's mask from the seeded stream, four draws at a time (kernelDropout). */
  dropout?: boolean;
  /** channel_moments, channel_normalize and channel_normalize_backward (kernelChannel*). */
  channels?: boolean;
}

/** The gemm module's bytes (imports a shared memory `env.mem` with these page limits). */
export function buildGemmWasm(
  shape: GemmWasmShape = DEFAULT_SHAPE,
  memory = { min: 1, max: 32768, shared: true },
  extras: GemmWasmExtras = {},
): Uint8Array {
  if (shape.NR % 4 !== 0) throw new Error("NR must be a multiple of 4");
  const unroll = shape.unrollK ?? 1;
  const funcs = [buildPack("pack_a", shape.MR), buildPack("pack_b", shape.NR), buildKernel(shape.MR, shape.NR, true, unroll, shape.fma), buildKernel(shape.MR, shape.NR, false, unroll, shape.fma)];
  if (extras.adam !== false) funcs.push(buildAdam());
  if (extras.im2col !== false) funcs.push(buildIm2col("im2col", false));
  if (extras.col2im !== false) funcs.push(buildIm2col("col2im", true));
  if (extras.sgd !== false) funcs.push(buildSgd());
  if (extras.biasRelu !== false) funcs.push(buildBiasAct(true));
  if (extras.biasAdd !== false) funcs.push(buildBiasAct(false));
  if (extras.reluBackward !== false) funcs.push(buildReluBackward());
  if (extras.mul !== false) funcs.push(buildMul());
  if (extras.biasGrad !== false) funcs.push(buildBiasGrad());
  if (extras.piecewiseLinear !== false) funcs.push(buildPiecewiseLinear(false));
  if (extras.piecewiseLinearBackward !== false) funcs.push(buildPiecewiseLinear(true));
  if (extras.sigmoid !== false) funcs.push(buildSigmoid());
  if (extras.bytesToFloats !== false) funcs.push(buildBytesToFloats());
  if (extras.maxPool !== false) funcs.push(buildMaxPool());
  if (extras.maxPoolBackward !== false) funcs.push(buildMaxPoolBackward());
  if (extras.maxPoolReluBackward !== false) funcs.push(buildMaxPoolReluBackward(), buildReluPoolBiasGrad());
  if (extras.avgPool !== false) funcs.push(buildAvgPool(false));
  if (extras.avgPoolBackward !== false) funcs.push(buildAvgPool(true));
  if (extras.conv !== false) {
    const shapes = extras.convShapes ?? [];
    const first = funcs.length;
    funcs.push(...shapes.map((s, i) => buildShapedConvForward(s, i, shape.fma ?? false)));
    funcs.push(buildConvForward(CONV_MR, shape.fma ?? false, shapes.map((_, i) => first + i)), buildConvFilterGrad(CONV_MR, shape.fma ?? false), buildPadCopy());
    for (const name of ["conv_sparse_dw", "conv_sparse_dx"] as const) {
      const base = funcs.length;
      funcs.push(...shapes.map((s, i) => buildShapedConvSparse(name, s, i, shape.fma ?? false)));
      funcs.push(buildConvSparse(name, shape.fma ?? false, shapes.map((_, i) => base + i)));
    }
    funcs.push(buildCountNonzero(), buildCropCopy(), buildZero());
  }
  if (extras.sparse !== false) funcs.push(buildCsrRows(), buildSparseRows(shape.fma ?? false));
  if (extras.dropout !== false) funcs.push(buildDropout());
  if (extras.channels !== false) funcs.push(buildChannelMoments(), buildChannelNormalize(), buildChannelNormalizeBackward());
  return encodeModule(funcs, memory);
}
