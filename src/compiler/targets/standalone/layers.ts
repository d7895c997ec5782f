// Forward and backward code of every layer kind, for the standalone target. Each emitter gets a
// LayerContext (buffer names, sizes, whether gradients flow to the inputs) and returns TypeScript
// statements; the program assembles them in topological order (forward) and reverse (backward).
//
// Conventions of the generated code: activations are NHWC, batch-major, in Float32Array buffers
// sized for the largest batch (BATCH); `n` is the current batch size. `X_out` holds a layer's
// output, `X_grad` dL/d(output). A gradient written to an input's buffer is either assigned or,
// when that input feeds several layers, accumulated (its buffer is zeroed first).
//
// At the end, GPU_LAYER_STEPS: what each layer kind becomes in the GPU engine's training step (the
// standalone target run as WGSL kernels on WebGPU), so a layer kind is named in one file per target.
import { activationOf, type IRLayer, type IRLayerOf, type IRRef, type LayerKind } from "../../ir.js";
import type { ActivationKind, ActivationLayerKind } from "../../catalog/kinds.js";
import { elementwise, numArgs, type ElementwiseActivation } from "./activations.js";
import { eachActivationLayer } from "../../catalog/layers.js";
import type { WindowShape } from "./kernels/webgpu/wgsl.js";
import { directConvShapes, type ConvShape } from "./kernels/index.js";

export interface InputRef {
  /** Output buffer of the input layer. */
  out: string;
  /** Its gradient buffer, or null when no gradient needs to flow there. */
  grad: string | null;
  /** Accumulate (+=) into grad rather than assign. */
  acc: boolean;
  shape: number[];
  size: number;
  /**
   * The input is a relu layer whose pre-activation gradient (and bias gradient, when it has a
   * bias) this layer writes itself (maxPoolIntoRelu); grad is then null.
   */
  reluGrad?: { dz: string; biasGrad: string | null };
}

/** What an emitter gets for a layer of kind K. */
export type LayerContext<K extends LayerKind = LayerKind> = LayerContextBase & { layer: IRLayerOf<K> };

export interface LayerContextBase {
  /** Identifier prefix for this layer's buffers, e.g. "dense_1". */
  v: string;
  inputs: InputRef[];
  out: string;
  /** dL/d(out), or null when the loss writes straight into the pre-activation gradient (fused). */
  grad: string | null;
  size: number;
  shape: number[];
  /** The loss computes dL/dz itself (softmax + cross-entropy): skip the activation's backward. */
  fused: boolean;
  /** The max_pool after this relu layer writes its dz and bias gradient (maxPoolIntoRelu): skip both here. */
  poolWritesDz: boolean;
  /** At most this share of the layer's dz is not zero, as known when compiling (1 / the pool's window when poolWritesDz; else 1). */
  dzShare: number;
  /** Whether any gradient is needed at this layer (false: forward only). */
  needsGrad: boolean;
  /** The kernel mode the program is generated for (some layers pick their kernels by it: conv2dDirect). */
  kernels: "ts" | "simd";
  /** Declares a buffer; returns its name. */
  buffer(name: string, size: string, comment?: string): string;
  /** Declares a non-float buffer, e.g. argmax indices. */
  intBuffer(name: string, size: string, comment?: string): string;
  /** Registers a weight buffer by role (the program allocates and initialises it); returns names. */
  weight(role: string): { value: string; grad: string };
  /** Marks a kernel-runtime function (im2col -> kernelIm2col, biasRelu -> kernelBiasRelu, ...) as used; returns its name. */
  helper(name: string): string;
  /** Asks the WebAssembly kernels for a direct convolution specialised to this shape (kernelConvShape finds it at run time). */
  convShape(shape: ConvShape): void;
}

export interface LayerCode {
  forward: string;
  backward: string;
  /** For the output layer: where the fused loss writes dL/dz. */
  preGrad?: string;
  /** The buffer the layer's output lives in (when it aliases an input: flatten, reshape). */
  alias?: string;
  /** The bias gradient, when the layer after writes it (poolWritesDz). */
  biasGrad?: string;
}

export type LayerEmitter<K extends LayerKind = LayerKind> = (ctx: LayerContext<K>) => LayerCode;

/** A computed constant printed without float noise. */
export const num = (x: number): string => String(Number(x.toPrecision(12)));

const assign = (acc: boolean) => (acc ? "+=" : "=");

/** The loop bound for n examples of `perSample` values each. */
function times(perSample: number): string {
  return perSample === 1 ? "n" : `n * ${perSample}`;
}

/** a = act(z) over count values by the kernel runtime's function for the activation, or null when it has none. */
function kernelActivationForward(act: IRRef<ActivationKind>, code: ElementwiseActivation, z: string, a: string, count: string, kernel: (helper: string) => string): string | null {
  if (!code.kernel?.forward) return null;
  const args = numArgs(act.args);
  return `// ${act.kind}: out = ${code.forward(args)}
${kernel(code.kernel.forward)}(${[z, a, ...code.kernel.numbers(args), count].join(", ")});`;
}

/** a = act(z) over n examples of `perSample` values (rows of `width` for softmax). */
export function activationForward(
  act: IRRef<ActivationKind>,
  z: string,
  a: string,
  perSample: number,
  width: number,
  /** The kernel runtime's function for a helper (e.g. "piecewiseLinear"), marking it as used. */
  kernel?: (helper: string) => string,
): string {
  const count = times(perSample);
  const code = elementwise(act.kind);
  const viaKernel = code && kernel ? kernelActivationForward(act, code, z, a, count, kernel) : null;
  if (viaKernel) return viaKernel;
  if (!code) {
    return `// softmax over the last axis (${width} values per row), shifted by the row maximum for stability
for (let row = 0; row < ${times(perSample / width)}; row++) {
  const o = row * ${width};
  let max = -Infinity;
  for (let j = 0; j < ${width}; j++) max = Math.max(max, ${z}[o + j]);
  let sum = 0;
  for (let j = 0; j < ${width}; j++) {
    const e = Math.exp(${z}[o + j] - max);
    ${a}[o + j] = e;
    sum += e;
  }
  for (let j = 0; j < ${width}; j++) ${a}[o + j] /= sum;
}`;
  }
  return `// ${act.kind}
for (let i = 0; i < ${count}; i++) {
  const z = ${z}[i];
  ${a}[i] = ${code.forward(numArgs(act.args))};
}`;
}

