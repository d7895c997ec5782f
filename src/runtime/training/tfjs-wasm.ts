// EMBEDDABLE MODULE (with TensorFlow.js): the kernels nnc adds to a tfjs backend that lacks them
// (the AvgPool gradient fix, which any tfjs program with same-padded average pooling needs, is in
// training/tfjs.ts). tfjs-backend-wasm has no Conv2DBackpropFilter (the gradient of a convolution's
// kernel), so on its own it cannot train a conv2d layer; this registers one, in plain JavaScript
// over the wasm backend's memory, so the rest of the network still runs in wasm (XNNPACK). The
// loops follow tfjs-backend-cpu's Conv2DBackpropFilter (NHWC; dilations 1, which is all tfjs's
// gradient of conv2d asks for) with the reduction reordered so the innermost loop walks contiguous
// memory. The tfjs engine registers it (engines/tfjs/backends.ts); the tfjs target copies it into
// a program with a conv2d layer, for its `--backend wasm`. It takes the tfjs module it extends.

type TensorInfo = { dataId: object; shape: number[]; dtype: string };

interface WasmBackendLike {
  readSync(dataId: object): unknown;
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: Float32Array): TensorInfo;
}

/** dW[kh, kw, ci, co] = sum over b, y, x of X[b, y*s + kh - pad, x*s + kw - pad, ci] * dY[b, y, x, co]. */
export function conv2dBackpropFilter(
  x: Float32Array,
  dy: Float32Array,
  info: {
    batchSize: number;
    inHeight: number;
    inWidth: number;
    inChannels: number;
    outHeight: number;
    outWidth: number;
    outChannels: number;
    strideHeight: number;
    strideWidth: number;
    filterHeight: number;
    filterWidth: number;
    padTop: number;
    padLeft: number;
  },
): Float32Array {
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels: ci,
    outHeight,
    outWidth,
    outChannels: co,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
    padTop,
    padLeft,
  } = info;
  const dw = new Float32Array(filterHeight * filterWidth * ci * co);
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * co;
        for (let kh = 0; kh < filterHeight; kh++) {
          const iy = oy * strideHeight + kh - padTop;
          if (iy < 0 || iy >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const ix = ox * strideWidth + kw - padLeft;
            if (ix < 0 || ix >= inWidth) continue;
            const xBase = ((b * inHeight + iy) * inWidth + ix) * ci;
            const wBase = (kh * filterWidth + kw) * ci * co;
            for (let c = 0; c < ci; c++) {
              const xv = x[xBase + c]!;
              if (xv === 0) continue; // relu outputs and zero padding: nothing to add
              const row = wBase + c * co;
              for (let o = 0; o < co; o++) dw[row + o]! += xv * dy[dyBase + o]!;
            }
          }
        }
      }
    }
  }
  return dw;
}

/** Registers Conv2DBackpropFilter for the wasm backend (once per process). */
export function registerWasmKernels(tf: typeof import("@tensorflow/tfjs")): void {
  if (tf.getKernel("Conv2DBackpropFilter", "wasm")) return;
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: (({
      inputs,
      backend,
      attrs,
    }: {
      inputs: Record<string, TensorInfo>;
      backend: WasmBackendLike;
      attrs: Record<string, unknown>;
    }) => {
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as {
        strides: [number, number] | number;
        pad: "valid" | "same" | number;
        dataFormat: "NHWC" | "NCHW";
        dimRoundingMode?: "floor" | "round" | "ceil";
        filterShape: [number, number, number, number];
      };
      if (dataFormat === "NCHW") throw new Error("nnc's wasm Conv2DBackpropFilter supports NHWC only");
      const conv = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filterShape,
        strides,
        1,
        pad as never,
        dimRoundingMode,
        false,
        "channelsLast",
      );
      const dw = conv2dBackpropFilter(backend.readSync(x.dataId) as Float32Array, backend.readSync(dy.dataId) as Float32Array, {
        ...conv,
        padTop: conv.padInfo.top,
        padLeft: conv.padInfo.left,
      });
      return backend.makeOutput(conv.filterShape, "float32", undefined, dw);
    }) as unknown as import("@tensorflow/tfjs").KernelFunc,
  });
}
