// EMBEDDABLE MODULE: imports nothing. The standalone generator copies it into generated programs;
// the tfjs engine imports it. Both engines therefore augment bit-identically for a given rng.
//
// On-the-fly affine augmentation with keras.preprocessing.image.ImageDataGenerator semantics:
// per image, draw (in Keras's order, each only when its range is non-zero)
//   theta ~ U(-rotation, rotation) degrees, tx ~ U(-heightShift, heightShift) * height,
//   ty ~ U(-widthShift, widthShift) * width, shear ~ U(-shear, shear) degrees,
//   zx, zy ~ U(1 - zoom, 1 + zoom) (independently, as Keras does),
// build M = rotation · shift · shear · zoom (Keras's apply_affine_transform, in (row, col)
// coordinates) and sample input(M · (out - centre) + centre) for each output pixel, with bilinear
// (Keras's order=1) or nearest interpolation and scipy.ndimage's fill modes beyond the border.
// Differences from Keras, on purpose: the centre is the true pixel centre ((n - 1) / 2, where Keras
// uses n / 2 + 0.5), and height/width shifts move rows/columns respectively (tf.keras's x/y swap
// makes "tx" move columns); for MNIST's square images and symmetric ranges the distributions are
// the same.

export interface AugmentConfig {
  /** Degrees. */
  rotation: number;
  /** Fractions of the width / height. */
  widthShift: number;
  heightShift: number;
  /** Zoom factor in [1 - zoom, 1 + zoom]. */
  zoom: number;
  /** Degrees. */
  shear: number;
  fill: "nearest" | "constant" | "reflect" | "wrap";
  /** Fill value for "constant". */
  cval: number;
  /** Sampling; bilinear by default (Keras's interpolation_order=1). */
  interpolation?: "bilinear" | "nearest";
}

/** Draws one image's transform (Keras's order of draws) and returns the 2x3 matrix mapping output (row, col) offsets from the centre to input offsets, plus the shift. */
export function randomAffine(cfg: AugmentConfig, height: number, width: number, rng: () => number): Float64Array {
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * rng();
  let theta = 0;
  let tx = 0;
  let ty = 0;
  let shear = 0;
  let zx = 1;
  let zy = 1;
  if (cfg.rotation) theta = (uniform(-cfg.rotation, cfg.rotation) * Math.PI) / 180;
  if (cfg.heightShift) tx = uniform(-cfg.heightShift, cfg.heightShift) * height;
  if (cfg.widthShift) ty = uniform(-cfg.widthShift, cfg.widthShift) * width;
  if (cfg.shear) shear = (uniform(-cfg.shear, cfg.shear) * Math.PI) / 180;
  if (cfg.zoom) {
    zx = uniform(1 - cfg.zoom, 1 + cfg.zoom);
    zy = uniform(1 - cfg.zoom, 1 + cfg.zoom);
  }
  return affineMatrix(theta, tx, ty, shear, zx, zy);
}

/** rotation(theta) · shift(tx, ty) · shear(shear) · zoom(zx, zy), angles in radians, as [a, b, c, d, e, f]: in = [[a, b], [d, e]] · out + [c, f]. */
export function affineMatrix(
  theta: number,
  tx: number,
  ty: number,
  shear: number,
  zx: number,
  zy: number,
): Float64Array {
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  // R · T: [[cos, -sin, cos*tx - sin*ty], [sin, cos, sin*tx + cos*ty]]
  const r00 = cos;
  const r01 = -sin;
  const r02 = cos * tx - sin * ty;
  const r10 = sin;
  const r11 = cos;
  const r12 = sin * tx + cos * ty;
  // · Shear [[1, -sin(s), 0], [0, cos(s), 0]]
  const ss = -Math.sin(shear);
  const cs = Math.cos(shear);
  const s00 = r00;
  const s01 = r00 * ss + r01 * cs;
  const s10 = r10;
  const s11 = r10 * ss + r11 * cs;
  // · Zoom [[zx, 0, 0], [0, zy, 0]]
  return new Float64Array([s00 * zx, s01 * zy, r02, s10 * zx, s11 * zy, r12]);
}

