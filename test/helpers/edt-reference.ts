/**
 * The Euclidean distance transform as src/image/edt.ts computed it before its exact shortcuts
 * (skipped constant lines, copied repeated blocks, tiled strided passes): one 1-D pass per axis,
 * line by line, the intermediate values stored in the output between the passes. Kept as the
 * reference the shortcuts must equal bit for bit (test/image/edt.test.ts).
 */
import type { DistanceArray, Mask } from '../../src/image/edt.ts';

function edt1d(
  f: Float64Array,
  d: Float64Array,
  v: Int32Array,
  z: Float64Array,
  n: number,
  s2: number,
): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q]!;
    if (fq === Infinity) continue;
    const hq = fq + s2 * q * q;
    while (k >= 0) {
      const p = v[k]!;
      const s = (hq - (f[p]! + s2 * p * p)) / (2 * s2 * (q - p));
      if (s <= z[k]!) {
        k--;
      } else {
        k++;
        v[k] = q;
        z[k] = s;
        z[k + 1] = Infinity;
        break;
      }
    }
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
    }
  }
  if (k < 0) {
    d.fill(Infinity, 0, n);
    return;
  }
  let j = 0;
  for (let q = 0; q < n; q++) {
    while (z[j + 1]! < q) j++;
    const p = v[j]!;
    const dq = q - p;
    d[q] = s2 * dq * dq + f[p]!;
  }
}

/** Squared distance to the nearest foreground voxel, every line of every axis transformed. */
export function squaredDistanceReference(
  mask: Mask,
  shape: readonly number[],
  spacing?: readonly number[],
  out?: DistanceArray,
): DistanceArray {
  const n = mask.length;
  const dist: DistanceArray = out ?? new Float64Array(n);
  for (let i = 0; i < n; i++) dist[i] = mask[i] ? 0 : Infinity;
  const m = Math.max(...shape);
  const [f, d, v, z] = [new Float64Array(m), new Float64Array(m), new Int32Array(m), new Float64Array(m + 1)];
  let stride = 1;
  for (let axis = 0; axis < shape.length; axis++) {
    const len = shape[axis]!;
    const s = spacing ? spacing[axis]! : 1;
    const block = stride * len;
    if (len > 1) {
      for (let o = 0; o < n / block; o++) {
        for (let i = 0; i < stride; i++) {
          const base = o * block + i;
          for (let q = 0, idx = base; q < len; q++, idx += stride) f[q] = dist[idx]!;
          edt1d(f, d, v, z, len, s * s);
          for (let q = 0, idx = base; q < len; q++, idx += stride) dist[idx] = d[q]!;
        }
      }
    }
    stride = block;
  }
  return dist;
}