/** dz (=|+=) act'(z) * g over n examples of `perSample` values. */
export function activationBackward(
  act: IRRef<ActivationKind>,
  z: string,
  a: string,
  g: string,
  dz: string,
  acc: boolean,
  perSample: number,
  width: number,
  /** The kernel runtime's function for a helper (e.g. "reluBackward"), marking it as used. */
  kernel?: (helper: string) => string,
): string {
  const count = times(perSample);
  const code = elementwise(act.kind);
  if (code?.kernel?.backward && !acc && kernel) {
    const args = numArgs(act.args);
    return `// ${act.kind} backward: dz = ${code.backward(args)}
${kernel(code.kernel.backward)}(${[z, g, dz, ...code.kernel.numbers(args), count].join(", ")});`;
  }
  if (!code) {
    return `// softmax backward: dz_j = a_j * (g_j - sum_k g_k a_k)
for (let row = 0; row < ${times(perSample / width)}; row++) {
  const o = row * ${width};
  let dot = 0;
  for (let j = 0; j < ${width}; j++) dot += ${g}[o + j] * ${a}[o + j];
  for (let j = 0; j < ${width}; j++) ${dz}[o + j] ${assign(acc)} ${a}[o + j] * (${g}[o + j] - dot);
}`;
  }
  const expr = code.backward(numArgs(act.args));
  const decls: string[] = [];
  if (/\bz\b/.test(expr)) decls.push(`const z = ${z}[i];`);
  if (/\ba\b/.test(expr)) decls.push(`const a = ${a}[i];`);
  decls.push(`const g = ${g}[i];`);
  return `// ${act.kind} backward
for (let i = 0; i < ${count}; i++) {
  ${decls.join("\n  ")}
  ${dz}[i] ${assign(acc)} ${expr};
}`;
}

/**
 * The part shared by dense and conv2d: activation buffers around a linear map. reluFromOut: the
 * layer writes relu's output straight from its sums (conv_fwd's epilogue), keeping no z; relu's
 * gradient then reads out, which is > 0 exactly where z is.
 */
function linearWithActivation(ctx: LayerContext, reluFromOut = false): { z: string; dz: string | null; act: IRRef<ActivationKind>; actForward: string; actBackward: string } {
  const act = activationOf(ctx.layer);
  const width = ctx.shape[ctx.shape.length - 1]!;
  if (act.kind === "linear") {
    return { z: ctx.out, dz: ctx.needsGrad ? (ctx.grad ?? ctx.buffer(`${ctx.v}_dz`, `BATCH * ${ctx.size}`)) : null, act, actForward: "", actBackward: "" };
  }
  if (reluFromOut && act.kind === "relu") {
    const dz = ctx.needsGrad ? ctx.buffer(`${ctx.v}_dz`, `BATCH * ${ctx.size}`, "dL/d(pre-activation)") : null;
    // relu's comment line, then what stands for z
    const backward = ctx.fused || !dz || !ctx.grad ? "" : activationBackward(act, ctx.out, ctx.out, ctx.grad, dz, false, ctx.size, width, ctx.helper).replace("\n", ", reading out for z (out > 0 exactly where z > 0)\n");
    return { z: ctx.out, dz, act, actForward: "", actBackward: backward };
  }
  const z = ctx.buffer(`${ctx.v}_z`, `BATCH * ${ctx.size}`, "pre-activation");
  const dz = ctx.needsGrad ? ctx.buffer(`${ctx.v}_dz`, `BATCH * ${ctx.size}`, "dL/d(pre-activation)") : null;
  return {
    z,
    dz,
    act,
    actForward: activationForward(act, z, ctx.out, ctx.size, width),
    actBackward: ctx.fused || !dz || !ctx.grad ? "" : activationBackward(act, z, ctx.out, ctx.grad, dz, false, ctx.size, width, ctx.helper),
  };
}

function biasBackward(ctx: LayerContext, dz: string, db: string, rows: string, cols: number): string {
  return `// dBias[j] = sum over the rows of dz[r, j]
${ctx.helper("biasGrad")}(${dz}, ${db}, ${rows}, ${cols});`;
}

/**
 * Adds the bias to z and, for an elementwise activation, applies it in the same pass
 * (a = act(z + b)); returns the code and whether the activation was done.
 */
function biasAndActivation(ctx: LayerContext, act: IRRef<ActivationKind>, z: string, a: string, b: string, rows: string, cols: number): { code: string; activated: boolean } {
  const code = elementwise(act.kind);
  if (act.kind === "linear" || !code) return { code: biasForward(ctx, z, b, rows, cols), activated: false };
  if (act.kind === "relu") {
    return {
      code: `// add the bias, then relu: z[r, j] += bias[j]; out = z > 0 ? z : 0
${ctx.helper("biasRelu")}(${z}, ${a}, ${b}, ${rows}, ${cols});`,
      activated: true,
    };
  }
  // simd: the kernel runtime's function over the whole batch (WebAssembly SIMD), after the bias
  const viaKernel = ctx.kernels === "simd" ? kernelActivationForward(act, code, z, a, `${rows} * ${cols}`, ctx.helper) : null;
  if (viaKernel) return { code: `${biasForward(ctx, z, b, rows, cols)}\n${viaKernel}`, activated: true };
  return {
    code: `// add the bias, then ${act.kind}
for (let r = 0; r < ${rows}; r++) {
  const o = r * ${cols};
  for (let j = 0; j < ${cols}; j++) {
    const z = ${z}[o + j] + ${b}[j];
    ${z}[o + j] = z;
    ${a}[o + j] = ${code.forward(numArgs(act.args))};
  }
}`,
    activated: true,
  };
}

function biasForward(ctx: LayerContext, z: string, b: string, rows: string, cols: number): string {
  return `// add the bias: z[r, j] += bias[j]
${ctx.helper("biasAdd")}(${z}, ${b}, ${rows}, ${cols});`;
}

/**
 * Which of a dense layer's two products with its input (forward, and the kernel gradient) skip
 * the input's zeros (kernelSparseGemm) rather than run gemm. Only with the WebAssembly kernels, and
 * for an input that takes no gradient: the data, or what is computed from it alone, which for
 * MNIST is about 80% zeros (the kernel checks each batch, and runs gemm when more than a third is
 * not zero). Each product lists the non-zero values of its own operand (x, or xᵀ) in a pass over
 * the input whatever the layer's width, so each pays from its own width. Measured per product on
 * a batch of 100 MNIST images (CPU µs, sparse against gemm): forward, 16 units 133 vs 214, 50
 * units 170-300 vs 330-500, 512 units 1,400 vs 4,800, and a tie at 10; the kernel gradient, whose
 * listing of xᵀ is the costlier, 50 units 470 vs 490, 64 units 440 vs 530, 128 units 540 vs 890,
 * 512 units 1,600 vs 4,200, but twice gemm's time below 32.
 */
