/**
 * Surface distances between two 3-D binary masks with medpy's semantics (medpy.metric.binary,
 * `__surface_distances`, `hd`, `hd95`, `assd`), the definitions behind the HD95 and ASSD columns of
 * the semi-supervised segmentation papers we compare with (DTC, CLD, SSL4MIS all call medpy):
 *
 * - surface of a mask = mask XOR its binary erosion by the connectivity-1 cross (6 neighbours in
 *   3-D), with the outside of the image counted as background (scipy's `border_value=0`), so a mask
 *   touching the image edge has surface there;
 * - directed distances A -> B = for each surface voxel of A, the exact Euclidean distance (voxel
 *   spacing honoured) to the nearest surface voxel of B;
 * - HD = max, HD95 = 95th percentile (numpy "linear") of the union of both directed sets,
 *   ASSD = mean of the two directed means.
 *
 * Surface distances are undefined when either mask is empty (medpy raises); these functions return
 * NaN then and the caller reports the case (see metrics.ts).
 */
import { squaredDistanceToForeground, type Mask } from '../image/edt.ts';
import { percentileSorted } from '../image/percentile.ts';
import type { Shape3, Spacing3 } from '../data/volume.ts';

/** Surface voxels of a 3-D mask: inside voxels with a 6-neighbour outside the mask or the image. */
export function surfaceVoxels(mask: Mask, shape: Shape3): Uint8Array {
  const [nx, ny, nz] = shape;
  const sxy = nx * ny;
  const out = new Uint8Array(mask.length);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      let i = nx * (y + ny * z);
      for (let x = 0; x < nx; x++, i++) {
        if (!mask[i]) continue;
        const interior =
          x > 0 &&
          x < nx - 1 &&
          y > 0 &&
          y < ny - 1 &&
          z > 0 &&
          z < nz - 1 &&
          mask[i - 1] &&
          mask[i + 1] &&
          mask[i - nx] &&
          mask[i + nx] &&
          mask[i - sxy] &&
          mask[i + sxy];
        if (!interior) out[i] = 1;
      }
    }
  }
  return out;
}

interface Box {
  lo: [number, number, number];
  hi: [number, number, number]; // exclusive
}

/** Bounding box of the nonzero voxels of any of the masks; null when all are empty. */
function boundingBox(masks: readonly Mask[], shape: Shape3): Box | null {
  const [nx, ny] = shape;
  const lo: [number, number, number] = [Infinity, Infinity, Infinity];
  const hi: [number, number, number] = [-1, -1, -1];
  for (const m of masks) {
    for (let i = 0; i < m.length; i++) {
      if (!m[i]) continue;
      const x = i % nx;
      const y = Math.floor(i / nx) % ny;
      const z = Math.floor(i / (nx * ny));
      if (x < lo[0]) lo[0] = x;
      if (y < lo[1]) lo[1] = y;
      if (z < lo[2]) lo[2] = z;
      if (x > hi[0]) hi[0] = x;
      if (y > hi[1]) hi[1] = y;
      if (z > hi[2]) hi[2] = z;
    }
  }
  if (hi[0] < 0) return null;
  return { lo, hi: [hi[0] + 1, hi[1] + 1, hi[2] + 1] };
}

function crop(m: Mask, shape: Shape3, box: Box): Uint8Array {
  const [nx, ny] = shape;
  const [bx, by, bz] = [box.hi[0] - box.lo[0], box.hi[1] - box.lo[1], box.hi[2] - box.lo[2]];
  const out = new Uint8Array(bx * by * bz);
  let o = 0;
  for (let z = 0; z < bz; z++) {
    for (let y = 0; y < by; y++) {
      const src = box.lo[0] + nx * (box.lo[1] + y + ny * (box.lo[2] + z));
      out.set(m.subarray(src, src + bx), o);
      o += bx;
    }
  }
  return out;
}

