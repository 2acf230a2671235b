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

/** The 'thin' form the slow way: distance to the nearest pixel of the other class minus s/2, float64. */
function bruteThin(mask: Uint8Array, w: number, h: number, sx: number, sy: number): Float64Array {
  const n = w * h;
  let count = 0;
  for (let i = 0; i < n; i++) count += mask[i]!;
  if (count === 0) return new Float64Array(n).fill(1);
  if (count === n) return new Float64Array(n).fill(-1);
  const half = Math.min(sx, sy) / 2;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (let j = 0; j < n; j++) {
      if (mask[j] === mask[i]) continue;
      best = Math.min(
        best,
        Math.hypot(((i % w) - (j % w)) * sx, (Math.floor(i / w) - Math.floor(j / w)) * sy),
      );
    }
    d[i] = best - half;
  }
  let maxIn = 0;
  let maxOut = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]) maxIn = Math.max(maxIn, d[i]!);
    else maxOut = Math.max(maxOut, d[i]!);
  }
  return d.map((v, i) => (mask[i] ? -v / maxIn : v / maxOut));
}

/** a w x h mask with rows [y0, y1) set */
function plate(w: number, h: number, y0: number, y1: number): Uint8Array {
  return new Uint8Array(w * h).map((_, i) => (Math.floor(i / w) >= y0 && Math.floor(i / w) < y1 ? 1 : 0));
}

function assertClose(got: Float32Array, want: Float64Array, what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++)
    assert.ok(Math.abs(got[i]! - want[i]!) < 1e-6, `${what} px ${i}: ${got[i]} vs ${want[i]}`);
}

test('thin: known answer on one row (distance to the boundary between pixel centres)', () => {
  // inside distances 1 2 2 1 -> minus 1/2: 0.5 1.5 1.5 0.5, over 1.5; outside 2 1 | 1 -> 1.5 0.5 | 0.5, over 1.5
  const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 0]);
  const got = Array.from(normalizedSdf2d(mask, 7, 1, [1, 1], 'thin'));
  const want = [1, 1 / 3, -1 / 3, -1, -1, -1 / 3, 1 / 3];
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-7, `px ${i}: ${v}`));
});

test('thin: equals brute force on random masks with anisotropic spacing', () => {
  const r = mulberry32(23);
  for (let trial = 0; trial < 40; trial++) {
    const w = 1 + Math.floor(r() * 14);
    const h = 2 + Math.floor(r() * 12);
    const sx = 0.3 + r();
    const sy = 0.3 + r();
    const density = [0.05, 0.3, 0.7, 0.97][trial % 4]!;
    const mask = new Uint8Array(w * h).map(() => (r() < density ? 1 : 0));
    assertClose(
      normalizedSdf2d(mask, w, h, [sx, sy], 'thin'),
      bruteThin(mask, w, h, sx, sy),
      `trial ${trial}`,
    );
  }
});

test('thin: a 1-pixel line, a 2-pixel plate, empty and full masks (isotropic and anisotropic)', () => {
  const w = 9;
  const h = 8;
  const cases: [string, Uint8Array][] = [
    ['horizontal line', plate(w, h, 3, 4)],
    ['2-pixel plate', plate(w, h, 3, 5)],
    ['plate at the edge', plate(w, h, 0, 2)],
    ['vertical line', new Uint8Array(w * h).map((_, i) => (i % w === 4 ? 1 : 0))],
    ['single pixel', new Uint8Array(w * h).map((_, i) => (i === 30 ? 1 : 0))],
    ['empty', new Uint8Array(w * h)],
    ['full', new Uint8Array(w * h).fill(1)],
  ];
  for (const spacing of [
    [1, 1],
    [0.4, 1.3],
    [1.3, 0.4],
  ] as [number, number][])
    for (const [name, mask] of cases) {
      const got = normalizedSdf2d(mask, w, h, spacing, 'thin');
      assertClose(got, bruteThin(mask, w, h, ...spacing), `${name} at [${spacing}]`);
      for (let i = 0; i < w * h; i++)
        if (mask[i]) assert.ok(got[i]! < 0 && got[i]! >= -1, `${name}: inside px ${i} = ${got[i]}`);
        else assert.ok(got[i]! > 0 && got[i]! <= 1, `${name}: outside px ${i} = ${got[i]}`);
    }
  // lines and 2-pixel plates are "deep inside" throughout (DTC makes them all boundary: 0)
  for (const m of [plate(w, h, 3, 4), plate(w, h, 3, 5)]) {
    const thin = normalizedSdf2d(m, w, h, [1, 1], 'thin');
    const dtc = normalizedSdf2d(m, w, h, [1, 1]);
    for (let i = 0; i < w * h; i++)
      if (m[i]) {
        assert.equal(thin[i], -1);
        assert.equal(dtc[i], 0);
      }
  }
  // anisotropic: a horizontal line is 1 row of 0.4 mm -> inside value -(0.4 - 0.2) / max = -1
  assert.ok(
    normalizedSdf2d(plate(w, h, 3, 4), w, h, [1.3, 0.4], 'thin').every((v, i) =>
      i >= 27 && i < 36 ? v === -1 : v > 0,
    ),
  );
  assert.ok(normalizedSdf2d(new Uint8Array(w * h), w, h, [1, 1], 'thin').every((v) => v === 1));
  assert.ok(normalizedSdf2d(new Uint8Array(w * h).fill(1), w, h, [1, 1], 'thin').every((v) => v === -1));
});

test("thin: strictly negative inside, strictly positive outside, reaching -1 and 1; 'dtc' is the default", () => {
  const r = mulberry32(5);
  for (let trial = 0; trial < 20; trial++) {
    const w = 3 + Math.floor(r() * 30);
    const h = 3 + Math.floor(r() * 30);
    const spacing: [number, number] = [0.2 + r(), 0.2 + r()];
    const mask = new Uint8Array(w * h).map(() => (r() < 0.5 ? 1 : 0));
    mask[0] = 1;
    mask[1] = 0;
    const thin = normalizedSdf2d(mask, w, h, spacing, 'thin');
    for (let i = 0; i < w * h; i++)
      assert.ok(mask[i] ? thin[i]! < 0 : thin[i]! > 0, `trial ${trial} px ${i}`);
    assert.equal(Math.min(...thin), -1);
    assert.equal(Math.max(...thin), 1);
    // the default form is DTC's, bit for bit, and the batch form matches the 2-D one
    assert.deepEqual(normalizedSdf2d(mask, w, h, spacing, 'dtc'), normalizedSdf2d(mask, w, h, spacing));
    assert.deepEqual(normalizedSdfBatch(mask, [1, h, w], spacing, 'thin'), thin);
    assert.deepEqual(normalizedSdfBatch(mask, [1, h, w], spacing), normalizedSdf2d(mask, w, h, spacing));
  }
});

test('thin batch: empty slices give +1 (absent = far outside), full slices -1', () => {
  const w = 5;
  const h = 4;
  const plane = w * h;
  const masks = new Uint8Array(2 * plane);
  masks.fill(1, plane);
  const sdf = normalizedSdfBatch(masks, [2, h, w], [1, 1], 'thin');
  assert.ok(sdf.subarray(0, plane).every((v) => v === 1));
  assert.ok(sdf.subarray(plane).every((v) => v === -1));
});
