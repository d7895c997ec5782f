// Seeded randomness and weight initializers, shared by both engines.
//
// EMBEDDABLE MODULE: imports nothing (not even local files), so the standalone generator can copy
// the declarations a model needs into its generated program (src/compiler/targets/standalone/embed.ts)
// and both engines start from bit-identical weights for the same seed.
//
// The generator is mulberry32 (32-bit state, period 2^32): small, fast and plenty for shuffling,
// dropout masks, augmentation and initial weights. Every weight tensor gets its own stream,
// seeded from the run seed and the weight's name, so adding a layer never changes the others.

/** A weight initializer, as the IR spells it: {kind: "he_normal", args: {}}. */
export interface InitializerSpec {
  kind: string;
  args: Record<string, unknown>;
}

/** The part of an IR model that initialWeights() reads (an IRModel fits). */
export interface WeightedModel {
  layers: { weights: { name: string; shape: number[]; initializer: InitializerSpec }[] }[];
}

/** A seeded pseudo-random stream: uniform, normal and truncated-normal samples. */
export class Random {
  /**
   * The 32-bit state, kept in a typed array: a number property holding values above 2^30 is a
   * boxed heap number, and updating it would allocate in every call.
   */
  private readonly state = new Uint32Array(1);
  private spare: number | null = null;

  constructor(seed: number) {
    this.state[0] = seed >>> 0;
  }

  /** Where the stream is (its state and the spare normal), to continue it later with setState. */
  getState(): [number, number | null] {
    return [this.state[0]!, this.spare];
  }

  /** Continues the stream from a getState() value: the draws that follow are the ones that followed then. */
  setState(state: [number, number | null]): void {
    this.state[0] = state[0] >>> 0;
    this.spare = state[1];
  }

  /** Uniform in [0, 1) (mulberry32). */
  next(): number {
    let t = (this.state[0]! + 0x6d2b79f5) >>> 0;
    this.state[0] = t;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * Advances past the next `count` uniform draws and returns the state they start from: draw i of them
   * (from 0) is mulberry32's output for state + (i + 1) * 0x6d2b79f5, which a vectorised kernel
   * (the standalone program's kernelDropout) computes four at a time, the same numbers as next().
   */
  advance(count: number): number {
    const start = this.state[0]!;
    this.state[0] = (start + Math.imul(count, 0x6d2b79f5)) >>> 0;
    return start;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** An integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Normal with the given mean and standard deviation (Box-Muller, both values used). */
  normal(mean: number, stddev: number): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + stddev * z;
    }
    let u = this.next();
    while (u <= 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + stddev * r * Math.cos(2 * Math.PI * v);
  }

  /** Normal, redrawn while more than two standard deviations from the mean (TensorFlow's truncated_normal). */
  truncatedNormal(mean: number, stddev: number): number {
    for (;;) {
      const z = this.normal(0, 1);
      if (z >= -2 && z <= 2) return mean + stddev * z;
    }
  }

  /** Shuffles the first `n` entries of `order` in place (Fisher-Yates). */
  shuffle(order: Int32Array | Uint32Array | number[], n: number = order.length): void {
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
  }
}

/** A 32-bit FNV-1a hash of a string mixed with a seed: the seed of one weight's stream. */
export function hashSeed(seed: number, text: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche (murmur3 fmix32) so that nearby seeds give unrelated streams.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Keras's fan-in and fan-out: dense [in, out]; conv [kh, kw, in, out] counts the receptive field. */
export function computeFans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  if (shape.length === 2) return { fanIn: shape[0]!, fanOut: shape[1]! };
  let receptiveField = 1;
  for (let i = 0; i < shape.length - 2; i++) receptiveField *= shape[i]!;
  return {
    fanIn: shape[shape.length - 2]! * receptiveField,
    fanOut: shape[shape.length - 1]! * receptiveField,
  };
}

/**
 * Fills `out` with an initializer's values for a tensor of `shape`, drawing from `rng`.
 * Keras semantics and defaults: random_normal(mean 0, stddev 0.05), random_uniform(-0.05, 0.05),
 * truncated_normal(mean 0, stddev 0.05), and the variance-scaling family (glorot = fan_avg scale 1,
 * he = fan_in scale 2, lecun = fan_in scale 1; "normal" ones draw a truncated normal whose stddev
 * is corrected by 0.8796..., the stddev of a unit normal truncated at two).
 */
export function fillInitializer(init: InitializerSpec, shape: number[], rng: Random, out: Float32Array): void {
  const a = init.args;
  const n = out.length;
  const varianceScaling = (scale: number, mode: "fan_in" | "fan_out" | "fan_avg", uniform: boolean): void => {
    const { fanIn, fanOut } = computeFans(shape);
    const fan = mode === "fan_in" ? fanIn : mode === "fan_out" ? fanOut : (fanIn + fanOut) / 2;
    const variance = scale / Math.max(1, fan);
    if (uniform) {
      const limit = Math.sqrt(3 * variance);
      for (let i = 0; i < n; i++) out[i] = rng.uniform(-limit, limit);
    } else {
      const stddev = Math.sqrt(variance) / 0.8796256610342398;
      for (let i = 0; i < n; i++) out[i] = rng.truncatedNormal(0, stddev);
    }
  };
  switch (init.kind) {
    case "zeros":
      out.fill(0);
      return;
    case "ones":
      out.fill(1);
      return;
    case "constant":
      out.fill(a.value as number);
      return;
    case "random_normal": {
      const mean = a.mean as number;
      const stddev = a.stddev as number;
      for (let i = 0; i < n; i++) out[i] = rng.normal(mean, stddev);
      return;
    }
    case "random_uniform": {
      const lo = a.minval as number;
      const hi = a.maxval as number;
      for (let i = 0; i < n; i++) out[i] = rng.uniform(lo, hi);
      return;
    }
    case "truncated_normal": {
      const mean = a.mean as number;
      const stddev = a.stddev as number;
      for (let i = 0; i < n; i++) out[i] = rng.truncatedNormal(mean, stddev);
      return;
    }
    case "glorot_normal":
      return varianceScaling(1, "fan_avg", false);
    case "glorot_uniform":
      return varianceScaling(1, "fan_avg", true);
    case "he_normal":
      return varianceScaling(2, "fan_in", false);
    case "he_uniform":
      return varianceScaling(2, "fan_in", true);
    case "lecun_normal":
      return varianceScaling(1, "fan_in", false);
    case "lecun_uniform":
      return varianceScaling(1, "fan_in", true);
    default:
      throw new Error(`unknown initializer "${init.kind}"`);
  }
}

/** The number of scalars in a tensor of this shape. */
export function shapeSize(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Every weight of the model (trainable or not), initialised from `seed`: name -> values in the
 * Keras layout. Each weight draws from its own stream, Random(hashSeed(seed, name)).
 */
export function initialWeights(model: WeightedModel, seed: number): Map<string, Float32Array> {
  const result = new Map<string, Float32Array>();
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      const values = new Float32Array(shapeSize(w.shape));
      fillInitializer(w.initializer, w.shape, new Random(hashSeed(seed, w.name)), values);
      result.set(w.name, values);
    }
  }
  return result;
}
