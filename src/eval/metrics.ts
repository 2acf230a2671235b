/**
 * Per-structure evaluation of one scan in 3-D: Dice, HD95 (mm and voxels), ASSD (mm), HD (mm) and
 * volume error, with medpy's definitions (see surface-distance.ts) so that the numbers compare with
 * the papers' tables.
 *
 * Conventions for empty masks (each case is flagged so that summaries can count it separately):
 * - Dice: both empty -> 1, exactly one empty -> 0 (dice.ts).
 * - HD95, HD, ASSD: undefined when either mask is empty -> NaN, `distancesDefined = false`
 *   (medpy raises there; leaving such cases out of means silently would flatter a method that
 *   misses structures, hence the flag).
 * - Volume error (%) = 100 (V_pred - V_gt) / V_gt: NaN when the ground truth is empty.
 */
import type { Mask } from '../image/edt.ts';
import type { Shape3, Spacing3, VoxelArray } from '../data/volume.ts';
import { diceFromOverlap, overlap } from '../image/dice.ts';
import { summarizeSurfaceDistances, surfacePair, directedDistances } from './surface-distance.ts';

export interface StructureMetrics {
  dice: number;
  /** 95th percentile symmetric surface distance in mm (NaN if undefined) */
  hd95Mm: number;
  /** the same with unit spacing, i.e. in voxels (NaN if undefined) */
  hd95Vox: number;
  /** average symmetric surface distance in mm (NaN if undefined) */
  assdMm: number;
  /** Hausdorff distance (maximum) in mm (NaN if undefined) */
  hdMm: number;
  /** 100 (V_pred - V_gt) / V_gt (NaN when the ground truth is empty) */
  volumeErrorPct: number;
  predVoxels: number;
  gtVoxels: number;
  predEmpty: boolean;
  gtEmpty: boolean;
  /** false when either mask is empty, so the surface distances above are NaN */
  distancesDefined: boolean;
}

/**
 * Metrics of one structure.
 *
 * @param pred    binary prediction, x fastest, nonzero = inside
 * @param gt      binary ground truth of the same shape
 * @param shape   [nx, ny, nz]
 * @param spacing [sx, sy, sz] voxel size in mm
 */
export function structureMetrics(pred: Mask, gt: Mask, shape: Shape3, spacing: Spacing3): StructureMetrics {
  const o = overlap(pred, gt);
  const pair = surfacePair(pred, gt, shape);
  const mm = summarizeSurfaceDistances(pair && directedDistances(pair, spacing));
  const vox = summarizeSurfaceDistances(pair && directedDistances(pair, [1, 1, 1]));
  return {
    dice: diceFromOverlap(o),
    hd95Mm: mm.hd95,
    hd95Vox: vox.hd95,
    assdMm: mm.assd,
    hdMm: mm.hd,
    volumeErrorPct: o.gt === 0 ? NaN : (100 * (o.pred - o.gt)) / o.gt,
    predVoxels: o.pred,
    gtVoxels: o.gt,
    predEmpty: o.pred === 0,
    gtEmpty: o.gt === 0,
    distancesDefined: o.pred > 0 && o.gt > 0,
  };
}

/** Binary mask of the voxels of a label map equal to `label` (or to any of several labels). */
export function labelMask(labels: VoxelArray, label: number | readonly number[]): Uint8Array {
  const out = new Uint8Array(labels.length);
  if (typeof label === 'number') {
    for (let i = 0; i < labels.length; i++) out[i] = labels[i] === label ? 1 : 0;
  } else {
    const set = new Set(label);
    for (let i = 0; i < labels.length; i++) out[i] = set.has(labels[i]!) ? 1 : 0;
  }
  return out;
}
