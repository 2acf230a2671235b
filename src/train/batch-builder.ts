/**
 * Assembles one training batch from cached slices: the 2.5D channel stack [C, H, W] of each drawn
 * slice and, for the labelled ones, its label slice; augmented when a configuration is given.
 * Pure function of its inputs (the seed fixes every random choice), runnable in a worker.
 */
import { augmentSample } from '../data/augment.ts';
import { hashSeed } from '../data/random.ts';
import type { TrainConfig } from './config.ts';

/** A prepared case's slices in (shared) memory. */
export interface SharedCase {
  count: number;
  size: readonly [number, number];
  neighbours: number;
  /** [count, H, W] */
  planes: Float32Array;
  /** [count, H, W] tree leaf values */
  labels?: Uint8Array;
}

export interface BatchItem {
  caseIndex: number;
  slice: number;
  labelled: boolean;
}

export function buildBatch(
  cases: readonly SharedCase[],
  items: readonly BatchItem[],
  seed: number,
  augment: TrainConfig['augment'] | null,
): { image: Float32Array; label: Uint8Array } {
  const first = cases[items[0]!.caseIndex]!;
  const [H, W] = first.size;
  const plane = H * W;
  const C = 2 * first.neighbours + 1;
  const image = new Float32Array(items.length * C * plane);
  const label = new Uint8Array(items.filter((i) => i.labelled).length * plane);
  let li = 0;
  items.forEach((it, k) => {
    const p = cases[it.caseIndex]!;
    const img = image.subarray(k * C * plane, (k + 1) * C * plane);
    for (let c = 0; c < C; c++) {
      const s = Math.min(p.count - 1, Math.max(0, it.slice + c - p.neighbours));
      img.set(p.planes.subarray(s * plane, (s + 1) * plane), c * plane);
    }
    let lab: Uint8Array | null = null;
    if (it.labelled) {
      lab = label.subarray(li * plane, (li + 1) * plane);
      lab.set(p.labels!.subarray(it.slice * plane, (it.slice + 1) * plane));
      li++;
    }
    if (augment?.enabled)
      augmentSample(img, lab, { channels: C, height: H, width: W }, augment, hashSeed(seed, k));
  });
  return { image, label };
}
