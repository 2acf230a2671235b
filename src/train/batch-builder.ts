/**
 * Assembles one training batch from cached slices: the 2.5D channel stack [C, H, W] of each drawn
 * slice and, for the labelled ones, its label slice; augmented when a configuration is given; and,
 * when level-set targets are asked for, their signed distance maps computed from the augmented labels.
 * Pure function of its inputs (the seed fixes every random choice), runnable in a worker.
 */
import { augmentSample } from '../data/augment.ts';
import { hashSeed } from '../data/random.ts';
import { levelSetTargets, type LevelSetTargetSpec } from '../levelset/target-spec.ts';
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

/** The level-set targets to compute with a batch: what (the method's spec) and the pixel spacing. */
export interface LevelSetRequest {
  spec: LevelSetTargetSpec;
  /** [row, col] in mm */
  spacing: readonly [number, number];
}

export function buildBatch(
  cases: readonly SharedCase[],
  items: readonly BatchItem[],
  seed: number,
  augment: TrainConfig['augment'] | null,
  levelSet: LevelSetRequest | null = null,
): { image: Float32Array; label: Uint8Array; sdf?: Float32Array } {
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
  if (!levelSet) return { image, label };
  const sdf = levelSetTargets(label, [li, H, W], levelSet.spec, levelSet.spacing);
  return { image, label, sdf };
}
