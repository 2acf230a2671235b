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

/**
 * Adds, for each value in `labels`, the overlap of `pred === value` and `gt === value` to its entry
 * in `into` (a zero entry is made for a value without one), so that counts can be pooled over
 * batches before Dice is taken (diceFromOverlap). Values not in `labels` are not counted.
 */
export function addLabelOverlaps(
  pred: ArrayLike<number>,
  gt: ArrayLike<number>,
  labels: Iterable<number>,
  into: Map<number, Overlap>,
): void {
  if (pred.length !== gt.length) {
    throw new RangeError(`dice: prediction has ${pred.length} voxels, ground truth ${gt.length}`);
  }
  // only the requested labels, even when `into` holds others
  const counted = new Map<number, Overlap>();
  for (const v of labels) {
    let o = into.get(v);
    if (!o) into.set(v, (o = { pred: 0, gt: 0, both: 0 }));
    counted.set(v, o);
  }
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]!;
    const g = gt[i]!;
    const op = counted.get(p);
    if (op) {
      op.pred++;
      if (p === g) op.both++;
    }
    const og = counted.get(g);
    if (og) og.gt++;
  }
}
