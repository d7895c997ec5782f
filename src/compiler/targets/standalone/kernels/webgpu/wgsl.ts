// WGSL compute kernels of the standalone engine's GPU path: the same operations, with the same
// meaning and argument order, as the CPU kernels of ../index.ts (gemm, im2col/col2im, bias/relu
// and their gradients, Adam and SGD updates) and as the CPU program's layer code (../../layers.ts:
// pooling, activations, dropout, per-channel normalisation, regularizers), each specialised to its static shapes
// the way the CPU kernels are: the sizes are constants in the shader source, so a model's every product gets a
// pipeline of its own, with no size uniforms and the loop bounds known to the shader compiler.
//
// Self-contained (no imports), so a generated program can embed it as the CPU kernels are.
//
//   gemm        C[M x N] = (or += when accumulate) op(A)[M x K] · op(B)[K x N], row-major; op(X)
//               is X or its transpose (transA: A is stored [K x M]; transB: B is stored [N x K]).
//               Each invocation computes a 4 x 4 block of C in registers, 8 x 8 invocations per
//               workgroup (32 x 32 of C), reading A and B straight from storage: no workgroup
//               memory or barriers, which Mesa's software rasteriser runs slowly.
//   biasRelu    z[r, j] += bias[j]; a = max(z, 0)          (kernelBiasRelu)
//   biasAdd     z[r, j] += bias[j]                         (kernelBiasAdd)
//   reluBackward dz = z > 0 ? g : 0                        (kernelReluBackward)
//   biasGrad    db[j] = sum over r of dz[r, j], rows summed in order, as the CPU loop does
//   adam        Keras's Adam step in place (adamUpdate): lrT, beta1, beta2, epsilon in a uniform
//   sgd         value -= lr * grad (sgdUpdate): lr in a uniform
//   activation, activationBackward   a = act(z), dz = act'(z) * g (the expressions are the caller's)
//   mask        out = x * mask (dropout; the mask comes from the host's seeded stream)
//   im2col, col2im   a convolution's patches and their gradient gathered back (one invocation
//               per input value, adding in kernelCol2im's order: the same floats as the CPU)
//   maxPool, maxPoolBackward, avgPool, avgPoolBackward   windows with "same"/"valid" padding
//   channelStats, channelNormalize, channelNormalizeMeanVariance   per-channel batch statistics
//               (and the moving mean and variance), normalisation by them or by a given mean and
//               variance, with an optional per-channel scale and shift
//   channelScaleShiftGrad, channelNormalizeBackward   the scale's and shift's gradients, and the
//               input gradient of the normalisation by batch statistics
//   regularizerGrad, penalty   an l1/l2 regularizer's gradient and its penalty (one workgroup)
//
// Elementwise kernels run 64 invocations per workgroup over a 2-D grid of workgroups (WebGPU
// allows at most 65,535 per dimension): index = (wid.y * gridX + wid.x) * 64 + lid.x.

/** A gemm invocation computes GEMM_REGISTERS x GEMM_REGISTERS of C; a workgroup has GEMM_THREADS x GEMM_THREADS invocations. */
export const GEMM_REGISTERS = 4;
export const GEMM_THREADS = 8;
export const GEMM_TILE = GEMM_REGISTERS * GEMM_THREADS;
export const ELEMENTWISE_GROUP = 64;
export const MAX_GROUPS_PER_DIMENSION = 65535;

export interface GemmShape {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  accumulate: boolean;
}

const u = (n: number) => `${n >>> 0}u`;

function checkSize(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 0x7fffffff) throw new RangeError(`WGSL kernel: ${what} must be a positive integer, got ${n}`);
}

/** Workgroups for a 1-D elementwise kernel over `count` items: [x, y] with x <= 65,535. */
export function elementwiseGrid(count: number): [number, number] {
  const groups = Math.ceil(count / ELEMENTWISE_GROUP);
  const x = Math.min(groups, MAX_GROUPS_PER_DIMENSION);
  return [x, Math.ceil(groups / x)];
}

/** Workgroups for a gemm: one per GEMM_TILE x GEMM_TILE tile of C. */
export function gemmGrid(s: GemmShape): [number, number] {
  return [Math.ceil(s.N / GEMM_TILE), Math.ceil(s.M / GEMM_TILE)];
}