export function denseSkipsZeros(kernels: "ts" | "simd", inputGrad: boolean, units: number): { forward: boolean; kernelGrad: boolean } {
  const sparse = kernels === "simd" && !inputGrad;
  return { forward: sparse && units >= 16, kernelGrad: sparse && units >= 128 };
}

const dense: LayerEmitter<"dense"> = (ctx) => {
  const x = ctx.inputs[0]!;
  const units = ctx.size;
  const kernel = ctx.weight("kernel");
  const hasBias = ctx.layer.weights.some((w) => w.role === "bias");
  const bias = hasBias ? ctx.weight("bias") : null;
  const { z, dz, act, actForward, actBackward } = linearWithActivation(ctx);
  const fusedBias = bias ? biasAndActivation(ctx, act, z, ctx.out, bias.value, "n", units) : null;
  const skips = denseSkipsZeros(ctx.kernels, x.grad !== null, units);
  const csr = skips.forward || skips.kernelGrad ? ctx.intBuffer(`${ctx.v}_csr`, `Math.max(BATCH, ${x.size}) + 1 + 2 * BATCH * ${x.size}`, "x's non-zero values, listed by kernelSparseGemm") : null;
  const forward = [
    `// ${z} = x · kernel${bias ? " + bias" : ""}   ([n, ${x.size}] · [${x.size}, ${units}])${skips.forward ? ", over x's non-zero values" : ""}`,
    csr && skips.forward
      ? `${ctx.helper("sparseGemm")}(false, n, ${units}, ${x.size}, ${x.out}, ${kernel.value}, ${z}, ${csr});`
      : `gemm(false, false, n, ${units}, ${x.size}, ${x.out}, ${kernel.value}, ${z}, false);`,
    fusedBias ? fusedBias.code : "",
    fusedBias?.activated ? "" : actForward,
  ];
  const backward = !dz
    ? []
    : [
        actBackward,
        `// dKernel = xᵀ · dz; dBias = column sums of dz${x.grad ? "; dx = dz · kernelᵀ" : ""}`,
        csr && skips.kernelGrad
          ? `${ctx.helper("sparseGemm")}(true, ${x.size}, ${units}, n, ${x.out}, ${dz}, ${kernel.grad}, ${csr});`
          : `gemm(true, false, ${x.size}, ${units}, n, ${x.out}, ${dz}, ${kernel.grad}, false);`,
        bias ? biasBackward(ctx, dz, bias.grad, "n", units) : "",
        x.grad ? `gemm(false, true, n, ${x.size}, ${units}, ${dz}, ${kernel.value}, ${x.grad}, ${x.acc});` : "",
      ];
  return { forward: forward.filter(Boolean).join("\n"), backward: backward.filter(Boolean).join("\n"), preGrad: dz ?? undefined };
};

/** Geometry of a 2-D window op (conv or pool) with Keras/TensorFlow "same"/"valid" padding. */
export function windowGeometry(
  inShape: number[],
  outShape: number[],
  kernel: [number, number],
  strides: [number, number],
): { H: number; W: number; C: number; OH: number; OW: number; padTop: number; padLeft: number } {
  const [H, W, C] = inShape as [number, number, number];
  const [OH, OW] = outShape as [number, number];
  const padH = Math.max((OH - 1) * strides[0] + kernel[0] - H, 0);
  const padW = Math.max((OW - 1) * strides[1] + kernel[1] - W, 0);
  return { H, W, C, OH, OW, padTop: Math.floor(padH / 2), padLeft: Math.floor(padW / 2) };
}

/**
 * Whether a conv2d layer runs as a direct convolution (kernelConv2dForward / FilterGrad /
 * InputGrad: windows read in place from a zero-bordered copy of the input, no patch matrix)
 * rather than im2col + gemm. Only with the WebAssembly kernels: in plain TypeScript, im2col and
 * gemm's 4 x 4 blocked loops train examples/cnn.nn 2.3x faster than the direct loops (344 vs 151
 * samples/s); with WebAssembly the direct convolution trains it 1.7 to 1.95x faster (bench/README.md).
 * The direct kernels' register tile is 8 output channels wide, so the filters must be a multiple
 * of 8; the input gradient runs as a convolution of dz with the kernel turned around, which needs
 * stride 1 and input channels a multiple of 8 (only when the input takes a gradient). Narrow
 * convolutions are where im2col costs most (the patch matrix is kh*kw times the input, written and
 * read again every step) and where gemm's packing pays least. With conv_fwd's bodies specialised to
 * each shape, bench/conv.ts measures the direct form faster on every seed model's layer, up to 128
 * filters (2026-12-03, best of 3 alternating rounds, im2col / direct: 1.65 to 3.35x up to 32
 * filters, 1.10 and 1.11 at 64, 1.08 at 128); above 128 nothing was measured, and im2col stays.
 */
export function conv2dDirect(kernels: "ts" | "simd", inShape: number[], filters: number, strides: [number, number], inputGrad: boolean): boolean {
  const C = inShape[2]!;
  if (kernels !== "simd" || filters % 8 !== 0 || filters > 128) return false;
  return !inputGrad || (C % 8 === 0 && strides[0] === 1 && strides[1] === 1);
}

/**
 * A conv2d's bias gradient (both forms): its pass over dz, or, when the max_pool after writes it
 * with dz (poolWritesDz), nothing here and the buffer handed on (LayerCode.biasGrad); note: the
 * comment's words on where dz and dBias come from.
 */
function convBiasGrad(ctx: LayerContext, bias: { grad: string } | null, dz: string, rows: number, F: number): { note: string; code: string; handed?: string } {
  if (ctx.poolWritesDz) return { note: `dz${bias ? " and dBias" : ""} written by the max_pool after (relu's gradient through it)`, code: "", handed: bias?.grad };
  return { note: "dBias = column sums of dz", code: bias ? biasBackward(ctx, dz, bias.grad, `n * ${rows}`, F) : "" };
}

/** What both conv2d emitters read of the layer: its input, window, geometry, sizes and weights. */
function conv2dShapes(ctx: Parameters<LayerEmitter<"conv2d">>[0]) {
  const x = ctx.inputs[0]!;
  const [KH, KW] = ctx.layer.args.kernel_size;
  const [SH, SW] = ctx.layer.args.strides;
  const g = windowGeometry(x.shape, ctx.shape, [KH, KW], [SH, SW]);
  const F = ctx.shape[2]!;
  const patch = KH * KW * g.C;
  const rows = g.OH * g.OW;
  const kernel = ctx.weight("kernel");
  const hasBias = ctx.layer.weights.some((w) => w.role === "bias");
  const bias = hasBias ? ctx.weight("bias") : null;
  return { x, KH, KW, SH, SW, g, F, patch, rows, kernel, bias };
}

