/**
 * Training augmentation of one 2.5D sample (METHOD.md section 7: random scaling, flips, Gaussian
 * noise, random contrast; gamma as well). Geometry changes move image and label together: one
 * output-to-source map per sample, images resampled bilinearly, labels by nearest neighbour, so a
 * transformed label is the label of the transformed image. Intensity changes touch the image only.
 * Every random choice comes from `seed`, so a batch is reproducible wherever it is built.
 *
 * Hand-written rather than taken from a library: the JavaScript image libraries resample 8-bit RGBA
 * pictures, not float multi-channel arrays paired with label maps.
 */
import { mulberry32, uniform, type Rng } from './random.ts';

export interface AugmentConfig {
  /** isotropic zoom factor range (> 1 enlarges) */
  readonly scale: readonly [number, number];
  /** flip left-right (columns) with probability 1/2 */
  readonly flip: boolean;
  /** Gaussian noise standard deviation as a fraction of the sample's intensity range */
  readonly noiseStd: number;
  /** contrast factor range, applied about the sample's mean */
  readonly contrast: readonly [number, number];
  /** gamma range, applied on the sample's [min, max] */
  readonly gamma: readonly [number, number];
  /** random translation up to this fraction of H and W (default 0.05; the paper's random crops) */
  readonly shift?: number;
  /** flip top-bottom with probability 1/2 (default false: knees are not upside down) */
  readonly flipVertical?: boolean;
}

export interface SampleShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** The random draws for one sample. */
export interface AugmentParams {
  readonly scale: number;
  readonly shiftRow: number;
  readonly shiftCol: number;
  readonly flipCols: boolean;
  readonly flipRows: boolean;
  readonly contrast: number;
  readonly gamma: number;
  readonly noiseStd: number;
  readonly noiseSeed: number;
}

export function sampleAugmentParams(rng: Rng, cfg: AugmentConfig, shape: SampleShape): AugmentParams {
  const shift = cfg.shift ?? 0.05;
  return {
    scale: uniform(rng, cfg.scale[0], cfg.scale[1]),
    shiftRow: uniform(rng, -shift, shift) * shape.height,
    shiftCol: uniform(rng, -shift, shift) * shape.width,
    flipCols: cfg.flip && rng() < 0.5,
    flipRows: (cfg.flipVertical ?? false) && rng() < 0.5,
    contrast: uniform(rng, cfg.contrast[0], cfg.contrast[1]),
    gamma: uniform(rng, cfg.gamma[0], cfg.gamma[1]),
    noiseStd: cfg.noiseStd * rng(),
    noiseSeed: Math.floor(rng() * 2 ** 32),
  };
}

/**
 * Geometric part, into new arrays: output pixel (r, c) takes the source point
 * centre + (flip(r, c) - centre - shift) / scale. Image outside the source gets each channel's
 * minimum (background), label outside gets 0.
 */
