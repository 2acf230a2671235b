/**
 * A 3D scan or label map with its geometry, the one in-memory image type of kneeseg.
 *
 * Voxel order is x fastest, then y, then z (ITK / NIfTI order): index = x + nx * (y + ny * z).
 * Geometry follows ITK's convention (LPS physical space): world = origin + direction * (spacing .* index),
 * with `direction` a row-major 3x3 matrix whose columns are the axis directions. Every reader fills it
 * and every writer keeps it, so a predicted label map overlays its scan in ITK-SNAP or 3D Slicer.
 */
export type VoxelArray =
  Float32Array | Float64Array | Int16Array | Uint16Array | Int32Array | Uint8Array | Int8Array | Uint32Array;

/** [nx, ny, nz] voxels */
export type Shape3 = readonly [number, number, number];
/** mm per voxel along x, y, z */
export type Spacing3 = readonly [number, number, number];
/** an index axis of a volume: 0 = x, 1 = y, 2 = z */
export type Axis = 0 | 1 | 2;

export interface Geometry {
  /** [nx, ny, nz] */
  readonly shape: Shape3;
  /** mm per voxel along x, y, z */
  readonly spacing: Spacing3;
  /** world position (mm, LPS) of voxel [0, 0, 0] */
  readonly origin: readonly [number, number, number];
  /** row-major 3x3 direction cosines; column j is the world direction of index axis j */
  readonly direction: readonly [number, number, number, number, number, number, number, number, number];
}

export interface Volume<T extends VoxelArray = VoxelArray> extends Geometry {
  readonly data: T;
}

export const IDENTITY_DIRECTION: Geometry['direction'] = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function voxelCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** True when two geometries describe the same voxel grid (within `tol` mm / cosine). */
export function sameGeometry(a: Geometry, b: Geometry, tol = 1e-4): boolean {
  const close = (u: readonly number[], v: readonly number[]) =>
    u.every((x, i) => Math.abs(x - v[i]!) <= tol * Math.max(1, Math.abs(x)));
  return (
    a.shape.every((n, i) => n === b.shape[i]) &&
    close(a.spacing, b.spacing) &&
    close(a.origin, b.origin) &&
    close(a.direction, b.direction)
  );
}

export function geometryOf(v: Geometry): Geometry {
  return { shape: v.shape, spacing: v.spacing, origin: v.origin, direction: v.direction };
}