/** The direct convolution (see conv2dDirect): the same layer as conv2d's im2col path, other kernels. */
const conv2dDirectEmitter: LayerEmitter<"conv2d"> = (ctx) => {
  const { x, KH, KW, SH, SW, g, F, patch, rows, kernel, bias } = conv2dShapes(ctx);
  // the shapes the kernels specialise (the forward pass; the input gradient's convolution), and
  // the padded extent the windows read (kernelConvPadded in the kernel runtime)
  const shapes = directConvShapes(
    { h: g.H, w: g.W, c: g.C, kh: KH, kw: KW, sh: SH, sw: SW, oh: g.OH, ow: g.OW, padTop: g.padTop, padLeft: g.padLeft, f: F },
    ctx.needsGrad && x.grad !== null,
  );
  for (const shape of shapes) ctx.convShape(shape);
  const { hp: HP, wp: WP } = shapes[0]!;
  const xpad = ctx.buffer(`${ctx.v}_xpad`, `BATCH * ${HP * WP * g.C}`, `the input with a zero border [n, ${HP}, ${WP}, ${g.C}]`);
  const koff = ctx.intBuffer(`${ctx.v}_koff`, `${patch}`);
  // the bias, and relu, added by the convolution as it stores each sum (no pass over z after it)
  const kind = activationOf(ctx.layer).kind;
  const epilogue = bias !== null && (kind === "relu" || kind === "linear");
  const { z, dz, act, actForward, actBackward } = linearWithActivation(ctx, epilogue);
  const fusedBias = bias && !epilogue ? biasAndActivation(ctx, act, z, ctx.out, bias.value, `n * ${rows}`, F) : null;
  const geo = `n, ${g.H}, ${g.W}, ${g.C}, ${KH}, ${KW}, ${SH}, ${SW}, ${g.OH}, ${g.OW}, ${g.padTop}, ${g.padLeft}, ${F}`;
  const forward = [
    `// ${KH}x${KW} convolution, stride ${SH}x${SW}, padding ${g.padTop}/${g.padLeft}, direct: each output's window read in place from the padded input · kernel [${patch}, ${F}]${epilogue ? `,\n// then + bias${kind === "relu" ? " and relu (0 where not > 0)" : ""} as each sum is stored` : ""}`,
    `${ctx.helper("conv2dForward")}(${x.out}, ${xpad}, ${koff}, ${kernel.value}, ${z}, ${geo}${epilogue ? `, ${bias.value}, ${kind === "relu"}` : ""});`,
    fusedBias ? fusedBias.code : "",
    fusedBias?.activated || epilogue ? "" : actForward,
  ];
  let backward: string[] = [];
  const db = dz ? convBiasGrad(ctx, bias, dz, rows, F) : null;
  if (dz && db) {
    // dz's share of non-zero values, where a max_pool after writes it: no need to count them
    const share = ctx.dzShare < 1 ? `, ${ctx.dzShare}` : "";
    backward = [
      actBackward,
      `// dKernel = windowsᵀ · dz (from the padded input the forward pass left); ${db.note}${share ? `;\n// at most one value in ${Math.round(1 / ctx.dzShare)} of dz is not zero (one a pooling window), so they need no counting` : ""}`,
      `${ctx.helper("conv2dFilterGrad")}(${xpad}, ${koff}, ${dz}, ${kernel.grad}, ${geo}${share});`,
      db.code,
    ];
    if (x.grad) {
      const dzpad = ctx.buffer(`${ctx.v}_dzpad`, `BATCH * ${(g.H + KH - 1) * (g.W + KW - 1) * F}`, `dz with a zero border [n, ${g.H + KH - 1}, ${g.W + KW - 1}, ${F}]`);
      const dkoff = ctx.intBuffer(`${ctx.v}_dkoff`, `${KH * KW * F}`);
      const wflip = ctx.buffer(`${ctx.v}_wflip`, `${patch * F}`, `the kernel turned around [${KH}, ${KW}, ${F}, ${g.C}]`);
      backward.push(
        `// dx ${x.acc ? "+" : ""}= dz (zero-bordered) convolved with the kernel turned around`,
        `${ctx.helper("conv2dInputGrad")}(${dz}, ${dzpad}, ${dkoff}, ${wflip}, ${kernel.value}, ${x.grad}, ${x.acc}, ${geo}${share});`,
      );
    }
  }
  return { forward: forward.filter(Boolean).join("\n"), backward: backward.filter(Boolean).join("\n"), preGrad: dz ?? undefined, biasGrad: db?.handed };
};

const conv2d: LayerEmitter<"conv2d"> = (ctx) => {
  const { x, KH, KW, SH, SW, g, F, patch, rows, kernel, bias } = conv2dShapes(ctx);
  if (conv2dDirect(ctx.kernels, x.shape, F, [SH, SW], x.grad !== null)) return conv2dDirectEmitter(ctx);
  const im2col = ctx.helper("im2col");
  const cols = ctx.buffer(`${ctx.v}_cols`, `BATCH * ${rows * patch}`, `im2col patches [n * ${rows}, ${patch}]`);
  const { z, dz, act, actForward, actBackward } = linearWithActivation(ctx);
  const fusedBias = bias ? biasAndActivation(ctx, act, z, ctx.out, bias.value, `n * ${rows}`, F) : null;
  const geo = `${g.H}, ${g.W}, ${g.C}, ${KH}, ${KW}, ${SH}, ${SW}, ${g.OH}, ${g.OW}, ${g.padTop}, ${g.padLeft}`;
  const forward = [
    `// ${KH}x${KW} convolution, stride ${SH}x${SW}, padding ${g.padTop}/${g.padLeft}: patches [n*${rows}, ${patch}] · kernel [${patch}, ${F}]`,
    `${im2col}(${x.out}, ${cols}, n, ${geo});`,
    `gemm(false, false, n * ${rows}, ${F}, ${patch}, ${cols}, ${kernel.value}, ${z}, false);`,
    fusedBias ? fusedBias.code : "",
    fusedBias?.activated ? "" : actForward,
  ];
  let backward: string[] = [];
  const db = dz ? convBiasGrad(ctx, bias, dz, rows, F) : null;
  if (dz && db) {
    backward = [
      actBackward,
      `// dKernel = patchesᵀ · dz; ${db.note}`,
      `gemm(true, false, ${patch}, ${F}, n * ${rows}, ${cols}, ${dz}, ${kernel.grad}, false);`,
      db.code,
    ];
    if (x.grad) {
      const col2im = ctx.helper("col2im");
      backward.push(
        `// dx: dPatches = dz · kernelᵀ (reusing the patch buffer), scattered back onto the image`,
        `gemm(false, true, n * ${rows}, ${patch}, ${F}, ${dz}, ${kernel.value}, ${cols}, false);`,
        x.acc ? "" : `${x.grad}.fill(0, 0, n * ${x.size});`,
        `${col2im}(${cols}, ${x.grad}, n, ${geo});`,
      );
    }
  }
  return { forward: forward.filter(Boolean).join("\n"), backward: backward.filter(Boolean).join("\n"), preGrad: dz ?? undefined, biasGrad: db?.handed };
};

