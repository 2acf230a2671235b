/**
 * Sampling a volume's slices (or projections) onto square display pixels: the two index axes other
 * than `axis` span the picture (the lower one across, the higher one down, flipped when it points
 * superior so that the head end is up, as radiology viewers show it), and each display pixel takes
 * the nearest voxel, so anisotropic voxels are shown at their true aspect ratio.
 */
import type { Axis, Geometry } from '../../data/volume.ts';

export interface PlaneGrid {
  /** index axes across (u) and down (v) the picture */
  readonly u: Axis;
  readonly v: Axis;
  readonly nu: number;
  readonly nv: number;
  /** display size in pixels */
  readonly width: number;
  readonly height: number;
  /** voxel column of display column px, voxel row of display row py */
  readonly col: Int32Array;
  readonly row: Int32Array;
}

/** Display grid whose longer side is `size` pixels. */
export function planeGrid(g: Geometry, axis: Axis, size: number): PlaneGrid {
  const [u, v] = ([0, 1, 2] as const).filter((a) => a !== axis) as [Axis, Axis];
  const nu = g.shape[u];
  const nv = g.shape[v];
  const lu = nu * g.spacing[u];
  const lv = nv * g.spacing[v];
  const scale = size / Math.max(lu, lv);
  const width = Math.max(1, Math.round(lu * scale));
  const height = Math.max(1, Math.round(lv * scale));
  const col = Int32Array.from({ length: width }, (_, px) =>
    Math.min(nu - 1, Math.floor(((px + 0.5) * nu) / width)),
  );
  const up = pointsSuperior(g, v);
  const row = Int32Array.from({ length: height }, (_, py) => {
    const r = Math.min(nv - 1, Math.floor(((py + 0.5) * nv) / height));
    return up ? nv - 1 - r : r;
  });
  return { u, v, nu, nv, width, height, col, row };
}

/** Linear voxel index of (a0, a1, a2) given per axis. */
export function voxelIndex(shape: Geometry['shape'], c: readonly [number, number, number]): number {
  return c[0] + shape[0] * (c[1] + shape[1] * c[2]);
}

/** True when index axis `a` runs mostly along world +z (LPS: superior). */
function pointsSuperior(g: Geometry, a: Axis): boolean {
  const col = [g.direction[a]!, g.direction[3 + a]!, g.direction[6 + a]!];
  return col[2]! > 0 && Math.abs(col[2]!) >= Math.abs(col[0]!) && Math.abs(col[2]!) >= Math.abs(col[1]!);
}

/**
 * The slice axis of a scan: the index axis with the largest spacing (sagittal knee MR is acquired
 * as thick slices), the last axis when spacings tie. Montages cut it and surface views look along it.
 */
export function sliceAxisOf(g: Geometry): Axis {
  let best: Axis = 2;
  for (const a of [1, 0] as const) if (g.spacing[a] > g.spacing[best]) best = a;
  return best;
}