export function gemmWgsl(s: GemmShape): string {
  for (const k of ["M", "N", "K"] as const) checkSize(k, s[k]);
  const [R, T] = [GEMM_REGISTERS, GEMM_THREADS];
  // Element (r, k) of op(A) and (k, c) of op(B), in the stored layouts.
  const a = (r: string) => (s.transA ? `A[k * ${u(s.M)} + ${r}]` : `A[${r} * ${u(s.K)} + k]`);
  const b = (c: string) => (s.transB ? `B[${c} * ${u(s.K)} + k]` : `B[k * ${u(s.N)} + ${c}]`);
  const lines: string[] = [];
  for (let i = 0; i < R; i++)
    lines.push(`    let a${i} = select(0.0, ${a(`min(row + ${u(i)}, ${u(s.M - 1)})`)}, row + ${u(i)} < ${u(s.M)});`);
  for (let j = 0; j < R; j++)
    lines.push(`    let b${j} = select(0.0, ${b(`min(col + ${u(j)}, ${u(s.N - 1)})`)}, col + ${u(j)} < ${u(s.N)});`);
  for (let i = 0; i < R; i++)
    lines.push(`    acc[${i}] = fma(vec4f(a${i}), vec4f(${Array.from({ length: R }, (_, j) => `b${j}`).join(", ")}), acc[${i}]);`);
  const stores: string[] = [];
  for (let i = 0; i < R; i++)
    for (let j = 0; j < R; j++)
      stores.push(
        `  if (row + ${u(i)} < ${u(s.M)} && col + ${u(j)} < ${u(s.N)}) { let i${i}${j} = (row + ${u(i)}) * ${u(s.N)} + col + ${u(j)}; C[i${i}${j}] = ${s.accumulate ? `C[i${i}${j}] + ` : ""}acc[${i}][${j}]; }`,
      );
  return `// gemm ${s.transA ? "Aᵀ" : "A"}·${s.transB ? "Bᵀ" : "B"}: [${s.M} x ${s.K}]·[${s.K} x ${s.N}]${s.accumulate ? ", accumulated into C" : ""}
// Each invocation computes a ${R} x ${R} block of C, adding the products over k in order.
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;

@compute @workgroup_size(${T}, ${T})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.y * ${u(R)};
  let col = gid.x * ${u(R)};
  if (row >= ${u(s.M)} || col >= ${u(s.N)}) { return; }
  var acc: array<vec4f, ${R}>;
  for (var k = 0u; k < ${u(s.K)}; k++) {
${lines.join("\n")}
  }
${stores.join("\n")}
}
`;
}

function elementwise(count: number, bindings: string, body: string, comment: string): string {
  checkSize("count", count);
  const [x] = elementwiseGrid(count);
  return `// ${comment}
${bindings}
@compute @workgroup_size(${ELEMENTWISE_GROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.y * ${u(x)} + wid.x) * ${u(ELEMENTWISE_GROUP)} + lid.x;
  if (i >= ${u(count)}) { return; }
${body}
}
`;
}

/** z[r, j] += bias[j] over rows x cols, and with relu a = max(z, 0). */
export function biasActWgsl(rows: number, cols: number, relu: boolean): string {
  checkSize("cols", cols);
  const bindings = `@group(0) @binding(0) var<storage, read_write> z: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;${relu ? "\n@group(0) @binding(2) var<storage, read_write> a: array<f32>;" : ""}`;
  const body = `  let v = z[i] + bias[i % ${u(cols)}];
  z[i] = v;${relu ? "\n  a[i] = select(0.0, v, v > 0.0);" : ""}`;
  return elementwise(rows * cols, bindings, body, `bias${relu ? " + relu" : ""} over [${rows} x ${cols}]`);
}

/** dz = z > 0 ? g : 0 over count items. */
export function reluBackwardWgsl(count: number): string {
  const bindings = `@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dz: array<f32>;`;
  return elementwise(count, bindings, "  dz[i] = select(0.0, g[i], z[i] > 0.0);", `relu backward over ${count}`);
}

/** db[j] = sum over rows of dz[r, j], one invocation per column, rows in order (as the CPU loop adds them). */
export function biasGradWgsl(rows: number, cols: number): string {
  checkSize("rows", rows);
  const bindings = `@group(0) @binding(0) var<storage, read> dz: array<f32>;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;`;
  const body = `  var s = 0.0;
  for (var r = 0u; r < ${u(rows)}; r++) { s = s + dz[r * ${u(cols)} + i]; }
  db[i] = s;`;
  return elementwise(cols, bindings, body, `bias gradient: column sums of [${rows} x ${cols}]`);
}

/**
 * Uniform layout of `adam`: lrT, beta1, beta2, epsilon, 1 - beta1, 1 - beta2 (f32 each, padded to
 * 8). The complements come from the host, computed in float64 as the CPU loop does: 1 - 0.999 in
 * float32 arithmetic is off by 1.3e-5 relative, which v would carry.
 */