export function warp(
  image: Float32Array,
  label: Uint8Array | null,
  shape: SampleShape,
  p: AugmentParams,
): { image: Float32Array; label: Uint8Array | null } {
  const { channels: C, height: H, width: W } = shape;
  const plane = H * W;
  const out = new Float32Array(C * plane);
  const lab = label ? new Uint8Array(plane) : null;
  const cy = (H - 1) / 2;
  const cx = (W - 1) / 2;
  const inv = 1 / p.scale;
  const fill = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    let m = Infinity;
    for (let i = c * plane; i < (c + 1) * plane; i++) if (image[i]! < m) m = image[i]!;
    fill[c] = m;
  }
  for (let r = 0; r < H; r++) {
    const rr = p.flipRows ? H - 1 - r : r;
    const sy = cy + (rr - cy - p.shiftRow) * inv;
    const y0 = Math.floor(sy);
    const fy = sy - y0;
    for (let col = 0; col < W; col++) {
      const cc = p.flipCols ? W - 1 - col : col;
      const sx = cx + (cc - cx - p.shiftCol) * inv;
      const x0 = Math.floor(sx);
      const fx = sx - x0;
      const o = r * W + col;
      if (lab) {
        const ny = Math.round(sy);
        const nx = Math.round(sx);
        lab[o] = ny >= 0 && ny < H && nx >= 0 && nx < W ? label![ny * W + nx]! : 0;
      }
      const w11 = fx * fy;
      const w10 = fy - w11;
      const w01 = fx - w11;
      const w00 = 1 - fx - fy + w11;
      if (y0 >= 0 && y0 + 1 < H && x0 >= 0 && x0 + 1 < W) {
        const i = y0 * W + x0;
        for (let c = 0, b = i; c < C; c++, b += plane) {
          out[c * plane + o] =
            w00 * image[b]! + w01 * image[b + 1]! + w10 * image[b + W]! + w11 * image[b + W + 1]!;
        }
      } else {
        // near or beyond the border: missing neighbours take the channel's background value
        const in00 = y0 >= 0 && y0 < H && x0 >= 0 && x0 < W;
        const in01 = y0 >= 0 && y0 < H && x0 + 1 >= 0 && x0 + 1 < W;
        const in10 = y0 + 1 >= 0 && y0 + 1 < H && x0 >= 0 && x0 < W;
        const in11 = y0 + 1 >= 0 && y0 + 1 < H && x0 + 1 >= 0 && x0 + 1 < W;
        const i = y0 * W + x0;
        for (let c = 0; c < C; c++) {
          const b = c * plane + i;
          const f = fill[c]!;
          out[c * plane + o] =
            w00 * (in00 ? image[b]! : f) +
            w01 * (in01 ? image[b + 1]! : f) +
            w10 * (in10 ? image[b + W]! : f) +
            w11 * (in11 ? image[b + W + 1]! : f);
        }
      }
    }
  }
  return { image: out, label: lab };
}

/** Intensity part, in place: contrast about the mean, gamma on [min, max], then Gaussian noise. */
export function adjustIntensity(image: Float32Array, p: AugmentParams): void {
  let min = Infinity;
  let max = -Infinity;
  let mean = 0;
  for (let i = 0; i < image.length; i++) {
    const v = image[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    mean += v;
  }
  mean /= image.length;
  const range = max - min;
  if (!(range > 0)) return;
  // gamma through a 1024-entry table with linear interpolation (Math.pow per pixel dominated the cost)
  const lut = gammaTable(p.gamma);
  const scale = (LUT_SIZE - 1) / range;
  for (let i = 0; i < image.length; i++) {
    const v = mean + (image[i]! - mean) * p.contrast;
    // clamped to the original range, so the intensity scale is kept
    const t = Math.min(LUT_SIZE - 1, Math.max(0, (v - min) * scale));
    const k = Math.min(LUT_SIZE - 2, Math.floor(t));
    image[i] = min + range * (lut[k]! + (t - k) * (lut[k + 1]! - lut[k]!));
  }
  if (p.noiseStd > 0) {
    // Approximately Gaussian noise: the sum of the four bytes of one random 32-bit word (Irwin-Hall,
    // bounded at 3.5 sd), one generator call per pixel instead of Box-Muller's log, sqrt and cos.
    const rng = mulberry32(p.noiseSeed);
    const sd = (p.noiseStd * range) / Math.sqrt((4 * 65535) / 12);
    for (let i = 0; i < image.length; i++) {
      const u = (rng() * 4294967296) >>> 0;
      const sum = (u & 255) + ((u >>> 8) & 255) + ((u >>> 16) & 255) + (u >>> 24);
      image[i] = image[i]! + sd * (sum - 510);
    }
  }
}

const LUT_SIZE = 1024;

function gammaTable(gamma: number): Float64Array {
  const lut = new Float64Array(LUT_SIZE);
  for (let k = 0; k < LUT_SIZE; k++) lut[k] = Math.pow(k / (LUT_SIZE - 1), gamma);
  return lut;
}

/**
 * Augments one sample in place: image [C, H, W] and, when given, its label [H, W]. The random
 * draws come from `seed` alone.
 */
export function augmentSample(
  image: Float32Array,
  label: Uint8Array | null,
  shape: SampleShape,
  cfg: AugmentConfig,
  seed: number,
): void {
  const p = sampleAugmentParams(mulberry32(seed), cfg, shape);
  const w = warp(image, label, shape, p);
  image.set(w.image);
  if (label && w.label) label.set(w.label);
  adjustIntensity(image, p);
}