/**
 * Whether a max_pool's backward pass writes the gradient of the relu conv2d before it (its only
 * reader) straight into that layer's dz (kernelMaxPoolReluBackward): relu's gradient is g at each
 * window's maximum when the maximum is > 0 (z > 0 there), 0 elsewhere, so one pass replaces the
 * fill, the scatter and relu's backward pass, and sums the bias gradient over the pooled values
 * (a quarter of dz's rows for 2x2 windows). Only with the WebAssembly kernels (the ts mode keeps
 * the plain steps a reader follows), for windows side by side that cover the image (stride = pool
 * size, no padding, sizes divisible) and channels a multiple of 4. The seed CNNs' 2x2 pools: 10%
 * of cnn's step was the three passes (bench/README.md).
 */
export function maxPoolIntoRelu(kernels: "ts" | "simd", producer: IRLayer, pool: IRLayer): boolean {
  if (kernels !== "simd" || producer.kind !== "conv2d" || pool.kind !== "max_pool" || activationOf(producer).kind !== "relu") return false;
  const { pool_size: [PH, PW], strides: [SH, SW] } = (pool as IRLayerOf<"max_pool">).args;
  const g = windowGeometry(pool.inputShapes[0]!, pool.outputShape, [PH, PW], [SH, SW]);
  return PH === SH && PW === SW && g.padTop === 0 && g.padLeft === 0 && g.OH * PH === g.H && g.OW * PW === g.W && g.C % 4 === 0;
}

function pool(kind: "max" | "avg"): LayerEmitter<"max_pool" | "avg_pool"> {
  return (ctx) => {
    const x = ctx.inputs[0]!;
    const [PH, PW] = ctx.layer.args.pool_size;
    const [SH, SW] = ctx.layer.args.strides;
    const g = windowGeometry(x.shape, ctx.shape, [PH, PW], [SH, SW]);
    // the kernels' window arguments: n, h, w, c, ph, pw, sh, sw, oh, ow, padTop, padLeft
    const geo = `n, ${g.H}, ${g.W}, ${g.C}, ${PH}, ${PW}, ${SH}, ${SW}, ${g.OH}, ${g.OW}, ${g.padTop}, ${g.padLeft}`;
    const padding = g.padTop || g.padLeft ? `, padding ${g.padTop}/${g.padLeft}` : "";
    const zero = x.grad && !x.acc ? `${x.grad}.fill(0, 0, n * ${x.size});\n` : "";
    if (kind === "max") {
      const arg = ctx.intBuffer(`${ctx.v}_argmax`, `BATCH * ${ctx.size}`);
      const forward = `// ${PH}x${PW} max pooling, stride ${SH}x${SW}${padding}: [${g.H}, ${g.W}, ${g.C}] -> [${g.OH}, ${g.OW}, ${g.C}]; ${arg} remembers where each maximum came from
${ctx.helper("maxPool")}(${x.out}, ${ctx.out}, ${arg}, ${geo});`;
      if (x.reluGrad && ctx.grad) {
        const { dz, biasGrad } = x.reluGrad;
        const backward = `// the gradient goes to each window's maximum and through the relu before (where that maximum is > 0):
// the relu layer's dz, written whole${biasGrad ? ", and its bias gradient (the column sums of dz)" : ""}
${ctx.helper("maxPoolReluBackward")}(${ctx.grad}, ${arg}, ${ctx.out}, ${dz}, ${biasGrad ?? "null"}, n, ${g.H}, ${g.W}, ${g.C}, ${PH}, ${PW}, ${g.OH}, ${g.OW});`;
        return { forward, backward };
      }
      const backward =
        x.grad && ctx.grad
          ? `// the gradient goes to the position of each window's maximum
${zero}${ctx.helper("maxPoolBackward")}(${ctx.grad}, ${arg}, ${x.grad}, n * ${ctx.size});`
          : "";
      return { forward, backward };
    }
    const forward = `// ${PH}x${PW} average pooling, stride ${SH}x${SW}${padding} (padding excluded from the average): [${g.H}, ${g.W}, ${g.C}] -> [${g.OH}, ${g.OW}, ${g.C}]
${ctx.helper("avgPool")}(${x.out}, ${ctx.out}, ${geo});`;
    const backward =
      x.grad && ctx.grad
        ? `// each window spreads its gradient evenly over its inputs
${zero}${ctx.helper("avgPoolBackward")}(${ctx.grad}, ${x.grad}, ${geo});`
        : "";
    return { forward, backward };
  };
}