export const ADAM_UNIFORM_FLOATS = 8;

/** One Adam step over `count` parameters, in place (Keras: epsilon added to sqrt(v)). */
export function adamWgsl(count: number): string {
  const bindings = `struct Adam { lrT: f32, beta1: f32, beta2: f32, epsilon: f32, oneMinusBeta1: f32, oneMinusBeta2: f32 }
@group(0) @binding(0) var<storage, read_write> value: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<uniform> p: Adam;`;
  const body = `  let g = grad[i];
  let mi = p.beta1 * m[i] + p.oneMinusBeta1 * g;
  let vi = p.beta2 * v[i] + p.oneMinusBeta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  value[i] = value[i] - (p.lrT * mi) / (sqrt(vi) + p.epsilon);`;
  return elementwise(count, bindings, body, `adam over ${count}`);
}

/** value -= lr * grad over `count` parameters. */
export function sgdWgsl(count: number): string {
  const bindings = `@group(0) @binding(0) var<storage, read_write> value: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<uniform> lr: vec4f;`;
  return elementwise(count, bindings, "  value[i] = value[i] - lr.x * grad[i];", `sgd over ${count}`);
}

/**
 * Softmax over each row of logits z[rows x classes] into p, and the gradient of the batch-mean
 * categorical cross-entropy with one-hot targets y: dz = (p - y) / rows. One invocation per row.
 */
export function softmaxCrossEntropyWgsl(rows: number, classes: number): string {
  checkSize("classes", classes);
  const bindings = `@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;`;
  const body = `  let o = i * ${u(classes)};
  var top = z[o];
  for (var j = 1u; j < ${u(classes)}; j++) { top = max(top, z[o + j]); }
  var sum = 0.0;
  for (var j = 0u; j < ${u(classes)}; j++) { sum = sum + exp(z[o + j] - top); }
  for (var j = 0u; j < ${u(classes)}; j++) {
    let q = exp(z[o + j] - top) / sum;
    p[o + j] = q;
    dz[o + j] = (q - y[o + j]) / ${rows}.0;
  }`;
  return elementwise(rows, bindings, body, `softmax + cross-entropy gradient over [${rows} x ${classes}]`);
}

