import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  distanceToForeground,
  insideOutsideDistances,
  squaredDistanceToForeground,
} from '../../src/image/edt.ts';
import { mulberry32 as rng } from '../../src/data/random.ts';
import { squaredDistanceReference } from '../helpers/edt-reference.ts';

function unravel(i: number, shape: readonly number[]): number[] {
  const c: number[] = [];
  for (const n of shape) {
    c.push(i % n);
    i = Math.floor(i / n);
  }
  return c;
}

/** O(N^2) oracle: squared distance from each voxel to every foreground voxel. */
function bruteSquared(mask: Uint8Array, shape: readonly number[], spacing: readonly number[]): Float64Array {
  const n = mask.length;
  const coords = Array.from({ length: n }, (_, i) => unravel(i, shape));
  const fg = coords.filter((_, i) => mask[i]);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (const f of fg) {
      let s = 0;
      for (let a = 0; a < shape.length; a++) s += ((coords[i]![a]! - f[a]!) * spacing[a]!) ** 2;
      best = Math.min(best, s);
    }
    out[i] = best;
  }
  return out;
}

function randomMask(n: number, density: number, r: () => number): Uint8Array {
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = r() < density ? 1 : 0;
  return m;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    assert.ok(Math.abs(x - y) <= tol * Math.max(1, Math.abs(y)), `voxel ${i}: ${x} vs ${y}`);
  }
}

test('2D EDT equals brute force on random masks with anisotropic spacing', () => {
  const r = rng(1);
  for (let trial = 0; trial < 30; trial++) {
    const shape = [1 + Math.floor(r() * 17), 1 + Math.floor(r() * 13)];
    const spacing = [0.2 + r() * 2, 0.2 + r() * 2];
    const mask = randomMask(shape[0]! * shape[1]!, [0.02, 0.1, 0.5, 0.9][trial % 4]!, r);
    const got = squaredDistanceToForeground(mask, shape, spacing);
    assertClose(got, bruteSquared(mask, shape, spacing), 1e-12);
  }
});

test('3D EDT equals brute force on random masks with anisotropic spacing', () => {
  const r = rng(2);
  for (let trial = 0; trial < 20; trial++) {
    const shape = [2 + Math.floor(r() * 9), 2 + Math.floor(r() * 9), 2 + Math.floor(r() * 7)];
    const spacing = [0.365, 0.365 + r(), 0.7 + r() * 2];
    const mask = randomMask(shape[0]! * shape[1]! * shape[2]!, [0.01, 0.05, 0.3][trial % 3]!, r);
    const got = distanceToForeground(mask, shape, spacing);
    const want = bruteSquared(mask, shape, spacing).map(Math.sqrt);
    assertClose(got, want, 1e-12);
  }
});

test('4D EDT equals brute force (the transform is N-D)', () => {
  const r = rng(3);
  const shape = [4, 3, 5, 3];
  const spacing = [1, 0.5, 2, 1.5];
  const mask = randomMask(4 * 3 * 5 * 3, 0.05, r);
  mask[7] = 1;
  assertClose(squaredDistanceToForeground(mask, shape, spacing), bruteSquared(mask, shape, spacing), 1e-12);
});

test('Float32 output matches float64 to single precision', () => {
  const r = rng(4);
  const shape = [20, 16, 6];
  const mask = randomMask(20 * 16 * 6, 0.03, r);
  const d64 = squaredDistanceToForeground(mask, shape, [0.3, 0.3, 0.7]);
  const d32 = squaredDistanceToForeground(mask, shape, [0.3, 0.3, 0.7], new Float32Array(mask.length));
  assertClose(d32, d64, 1e-6);
});

test('empty mask gives +Infinity, full mask gives 0', () => {
  const shape = [5, 4, 3];
  assert.ok(distanceToForeground(new Uint8Array(60), shape).every((d) => d === Infinity));
  assert.ok(distanceToForeground(new Uint8Array(60).fill(1), shape).every((d) => d === 0));
});

test('known answer: single voxel, anisotropic spacing', () => {
  const mask = new Uint8Array(3 * 3);
  mask[0] = 1; // (x=0, y=0)
  const d = distanceToForeground(mask, [3, 3], [0.5, 2]);
  assert.equal(d[2], 1); // (2, 0)
  assert.equal(d[3], 2); // (0, 1)
  assert.equal(d[8], Math.sqrt(1 + 16)); // (2, 2)
});

test('inside/outside distances follow scipy edt(mask) and edt(~mask)', () => {
  // 1-D row 0 0 1 1 1 1 0: inside distance to nearest 0, outside to nearest 1.
  const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 0]);
  const { inside, outside } = insideOutsideDistances(mask, [7], [2]);
  assert.deepEqual(Array.from(inside), [0, 0, 2, 4, 4, 2, 0]);
  assert.deepEqual(Array.from(outside), [4, 2, 0, 0, 0, 0, 2]);
});

