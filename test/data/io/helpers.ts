/** Small fixtures shared by the I/O tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Geometry, Volume, VoxelArray } from '../../../src/data/volume.ts';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kneeseg-io-'));
}

/** Rotation by angle `t` about the unit axis (1, 2, 3)/sqrt(14): an oblique, non-symmetric direction. */
export function obliqueDirection(t = 0.3): Geometry['direction'] {
  const n = Math.hypot(1, 2, 3);
  const [x, y, z] = [1 / n, 2 / n, 3 / n];
  const c = Math.cos(t);
  const s = Math.sin(t);
  const C = 1 - c;
  // Rodrigues' formula, row-major.
  return [
    c + x * x * C,
    x * y * C - z * s,
    x * z * C + y * s,
    y * x * C + z * s,
    c + y * y * C,
    y * z * C - x * s,
    z * x * C - y * s,
    z * y * C + x * s,
    c + z * z * C,
  ];
}

export function obliqueVolume<T extends VoxelArray>(
  make: (n: number) => T,
  shape: Geometry['shape'] = [7, 5, 4],
): Volume<T> {
  const data = make(shape[0] * shape[1] * shape[2]);
  return {
    shape,
    spacing: [0.365, 0.42, 0.7],
    origin: [-12.5, 33.25, 7.125],
    direction: obliqueDirection(),
    data,
  };
}

export function assertClose(
  actual: readonly number[],
  expected: readonly number[],
  tol: number,
  what: string,
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => {
    if (!(Math.abs(a - expected[i]!) <= tol))
      throw new Error(`${what}[${i}]: ${a} vs ${expected[i]} (tol ${tol})`);
  });
}
