/**
 * Dice similarity coefficient (Dice 1945; Sørensen 1948): 2 |P ∩ G| / (|P| + |G|) of two binary
 * masks of the same shape.
 *
 * Convention for empty masks (as MONAI's `DiceMetric(ignore_empty=False)`): both empty -> 1 (the
 * structure is rightly absent), exactly one empty -> 0.
 */
import type { Mask } from './edt.ts';

/** Voxel counts of prediction, ground truth and their overlap. */
export interface Overlap {
  pred: number;
  gt: number;
  both: number;
}

export function overlap(pred: Mask, gt: Mask): Overlap {
  if (pred.length !== gt.length) {
    throw new RangeError(`dice: prediction has ${pred.length} voxels, ground truth ${gt.length}`);
  }
  let p = 0;
  let g = 0;
  let both = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] !== 0;
    const b = gt[i] !== 0;
    if (a) p++;
    if (b) g++;
    if (a && b) both++;
  }
  return { pred: p, gt: g, both };
}

/** Dice of two binary masks (nonzero = inside); see the module comment for empty masks. */
export function dice(pred: Mask, gt: Mask): number {
  return diceFromOverlap(overlap(pred, gt));
}

export function diceFromOverlap(o: Overlap): number {
  if (o.pred + o.gt === 0) return 1;
  return (2 * o.both) / (o.pred + o.gt);
}
