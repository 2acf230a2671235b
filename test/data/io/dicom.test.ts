import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readVolume } from '../../../src/data/io/index.ts';
import { InputError } from '../../../src/errors.ts';
import { assertClose, obliqueDirection, tempDir, writeDicomSeries } from './helpers.ts';

test('a DICOM series folder reads as one volume with voxels, spacing, origin and oblique direction', async () => {
  const dir = tempDir();
  const direction = obliqueDirection(0.4);
  const origin: [number, number, number] = [-80.5, 12.25, 40];
  // voxel i of slice k: ((i * 31 + k * 977) % 4000) - 1000
  const voxels = Int16Array.from(
    { length: 6 * 5 * 4 },
    (_, j) => (((j % 30) * 31 + Math.floor(j / 30) * 977) % 4000) - 1000,
  );
  writeDicomSeries(dir, { shape: [6, 5, 4], spacing: [0.4, 0.55, 3], origin, direction, data: voxels });
  const vol = await readVolume(dir);
  assert.deepEqual([...vol.shape], [6, 5, 4]);
  assert.ok(vol.data instanceof Int16Array);
  assert.deepEqual(vol.data, voxels);
  assertClose(vol.spacing, [0.4, 0.55, 3], 1e-5, 'spacing');
  assertClose(vol.origin, origin, 1e-4, 'origin');
  assertClose(vol.direction, direction, 1e-5, 'direction');
});

test('an empty folder and a folder of non-DICOM files are InputErrors naming the folder', async () => {
  const dir = tempDir();
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(
    readVolume(empty),
    (e: unknown) => e instanceof InputError && e.file === empty && /empty folder/.test(e.message),
  );
  const junk = join(dir, 'junk');
  mkdirSync(junk);
  writeFileSync(join(junk, 'a.dcm'), Buffer.alloc(500, 1));
  const exitBefore = process.exitCode;
  await assert.rejects(
    readVolume(junk),
    (e: unknown) => e instanceof InputError && e.file === junk && /DICOM series/.test(e.message),
  );
  assert.equal(process.exitCode, exitBefore);
});
