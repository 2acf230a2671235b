import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  labelSlice,
  prepareCase,
  restoreLabelMap,
  restoreVolume,
  sagittalAxis,
  stackChannels,
} from '../../src/data/preprocess.ts';
import { mulberry32 } from '../../src/data/random.ts';
import { SliceCache, deserializeCase, serializeCase } from '../../src/data/slice-cache.ts';
import { IDENTITY_DIRECTION, type Volume } from '../../src/data/volume.ts';

function volume(
  shape: [number, number, number],
  f: (x: number, y: number, z: number) => number,
  direction = IDENTITY_DIRECTION,
): Volume<Float32Array> {
  const data = new Float32Array(shape[0] * shape[1] * shape[2]);
  let i = 0;
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++) data[i++] = f(x, y, z);
  return { shape, spacing: [1, 1, 1], origin: [0, 0, 0], direction, data };
}

test('the sagittal axis is the one whose direction is most aligned with world x', () => {
  assert.equal(sagittalAxis(IDENTITY_DIRECTION), 0);
  // axis 2 points along world x (a scan stored with sagittal slices last)
  assert.equal(sagittalAxis([0, 0, -1, 1, 0, 0, 0, -1, 0]), 2);
  assert.equal(sagittalAxis([0.1, 0.99, 0, 0.99, -0.1, 0, 0, 0, 1]), 1);
});

test('slices: rows along the higher axis, per-slice 0..255, edge channels repeat (brute force)', () => {
  const rng = mulberry32(3);
  const img = volume([5, 7, 6], () => rng() * 100);
  const p = prepareCase('a', img, undefined, { size: [6, 7], neighbours: 1 });
  assert.equal(p.layout.count, 5);
  for (let s = 0; s < 5; s++) {
    let min = Infinity;
    let max = -Infinity;
    for (let z = 0; z < 6; z++)
      for (let y = 0; y < 7; y++) {
        const v = img.data[s + 5 * (y + 7 * z)]!;
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    for (let z = 0; z < 6; z++)
      for (let y = 0; y < 7; y++) {
        const want = ((img.data[s + 5 * (y + 7 * z)]! - min) / (max - min)) * 255;
        assert.ok(Math.abs(p.planes[s * 42 + z * 7 + y]! - want) < 1e-3);
      }
  }
  const c0 = stackChannels(p, 0);
  assert.equal(c0.length, 3 * 42);
  assert.deepEqual(c0.subarray(0, 42), p.planes.subarray(0, 42)); // repeated edge
  assert.deepEqual(c0.subarray(42, 84), p.planes.subarray(0, 42));
  assert.deepEqual(c0.subarray(84), p.planes.subarray(42, 84));
  const c4 = stackChannels(p, 4);
  assert.deepEqual(c4.subarray(84), p.planes.subarray(4 * 42));
  const z = prepareCase('a', img, undefined, { size: [6, 7], scaling: 'zscore', neighbours: 0 });
  const plane = z.planes.subarray(0, 42);
  const mean = plane.reduce((a, b) => a + b, 0) / 42;
  const sd = Math.sqrt(plane.reduce((a, b) => a + (b - mean) ** 2, 0) / 42);
  assert.ok(Math.abs(mean) < 1e-5 && Math.abs(sd - 1) < 1e-4);
  assert.equal(stackChannels(z, 2).length, 42);
});

test('crop centres on the bright structure; pad fills with the slice minimum; restore inverts both', () => {
  // a bright block off-centre in a 4 x 40 x 30 volume, cropped to 10 x 12
  const img = volume([4, 40, 30], (x, y, z) => (y >= 25 && y < 31 && z >= 5 && z < 10 ? 100 + x : 1));
  const lab = volume([4, 40, 30], (_x, y, z) => (y >= 25 && y < 31 && z >= 5 && z < 10 ? 3 : 0));
  const p = prepareCase('b', img, lab, { size: [10, 12] });
  // rows = z, columns = y: the block (z 5..9, y 25..30) is inside the window
  const [r0, c0] = p.layout.start;
  assert.ok(r0 <= 5 && r0 + 10 >= 10 && c0 <= 25 && c0 + 12 >= 31, `window at ${r0},${c0}`);
  let ones = 0;
  for (let s = 0; s < 4; s++) for (const v of labelSlice(p, s)) ones += v === 3 ? 1 : 0;
  assert.equal(ones, 4 * 6 * 5);
  const back = restoreLabelMap(p, p.labels!);
  assert.deepEqual(
    Array.from(back.data),
    Array.from(lab.data, (v) => v),
  );
  // padding: a 3 x 5 x 4 volume into 8 x 9 slices
  const small = volume([3, 5, 4], (x, y, z) => 10 + x + y + z);
  const q = prepareCase('c', small, undefined, { size: [8, 9], neighbours: 0 });
  assert.deepEqual(q.layout.start, [-2, -2]);
  assert.equal(q.planes[0], 0); // padded corner = slice minimum = 0 after scaling
  const restored = restoreVolume(q.layout, q.planes);
  for (let s = 0; s < 3; s++) {
    // restored values are the scaled ones: min of each slice maps to 0, max to 255
    const vals = [];
    for (let i = s; i < restored.length; i += 3) vals.push(restored[i]!);
    assert.equal(Math.min(...vals), 0);
    assert.equal(Math.max(...vals), 255);
  }
});

test('cache: second get builds nothing; disk round trip is exact', async () => {
  const img = volume([3, 9, 8], (x, y, z) => x * 7 + y * 3 + z);
  const lab = volume([3, 9, 8], (x, y) => (y > 4 ? 1 + x : 0));
  const p = prepareCase('k', img, lab, { size: [8, 8] });
  const q = deserializeCase(serializeCase(p));
  assert.deepEqual(q, p);
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-cache-'));
  let builds = 0;
  const build = () => {
    builds++;
    return p;
  };
  const a = new SliceCache(dir);
  await a.get('k.1', build);
  await a.get('k.1', build);
  assert.equal(builds, 1);
  const b = new SliceCache(dir); // a new run: reads the .bin, builds nothing
  const r = await b.get('k.1', build);
  assert.equal(builds, 1);
  assert.deepEqual(r.planes, p.planes);
  assert.deepEqual(r.labels, p.labels);
  assert.deepEqual(readdirSync(dir), ['k.1.bin']);
});