/** Global pooling: one value per channel over all positions, [h, w, c] -> [c]. */
function globalPool(kind: "max" | "avg"): LayerEmitter<"global_max_pool" | "global_avg_pool"> {
  return (ctx) => {
    const x = ctx.inputs[0]!;
    const [H, W, C] = x.shape as [number, number, number];
    const HW = H * W;
    const zero = x.grad && !x.acc ? `${x.grad}.fill(0, 0, n * ${x.size});\n` : "";
    if (kind === "avg") {
      const forward = `// global average pooling: the mean of each of the ${C} channels over the ${H}x${W} positions
for (let b = 0; b < n; b++) {
  for (let c = 0; c < ${C}; c++) {
    let sum = 0;
    for (let p = 0; p < ${HW}; p++) sum += ${x.out}[(b * ${HW} + p) * ${C} + c];
    ${ctx.out}[b * ${C} + c] = sum / ${HW};
  }
}`;
      const backward =
        x.grad && ctx.grad
          ? `// each channel's gradient is spread evenly over its ${HW} positions
${zero}for (let b = 0; b < n; b++) {
  for (let c = 0; c < ${C}; c++) {
    const g = ${ctx.grad}[b * ${C} + c] / ${HW};
    for (let p = 0; p < ${HW}; p++) ${x.grad}[(b * ${HW} + p) * ${C} + c] += g;
  }
}`
          : "";
      return { forward, backward };
    }
    const arg = ctx.intBuffer(`${ctx.v}_argmax`, `BATCH * ${ctx.size}`);
    const forward = `// global max pooling: the largest value of each of the ${C} channels; remembers where it was
for (let b = 0; b < n; b++) {
  for (let c = 0; c < ${C}; c++) {
    let at = b * ${HW} * ${C} + c;
    let best = ${x.out}[at];
    for (let p = 1; p < ${HW}; p++) {
      const i = (b * ${HW} + p) * ${C} + c;
      if (${x.out}[i] > best) {
        best = ${x.out}[i];
        at = i;
      }
    }
    ${ctx.out}[b * ${C} + c] = best;
    ${arg}[b * ${C} + c] = at;
  }
}`;
    const backward =
      x.grad && ctx.grad
        ? `// the gradient goes to the position of each channel's maximum
${zero}for (let i = 0; i < n * ${C}; i++) ${x.grad}[${arg}[i]] += ${ctx.grad}[i];`
        : "";
    return { forward, backward };
  };
}

/** flatten and reshape: NHWC is row-major, so the output is the input's buffer, viewed differently. */
const view: LayerEmitter<"flatten" | "reshape"> = (ctx) => {
  const x = ctx.inputs[0]!;
  return {
    forward: `// ${ctx.layer.kind}: [${x.shape.join(", ")}] -> [${ctx.shape.join(", ")}] shares the input's buffer (row-major)`,
    backward: "",
    alias: x.out,
  };
};

const dropout: LayerEmitter<"dropout"> = (ctx) => {
  const x = ctx.inputs[0]!;
  const rate = Number(ctx.layer.args.rate);
  const mask = ctx.buffer(`${ctx.v}_mask`, `BATCH * ${ctx.size}`, "0 or 1/(1-rate) per value");
  const keep = 1 - rate;
  // With the WebAssembly kernels the mask is drawn four values at a time (the same numbers).
  const draw =
    ctx.kernels === "simd"
      ? `${ctx.helper("dropout")}(${x.out}, ${ctx.out}, ${mask}, n * ${ctx.size}, ${rate}, 1 / ${num(keep)}, random);`
      : `for (let i = 0; i < n * ${ctx.size}; i++) {
    ${mask}[i] = random.next() < ${rate} ? 0 : 1 / ${num(keep)};
    ${ctx.out}[i] = ${x.out}[i] * ${mask}[i];
  }`;
  const forward = `if (training) {
  // keep each value with probability ${num(keep)}, scaled by 1/${num(keep)} so the expected sum is unchanged
  ${draw}
} else {
  for (let i = 0; i < n * ${ctx.size}; i++) ${ctx.out}[i] = ${x.out}[i];
}`;
  // the gradient is g times the mask; added onto the input's (another layer reads it too) in the loop
  const backward = !(x.grad && ctx.grad)
    ? ""
    : ctx.kernels === "simd" && !x.acc
      ? `${ctx.helper("mul")}(${ctx.grad}, ${mask}, ${x.grad}, n * ${ctx.size});`
      : `for (let i = 0; i < n * ${ctx.size}; i++) ${x.grad}[i] ${assign(x.acc)} ${ctx.grad}[i] * ${mask}[i];`;
  return { forward, backward };
};

const batchNorm: LayerEmitter<"batch_norm"> = (ctx) => {
  const x = ctx.inputs[0]!;
  const C = ctx.shape[ctx.shape.length - 1]!;
  const rowsPerSample = ctx.size / C;
  const momentum = Number(ctx.layer.args.momentum);
  const eps = Number(ctx.layer.args.epsilon);
  const roles = new Set(ctx.layer.weights.map((w) => w.role));
  const gamma = roles.has("gamma") ? ctx.weight("gamma") : null;
  const beta = roles.has("beta") ? ctx.weight("beta") : null;
  const mm = ctx.weight("moving_mean").value;
  const mv = ctx.weight("moving_variance").value;
  const mean = ctx.buffer(`${ctx.v}_mean`, `${C}`, "batch mean per channel");
  const invStd = ctx.buffer(`${ctx.v}_inv_std`, `${C}`, "1 / sqrt(batch variance + epsilon)");
  const xhat = ctx.buffer(`${ctx.v}_xhat`, `BATCH * ${ctx.size}`, "normalised input");
  const g = gamma ? `${gamma.value}[c]` : "1";
  const bt = beta ? ` + ${beta.value}[c]` : "";
  const R = times(rowsPerSample);
  // With the WebAssembly kernels (and gamma and beta), the batch's passes are kernel calls.
  const kernels = ctx.kernels === "simd" && gamma !== null && beta !== null;
  const statistics = kernels
    ? `${ctx.helper("channelMoments")}(${x.out}, rows, ${C}, ${mean}, ${invStd}); // the mean, and the sum of squared deviations in ${invStd}`
    : `${mean}.fill(0);
  ${invStd}.fill(0);
  for (let r = 0; r < rows; r++) for (let c = 0; c < ${C}; c++) ${mean}[c] += ${x.out}[r * ${C} + c];
  for (let c = 0; c < ${C}; c++) ${mean}[c] /= rows;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < ${C}; c++) {
      const d = ${x.out}[r * ${C} + c] - ${mean}[c];
      ${invStd}[c] += d * d;
    }
  }`;
  const normalize = kernels
    ? `${ctx.helper("channelNormalize")}(${x.out}, ${mean}, ${invStd}, ${gamma.value}, ${beta.value}, ${xhat}, ${ctx.out}, rows, ${C});`
    : `for (let r = 0; r < rows; r++) {
    for (let c = 0; c < ${C}; c++) {
      const i = r * ${C} + c;
      ${xhat}[i] = (${x.out}[i] - ${mean}[c]) * ${invStd}[c];
      ${ctx.out}[i] = ${g} * ${xhat}[i]${bt};
    }
  }`;
  const forward = `if (training) {
  // statistics of this batch, per channel (biased variance), and the moving averages for inference
  const rows = ${R};
  ${statistics}
  for (let c = 0; c < ${C}; c++) {
    const variance = ${invStd}[c] / rows;
    ${mm}[c] = ${mm}[c] * ${momentum} + ${mean}[c] * ${num(1 - momentum)};
    ${mv}[c] = ${mv}[c] * ${momentum} + variance * ${num(1 - momentum)};
    ${invStd}[c] = 1 / Math.sqrt(variance + ${eps});
  }
  ${normalize}
} else {
  // inference: the moving statistics
  for (let r = 0; r < ${R}; r++) {
    for (let c = 0; c < ${C}; c++) {
      const i = r * ${C} + c;
      ${ctx.out}[i] = (${g} * (${x.out}[i] - ${mm}[c])) / Math.sqrt(${mv}[c] + ${eps})${bt};
    }
  }
}`;
  const lines: string[] = [];
  if (ctx.grad) {
    const dg = gamma ? gamma.grad : ctx.buffer(`${ctx.v}_dgamma`, `${C}`);
    const db = beta ? beta.grad : ctx.buffer(`${ctx.v}_dbeta`, `${C}`);
    if (kernels) {
      lines.push(`// dGamma = sum(g * xhat), dBeta = sum(g) per channel${x.grad ? ";\n// dx = gamma * invStd / R * (R * g - dBeta - xhat * dGamma)" : ""}
${ctx.helper("channelNormalizeBackward")}(${ctx.grad}, ${xhat}, ${gamma.value}, ${invStd}, ${dg}, ${db}, ${x.grad ?? "null"}, ${R}, ${C}, ${x.acc});`);
      return { forward, backward: lines.join("\n") };
    }
    lines.push(`// dGamma = sum(g * xhat), dBeta = sum(g) per channel${x.grad ? ";\n// dx = gamma * invStd / R * (R * g - dBeta - xhat * dGamma)" : ""}
const rows = ${R};
${dg}.fill(0);
${db}.fill(0);
for (let r = 0; r < rows; r++) {
  for (let c = 0; c < ${C}; c++) {
    const i = r * ${C} + c;
    ${dg}[c] += ${ctx.grad}[i] * ${xhat}[i];
    ${db}[c] += ${ctx.grad}[i];
  }
}`);
    if (x.grad) {
      lines.push(`for (let r = 0; r < rows; r++) {
  for (let c = 0; c < ${C}; c++) {
    const i = r * ${C} + c;
    ${x.grad}[i] ${assign(x.acc)} ((${g} * ${invStd}[c]) / rows) * (rows * ${ctx.grad}[i] - ${db}[c] - ${xhat}[i] * ${dg}[c]);
  }
}`);
    }
  }
  return { forward, backward: lines.join("\n") };
};

