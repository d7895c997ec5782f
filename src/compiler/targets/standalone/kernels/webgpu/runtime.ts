/// <reference types="@webgpu/types" />
// The GPU side of the standalone engine's kernels: runs the WGSL of ./wgsl.ts on a GPUDevice
// (Dawn in Node: src/runtime/webgpu/dawn.ts; navigator.gpu in a browser), with the CPU kernels'
// names and argument order (../index.ts), on GPU buffers instead of Float32Arrays.
//
//   const k = new WebgpuKernels(device);
//   const A = k.tensor(data), B = k.tensor(K * N), C = k.tensor(M * N);
//   k.gemm(false, false, M, N, K, A, B, C, false);
//   const c = await k.read(C);
//
// Each (kernel, shape) gets one pipeline, compiled on first use and cached: a training step calls
// the same few dozen every time. Every call is submitted at once, in order, so a uniform written
// for one call (Adam's bias-corrected rate) cannot leak into another.
//
// Self-contained apart from ./wgsl.ts, so a generated program can embed the pair.
import {
  ADAM_UNIFORM_FLOATS,
  adamWgsl,
  biasActWgsl,
  biasGradWgsl,
  elementwiseGrid,
  gemmGrid,
  gemmWgsl,
  reluBackwardWgsl,
  sgdWgsl,
  softmaxCrossEntropyWgsl,
  activationWgsl,
  activationBackwardWgsl,
  avgPoolBackwardWgsl,
  avgPoolWgsl,
  col2imWgsl,
  im2colWgsl,
  maskWgsl,
  maxPoolBackwardWgsl,
  maxPoolWgsl,
  penaltyWgsl,
  regularizerGradWgsl,
  momentumWgsl,
  sigmoidCrossEntropyWgsl,
  elementwiseLossWgsl,
  updateRuleWgsl,
  preluAlphaGradWgsl,
  preluBackwardWgsl,
  preluWgsl,
  softmaxRowsBackwardWgsl,
  softmaxRowsWgsl,
  channelNormalizeBackwardWgsl,
  channelNormalizeMeanVarianceWgsl,
  channelNormalizeWgsl,
  channelScaleShiftGradWgsl,
  channelStatsWgsl,
  type GemmShape,
  type WindowShape,
} from "./wgsl.js";

/** A float32 array on the GPU. */
export interface GpuTensor {
  readonly buffer: GPUBuffer;
  readonly length: number;
}

// GPUBufferUsage / GPUMapMode values from the WebGPU specification (the globals exist only where
// WebGPU does, e.g. after Dawn's globals are installed).
const USAGE = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
};
const MAP_READ = 0x0001;

export class WebgpuKernels {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Small uniform buffers (ADAM_UNIFORM_FLOATS floats), one per parameter tensor updated by Adam/SGD. */
  private readonly uniforms = new WeakMap<GPUBuffer, GPUBuffer>();
  /** Pipelines compiled so far (for tests and the step profile). */
  compiled = 0;

  /** The first error WebGPU reported (validation, out of memory); read() and finish() throw it. */
  private error: string | null = null;

  constructor(readonly device: GPUDevice) {
    device.addEventListener("uncapturederror", (e) => {
      this.error ??= (e as GPUUncapturedErrorEvent).error.message.split("\n")[0]!;
    });
  }

  private check(): void {
    if (this.error !== null) throw new Error(`WebGPU kernel error: ${this.error}`);
  }

  /** A zero-filled tensor of n floats, or one holding `data`. */
  tensor(init: number | Float32Array): GpuTensor {
    const length = typeof init === "number" ? init : init.length;
    const buffer = this.device.createBuffer({
      size: Math.max(16, Math.ceil((length * 4) / 16) * 16),
      usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST,
      mappedAtCreation: typeof init !== "number",
    });
    if (typeof init !== "number") {
      new Float32Array(buffer.getMappedRange(), 0, length).set(init);
      buffer.unmap();
    }
    return { buffer, length };
  }

