import { test } from 'node:test';
import assert from 'node:assert/strict';
import h5wasm, { type Dataset, type File } from 'h5wasm/node';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spacingFromIsmrmrd } from '../../../src/data/io/hdf5.ts';
import { readVolume } from '../../../src/data/io/index.ts';
import { IDENTITY_DIRECTION } from '../../../src/data/volume.ts';
import { InputError } from '../../../src/errors.ts';
import { tempDir } from './helpers.ts';

const HEADER =
  '<?xml version="1.0"?><ismrmrdHeader><encoding><encodedSpace><matrixSize><x>640</x><y>368</y><z>1</z></matrixSize>' +
  '<fieldOfView_mm><x>280</x><y>140</y><z>4.5</z></fieldOfView_mm></encodedSpace><reconSpace><matrixSize><x>4</x><y>3</y><z>1</z></matrixSize>' +
  '<fieldOfView_mm><x>2.0</x><y>1.5</y><z>3.0</z></fieldOfView_mm></reconSpace></encoding></ismrmrdHeader>';

/** A fastMRI-like file: `name` shaped (slices, y, x), gzip-compressed in chunks like fastMRI's. */
async function writeFastmri(
  path: string,
  name: string,
  data: Float32Array,
  dims: [number, number, number],
  extra: (f: File) => void = () => {},
) {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'w');
  f.create_dataset({ name, data, shape: dims, compression: 'gzip', chunks: [1, dims[1], dims[2]] });
  extra(f);
  f.close();
}

test('reconstruction_rss (slices, y, x) reads x-fastest with spacing from the ISMRMRD header', async () => {
  const dir = tempDir();
  const path = join(dir, 'file1000001.h5');
  const data = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 1e-5);
  await writeFastmri(path, 'reconstruction_rss', data, [2, 3, 4], (f) =>
    f.create_dataset({ name: 'ismrmrd_header', data: HEADER }),
  );
  const vol = await readVolume(path);
  assert.deepEqual([...vol.shape], [4, 3, 2]);
  // voxel (x=1, y=2, z=1) is element [1][2][1] of the (slices, y, x) array
  assert.equal(vol.data[1 + 4 * (2 + 3 * 1)], data[1 * 12 + 2 * 4 + 1]);
  assert.deepEqual(vol.data, data);
  assert.deepEqual([...vol.spacing], [0.5, 0.5, 3]);
  assert.deepEqual([...vol.origin], [0, 0, 0]);
  assert.deepEqual([...vol.direction], [...IDENTITY_DIRECTION]);
});

test('reconstruction_esc without header: unit spacing, or a spacing attribute when present', async () => {
  const dir = tempDir();
  const a = join(dir, 'a.h5');
  await writeFastmri(a, 'reconstruction_esc', new Float32Array(8).fill(2), [2, 2, 2]);
  assert.deepEqual([...(await readVolume(a)).spacing], [1, 1, 1]);
  const b = join(dir, 'b.h5');
  await writeFastmri(b, 'reconstruction_esc', new Float32Array(8).fill(2), [2, 2, 2], (f) => {
    (f.get('reconstruction_esc') as Dataset).create_attribute('spacing', new Float64Array([0.3, 0.4, 2.5]));
  });
  assert.deepEqual([...(await readVolume(b)).spacing], [0.3, 0.4, 2.5]);
  assert.equal(spacingFromIsmrmrd('<x/>'), undefined);
});

test('truncated HDF5, a file without reconstructions, and NaN voxels are InputErrors naming the file', async () => {
  const dir = tempDir();
  const good = join(dir, 'good.h5');
  await writeFastmri(good, 'reconstruction_rss', new Float32Array(24).fill(1), [2, 3, 4]);
  const cut = join(dir, 'cut.h5');
  const bytes = readFileSync(good);
  writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
  const named = (file: string, re: RegExp) => (e: unknown) =>
    e instanceof InputError && e.file === file && re.test(e.message);
  await assert.rejects(readVolume(cut), named(cut, /not a readable HDF5 file/));
  const kspace = join(dir, 'kspace.h5');
  await writeFastmri(kspace, 'kspace', new Float32Array(24), [2, 3, 4]);
  await assert.rejects(
    readVolume(kspace),
    named(kspace, /has no dataset reconstruction_rss or reconstruction_esc \(found: kspace\)/),
  );
  const nan = join(dir, 'nan.h5');
  await writeFastmri(nan, 'reconstruction_rss', new Float32Array([1, NaN, 1, 1, 1, 1, 1, 1]), [2, 2, 2]);
  await assert.rejects(readVolume(nan), named(nan, /voxel \[1, 0, 0\] is NaN/));
});

test('a fastMRI file over the voxel limit, with a zero spacing, or reached through a link', async () => {
  const dir = tempDir();
  const named = (file: string, re: RegExp) => (e: unknown) =>
    e instanceof InputError && e.file === file && re.test(e.message) && /Fix: /.test(e.message);
  const path = join(dir, 'a.h5');
  await writeFastmri(path, 'reconstruction_rss', new Float32Array(24).fill(1), [2, 3, 4]);
  await assert.rejects(
    readVolume(path, { maxVoxels: 23 }),
    named(path, /declares 4 x 3 x 2 = 24 voxels .*more than the limit of 23.*KNEESEG_MAX_VOXELS=24/),
  );
  assert.equal((await readVolume(path, { maxVoxels: 24 })).data.length, 24);
  const flat = join(dir, 'flat.h5');
  await writeFastmri(flat, 'reconstruction_esc', new Float32Array(8).fill(2), [2, 2, 2], (f) => {
    (f.get('reconstruction_esc') as Dataset).create_attribute('spacing', new Float64Array([0.3, 0, 2.5]));
  });
  await assert.rejects(readVolume(flat), named(flat, /spacing along axis 1 is 0/));
  mkdirSync(join(dir, 'links'));
  symlinkSync(path, join(dir, 'links', 'b.h5'));
  assert.equal((await readVolume(join(dir, 'links', 'b.h5'))).data.length, 24);
});
