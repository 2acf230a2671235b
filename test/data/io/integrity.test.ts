// What the header checks refuse beyond the limits: files that only look like NIfTI, impossible sizes,
// non-finite geometry; and that the streamed check still finds truncation and NaN voxels anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readVolume, writeVolume } from '../../../src/data/io/index.ts';
import { writeItkFile } from '../../../src/data/io/itk.ts';

import { obliqueVolume, rejectsNaming, tempDir } from './helpers.ts';

async function niftiBytes(dir: string): Promise<Buffer> {
  const path = join(dir, 'base.nii');
  await writeVolume(
    path,
    obliqueVolume((n) => Float32Array.from({ length: n }, (_, i) => i), [4, 3, 2]),
  );
  return readFileSync(path);
}

test('a .nii whose magic is not "n+1" (or "ni1") is refused, compressed or not', async () => {
  const dir = tempDir();
  const base = await niftiBytes(dir);
  for (const [magic, label] of [
    ['xxxx', 'text'],
    ['\0\0\0\0', 'zeros'],
    ['n+2\0', 'nifti2-magic-in-nifti1'],
    ['N+1\0', 'upper'],
  ] as const) {
    const bytes = Buffer.from(base);
    bytes.write(magic, 344, 'latin1');
    for (const gz of [false, true]) {
      const path = join(dir, `${label}.nii${gz ? '.gz' : ''}`);
      writeFileSync(path, gz ? gzipSync(bytes) : bytes);
      await rejectsNaming(
        readVolume(path),
        path,
        /is not a NIfTI-1 file: its magic \(byte 344\) is ".*", expected "n\+1" or "ni1"/,
      );
    }
  }
  // the genuine file still reads
  const good = join(dir, 'good.nii.gz');
  writeFileSync(good, gzipSync(base));
  assert.equal((await readVolume(good)).data.length, 24);
});

test('a header declaring a size of 0 or a negative size along an axis is refused', async () => {
  const dir = tempDir();
  const base = await niftiBytes(dir);
  for (const size of [0, -4]) {
    const bytes = Buffer.from(base);
    bytes.writeInt16LE(size, 44);
    const path = join(dir, `size${size}.nii`);
    writeFileSync(path, bytes);
    await rejectsNaming(readVolume(path), path, new RegExp(`declares a size of ${size} along axis 1`));
  }
  await writeVolume(
    join(dir, 'a.mha'),
    obliqueVolume((n) => new Uint8Array(n), [4, 3, 2]),
  );
  const mha = readFileSync(join(dir, 'a.mha'), 'latin1');
  const path = join(dir, 'zero.mha');
  writeFileSync(path, mha.replace('DimSize = 4 3 2', 'DimSize = 4 0 2'), 'latin1');
  await rejectsNaming(readVolume(path), path, /declares a size of 0 along axis 1/);
});

test('a NIfTI whose origin is NaN is refused after reading', async () => {
  const dir = tempDir();
  const bytes = await niftiBytes(dir);
  bytes.writeFloatLE(NaN, 268); // qoffset_x
  bytes.writeFloatLE(NaN, 292); // srow_x[3]
  const path = join(dir, 'nan-origin.nii');
  writeFileSync(path, bytes);
  await rejectsNaming(readVolume(path), path, /non-finite origin/);
});

test('streamed checks: NaN in the last voxel of a multi-megabyte .nii.gz and truncation are found', async () => {
  const dir = tempDir();
  // 3 MB of float32: the data spans several decompressed chunks, and voxels straddle their borders
  const vol = obliqueVolume((n) => Float32Array.from({ length: n }, (_, i) => i % 1000), [101, 89, 87]);
  const last = vol.data.length - 1;
  (vol.data as Float32Array)[last] = NaN;
  const path = join(dir, 'big.nii.gz');
  await writeItkFile(path, vol);
  await rejectsNaming(readVolume(path), path, /voxel \[100, 88, 86\] is NaN/);
  const f64 = { ...vol, data: Float64Array.from(vol.data, (v, i) => (i === 777_777 ? -Infinity : v || 0)) };
  const path64 = join(dir, 'big64.nii.gz');
  await writeItkFile(path64, f64);
  const at = [777_777 % 101, Math.floor(777_777 / 101) % 89, Math.floor(777_777 / (101 * 89))];
  await rejectsNaming(readVolume(path64), path64, new RegExp(`voxel \\[${at.join(', ')}\\] is -Infinity`));
  // a .nii cut inside its data, and a .nii.gz whose gzip stream ends early
  const raw = join(dir, 'cut.nii');
  await writeItkFile(raw, { ...vol, data: new Float32Array(vol.data.length) });
  const bytes = readFileSync(raw);
  writeFileSync(raw, bytes.subarray(0, bytes.length - 5));
  await rejectsNaming(readVolume(raw), raw, new RegExp(`truncated: header promises ${bytes.length} bytes`));
  const gz = readFileSync(path);
  writeFileSync(path, gz.subarray(0, Math.floor(gz.length / 2)));
  await rejectsNaming(readVolume(path), path, /gzip data is broken/);
});