  write(t: GpuTensor, data: Float32Array, at = 0): void {
    this.device.queue.writeBuffer(t.buffer, at * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies a tensor back to the CPU (waits for the GPU to finish what was submitted before). */
  async read(t: GpuTensor): Promise<Float32Array> {
    const bytes = t.length * 4;
    const staging = this.device.createBuffer({
      size: Math.max(16, Math.ceil(bytes / 16) * 16),
      usage: USAGE.MAP_READ | USAGE.COPY_DST,
    });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(t.buffer, 0, staging, 0, staging.size);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(MAP_READ);
    this.check();
    const out = new Float32Array(staging.getMappedRange(0, staging.size).slice(0, bytes));
    staging.unmap();
    staging.destroy();
    return out;
  }

  private pipeline(key: string, wgsl: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({
        code: wgsl(),
        label: key,
      });
      p = this.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "main" },
        label: key,
      });
      this.pipelines.set(key, p);
      this.compiled++;
    }
    return p;
  }

  private run(p: GPUComputePipeline, buffers: GPUBuffer[], grid: [number, number]): void {
    const bindGroup = this.device.createBindGroup({
      layout: p.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({
        binding,
        resource: { buffer },
      })),
    });
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(p);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1]);
    pass.end();
    this.device.queue.submit([enc.finish()]);
  }

  private uniformFor(t: GpuTensor, values: number[]): GPUBuffer {
    let b = this.uniforms.get(t.buffer);
    if (!b) {
      b = this.device.createBuffer({
        size: ADAM_UNIFORM_FLOATS * 4,
        usage: USAGE.UNIFORM | USAGE.COPY_DST,
      });
      this.uniforms.set(t.buffer, b);
    }
    const floats = new Float32Array(ADAM_UNIFORM_FLOATS);
    floats.set(values);
    this.device.queue.writeBuffer(b, 0, floats);
    return b;
  }

  private static need(t: GpuTensor, n: number, what: string): void {
    if (t.length < n) throw new RangeError(`WebGPU kernel: ${what} holds ${t.length} floats, needs ${n}`);
  }

  /** C[M x N] = (or += when accumulate) op(A)[M x K] · op(B)[K x N] (the CPU kernels' gemm). */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: GpuTensor,
    B: GpuTensor,
    C: GpuTensor,
    accumulate: boolean,
  ): void {
    WebgpuKernels.need(A, M * K, "A");
    WebgpuKernels.need(B, K * N, "B");
    WebgpuKernels.need(C, M * N, "C");
    if (C.buffer === A.buffer || C.buffer === B.buffer) throw new RangeError("WebGPU gemm: C must not be A or B");
    const s: GemmShape = { transA, transB, M, N, K, accumulate };
    const key = `gemm ${+transA}${+transB} ${M}x${N}x${K} ${+accumulate}`;
    this.run(
      this.pipeline(key, () => gemmWgsl(s)),
      [A.buffer, B.buffer, C.buffer],
      gemmGrid(s),
    );
  }

  /** z[r, j] += bias[j]; a = max(z, 0). */
  kernelBiasRelu(z: GpuTensor, a: GpuTensor, bias: GpuTensor, rows: number, cols: number): void {
    WebgpuKernels.need(z, rows * cols, "z");
    WebgpuKernels.need(a, rows * cols, "a");
    WebgpuKernels.need(bias, cols, "bias");
    const p = this.pipeline(`biasRelu ${rows}x${cols}`, () => biasActWgsl(rows, cols, true));
    this.run(p, [z.buffer, bias.buffer, a.buffer], elementwiseGrid(rows * cols));
  }

  /** z[r, j] += bias[j]. */
  kernelBiasAdd(z: GpuTensor, bias: GpuTensor, rows: number, cols: number): void {
    WebgpuKernels.need(z, rows * cols, "z");
    WebgpuKernels.need(bias, cols, "bias");
    const p = this.pipeline(`biasAdd ${rows}x${cols}`, () => biasActWgsl(rows, cols, false));
    this.run(p, [z.buffer, bias.buffer], elementwiseGrid(rows * cols));
  }

  /** dz = z > 0 ? g : 0. */
  kernelReluBackward(z: GpuTensor, g: GpuTensor, dz: GpuTensor, count: number): void {
    for (const [t, n] of [
      [z, "z"],
      [g, "g"],
      [dz, "dz"],
    ] as const)
      WebgpuKernels.need(t, count, n);
    this.run(
      this.pipeline(`reluBackward ${count}`, () => reluBackwardWgsl(count)),
      [z.buffer, g.buffer, dz.buffer],
      elementwiseGrid(count),
    );
  }

  /** db[j] = column sums of dz[rows x cols]. */
  kernelBiasGrad(dz: GpuTensor, db: GpuTensor, rows: number, cols: number): void {
    WebgpuKernels.need(dz, rows * cols, "dz");
    WebgpuKernels.need(db, cols, "db");
    this.run(
      this.pipeline(`biasGrad ${rows}x${cols}`, () => biasGradWgsl(rows, cols)),
      [dz.buffer, db.buffer],
      elementwiseGrid(cols),
    );
  }

  /** One Adam step over a whole parameter, in place (lrT: the bias-corrected rate). */
  adamUpdate(
    value: GpuTensor,
    grad: GpuTensor,
    m: GpuTensor,
    v: GpuTensor,
    lrT: number,
    beta1: number,
    beta2: number,
    epsilon: number,
  ): void {
    const n = value.length;
    for (const [t, name] of [
      [grad, "grad"],
      [m, "m"],
      [v, "v"],
    ] as const)
      WebgpuKernels.need(t, n, name);
    const uniform = this.uniformFor(value, [lrT, beta1, beta2, epsilon, 1 - beta1, 1 - beta2]);
    this.run(
      this.pipeline(`adam ${n}`, () => adamWgsl(n)),
      [value.buffer, grad.buffer, m.buffer, v.buffer, uniform],
      elementwiseGrid(n),
    );
  }

  /** value -= lr * grad over a whole parameter. */
  sgdUpdate(value: GpuTensor, grad: GpuTensor, lr: number): void {
    const n = value.length;
    WebgpuKernels.need(grad, n, "grad");
    const uniform = this.uniformFor(value, [lr]);
    this.run(
      this.pipeline(`sgd ${n}`, () => sgdWgsl(n)),
      [value.buffer, grad.buffer, uniform],
      elementwiseGrid(n),
    );
  }

  /** p = softmax of each row of z[rows x classes]; dz = (p - y) / rows (cross-entropy, one-hot y). */
  kernelSoftmaxCrossEntropy(z: GpuTensor, y: GpuTensor, p: GpuTensor, dz: GpuTensor, rows: number, classes: number): void {
    for (const [t, n] of [
      [z, "z"],
      [y, "y"],
      [p, "p"],
      [dz, "dz"],
    ] as const)
      WebgpuKernels.need(t, rows * classes, n);
    const key = `softmaxCrossEntropy ${rows}x${classes}`;
    this.run(
      this.pipeline(key, () => softmaxCrossEntropyWgsl(rows, classes)),
      [z.buffer, y.buffer, p.buffer, dz.buffer],
      elementwiseGrid(rows),
    );
  }

  /** a = act(z) over count items, `forward` the activation as a WGSL expression of z (label: its name, for the shader). */
  kernelActivation(label: string, forward: string, z: GpuTensor, a: GpuTensor, count: number): void {
    WebgpuKernels.need(z, count, "z");
    WebgpuKernels.need(a, count, "a");
    this.run(
      this.pipeline(`act ${forward} ${count}`, () => activationWgsl(label, forward, count)),
      [z.buffer, a.buffer],
      elementwiseGrid(count),
    );
  }

  /** dz = act'(z) * g, `backward` a WGSL expression of z, a (the activation's output) and g. */
  kernelActivationBackward(label: string, backward: string, z: GpuTensor, a: GpuTensor, g: GpuTensor, dz: GpuTensor, count: number): void {
    for (const [t, n] of [
      [z, "z"],
      [a, "a"],
      [g, "g"],
      [dz, "dz"],
    ] as const)
      WebgpuKernels.need(t, count, n);
    this.run(
      this.pipeline(`actBackward ${backward} ${count}`, () => activationBackwardWgsl(label, backward, count)),
      [z.buffer, a.buffer, g.buffer, dz.buffer],
      elementwiseGrid(count),
    );
  }

  /** out = x * mask (dropout, both ways). */
  kernelMask(x: GpuTensor, mask: GpuTensor, out: GpuTensor, count: number): void {
    for (const [t, n] of [
      [x, "x"],
      [mask, "mask"],
      [out, "out"],
    ] as const)
      WebgpuKernels.need(t, count, n);
    this.run(this.pipeline(`mask ${count}`, () => maskWgsl(count)), [x.buffer, mask.buffer, out.buffer], elementwiseGrid(count));
  }

  /** dst[0, count) = src[0, count). */
  copy(src: GpuTensor, dst: GpuTensor, count: number): void {
    WebgpuKernels.need(src, count, "src");
    WebgpuKernels.need(dst, count, "dst");
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src.buffer, 0, dst.buffer, 0, count * 4);
    this.device.queue.submit([enc.finish()]);
  }

  private static windowKey(s: WindowShape): string {
    return `${s.n} ${s.H}x${s.W}x${s.C} k${s.KH}x${s.KW} s${s.SH}x${s.SW} o${s.OH}x${s.OW} p${s.padTop},${s.padLeft}`;
  }

  /** cols[n * OH * OW, KH * KW * C] = the patches of x (kernelIm2col). */
  kernelIm2col(x: GpuTensor, cols: GpuTensor, s: WindowShape): void {
    const count = s.n * s.OH * s.OW * s.KH * s.KW * s.C;
    WebgpuKernels.need(x, s.n * s.H * s.W * s.C, "x");
    WebgpuKernels.need(cols, count, "cols");
    this.run(this.pipeline(`im2col ${WebgpuKernels.windowKey(s)}`, () => im2colWgsl(s)), [x.buffer, cols.buffer], elementwiseGrid(count));
  }

  /** dx = the patch gradients scattered back onto the image (kernelCol2im on a zeroed dx). */
  kernelCol2im(cols: GpuTensor, dx: GpuTensor, s: WindowShape): void {
    const count = s.n * s.H * s.W * s.C;
    WebgpuKernels.need(cols, s.n * s.OH * s.OW * s.KH * s.KW * s.C, "cols");
    WebgpuKernels.need(dx, count, "dx");
    this.run(this.pipeline(`col2im ${WebgpuKernels.windowKey(s)}`, () => col2imWgsl(s)), [cols.buffer, dx.buffer], elementwiseGrid(count));
  }

  /** out = window maxima of x, arg = where each came from (flat indices into x). */
  kernelMaxPool(x: GpuTensor, out: GpuTensor, arg: GpuTensor, s: WindowShape): void {
    const count = s.n * s.OH * s.OW * s.C;
    WebgpuKernels.need(x, s.n * s.H * s.W * s.C, "x");
    WebgpuKernels.need(out, count, "out");
    WebgpuKernels.need(arg, count, "arg");
    this.run(this.pipeline(`maxPool ${WebgpuKernels.windowKey(s)}`, () => maxPoolWgsl(s)), [x.buffer, out.buffer, arg.buffer], elementwiseGrid(count));
  }

  /** dx = each window's gradient at the position of its maximum. */
  kernelMaxPoolBackward(g: GpuTensor, arg: GpuTensor, dx: GpuTensor, s: WindowShape): void {
    const count = s.n * s.H * s.W * s.C;
    WebgpuKernels.need(g, s.n * s.OH * s.OW * s.C, "g");
    WebgpuKernels.need(arg, s.n * s.OH * s.OW * s.C, "arg");
    WebgpuKernels.need(dx, count, "dx");
    this.run(
      this.pipeline(`maxPoolBackward ${WebgpuKernels.windowKey(s)}`, () => maxPoolBackwardWgsl(s)),
      [g.buffer, arg.buffer, dx.buffer],
      elementwiseGrid(count),
    );
  }

  /** out = window averages of x (padding left out). */
  kernelAvgPool(x: GpuTensor, out: GpuTensor, s: WindowShape): void {
    const count = s.n * s.OH * s.OW * s.C;
    WebgpuKernels.need(x, s.n * s.H * s.W * s.C, "x");
    WebgpuKernels.need(out, count, "out");
    this.run(this.pipeline(`avgPool ${WebgpuKernels.windowKey(s)}`, () => avgPoolWgsl(s)), [x.buffer, out.buffer], elementwiseGrid(count));
  }

  /** dx = each window's gradient spread evenly over its inputs. */
  kernelAvgPoolBackward(g: GpuTensor, dx: GpuTensor, s: WindowShape): void {
    const count = s.n * s.H * s.W * s.C;
    WebgpuKernels.need(g, s.n * s.OH * s.OW * s.C, "g");
    WebgpuKernels.need(dx, count, "dx");
    this.run(this.pipeline(`avgPoolBackward ${WebgpuKernels.windowKey(s)}`, () => avgPoolBackwardWgsl(s)), [g.buffer, dx.buffer], elementwiseGrid(count));
  }

  /** grad += l1 * sign(w) + 2 * l2 * w (a regularizer's gradient). */
  kernelRegularizerGrad(w: GpuTensor, grad: GpuTensor, l1: number, l2: number): void {
    const n = w.length;
    WebgpuKernels.need(grad, n, "grad");
    this.run(this.pipeline(`regularizerGrad ${n} ${l1} ${l2}`, () => regularizerGradWgsl(n, l1, l2)), [w.buffer, grad.buffer], elementwiseGrid(n));
  }

  /** out[slot] = l1 * sum |w| + l2 * sum w² (a regularizer's penalty). */
  kernelPenalty(w: GpuTensor, out: GpuTensor, slot: number, l1: number, l2: number): void {
    WebgpuKernels.need(out, slot + 1, "out");
    const n = w.length;
    this.run(this.pipeline(`penalty ${n} ${l1} ${l2} ${slot}`, () => penaltyWgsl(n, l1, l2, slot)), [w.buffer, out.buffer], [1, 1]);
  }

  /**
   * Per-channel normalisation by batch statistics over rows x C: the statistics into stats (mean,
   * then 1/std), the moving mean and variance updated, xhat and out = gamma * xhat + beta (gamma,
   * beta: null when absent).
   */
  kernelChannelNormalize(
    x: GpuTensor,
    stats: GpuTensor,
    movingMean: GpuTensor,
    movingVariance: GpuTensor,
    xhat: GpuTensor,
    out: GpuTensor,
    gamma: GpuTensor | null,
    beta: GpuTensor | null,
    rows: number,
    C: number,
    momentum: number,
    epsilon: number,
  ): void {
    for (const [t, n] of [
      [x, "x"],
      [xhat, "xhat"],
      [out, "out"],
    ] as const)
      WebgpuKernels.need(t, rows * C, n);
    WebgpuKernels.need(stats, 2 * C, "stats");
    this.run(
      this.pipeline(`channelStats ${rows}x${C} ${momentum} ${epsilon}`, () => channelStatsWgsl(rows, C, momentum, epsilon)),
      [x.buffer, stats.buffer, movingMean.buffer, movingVariance.buffer],
      elementwiseGrid(C),
    );
    const gb = [gamma, beta].filter((t): t is GpuTensor => t !== null).map((t) => t.buffer);
    this.run(
      this.pipeline(`channelNormalize ${rows}x${C} ${+!!gamma}${+!!beta}`, () => channelNormalizeWgsl(rows, C, !!gamma, !!beta)),
      [x.buffer, stats.buffer, xhat.buffer, out.buffer, ...gb],
      elementwiseGrid(rows * C),
    );
  }

  /** Per-channel normalisation by a given mean and variance: out = gamma * (x - mean) / sqrt(variance + epsilon) + beta. */
  kernelChannelNormalizeMeanVariance(
    x: GpuTensor,
    movingMean: GpuTensor,
    movingVariance: GpuTensor,
    out: GpuTensor,
    gamma: GpuTensor | null,
    beta: GpuTensor | null,
    rows: number,
    C: number,
    epsilon: number,
  ): void {
    WebgpuKernels.need(x, rows * C, "x");
    WebgpuKernels.need(out, rows * C, "out");
    const gb = [gamma, beta].filter((t): t is GpuTensor => t !== null).map((t) => t.buffer);
    this.run(
      this.pipeline(`channelNormalizeMeanVariance ${rows}x${C} ${epsilon} ${+!!gamma}${+!!beta}`, () => channelNormalizeMeanVarianceWgsl(rows, C, epsilon, !!gamma, !!beta)),
      [x.buffer, movingMean.buffer, movingVariance.buffer, out.buffer, ...gb],
      elementwiseGrid(rows * C),
    );
  }

  /** kernelChannelNormalize's backward: dGamma, dBeta per channel, and dx when asked for. */
  kernelChannelNormalizeBackward(
    g: GpuTensor,
    xhat: GpuTensor,
    stats: GpuTensor,
    gamma: GpuTensor | null,
    dGamma: GpuTensor,
    dBeta: GpuTensor,
    dx: GpuTensor | null,
    rows: number,
    C: number,
  ): void {
    WebgpuKernels.need(g, rows * C, "g");
    WebgpuKernels.need(xhat, rows * C, "xhat");
    this.run(this.pipeline(`channelScaleShiftGrad ${rows}x${C}`, () => channelScaleShiftGradWgsl(rows, C)), [g.buffer, xhat.buffer, dGamma.buffer, dBeta.buffer], elementwiseGrid(C));
    if (!dx) return;
    WebgpuKernels.need(dx, rows * C, "dx");
    this.run(
      this.pipeline(`channelNormalizeBackward ${rows}x${C} ${+!!gamma}`, () => channelNormalizeBackwardWgsl(rows, C, !!gamma)),
      [g.buffer, xhat.buffer, stats.buffer, dGamma.buffer, dBeta.buffer, dx.buffer, ...(gamma ? [gamma.buffer] : [])],
      elementwiseGrid(rows * C),
    );
  }

  /** a = softmax of each row of z[rows x width]. */
  kernelSoftmax(z: GpuTensor, a: GpuTensor, rows: number, width: number): void {
    WebgpuKernels.need(z, rows * width, "z");
    WebgpuKernels.need(a, rows * width, "a");
    this.run(this.pipeline(`softmax ${rows}x${width}`, () => softmaxRowsWgsl(rows, width)), [z.buffer, a.buffer], elementwiseGrid(rows));
  }

  /** dz = a * (g - sum(g * a)) per row (softmax backward). */
  kernelSoftmaxBackward(a: GpuTensor, g: GpuTensor, dz: GpuTensor, rows: number, width: number): void {
    for (const [t, n] of [
      [a, "a"],
      [g, "g"],
      [dz, "dz"],
    ] as const)
      WebgpuKernels.need(t, rows * width, n);
    this.run(
      this.pipeline(`softmaxBackward ${rows}x${width}`, () => softmaxRowsBackwardWgsl(rows, width)),
      [a.buffer, g.buffer, dz.buffer],
      elementwiseGrid(rows),
    );
  }

  /** One step of SGD with momentum (Keras's), in place: velocity and value. */
  momentumUpdate(value: GpuTensor, grad: GpuTensor, velocity: GpuTensor, lr: number, momentum: number, nesterov: boolean): void {
    const n = value.length;
    WebgpuKernels.need(grad, n, "grad");
    WebgpuKernels.need(velocity, n, "velocity");
    const uniform = this.uniformFor(value, [lr]);
    this.run(
      this.pipeline(`momentum ${n} ${momentum} ${+nesterov}`, () => momentumWgsl(n, momentum, nesterov)),
      [value.buffer, grad.buffer, velocity.buffer, uniform],
      elementwiseGrid(n),
    );
  }

  /** out = z > 0 ? z : alpha[i % A] * z (prelu). */
  kernelPrelu(z: GpuTensor, alpha: GpuTensor, out: GpuTensor, count: number): void {
    const A = alpha.length;
    WebgpuKernels.need(z, count, "z");
    WebgpuKernels.need(out, count, "out");
    this.run(this.pipeline(`prelu ${count} ${A}`, () => preluWgsl(count, A)), [z.buffer, alpha.buffer, out.buffer], elementwiseGrid(count));
  }

  /** prelu backward: dAlpha (sums over the rows), and dx when asked for. */
  kernelPreluBackward(z: GpuTensor, alpha: GpuTensor, g: GpuTensor, dAlpha: GpuTensor, dx: GpuTensor | null, count: number): void {
    const A = alpha.length;
    WebgpuKernels.need(z, count, "z");
    WebgpuKernels.need(g, count, "g");
    WebgpuKernels.need(dAlpha, A, "dAlpha");
    this.run(this.pipeline(`preluAlphaGrad ${count} ${A}`, () => preluAlphaGradWgsl(count / A, A)), [z.buffer, g.buffer, dAlpha.buffer], elementwiseGrid(A));
    if (!dx) return;
    WebgpuKernels.need(dx, count, "dx");
    this.run(this.pipeline(`preluBackward ${count} ${A}`, () => preluBackwardWgsl(count, A)), [z.buffer, alpha.buffer, g.buffer, dx.buffer], elementwiseGrid(count));
  }

  /**
   * An optimizer update rule (updateRuleWgsl) over a whole parameter: its state tensors in the
   * rule's order, up to eight per-step floats. `key` names the rule with its constants.
   */
  updateRule(key: string, state: readonly string[], body: string, value: GpuTensor, grad: GpuTensor, stateTensors: GpuTensor[], floats: number[]): void {
    const n = value.length;
    WebgpuKernels.need(grad, n, "grad");
    stateTensors.forEach((t, k) => WebgpuKernels.need(t, n, state[k]!));
    const uniform = this.uniformFor(value, floats);
    this.run(
      this.pipeline(`update ${key} ${n}`, () => updateRuleWgsl(n, key, state, body)),
      [value.buffer, grad.buffer, ...stateTensors.map((t) => t.buffer), uniform],
      elementwiseGrid(n),
    );
  }

  /** g = dL/dp of an elementwise loss (mse, mae, huber) over rows x classes, averaged. */
  kernelElementwiseLoss(kind: string, delta: number, p: GpuTensor, y: GpuTensor, g: GpuTensor, rows: number, classes: number): void {
    for (const [t, n] of [
      [p, "p"],
      [y, "y"],
      [g, "g"],
    ] as const)
      WebgpuKernels.need(t, rows * classes, n);
    this.run(
      this.pipeline(`loss ${kind} ${delta} ${rows}x${classes}`, () => elementwiseLossWgsl(kind, delta, rows, classes)),
      [p.buffer, y.buffer, g.buffer],
      elementwiseGrid(rows * classes),
    );
  }

  /** p = sigmoid(z); dz = (p - y) / (rows * classes) (binary cross-entropy on a sigmoid output). */
  kernelSigmoidCrossEntropy(z: GpuTensor, y: GpuTensor, p: GpuTensor, dz: GpuTensor, rows: number, classes: number): void {
    for (const [t, n] of [
      [z, "z"],
      [y, "y"],
      [p, "p"],
      [dz, "dz"],
    ] as const)
      WebgpuKernels.need(t, rows * classes, n);
    this.run(
      this.pipeline(`sigmoidCrossEntropy ${rows}x${classes}`, () => sigmoidCrossEntropyWgsl(rows, classes)),
      [z.buffer, y.buffer, p.buffer, dz.buffer],
      elementwiseGrid(rows * classes),
    );
  }

  /** Waits until the GPU has done everything submitted so far. */
  async finish(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }
}