/** Activation layers: z is the input's buffer, dz the input's gradient. */
const activationLayer: LayerEmitter<ActivationLayerKind> = (ctx) => {
  const x = ctx.inputs[0]!;
  const act = activationOf(ctx.layer);
  const width = ctx.shape[ctx.shape.length - 1]!;
  const forward = activationForward(act, x.out, ctx.out, ctx.size, width, ctx.helper);
  const backward =
    x.grad && ctx.grad && !ctx.fused ? activationBackward(act, x.out, ctx.out, ctx.grad, x.grad, x.acc, ctx.size, width, ctx.helper) : "";
  return { forward, backward, preGrad: x.grad ?? undefined };
};

const prelu: LayerEmitter<"prelu"> = (ctx) => {
  const x = ctx.inputs[0]!;
  const alpha = ctx.weight("alpha");
  const alphaShape = ctx.layer.weights.find((w) => w.role === "alpha")!.shape;
  const A = alphaShape.reduce((p, d) => p * d, 1);
  if (ctx.size % A !== 0) throw new Error(`standalone: prelu alpha shape [${alphaShape.join(", ")}] does not tile its input`);
  const idx = A === ctx.size ? `i % ${A}` : `i % ${A}`;
  const forward = `// x if x > 0 else alpha * x, one learned alpha per ${A === ctx.size ? "input value" : "channel"}
for (let i = 0; i < n * ${ctx.size}; i++) {
  const z = ${x.out}[i];
  ${ctx.out}[i] = z > 0 ? z : ${alpha.value}[${idx}] * z;
}`;
  const backward = ctx.grad
    ? `// dAlpha = sum over the batch of g * x where x <= 0
${alpha.grad}.fill(0);
for (let i = 0; i < n * ${ctx.size}; i++) {
  const z = ${x.out}[i];
  const g = ${ctx.grad}[i];
  if (z <= 0) ${alpha.grad}[${idx}] += g * z;${x.grad ? `\n  ${x.grad}[i] ${assign(x.acc)} z > 0 ? g : ${alpha.value}[${idx}] * g;` : ""}
}`
    : "";
  return { forward, backward };
};

const add: LayerEmitter<"add"> = (ctx) => {
  const count = `n * ${ctx.size}`;
  const sum = ctx.inputs.map((x) => `${x.out}[i]`).join(" + ");
  const forward = `for (let i = 0; i < ${count}; i++) ${ctx.out}[i] = ${sum};`;
  const backward = ctx.grad
    ? ctx.inputs
        .filter((x) => x.grad)
        .map((x) => `for (let i = 0; i < ${count}; i++) ${x.grad}[i] ${assign(x.acc)} ${ctx.grad}[i];`)
        .join("\n")
    : "";
  return { forward, backward };
};

const concat: LayerEmitter<"concat"> = (ctx) => {
  const rank = ctx.shape.length;
  let axis = ctx.layer.args.axis;
  if (axis < 0) axis += rank;
  // Rows: the product of dims before the axis; each input contributes a block of its size per row.
  const outer = ctx.shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const outBlock = ctx.size / outer;
  let offset = 0;
  const fw: string[] = [];
  const bw: string[] = [];
  for (const x of ctx.inputs) {
    const block = x.size / outer;
    fw.push(`for (let r = 0; r < n * ${outer}; r++) {
  for (let j = 0; j < ${block}; j++) ${ctx.out}[r * ${outBlock} + ${offset} + j] = ${x.out}[r * ${block} + j];
}`);
    if (x.grad && ctx.grad) {
      bw.push(`for (let r = 0; r < n * ${outer}; r++) {
  for (let j = 0; j < ${block}; j++) ${x.grad}[r * ${block} + j] ${assign(x.acc)} ${ctx.grad}[r * ${outBlock} + ${offset} + j];
}`);
    }
    offset += block;
  }
  return { forward: fw.join("\n"), backward: bw.join("\n") };
};

const input: LayerEmitter<"input"> = () => ({ forward: "", backward: "" });