/** A float literal for WGSL (always with a decimal point or exponent). */
function f32(x: number): string {
  const s = String(Math.fround(x));
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * a = act(z) over count items, `forward` the activation as a WGSL expression of z (the standalone
 * target's activations.ts holds them), `label` its name for the shader's comment.
 */
export function activationWgsl(label: string, forward: string, count: number): string {
  const bindings = `@group(0) @binding(0) var<storage, read> Z: array<f32>;
@group(0) @binding(1) var<storage, read_write> A: array<f32>;`;
  return elementwise(count, bindings, `  let z = Z[i];\n  A[i] = ${forward};`, `${label} over ${count}`);
}

/** dz = act'(z) * g over count items, `backward` a WGSL expression of z, a (the forward output) and g. */
export function activationBackwardWgsl(label: string, backward: string, count: number): string {
  const bindings = `@group(0) @binding(0) var<storage, read> Z: array<f32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> DZ: array<f32>;`;
  return elementwise(
    count,
    bindings,
    `  let z = Z[i];\n  let a = A[i];\n  let g = G[i];\n  DZ[i] = ${backward};`,
    `${label} backward over ${count}`,
  );
}

/** out = x * mask over count items (dropout forward, and its backward with x = dL/d(out)). */
export function maskWgsl(count: number): string {
  const bindings = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;`;
  return elementwise(count, bindings, "  out[i] = x[i] * mask[i];", `out = x * mask over ${count}`);
}

/**
 * Geometry of a 2-D window op (conv or pool) on NHWC images, as the CPU kernels take it
 * (windowGeometry in ../../layers.ts): input H x W x C, window KH x KW, strides SH x SW, output
 * OH x OW, and the padding before the first row and column.
 */
export interface WindowShape {
  n: number;
  H: number;
  W: number;
  C: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  OH: number;
  OW: number;
  padTop: number;
  padLeft: number;
}

const i = (n: number) => `${n | 0}i`;

function checkWindow(s: WindowShape): void {
  for (const k of ["n", "H", "W", "C", "KH", "KW", "SH", "SW", "OH", "OW"] as const) checkSize(k, s[k]);
}

/** Decomposes flat index `i` of an [n, rows, cols, C] tensor into b, y, x, c (WGSL lines, i32). */
function nhwc(rows: number, cols: number, C: number, y = "y", x = "x"): string {
  return `  let ii = i32(i);
  let c = ii % ${i(C)};
  let ${x} = (ii / ${i(C)}) % ${i(cols)};
  let ${y} = (ii / ${i(C * cols)}) % ${i(rows)};
  let b = ii / ${i(C * cols * rows)};`;
}

/**
 * im2col: cols[(b * OH + oy) * OW + ox, (ky * KW + kx) * C + c] = x[b, oy * SH - padTop + ky,
 * ox * SW - padLeft + kx, c], 0 outside the image (kernelIm2col). One invocation per patch value.
 */
export function im2colWgsl(s: WindowShape): string {
  checkWindow(s);
  const patch = s.KH * s.KW * s.C;
  const count = s.n * s.OH * s.OW * patch;
  const bindings = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> cols: array<f32>;`;
  const body = `  let ii = i32(i);
  let k = ii % ${i(patch)};
  let r = ii / ${i(patch)};
  let c = k % ${i(s.C)};
  let kx = (k / ${i(s.C)}) % ${i(s.KW)};
  let ky = k / ${i(s.C * s.KW)};
  let ox = r % ${i(s.OW)};
  let oy = (r / ${i(s.OW)}) % ${i(s.OH)};
  let b = r / ${i(s.OW * s.OH)};
  let y = oy * ${i(s.SH)} - ${i(s.padTop)} + ky;
  let x = ox * ${i(s.SW)} - ${i(s.padLeft)} + kx;
  var v = 0.0;
  if (y >= 0i && y < ${i(s.H)} && x >= 0i && x < ${i(s.W)}) { v = X[((b * ${i(s.H)} + y) * ${i(s.W)} + x) * ${i(s.C)} + c]; }
  cols[i] = v;`;
  return elementwise(count, bindings, body, `im2col: [${s.n} x ${s.H} x ${s.W} x ${s.C}] -> patches [${s.n * s.OH * s.OW} x ${patch}]`);
}

/**
 * The loops over the output windows that hold input position (y, x), in increasing (oy, ox) order
 * (the order in which the CPU kernels add their contributions): `body` sees oy, ox, ky, kx.
 */
function windowsOver(s: WindowShape, body: string): string {
  return `  for (var ky = ${i(s.KH - 1)}; ky >= 0i; ky--) {
    let ty = y + ${i(s.padTop)} - ky;
    if (ty < 0i || ty % ${i(s.SH)} != 0i || ty / ${i(s.SH)} >= ${i(s.OH)}) { continue; }
    let oy = ty / ${i(s.SH)};
    for (var kx = ${i(s.KW - 1)}; kx >= 0i; kx--) {
      let tx = x + ${i(s.padLeft)} - kx;
      if (tx < 0i || tx % ${i(s.SW)} != 0i || tx / ${i(s.SW)} >= ${i(s.OW)}) { continue; }
      let ox = tx / ${i(s.SW)};
${body}
    }
  }`;
}

/**
 * col2im: dx[b, y, x, c] = the sum of the patch gradients that read (y, x, c), added in the order
 * kernelCol2im adds them (so the result is the CPU's, bit for bit). One invocation per input value.
 */
export function col2imWgsl(s: WindowShape): string {
  checkWindow(s);
  const patch = s.KH * s.KW * s.C;
  const bindings = `@group(0) @binding(0) var<storage, read> cols: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;`;
  const body = `${nhwc(s.H, s.W, s.C)}
  var sum = 0.0;
${windowsOver(s, `      sum = sum + cols[((b * ${i(s.OH)} + oy) * ${i(s.OW)} + ox) * ${i(patch)} + (ky * ${i(s.KW)} + kx) * ${i(s.C)} + c];`)}
  dx[i] = sum;`;
  return elementwise(s.n * s.H * s.W * s.C, bindings, body, `col2im: patches [${s.n * s.OH * s.OW} x ${patch}] -> [${s.n} x ${s.H} x ${s.W} x ${s.C}]`);
}

/** The window of output value i: b, oy, ox, c and the clipped input rows/columns [y0, y1) x [x0, x1). */
function poolWindow(s: WindowShape): string {
  return `${nhwc(s.OH, s.OW, s.C, "oy", "ox")}
  let ys = oy * ${i(s.SH)} - ${i(s.padTop)};
  let xs = ox * ${i(s.SW)} - ${i(s.padLeft)};
  let y0 = max(ys, 0i);
  let y1 = min(ys + ${i(s.KH)}, ${i(s.H)});
  let x0 = max(xs, 0i);
  let x1 = min(xs + ${i(s.KW)}, ${i(s.W)});`;
}

/**
 * Max pooling: out = the window's maximum (the first one in row order on ties, as the CPU loop
 * keeps it), arg = its flat index in x, as u32.
 */
export function maxPoolWgsl(s: WindowShape): string {
  checkWindow(s);
  const bindings = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> arg: array<u32>;`;
  const body = `${poolWindow(s)}
  var at = ((b * ${i(s.H)} + y0) * ${i(s.W)} + x0) * ${i(s.C)} + c;
  var best = X[at];
  for (var y = y0; y < y1; y++) {
    for (var x = x0; x < x1; x++) {
      let j = ((b * ${i(s.H)} + y) * ${i(s.W)} + x) * ${i(s.C)} + c;
      if (X[j] > best) { best = X[j]; at = j; }
    }
  }
  out[i] = best;
  arg[i] = u32(at);`;
  return elementwise(s.n * s.OH * s.OW * s.C, bindings, body, `${s.KH}x${s.KW} max pooling, stride ${s.SH}x${s.SW}, over [${s.n} x ${s.H} x ${s.W} x ${s.C}]`);
}

/** dx[j] = the sum of g over the windows whose maximum was x[j], in the CPU loop's order. */
export function maxPoolBackwardWgsl(s: WindowShape): string {
  checkWindow(s);
  const bindings = `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> arg: array<u32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;`;
  const body = `${nhwc(s.H, s.W, s.C)}
  var sum = 0.0;
${windowsOver(s, `      let o = ((b * ${i(s.OH)} + oy) * ${i(s.OW)} + ox) * ${i(s.C)} + c;
      if (arg[o] == i) { sum = sum + G[o]; }`)}
  dx[i] = sum;`;
  return elementwise(s.n * s.H * s.W * s.C, bindings, body, `max pooling backward over [${s.n} x ${s.H} x ${s.W} x ${s.C}]`);
}

/** Average pooling, the padding left out of the average (Keras). */
export function avgPoolWgsl(s: WindowShape): string {
  checkWindow(s);
  const bindings = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;`;
  const body = `${poolWindow(s)}
  var sum = 0.0;
  for (var y = y0; y < y1; y++) {
    for (var x = x0; x < x1; x++) { sum = sum + X[((b * ${i(s.H)} + y) * ${i(s.W)} + x) * ${i(s.C)} + c]; }
  }
  out[i] = sum / f32((y1 - y0) * (x1 - x0));`;
  return elementwise(s.n * s.OH * s.OW * s.C, bindings, body, `${s.KH}x${s.KW} average pooling, stride ${s.SH}x${s.SW}, over [${s.n} x ${s.H} x ${s.W} x ${s.C}]`);
}

/** dx[j] = the sum of g / (window size) over the windows holding x[j], in the CPU loop's order. */
export function avgPoolBackwardWgsl(s: WindowShape): string {
  checkWindow(s);
  const bindings = `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;`;
  const body = `${nhwc(s.H, s.W, s.C)}
  var sum = 0.0;
${windowsOver(s, `      let ys = oy * ${i(s.SH)} - ${i(s.padTop)};
      let xs = ox * ${i(s.SW)} - ${i(s.padLeft)};
      let count = (min(ys + ${i(s.KH)}, ${i(s.H)}) - max(ys, 0i)) * (min(xs + ${i(s.KW)}, ${i(s.W)}) - max(xs, 0i));
      sum = sum + G[((b * ${i(s.OH)} + oy) * ${i(s.OW)} + ox) * ${i(s.C)} + c] / f32(count);`)}
  dx[i] = sum;`;
  return elementwise(s.n * s.H * s.W * s.C, bindings, body, `average pooling backward over [${s.n} x ${s.H} x ${s.W} x ${s.C}]`);
}

/** The terms of an l1/l2 penalty's gradient, as the CPU program writes them: l1 * sign(w) + 2 * l2 * w. */
function penaltyTerms(l1: number, l2: number, gradient: boolean): string {
  const terms: string[] = [];
  if (l1) terms.push(gradient ? `${f32(l1)} * sign(w)` : `${f32(l1)} * abs(w)`);
  if (l2) terms.push(gradient ? `${f32(2 * l2)} * w` : `${f32(l2)} * w * w`);
  return terms.length ? terms.join(" + ") : "0.0";
}

/** grad += l1 * sign(w) + 2 * l2 * w over a weight of count values (a regularizer's gradient). */
export function regularizerGradWgsl(count: number, l1: number, l2: number): string {
  const bindings = `@group(0) @binding(0) var<storage, read> W: array<f32>;
@group(0) @binding(1) var<storage, read_write> grad: array<f32>;`;
  return elementwise(count, bindings, `  let w = W[i];\n  grad[i] = grad[i] + ${penaltyTerms(l1, l2, true)};`, `regularizer gradient (l1 ${l1}, l2 ${l2}) over ${count}`);
}

/** Values a penalty's workgroup adds up in parallel before one invocation adds the partial sums. */
export const PENALTY_GROUP = 64;

/**
 * out[slot] = l1 * sum |w| + l2 * sum w² over a weight of count values (Keras's penalty), in one
 * workgroup: each invocation sums a strided part, the first adds the parts.
 */
export function penaltyWgsl(count: number, l1: number, l2: number, slot: number): string {
  checkSize("count", count);
  return `// regularizer penalty (l1 ${l1}, l2 ${l2}) over ${count} values, into out[${slot}]
@group(0) @binding(0) var<storage, read> W: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
var<workgroup> part: array<f32, ${PENALTY_GROUP}>;

@compute @workgroup_size(${PENALTY_GROUP})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  var s = 0.0;
  for (var i = lid.x; i < ${u(count)}; i += ${u(PENALTY_GROUP)}) {
    let w = W[i];
    s = s + ${penaltyTerms(l1, l2, false)};
  }
  part[lid.x] = s;
  workgroupBarrier();
  if (lid.x == 0u) {
    var t = 0.0;
    for (var j = 0u; j < ${u(PENALTY_GROUP)}; j++) { t = t + part[j]; }
    out[${u(slot)}] = t;
  }
}
`;
}

/** Bindings of the optional per-channel scale gamma and shift beta (absent: 1 and 0). */
function gammaBeta(first: number, gamma: boolean, beta: boolean): { bindings: string; g: string; b: string } {
  const lines: string[] = [];
  let at = first;
  if (gamma) lines.push(`@group(0) @binding(${at++}) var<storage, read> gamma: array<f32>;`);
  if (beta) lines.push(`@group(0) @binding(${at++}) var<storage, read> beta: array<f32>;`);
  return { bindings: lines.join("\n"), g: gamma ? "gamma[c]" : "1.0", b: beta ? " + beta[c]" : "" };
}

/**
 * Per-channel batch statistics, one invocation per channel over rows x C values (rows added in
 * order, as the CPU loop does): stats[c] = the batch mean, stats[C + c] = 1 / sqrt(biased
 * variance + epsilon); the moving mean and variance move by `momentum`.
 */
export function channelStatsWgsl(rows: number, C: number, momentum: number, epsilon: number): string {
  checkSize("rows", rows);
  const bindings = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> movingMean: array<f32>;
@group(0) @binding(3) var<storage, read_write> movingVariance: array<f32>;`;
  const body = `  var s = 0.0;
  for (var r = 0u; r < ${u(rows)}; r++) { s = s + X[r * ${u(C)} + i]; }
  let mean = s / ${f32(rows)};
  var q = 0.0;
  for (var r = 0u; r < ${u(rows)}; r++) {
    let d = X[r * ${u(C)} + i] - mean;
    q = q + d * d;
  }
  let variance = q / ${f32(rows)};
  movingMean[i] = movingMean[i] * ${f32(momentum)} + mean * ${f32(Number((1 - momentum).toPrecision(12)))};
  movingVariance[i] = movingVariance[i] * ${f32(momentum)} + variance * ${f32(Number((1 - momentum).toPrecision(12)))};
  stats[i] = mean;
  stats[${u(C)} + i] = 1.0 / sqrt(variance + ${f32(epsilon)});`;
  return elementwise(C, bindings, body, `per-channel statistics of [${rows} x ${C}]`);
}

/** Per-channel normalisation by the stats of channelStatsWgsl: xhat = (x - mean) * invStd, out = gamma * xhat + beta. */
export function channelNormalizeWgsl(rows: number, C: number, gamma: boolean, beta: boolean): string {
  checkSize("C", C);
  const gb = gammaBeta(4, gamma, beta);
  const bindings = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> xhat: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${gb.bindings}`;
  const body = `  let c = i % ${u(C)};
  let h = (X[i] - stats[c]) * stats[${u(C)} + c];
  xhat[i] = h;
  out[i] = ${gb.g} * h${gb.b};`;
  return elementwise(rows * C, bindings, body, `per-channel normalisation (batch statistics) over [${rows} x ${C}]`);
}

/** Per-channel normalisation by a given mean and variance: out = gamma * (x - mean) / sqrt(variance + epsilon) + beta. */
export function channelNormalizeMeanVarianceWgsl(rows: number, C: number, epsilon: number, gamma: boolean, beta: boolean): string {
  checkSize("C", C);
  const gb = gammaBeta(4, gamma, beta);
  const bindings = `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> movingMean: array<f32>;
@group(0) @binding(2) var<storage, read> movingVariance: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${gb.bindings}`;
  const body = `  let c = i % ${u(C)};
  out[i] = (${gb.g} * (X[i] - movingMean[c])) / sqrt(movingVariance[c] + ${f32(epsilon)})${gb.b};`;
  return elementwise(rows * C, bindings, body, `per-channel normalisation (given mean and variance) over [${rows} x ${C}]`);
}

/** The gradients of the per-channel scale and shift, one invocation per channel: dGamma = sum g * xhat, dBeta = sum g. */
export function channelScaleShiftGradWgsl(rows: number, C: number): string {
  checkSize("rows", rows);
  const bindings = `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> xhat: array<f32>;
@group(0) @binding(2) var<storage, read_write> dGamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> dBeta: array<f32>;`;
  const body = `  var dg = 0.0;
  var db = 0.0;
  for (var r = 0u; r < ${u(rows)}; r++) {
    let j = r * ${u(C)} + i;
    dg = dg + G[j] * xhat[j];
    db = db + G[j];
  }
  dGamma[i] = dg;
  dBeta[i] = db;`;
  return elementwise(C, bindings, body, `per-channel scale and shift gradients over [${rows} x ${C}]`);
}

/** The input gradient of the per-channel normalisation by batch statistics: dx = gamma * invStd / R * (R * g - dBeta - xhat * dGamma). */
export function channelNormalizeBackwardWgsl(rows: number, C: number, gamma: boolean): string {
  checkSize("C", C);
  const gb = gammaBeta(6, gamma, false);
  const bindings = `@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> xhat: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> dGamma: array<f32>;
@group(0) @binding(4) var<storage, read> dBeta: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
${gb.bindings}`;
  const body = `  let c = i % ${u(C)};
  dx[i] = ((${gb.g} * stats[${u(C)} + c]) / ${f32(rows)}) * (${f32(rows)} * G[i] - dBeta[c] - xhat[i] * dGamma[c]);`;
  return elementwise(rows * C, bindings, body, `per-channel normalisation input gradient over [${rows} x ${C}]`);
}

/** Softmax over each row of `width` values (an activation inside the model), one invocation per row. */
export function softmaxRowsWgsl(rows: number, width: number): string {
  checkSize("width", width);
  const bindings = `@group(0) @binding(0) var<storage, read> Z: array<f32>;
@group(0) @binding(1) var<storage, read_write> A: array<f32>;`;
  const body = `  let o = i * ${u(width)};
  var top = Z[o];
  for (var j = 1u; j < ${u(width)}; j++) { top = max(top, Z[o + j]); }
  var sum = 0.0;
  for (var j = 0u; j < ${u(width)}; j++) { sum = sum + exp(Z[o + j] - top); }
  for (var j = 0u; j < ${u(width)}; j++) { A[o + j] = exp(Z[o + j] - top) / sum; }`;
  return elementwise(rows, bindings, body, `softmax over [${rows} x ${width}]`);
}

/** Softmax backward per row: dz_j = a_j * (g_j - sum_k g_k a_k). */
export function softmaxRowsBackwardWgsl(rows: number, width: number): string {
  checkSize("width", width);
  const bindings = `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> DZ: array<f32>;`;
  const body = `  let o = i * ${u(width)};
  var dot = 0.0;
  for (var j = 0u; j < ${u(width)}; j++) { dot = dot + G[o + j] * A[o + j]; }
  for (var j = 0u; j < ${u(width)}; j++) { DZ[o + j] = A[o + j] * (G[o + j] - dot); }`;
  return elementwise(rows, bindings, body, `softmax backward over [${rows} x ${width}]`);
}

/**
 * SGD with momentum (Keras): v = momentum * v - lr * g; w += v, or with Nesterov
 * w += momentum * v - lr * g. lr in a uniform (it may change from step to step).
 */
export function momentumWgsl(count: number, momentum: number, nesterov: boolean): string {
  const bindings = `@group(0) @binding(0) var<storage, read_write> value: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(3) var<uniform> lr: vec4f;`;
  const body = `  let g = grad[i];
  let v = ${f32(momentum)} * velocity[i] - lr.x * g;
  velocity[i] = v;
  value[i] = value[i] + ${nesterov ? `${f32(momentum)} * v - lr.x * g` : "v"};`;
  return elementwise(count, bindings, body, `sgd with momentum ${momentum}${nesterov ? " (Nesterov)" : ""} over ${count}`);
}

/** prelu: out = z > 0 ? z : alpha[i % A] * z over count values (alpha tiles the input). */
export function preluWgsl(count: number, A: number): string {
  checkSize("A", A);
  const bindings = `@group(0) @binding(0) var<storage, read> Z: array<f32>;
@group(0) @binding(1) var<storage, read> alpha: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;`;
  return elementwise(count, bindings, `  let z = Z[i];\n  out[i] = select(alpha[i % ${u(A)}] * z, z, z > 0.0);`, `prelu over ${count} (${A} alphas)`);
}

/** prelu's input gradient: dx = z > 0 ? g : alpha * g. */
export function preluBackwardWgsl(count: number, A: number): string {
  checkSize("A", A);
  const bindings = `@group(0) @binding(0) var<storage, read> Z: array<f32>;
@group(0) @binding(1) var<storage, read> alpha: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;`;
  return elementwise(count, bindings, `  let g = G[i];\n  dx[i] = select(alpha[i % ${u(A)}] * g, g, Z[i] > 0.0);`, `prelu backward over ${count} (${A} alphas)`);
}

/** prelu's alpha gradient, one invocation per alpha: the sum of g * z where z <= 0, rows in order. */
export function preluAlphaGradWgsl(rows: number, A: number): string {
  checkSize("rows", rows);
  const bindings = `@group(0) @binding(0) var<storage, read> Z: array<f32>;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> dAlpha: array<f32>;`;
  const body = `  var s = 0.0;
  for (var r = 0u; r < ${u(rows)}; r++) {
    let z = Z[r * ${u(A)} + i];
    if (z <= 0.0) { s = s + G[r * ${u(A)} + i] * z; }
  }
  dAlpha[i] = s;`;
  return elementwise(A, bindings, body, `prelu alpha gradient over [${rows} x ${A}]`);
}

/** A float constant as WGSL source (f32, always with a point or an exponent). */
export const wgslFloat = f32;

/**
 * An optimizer's update over a weight of `count` values, in place: `value`, `grad` and the rule's
 * per-value state arrays (bindings 2...), and eight per-step floats from the host in the uniform
 * `p` (p[0].x ... p[1].w: the learning rate and whatever the rule's step computes there, in
 * float64 as the CPU program does). `body` is WGSL over index i, with g = grad[i] defined. The
 * rules are the engine's (src/runtime/engines/standalone-webgpu.ts), written after the CPU
 * program's (../../training.ts), their constants baked in as the sizes are.
 */
export function updateRuleWgsl(count: number, name: string, state: readonly string[], body: string): string {
  const bindings = [
    "@group(0) @binding(0) var<storage, read_write> value: array<f32>;",
    "@group(0) @binding(1) var<storage, read> grad: array<f32>;",
    ...state.map((s, k) => `@group(0) @binding(${k + 2}) var<storage, read_write> ${s}: array<f32>;`),
    `@group(0) @binding(${state.length + 2}) var<uniform> p: array<vec4f, 2>;`,
  ].join("\n");
  return elementwise(count, bindings, `  let g = grad[i];\n${body}`, `${name} over ${count}`);
}

/** The elementwise losses' gradients dL/dp of e = p - y, as the CPU program writes them. */
export const WGSL_ELEMENTWISE_LOSSES: Record<string, (delta: number) => string> = {
  mse: () => "2.0 * e",
  mae: () => "sign(e)",
  huber: (delta) => `select(${f32(delta)} * sign(e), e, abs(e) <= ${f32(delta)})`,
};

/** dL/d(output) of an elementwise loss averaged over rows x classes: g = grad(p - y) / (rows * classes). */
export function elementwiseLossWgsl(kind: string, delta: number, rows: number, classes: number): string {
  const grad = WGSL_ELEMENTWISE_LOSSES[kind];
  if (!grad) throw new RangeError(`WGSL kernel: no loss ${kind}`);
  const bindings = `@group(0) @binding(0) var<storage, read> P: array<f32>;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> G: array<f32>;`;
  return elementwise(
    rows * classes,
    bindings,
    `  let e = P[i] - Y[i];\n  G[i] = (${grad(delta)}) / ${f32(rows * classes)};`,
    `${kind} loss gradient over [${rows} x ${classes}]`,
  );
}

/**
 * Sigmoid of each logit z into p, and the gradient of the binary cross-entropy averaged over
 * rows x classes: dz = (p - y) / (rows * classes) (sigmoid and loss together, as the CPU program).
 */
export function sigmoidCrossEntropyWgsl(rows: number, classes: number): string {
  const bindings = `@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;`;
  const body = `  let q = 1.0 / (1.0 + exp(-z[i]));
  p[i] = q;
  dz[i] = (q - y[i]) / ${f32(rows * classes)};`;
  return elementwise(rows * classes, bindings, body, `sigmoid + binary cross-entropy gradient over [${rows} x ${classes}]`);
}