/**
 * Random masks made to hit every shortcut of the transform: rows and planes repeated (as a
 * supersampled mask has them, and once in a while elsewhere), lines with no foreground, lines all
 * foreground, whole planes empty or full, and otherwise random voxels.
 */
function shortcutMask(shape: readonly number[], r: () => number): Uint8Array {
  const [nx, ny] = [shape[0]!, shape[1] ?? 1];
  const planes = shape.slice(2).reduce((a, b) => a * b, 1);
  const m = new Uint8Array(nx * ny * planes);
  const density = [0.02, 0.1, 0.5, 0.95][Math.floor(r() * 4)]!;
  for (let p = 0; p < planes; p++) {
    const plane = p * nx * ny;
    const kind = r();
    if (p > 0 && kind < 0.3) m.copyWithin(plane, plane - nx * ny, plane);
    else if (kind < 0.4) m.fill(kind < 0.35 ? 0 : 1, plane, plane + nx * ny);
    else
      for (let y = 0; y < ny; y++) {
        const row = plane + y * nx;
        const k = r();
        if (y > 0 && k < 0.3) m.copyWithin(row, row - nx, row);
        else if (k < 0.45) m.fill(k < 0.38 ? 0 : 1, row, row + nx);
        else for (let x = 0; x < nx; x++) m[row + x] = r() < density ? 1 : 0;
      }
  }
  return m;
}

test('shortcuts (constant lines, repeated rows and planes, tiles) equal brute force in float64', () => {
  const r = rng(5);
  for (let trial = 0; trial < 40; trial++) {
    const shape =
      trial % 4 === 0
        ? [1 + Math.floor(r() * 9), 1 + Math.floor(r() * 9)]
        : [1 + Math.floor(r() * 9), 1 + Math.floor(r() * 8), 1 + Math.floor(r() * 7)];
    const spacing = shape.map(() => 0.2 + 1.5 * r());
    const mask = shortcutMask(shape, r);
    assertClose(squaredDistanceToForeground(mask, shape, spacing), bruteSquared(mask, shape, spacing), 1e-12);
  }
});

test('shortcuts leave every value bit for bit as the line-by-line transform, float32 and float64', () => {
  const r = rng(6);
  let copied = 0;
  for (let trial = 0; trial < 40; trial++) {
    // strides above the tile width (16) and not a multiple of it, 2-D to 4-D
    const dims = 2 + (trial % 3);
    const shape = Array.from({ length: dims }, (_, a) => 1 + Math.floor(r() * (a === 0 ? 40 : 12)));
    const spacing = shape.map(() => 0.1 + 2 * r());
    const mask = shortcutMask(shape, r);
    // a supersampled mask: each voxel repeated 2x along every axis
    const f = 2;
    const up = shape.map((s) => s * f);
    const big = new Uint8Array(mask.length * f ** dims);
    for (let i = 0; i < big.length; i++) {
      let rest = i;
      let src = 0;
      let mul = 1;
      for (let a = 0; a < dims; a++) {
        src += Math.floor((rest % up[a]!) / f) * mul;
        rest = Math.floor(rest / up[a]!);
        mul *= shape[a]!;
      }
      big[i] = mask[src]!;
    }
    for (const [m, s] of [
      [mask, shape],
      [big, up],
    ] as const) {
      const got64 = squaredDistanceToForeground(m, s, spacing);
      const want64 = squaredDistanceReference(m, s, spacing);
      assert.deepEqual(got64, want64, `trial ${trial} float64 shape ${s}`);
      const got32 = squaredDistanceToForeground(m, s, spacing, new Float32Array(m.length));
      const want32 = squaredDistanceReference(m, s, spacing, new Float32Array(m.length));
      assert.deepEqual(got32, want32, `trial ${trial} float32 shape ${s}`);
    }
    if (dims >= 3 && big.length > 0) copied++;
  }
  assert.ok(copied > 10);
});

test('a mask whose planes all repeat the first, and one with every line full or empty', () => {
  const shape = [5, 4, 6];
  const m = new Uint8Array(120);
  for (let z = 0; z < 6; z++) m.set([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 20 * z);
  const d = squaredDistanceToForeground(m, shape, [1, 2, 3]);
  assert.deepEqual(d, bruteSquared(m, shape, [1, 2, 3]));
  assert.equal(d[4 + 20 * 5], 9); // (4, 0, 5): 3 voxels from (1, 0, z) along x
  const rows = new Uint8Array(120);
  for (let y = 0; y < 4; y++) if (y % 2) rows.fill(1, 5 * y, 5 * y + 5); // rows y = 1, 3 of plane 0
  assert.deepEqual(squaredDistanceToForeground(rows, shape, [1, 2, 3]), bruteSquared(rows, shape, [1, 2, 3]));
});

test('wrong shape or spacing is rejected', () => {
  assert.throws(() => squaredDistanceToForeground(new Uint8Array(5), [2, 3]), /needs 6/);
  assert.throws(() => squaredDistanceToForeground(new Uint8Array(6), [2, 3], [1, 0]), /spacing/);
});
