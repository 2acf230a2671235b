import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitMedialLateral, volumeMm3, voxelVolumeMm3 } from '../../src/infer/volume.ts';
import { IDENTITY_DIRECTION, type Geometry } from '../../src/data/volume.ts';

test('volume equals voxel count times voxel volume', () => {
  const mask = new Uint8Array(1000);
  for (let i = 0; i < 1000; i += 7) mask[i] = 1; // 143 voxels
  assert.equal(voxelVolumeMm3([0.365, 0.365, 0.7]), 0.365 * 0.365 * 0.7);
  assert.equal(volumeMm3(mask, [0.365, 0.365, 0.7]), 143 * (0.365 * 0.365 * 0.7));
  assert.equal(volumeMm3(new Uint8Array(10), [1, 2, 3]), 0);
});

// A 10 x 2 x 2 bar along index x; 4 voxels at x < 3 and the rest beyond.
const shape: Geometry['shape'] = [10, 2, 2];
const bar = new Uint8Array(40).fill(1);

test('split at the centroid along world x; the knee side names the halves', () => {
  const g: Geometry = { shape, spacing: [0.5, 1, 1], origin: [10, 0, 0], direction: IDENTITY_DIRECTION };
  const right = splitMedialLateral(bar, g, 'right');
  assert.equal(right.atMm, 10 + 0.5 * 4.5);
  assert.deepEqual(
    right.halves.map((h) => [h.name, h.voxels]),
    [
      ['lateral', 20],
      ['medial', 20],
    ],
  );
  // Low half = index x 0..4 (world x below the centroid).
  for (let i = 0; i < 40; i++) assert.equal(right.halves[0].mask[i], i % 10 < 5 ? 1 : 0);
  assert.equal(right.halves[1].volumeMm3, 20 * 0.5);
  const left = splitMedialLateral(bar, g, 'left');
  assert.deepEqual(
    left.halves.map((h) => h.name),
    ['medial', 'lateral'],
  );
  assert.deepEqual(left.halves[0].mask, right.halves[0].mask);
  const unknown = splitMedialLateral(bar, g, 'unknown', { atMm: 10 + 0.5 * 2.5 });
  assert.deepEqual(
    unknown.halves.map((h) => [h.name, h.voxels]),
    [
      ['low', 12],
      ['high', 28],
    ],
  );
});

test('the direction matrix decides which index axis is left-right', () => {
  // Sagittal scan: index z runs along world x (as in OAI DESS), index x along world y.
  const g: Geometry = {
    shape: [2, 2, 10],
    spacing: [0.365, 0.365, 0.7],
    origin: [0, 0, 0],
    direction: [0, 0, -1, 1, 0, 0, 0, 1, 0], // column 2 (index z) = world -x
  };
  const split = splitMedialLateral(new Uint8Array(40).fill(1), g, 'right');
  assert.ok(Math.abs(split.atMm - -0.7 * 4.5) < 1e-12);
  // World x decreases with index z, so the low-x (lateral, for a right knee) half is z >= 5.
  for (let i = 0; i < 40; i++) assert.equal(split.halves[0].mask[i], Math.floor(i / 4) >= 5 ? 1 : 0);
  assert.equal(split.halves[0].name, 'lateral');
  assert.throws(() => splitMedialLateral(new Uint8Array(3), g, 'left'), /voxels/);
});
