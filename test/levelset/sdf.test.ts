import { test } from 'node:test';
import assert from 'node:assert/strict';
import { innerBoundary2d, normalizedSdf2d, normalizedSdfBatch } from '../../src/levelset/sdf.ts';
import { mulberry32 } from '../../src/data/random.ts';

/** DTC's formula computed the slow way: all-pairs distances, boundary by definition, float64. */
function bruteSdf(mask: Uint8Array, w: number, h: number, sx: number, sy: number): Float64Array {
  const n = w * h;
  const out = new Float64Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) count += mask[i]!;
  if (count === 0) return out;
  if (count === n) return out.fill(-1);
  const dist = new Float64Array(n); // to the nearest pixel of the other class
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let j = 0; j < n; j++) {
      if (mask[j] === mask[i]) continue;
      const dx = ((i % w) - (j % w)) * sx;
      const dy = (Math.floor(i / w) - Math.floor(j / w)) * sy;
      best = Math.min(best, Math.hypot(dx, dy));
    }
    dist[i] = best;
  }
  let maxIn = 0;
  let maxOut = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]) maxIn = Math.max(maxIn, dist[i]!);
    else maxOut = Math.max(maxOut, dist[i]!);
  }
  for (let i = 0; i < n; i++) {
    const x = i % w;
    const y = Math.floor(i / w);
    const neighbours = [
      [x - 1, y],
      [x + 1, y],
      [x, y - 1],
      [x, y + 1],
    ].filter(([a, b]) => a! >= 0 && a! < w && b! >= 0 && b! < h);
    const onBoundary = mask[i] === 1 && neighbours.some(([a, b]) => mask[a! + w * b!] === 0);
    out[i] = onBoundary ? 0 : mask[i] ? -dist[i]! / maxIn : dist[i]! / maxOut;
  }
  return out;
}

test('known answer on one row (DTC formula by hand)', () => {
  const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 0]);
  assert.deepEqual(Array.from(normalizedSdf2d(mask, 7, 1)), [1, 0.5, 0, -1, -1, 0, 0.5]);
});

test('equals brute force on random masks with anisotropic spacing', () => {
  const r = mulberry32(11);
  for (let trial = 0; trial < 40; trial++) {
    const w = 2 + Math.floor(r() * 14);
    const h = 2 + Math.floor(r() * 12);
    const sx = 0.3 + r();
    const sy = 0.3 + r();
    const density = [0.1, 0.4, 0.7, 0.95][trial % 4]!;
    const mask = new Uint8Array(w * h).map(() => (r() < density ? 1 : 0));
    const got = normalizedSdf2d(mask, w, h, [sx, sy]);
    const want = bruteSdf(mask, w, h, sx, sy);
    for (let i = 0; i < w * h; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-6, `trial ${trial} px ${i}`);
  }
});

test('negative inside, zero on the boundary, positive outside, within [-1, 1] and reaching both ends', () => {
  const w = 40;
  const h = 30;
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) if ((x - 15) ** 2 + (y - 14) ** 2 < 64) mask[x + w * y] = 1;
  const sdf = normalizedSdf2d(mask, w, h, [0.5, 0.8]);
  const boundary = innerBoundary2d(mask, w, h);
  let nb = 0;
  for (let i = 0; i < w * h; i++) {
    assert.ok(sdf[i]! >= -1 && sdf[i]! <= 1);
    if (boundary[i]) {
      nb++;
      assert.equal(sdf[i], 0);
    } else if (mask[i]) assert.ok(sdf[i]! < 0);
    else assert.ok(sdf[i]! > 0);
  }
  assert.ok(nb > 20);
  assert.equal(Math.min(...sdf), -1);
  assert.equal(Math.max(...sdf), 1);
});

test('the image edge is not a boundary', () => {
  // Left half full: column 0 touches the edge but only column 4 borders the background.
  const w = 10;
  const h = 3;
  const mask = new Uint8Array(w * h).map((_, i) => (i % w < 5 ? 1 : 0));
  const b = innerBoundary2d(mask, w, h);
  for (let i = 0; i < w * h; i++) assert.equal(b[i], i % w === 4 ? 1 : 0);
});

test('batch: empty mask gives zeros, full mask gives -1, slices are independent', () => {
  const w = 6;
  const h = 5;
  const plane = w * h;
  const masks = new Uint8Array(3 * plane);
  masks.fill(1, plane, 2 * plane); // slice 1 full
  masks[2 * plane + 13] = 1; // slice 2 a single pixel
  const sdf = normalizedSdfBatch(masks, [3, h, w]);
  assert.ok(sdf.subarray(0, plane).every((v) => v === 0));
  assert.ok(sdf.subarray(plane, 2 * plane).every((v) => v === -1));
  const single = normalizedSdf2d(masks.subarray(2 * plane), w, h);
  assert.deepEqual(Array.from(sdf.subarray(2 * plane)), Array.from(single));
  assert.equal(single[13], 0); // a lone pixel is all boundary
  assert.throws(() => normalizedSdfBatch(masks, [2, h, w]), /shape/);
});
