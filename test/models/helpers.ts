/** Shared pieces of the model tests: small configs, synthetic slices, Dice, gradient bookkeeping. */
import { scope, tensor, type Tensor } from '../../src/engine/index.ts';
import { buildModel, type ModelConfigInput, type SegmentationNet } from '../../src/models/registry.ts';

/** A MedT of the official structure at 1/2 width and 2 heads (fast enough for unit tests). */
export const SMALL_MEDT = {
  widthFactor: 0.0625,
  heads: 2,
  stemChannels: 16,
  patchSize: [16, 16] as [number, number],
};

export function smallModel(
  backbone: 'medt' | 'unet',
  imageSize: [number, number],
  extra: ModelConfigInput = {},
): SegmentationNet {
  return buildModel({
    backbone,
    inChannels: 2,
    outChannels: 3,
    imageSize,
    medt: SMALL_MEDT,
    unet: { baseChannels: 8, depth: 3 },
    ...extra,
  });
}

/**
 * Synthetic slices: a disc (label 1) inside a ring (label 2) at a random centre, in a 2-channel image
 * (intensity and a noisy copy). Returns the image [N, 2, S, S] and labels [N, S, S] (int64).
 */
export function discsAndRings(
  n: number,
  size: number,
  seed = 1,
): { x: Tensor; y: Tensor; labels: Int32Array } {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const img = new Float32Array(n * 2 * size * size);
  const labels = new Int32Array(n * size * size);
  for (let b = 0; b < n; b++) {
    const cy = size * (0.35 + 0.3 * rnd());
    const cx = size * (0.35 + 0.3 * rnd());
    const r1 = size * (0.1 + 0.08 * rnd());
    const r2 = r1 + size * (0.08 + 0.05 * rnd());
    for (let i = 0; i < size; i++)
      for (let j = 0; j < size; j++) {
        const d = Math.hypot(i - cy, j - cx);
        const lab = d < r1 ? 1 : d < r2 ? 2 : 0;
        const p = (b * size + i) * size + j;
        labels[p] = lab;
        const v = lab === 1 ? 1 : lab === 2 ? 0.5 : 0;
        img[((b * 2 + 0) * size + i) * size + j] = v;
        img[((b * 2 + 1) * size + i) * size + j] = v + 0.1 * (rnd() - 0.5);
      }
  }
  return {
    x: tensor(img, [n, 2, size, size]).keep(),
    y: tensor(Array.from(labels), [n, size, size], { dtype: 'int64' }).keep(),
    labels,
  };
}

/** Mean Dice over the foreground classes 1..K-1 of a predicted label map against the truth. */
export function meanDice(pred: ArrayLike<number>, truth: ArrayLike<number>, classes: number): number {
  let sum = 0;
  for (let c = 1; c < classes; c++) {
    let inter = 0;
    let a = 0;
    let b = 0;
    for (let i = 0; i < truth.length; i++) {
      const p = pred[i] === c;
      const t = truth[i] === c;
      if (p) a++;
      if (t) b++;
      if (p && t) inter++;
    }
    sum += a + b === 0 ? 1 : (2 * inter) / (a + b);
  }
  return sum / (classes - 1);
}

/** Names of parameters whose gradient is missing, non-finite, or identically zero. */
export function gradientProblems(
  model: SegmentationNet,
  skip: (name: string) => boolean = () => false,
): string[] {
  const bad: string[] = [];
  scope(() => {
    for (const [name, p] of model.namedParameters()) {
      if (skip(name)) continue;
      const g = p.grad;
      if (!g) bad.push(`${name}: no gradient`);
      else if (!g.isfinite().all().item()) bad.push(`${name}: non-finite gradient`);
      else if (g.abs().max().item() === 0) bad.push(`${name}: zero gradient`);
    }
  });
  return bad;
}