/** Every layer kind of the catalog and its emitter: a kind without one fails the typecheck. */
export const LAYER_EMITTERS: { [K in LayerKind]: (ctx: LayerContext<K>) => LayerCode } = {
  input,
  dense,
  conv2d,
  max_pool: pool("max"),
  avg_pool: pool("avg"),
  global_avg_pool: globalPool("avg"),
  global_max_pool: globalPool("max"),
  flatten: view,
  reshape: view,
  dropout,
  batch_norm: batchNorm,
  ...eachActivationLayer(activationLayer),
  prelu,
  add,
  concat,
};

// What each layer kind becomes in the GPU engine's training step (`nnc run --gpu --engine
// standalone`: src/runtime/engines/standalone-webgpu.ts, which plans a chain of layers by
// GPU_LAYER_STEPS and runs the steps as the WGSL kernels of ./kernels/webgpu/). The steps are the
// kernels' vocabulary, named by their math where it differs from the layer's name (channel_norm:
// batch normalisation's per-channel statistics, normalisation, scale and shift).

/**
 * An activation the WGSL kernels have (linear: none; softmax: over rows of `width`, the last
 * axis), with its WGSL expressions (./activations.ts) for the others.
 */
export interface Act {
  kind: ActivationKind;
  width: number;
  wgsl: { forward: string; backward: string } | null;
}

/** What every step of the GPU engine's chain has: the layer's id and its values per example in and out. */
export interface StepCommon {
  id: string;
  in: number;
  size: number;
}

/** A dense or conv2d step's weights (by name) and activation. */
interface WeightedStep extends StepCommon {
  act: Act;
  kernel: string;
  bias: string | null;
}

/** One step of the GPU engine's chain (views are no step: they share their input's buffer). */
export type Step =
  | ({ op: "dense" } & WeightedStep)
  | ({
      op: "conv2d";
      filters: number;
      /** The geometry without the batch size. */
      window: Omit<WindowShape, "n">;
    } & WeightedStep)
  | ({ op: "max_pool" | "avg_pool"; window: Omit<WindowShape, "n"> } & StepCommon)
  | ({ op: "activation"; act: Act } & StepCommon)
  | ({ op: "dropout"; rate: number; keep: number } & StepCommon)
  | ({ op: "prelu"; alpha: string } & StepCommon)
  | ({
      /** Normalise each channel by its batch statistics in training (moving ones at inference), then scale and shift. */
      op: "channel_norm";
      /** Channels (the last axis) and values per example of each. */
      channels: number;
      momentum: number;
      epsilon: number;
      gamma: string | null;
      beta: string | null;
      movingMean: string;
      movingVariance: string;
    } & StepCommon);

/** What a layer's entry in GPU_LAYER_STEPS reads. */
export interface LayerInChain<K extends LayerKind> {
  l: IRLayerOf<K>;
  /** The layer's id and values per example in and out. */
  common: StepCommon;
  inShape: number[];
  /** Its activation (linear for a layer without one). */
  act: Act;
  /** The name of its weight of a role, or null. */
  weight(role: string): string | null;
}

/** A layer kind the GPU engine does not cover: why, for the refusal. */
export interface NotCovered {
  notCovered: string;
}

/** A covered layer kind's steps: none for a view (it shares its input's buffer) or the model's input, one step, or what it does not cover. */
export type LayerSteps<K extends LayerKind> = ((x: LayerInChain<K>) => Step | null | string) | NotCovered;

const noStep = () => null;
const pooling = <K extends "max_pool" | "avg_pool">(x: LayerInChain<K>): Step => {
  const [KH, KW] = x.l.args.pool_size;
  const [SH, SW] = x.l.args.strides;
  return { op: x.l.kind, ...x.common, window: { ...windowGeometry(x.inShape, x.l.outputShape, [KH, KW], [SH, SW]), KH, KW, SH, SW } };
};
/** One window over the whole image: [h, w, c] -> [c], the layout of [1, 1, c]. */
const globalPooling =
  (op: "max_pool" | "avg_pool") =>
  <K extends LayerKind>(x: LayerInChain<K>): Step => {
    const [H, W, C] = x.inShape as [number, number, number];
    return { op, ...x.common, window: { H, W, C, KH: H, KW: W, SH: 1, SW: 1, OH: 1, OW: 1, padTop: 0, padLeft: 0 } };
  };
const merge: NotCovered = { notCovered: "merges (only a chain of layers is covered)" };

/**
 * Every layer kind and what it becomes in the GPU engine's training step: its step, none, or that
 * it is not covered. A kind without an entry fails the typecheck.
 */
export const GPU_LAYER_STEPS: { [K in LayerKind]: LayerSteps<K> } = {
  input: noStep,
  flatten: noStep,
  reshape: noStep,
  dense: (x) => ({ op: "dense", ...x.common, act: x.act, kernel: x.weight("kernel")!, bias: x.weight("bias") }),
  conv2d: (x) => {
    const [KH, KW] = x.l.args.kernel_size;
    const [SH, SW] = x.l.args.strides;
    const g = windowGeometry(x.inShape, x.l.outputShape, [KH, KW], [SH, SW]);
    return { op: "conv2d", ...x.common, act: x.act, kernel: x.weight("kernel")!, bias: x.weight("bias"), filters: x.l.outputShape[2]!, window: { ...g, KH, KW, SH, SW } };
  },
  max_pool: pooling,
  avg_pool: pooling,
  global_max_pool: globalPooling("max_pool"),
  global_avg_pool: globalPooling("avg_pool"),
  ...eachActivationLayer((x: Pick<LayerInChain<LayerKind>, "common" | "act">): Step => ({ op: "activation", ...x.common, act: x.act })),
  prelu: (x) => {
    const alpha = x.l.weights.find((w) => w.role === "alpha")!;
    if (x.common.size % alpha.shape.reduce((p, d) => p * d, 1) !== 0) return `the prelu layer ${x.l.id} (its alpha does not tile its input)`;
    return { op: "prelu", ...x.common, alpha: alpha.name };
  },
  dropout: (x) => ({ op: "dropout", ...x.common, rate: x.l.args.rate, keep: Number((1 - x.l.args.rate).toPrecision(12)) }),
  batch_norm: (x) => ({
    op: "channel_norm",
    ...x.common,
    channels: x.l.outputShape.at(-1)!,
    momentum: x.l.args.momentum,
    epsilon: x.l.args.epsilon,
    gamma: x.weight("gamma"),
    beta: x.weight("beta"),
    movingMean: x.weight("moving_mean")!,
    movingVariance: x.weight("moving_variance")!,
  }),
  add: merge,
  concat: merge,
};
