// Headers that declare too many voxels or a non-physical spacing are refused before anything is
// allocated, with an InputError naming the file, what it declares and the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DEFAULT_MAX_VOXELS,
  MAX_VOXELS_ENV,
  readVolume,
  writeVolume,
  WRITABLE_ENDINGS,
} from '../../../src/data/io/index.ts';
import { ConfigError } from '../../../src/errors.ts';
import { obliqueVolume, rejectsNaming, tempDir } from './helpers.ts';

/** An uncompressed NIfTI-1 file of a small float32 volume, as bytes to patch. */
async function niftiBytes(dir: string): Promise<Buffer> {
  const path = join(dir, 'base.nii');
  await writeVolume(
    path,
    obliqueVolume((n) => new Float32Array(n).fill(1), [4, 3, 2]),
  );
  return readFileSync(path);
}

test('the default limit is 2^28 voxels', () => {
  assert.equal(DEFAULT_MAX_VOXELS, 268_435_456);
  assert.equal(MAX_VOXELS_ENV, 'KNEESEG_MAX_VOXELS');
});

test('a small .nii.gz declaring 1000^3 voxels is refused from its header, naming the size and the limit', async () => {
  const dir = tempDir();
  const header = await niftiBytes(dir);
  header.writeInt16LE(1000, 42);
  header.writeInt16LE(1000, 44);
  header.writeInt16LE(1000, 46);
  header.writeInt16LE(2, 70); // uint8
  header.writeInt16LE(8, 72);
  // 16 MB of zeros after the header: about 16 KB compressed, the start of a "bomb"
  const path = join(dir, 'bomb.nii.gz');
  writeFileSync(path, gzipSync(Buffer.concat([header.subarray(0, 352), Buffer.alloc(16 << 20)])));
  await rejectsNaming(
    readVolume(path),
    path,
    /declares 1000 x 1000 x 1000 = 1,000,000,000 voxels \(1\.0 GB\), more than the limit of 268,435,456.*KNEESEG_MAX_VOXELS=1000000000/,
  );
  // uncompressed, and with only the header present: the limit is named, not "truncated"
  const raw = join(dir, 'bomb.nii');
  writeFileSync(raw, header.subarray(0, 352));
  await rejectsNaming(readVolume(raw), raw, /1,000,000,000 voxels .* more than the limit/);
});

for (const ending of WRITABLE_ENDINGS) {
  test(`${ending}: the limit comes from the option, else KNEESEG_MAX_VOXELS; at the limit the scan reads`, async () => {
    const dir = tempDir();
    const path = join(dir, `scan${ending}`);
    const vol = obliqueVolume((n) => new Int16Array(n).fill(3), [20, 16, 12]);
    await writeVolume(path, vol);
    const tooMany =
      /declares 20 x 16 x 12 = 3,840 voxels .*more than the limit of 3,839.*KNEESEG_MAX_VOXELS=3840/;
    await rejectsNaming(readVolume(path, { maxVoxels: 3839 }), path, tooMany);
    assert.equal((await readVolume(path, { maxVoxels: 3840 })).data.length, 3840);
    const saved = process.env.KNEESEG_MAX_VOXELS;
    try {
      process.env.KNEESEG_MAX_VOXELS = '3839';
      await rejectsNaming(readVolume(path), path, tooMany);
      assert.equal((await readVolume(path, { maxVoxels: 4000 })).data.length, 3840);
      process.env.KNEESEG_MAX_VOXELS = 'lots';
      await assert.rejects(
        readVolume(path),
        (e: unknown) =>
          e instanceof ConfigError && /KNEESEG_MAX_VOXELS.*"lots" is not a positive integer/.test(e.message),
      );
    } finally {
      if (saved === undefined) delete process.env.KNEESEG_MAX_VOXELS;
      else process.env.KNEESEG_MAX_VOXELS = saved;
    }
  });
}

test('NIfTI pixdim that is zero, negative, NaN or infinite is refused (ITK would make it 1 mm)', async () => {
  const dir = tempDir();
  const base = await niftiBytes(dir);
  for (const gz of [false, true])
    for (const axis of [1, 2, 3])
      for (const value of [0, -0.5, NaN, Infinity]) {
        const bytes = Buffer.from(base);
        bytes.writeFloatLE(value, 76 + 4 * axis);
        const path = join(dir, `s${axis}_${value}.nii${gz ? '.gz' : ''}`);
        writeFileSync(path, gz ? gzipSync(bytes) : bytes);
        await rejectsNaming(
          readVolume(path),
          path,
          new RegExp(
            `spacing along axis ${axis - 1} is ${value} \\(NIfTI pixdim.*must be a finite number above 0 mm`,
          ),
        );
      }
});

test('MetaImage ElementSpacing and NRRD spacing that are not physical are refused', async () => {
  const dir = tempDir();
  const vol = obliqueVolume((n) => new Float32Array(n).fill(1), [4, 3, 2]);
  await writeVolume(join(dir, 'a.mha'), vol);
  const mha = readFileSync(join(dir, 'a.mha'), 'latin1');
  for (const [text, shown] of [
    ['0 0.42 0.7', '0'],
    ['-0.365 0.42 0.7', '-0.365'],
    ['nan 0.42 0.7', 'NaN'],
    ['inf 0.42 0.7', 'Infinity'],
  ] as const) {
    const path = join(dir, `s${shown}.mha`);
    writeFileSync(path, mha.replace(/ElementSpacing = [^\n]*/, `ElementSpacing = ${text}`), 'latin1');
    await rejectsNaming(readVolume(path), path, new RegExp(`axis 0 is ${shown} \\(MetaImage ElementSpacing`));
  }
  await writeVolume(join(dir, 'a.nrrd'), vol);
  const nrrd = readFileSync(join(dir, 'a.nrrd'), 'latin1');
  const directions = /space directions: (\([^)]*\)) /.exec(nrrd)![1]!;
  for (const [vector, shown] of [
    ['(0,0,0)', '0'],
    ['(nan,0,0)', 'NaN'],
  ] as const) {
    const path = join(dir, `d${shown}.nrrd`);
    writeFileSync(path, nrrd.replace(directions, vector), 'latin1');
    await rejectsNaming(readVolume(path), path, new RegExp(`axis 0 is ${shown} \\(NRRD space directions`));
  }
  // a flipped axis (negative direction) is physical and reads
  const flipped = join(dir, 'flipped.nrrd');
  writeFileSync(flipped, nrrd.replace(directions, directions.replace('(', '(-')), 'latin1');
  assert.equal((await readVolume(flipped)).data.length, 24);
  // the older "spacings" field
  const spacings = join(dir, 'spacings.nrrd');
  const old = nrrd.replace(/space: [^\n]*\n/, '').replace(/space directions: [^\n]*/, 'spacings: 0.5 0 0.7');
  writeFileSync(spacings, old.replace(/space origin: [^\n]*\n/, ''), 'latin1');
  await rejectsNaming(readVolume(spacings), spacings, /axis 1 is 0 \(NRRD spacings/);
});
