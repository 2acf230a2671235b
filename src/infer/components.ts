/**
 * Largest-connected-component cleanup (optional in `kneeseg predict`; the paper reports raw
 * predictions): every structure keeps only its largest 3D component, the rest becomes background.
 * Connectivity is 6 (voxels sharing a face), scipy.ndimage.label's default, so two plates touching
 * only at an edge or corner count as separate.
 * Written by hand: a breadth-first flood fill over a typed-array queue is a few lines, and no
 * maintained Node package labels 3D typed arrays.
 */
import type { VoxelArray } from '../data/volume.ts';

/**
 * In place: zeroes every voxel of a nonzero label that is not in the largest 6-connected component
 * of that label. Returns the number of voxels removed.
 */
export function keepLargestComponents(labels: VoxelArray, shape: readonly [number, number, number]): number {
  const [nx, ny, nz] = shape;
  const n = nx * ny * nz;
  if (labels.length !== n)
    throw new RangeError(`keepLargestComponents: ${labels.length} voxels for shape ${shape}`);
  const comp = new Int32Array(n).fill(-1);
  const sizes: number[] = [];
  const values: number[] = [];
  const queue = new Int32Array(n);
  const sxy = nx * ny;
  for (let seed = 0; seed < n; seed++) {
    const v = labels[seed]!;
    if (v === 0 || comp[seed] !== -1) continue;
    const id = sizes.length;
    let head = 0;
    let tail = 0;
    queue[tail++] = seed;
    comp[seed] = id;
    while (head < tail) {
      const i = queue[head++]!;
      const x = i % nx;
      const y = Math.floor(i / nx) % ny;
      const z = Math.floor(i / sxy);
      const visit = (j: number) => {
        if (comp[j] === -1 && labels[j] === v) {
          comp[j] = id;
          queue[tail++] = j;
        }
      };
      if (x > 0) visit(i - 1);
      if (x < nx - 1) visit(i + 1);
      if (y > 0) visit(i - nx);
      if (y < ny - 1) visit(i + nx);
      if (z > 0) visit(i - sxy);
      if (z < nz - 1) visit(i + sxy);
    }
    sizes.push(tail);
    values.push(v);
  }
  // the largest component of each label value (the first found wins a tie)
  const best = new Map<number, number>();
  for (let id = 0; id < sizes.length; id++) {
    const b = best.get(values[id]!);
    if (b === undefined || sizes[id]! > sizes[b]!) best.set(values[id]!, id);
  }
  let removed = 0;
  for (let i = 0; i < n; i++) {
    const id = comp[i]!;
    if (id >= 0 && best.get(values[id]!) !== id) {
      labels[i] = 0;
      removed++;
    }
  }
  return removed;
}