/** Distances from each voxel set in `from` to the nearest voxel set in `to` (both non-empty). */
function directed(from: Uint8Array, to: Uint8Array, shape: Shape3, spacing: Spacing3): Float64Array {
  const d2 = squaredDistanceToForeground(to, shape, spacing);
  let n = 0;
  for (let i = 0; i < from.length; i++) if (from[i]) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < from.length; i++) if (from[i]) out[k++] = Math.sqrt(d2[i]!);
  return out;
}

/** Both directed surface-distance sets, pred -> gt and gt -> pred. */
export interface SurfaceDistances {
  predToGt: Float64Array;
  gtToPred: Float64Array;
}

/** The surfaces of two masks cropped to the bounding box of both (x fastest, `shape` of the crop). */
export interface SurfacePair {
  pred: Uint8Array;
  gt: Uint8Array;
  shape: Shape3;
}

/**
 * Surfaces of both masks, cropped to the bounding box of both surfaces: distances on the crop equal
 * those on the full grid (the nearest surface voxel always lies in it) at a fraction of the cost.
 * Null when either mask is empty (distances undefined).
 */
export function surfacePair(pred: Mask, gt: Mask, shape: Shape3): SurfacePair | null {
  const n = shape[0] * shape[1] * shape[2];
  if (pred.length !== n || gt.length !== n) {
    throw new RangeError(`surfaceDistances: masks of ${pred.length} and ${gt.length} voxels, shape ${shape}`);
  }
  const sp = surfaceVoxels(pred, shape);
  const sg = surfaceVoxels(gt, shape);
  const box = boundingBox([sp, sg], shape);
  if (!box || !sp.includes(1) || !sg.includes(1)) return null;
  const bshape: Shape3 = [box.hi[0] - box.lo[0], box.hi[1] - box.lo[1], box.hi[2] - box.lo[2]];
  return { pred: crop(sp, shape, box), gt: crop(sg, shape, box), shape: bshape };
}

/** Directed distances of a surface pair in the units of `spacing` (unit spacing gives voxels). */
export function directedDistances(pair: SurfacePair, spacing: Spacing3): SurfaceDistances {
  return {
    predToGt: directed(pair.pred, pair.gt, pair.shape, spacing),
    gtToPred: directed(pair.gt, pair.pred, pair.shape, spacing),
  };
}

/**
 * Directed surface distances between two 3-D masks, in the units of `spacing`.
 *
 * @param shape   [nx, ny, nz], x fastest
 * @param spacing [sx, sy, sz] in mm
 * @returns null when either mask is empty (distances undefined)
 */
export function surfaceDistances(
  pred: Mask,
  gt: Mask,
  shape: Shape3,
  spacing: Spacing3,
): SurfaceDistances | null {
  const pair = surfacePair(pred, gt, shape);
  return pair && directedDistances(pair, spacing);
}

function mean(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

/** Summaries of both directed sets (medpy `hd`, `hd95`, `assd`); all NaN when `d` is null. */
export interface SurfaceSummary {
  hd: number;
  hd95: number;
  assd: number;
}

export function summarizeSurfaceDistances(d: SurfaceDistances | null): SurfaceSummary {
  if (!d) return { hd: NaN, hd95: NaN, assd: NaN };
  const all = new Float64Array(d.predToGt.length + d.gtToPred.length);
  all.set(d.predToGt);
  all.set(d.gtToPred, d.predToGt.length);
  all.sort();
  return {
    hd: all[all.length - 1]!,
    hd95: percentileSorted(all, 95),
    assd: (mean(d.predToGt) + mean(d.gtToPred)) / 2,
  };
}

/** medpy `hd95(pred, gt, voxelspacing=spacing)`; NaN when either mask is empty. */
export function hd95(pred: Mask, gt: Mask, shape: Shape3, spacing: Spacing3 = [1, 1, 1]): number {
  return summarizeSurfaceDistances(surfaceDistances(pred, gt, shape, spacing)).hd95;
}

/** medpy `assd(pred, gt, voxelspacing=spacing)`; NaN when either mask is empty. */
export function assd(pred: Mask, gt: Mask, shape: Shape3, spacing: Spacing3 = [1, 1, 1]): number {
  return summarizeSurfaceDistances(surfaceDistances(pred, gt, shape, spacing)).assd;
}
