/**
 * Structure volumes and the medial/lateral split of cartilage plates.
 *
 * Volume = voxel count x voxel volume (sx * sy * sz mm^3): the voxel-counting measure pyKNEEr and
 * DOSMA report, exact for the label map as segmented.
 *
 * Medial/lateral split: by a plane perpendicular to the patient's left-right axis (world x in ITK's
 * LPS space, found through the scan's direction matrix, so any image orientation works), placed at
 * the plate's own centroid unless the caller gives the position (e.g. the femoral cartilage's
 * centroid, close to the intercondylar notch, to split the tibial plate the same way). Plate
 * centroids are the simple, orientation-free choice; a notch detector would need the femur's shape.
 * Which half is medial depends on the knee: medial is toward the body's midline, i.e. toward the
 * patient's left (+x in LPS) in a right knee and toward the patient's right (-x) in a left knee.
 * With the side unknown, the halves are named 'low' (toward the patient's right, lower LPS x) and
 * 'high' (toward the patient's left).
 */
import type { Geometry } from '../data/volume.ts';
import type { Mask } from '../image/edt.ts';

export type KneeSide = 'left' | 'right' | 'unknown';
export type HalfName = 'medial' | 'lateral' | 'low' | 'high';

export function voxelVolumeMm3(spacing: readonly [number, number, number]): number {
  return spacing[0] * spacing[1] * spacing[2];
}

/** Number of nonzero voxels of a mask. */
export function maskVoxelCount(mask: Mask): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

/** Volume of a binary mask in mm^3. */
export function volumeMm3(mask: Mask, spacing: readonly [number, number, number]): number {
  return maskVoxelCount(mask) * voxelVolumeMm3(spacing);
}

export interface PlateHalf {
  name: HalfName;
  mask: Uint8Array;
  voxels: number;
  volumeMm3: number;
}

export interface PlateSplit {
  /** LPS world x (mm) of the splitting plane; NaN for an empty plate without `atMm` */
  atMm: number;
  /** the half at lower world x (patient's right) first, then the one at higher x */
  halves: [PlateHalf, PlateHalf];
}

/** World LPS x (mm) of a voxel index: origin_x + sum_j direction[0][j] * spacing[j] * index[j]. */
function worldXCoefficients(g: Geometry): [number, number, number, number] {
  const d = g.direction;
  return [g.origin[0], d[0] * g.spacing[0], d[1] * g.spacing[1], d[2] * g.spacing[2]];
}

/**
 * Splits a plate mask (in the grid of `geometry`) into two halves by the plane world x = `atMm`
 * (default: the plate's centroid) and names them by the knee side (see the module comment).
 */
export function splitMedialLateral(
  mask: Mask,
  geometry: Geometry,
  side: KneeSide,
  options: { atMm?: number } = {},
): PlateSplit {
  const [nx, ny, nz] = geometry.shape;
  if (mask.length !== nx * ny * nz) {
    throw new RangeError(`splitMedialLateral: mask has ${mask.length} voxels, shape ${geometry.shape}`);
  }
  const [o, cx, cy, cz] = worldXCoefficients(geometry);
  let atMm = options.atMm;
  if (atMm === undefined) {
    let sum = 0;
    let count = 0;
    for (let z = 0, i = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++, i++) {
          if (!mask[i]) continue;
          sum += o + cx * x + cy * y + cz * z;
          count++;
        }
    atMm = count ? sum / count : NaN;
  }
  const low = new Uint8Array(mask.length);
  const high = new Uint8Array(mask.length);
  let nLow = 0;
  let nHigh = 0;
  for (let z = 0, i = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        if (!mask[i]) continue;
        if (o + cx * x + cy * y + cz * z < atMm) {
          low[i] = 1;
          nLow++;
        } else {
          high[i] = 1;
          nHigh++;
        }
      }
  // Right knee: the midline is toward the patient's left (+x), so the high half is medial.
  const [lowName, highName]: [HalfName, HalfName] =
    side === 'right' ? ['lateral', 'medial'] : side === 'left' ? ['medial', 'lateral'] : ['low', 'high'];
  const vv = voxelVolumeMm3(geometry.spacing);
  return {
    atMm,
    halves: [
      { name: lowName, mask: low, voxels: nLow, volumeMm3: nLow * vv },
      { name: highName, mask: high, voxels: nHigh, volumeMm3: nHigh * vv },
    ],
  };
}