/** Maps an out-of-range index into [0, n) by a fill mode (scipy.ndimage's nearest / reflect / wrap). */
export function fillIndex(i: number, n: number, fill: "nearest" | "reflect" | "wrap"): number {
  if (i >= 0 && i < n) return i;
  if (fill === "nearest") return i < 0 ? 0 : n - 1;
  if (fill === "wrap") return ((i % n) + n) % n;
  // reflect: half-sample symmetric, d c b a | a b c d | d c b a
  const period = 2 * n;
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - 1 - j;
  return j;
}

/** Samples one channel of an image (offset `base`, `channels` interleaved) at fractional (y, x). */
export function sampleImage(
  src: Float32Array,
  base: number,
  height: number,
  width: number,
  channels: number,
  channel: number,
  y: number,
  x: number,
  cfg: AugmentConfig,
): number {
  if (cfg.fill === "constant") {
    // scipy "constant": no interpolation beyond the edges
    if (y < -1e-9 || y > height - 1 + 1e-9 || x < -1e-9 || x > width - 1 + 1e-9) return cfg.cval;
    y = Math.min(Math.max(y, 0), height - 1);
    x = Math.min(Math.max(x, 0), width - 1);
  }
  const mode = cfg.fill === "constant" ? "nearest" : cfg.fill;
  if (cfg.interpolation === "nearest") {
    const yi = fillIndex(Math.round(y), height, mode);
    const xi = fillIndex(Math.round(x), width, mode);
    return src[base + (yi * width + xi) * channels + channel];
  }
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  const ya = fillIndex(y0, height, mode);
  const yb = fillIndex(y0 + 1, height, mode);
  const xa = fillIndex(x0, width, mode);
  const xb = fillIndex(x0 + 1, width, mode);
  const p00 = src[base + (ya * width + xa) * channels + channel];
  const p01 = src[base + (ya * width + xb) * channels + channel];
  const p10 = src[base + (yb * width + xa) * channels + channel];
  const p11 = src[base + (yb * width + xb) * channels + channel];
  return (1 - fy) * ((1 - fx) * p00 + fx * p01) + fy * ((1 - fx) * p10 + fx * p11);
}

/** Applies one 2x3 affine matrix (from randomAffine) to image `i` of src into dst. */
export function applyAffine(
  src: Float32Array,
  dst: Float32Array,
  i: number,
  height: number,
  width: number,
  channels: number,
  m: Float64Array,
  cfg: AugmentConfig,
): void {
  const size = height * width * channels;
  const base = i * size;
  const cy = (height - 1) / 2;
  const cx = (width - 1) / 2;
  for (let r = 0; r < height; r++) {
    const dy = r - cy;
    for (let c = 0; c < width; c++) {
      const dx = c - cx;
      const y = m[0] * dy + m[1] * dx + m[2] + cy;
      const x = m[3] * dy + m[4] * dx + m[5] + cx;
      for (let ch = 0; ch < channels; ch++) {
        dst[base + (r * width + c) * channels + ch] = sampleImage(src, base, height, width, channels, ch, y, x, cfg);
      }
    }
  }
}

/**
 * Augments `count` images (NHWC, `channels` per pixel, one channel by default) from src into dst,
 * one random transform per image drawn from rng (uniform in [0, 1)). With every range zero, dst is
 * a copy of src and rng is not called.
 */
export function augmentBatch(
  src: Float32Array,
  dst: Float32Array,
  count: number,
  height: number,
  width: number,
  cfg: AugmentConfig,
  rng: () => number,
  channels = 1,
): void {
  const size = height * width * channels;
  for (let i = 0; i < count; i++) {
    const m = randomAffine(cfg, height, width, rng);
    if (m[0] === 1 && m[1] === 0 && m[2] === 0 && m[3] === 0 && m[4] === 1 && m[5] === 0) {
      dst.set(src.subarray(i * size, (i + 1) * size), i * size);
    } else {
      applyAffine(src, dst, i, height, width, channels, m, cfg);
    }
  }
}
