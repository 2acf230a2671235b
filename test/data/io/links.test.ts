// Scans reached through symbolic links: read as the file they point to; loops and dangling links
// refused with an InputError that names the link and says what it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVolume, writeVolume, WRITABLE_ENDINGS } from '../../../src/data/io/index.ts';
import { InputError } from '../../../src/errors.ts';
import { obliqueVolume, tempDir, writeDicomSeries } from './helpers.ts';

async function rejectsNaming(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    assert.match(err.message, problem);
    assert.match(err.message, /Fix: /);
    return true;
  });
}

const vol = () => obliqueVolume((n) => Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3), [6, 5, 4]);

for (const ending of WRITABLE_ENDINGS) {
  test(`${ending}: absolute and relative links into another folder read as their target`, async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'store'));
    mkdirSync(join(dir, 'links'));
    const v = vol();
    await writeVolume(join(dir, 'store', `scan${ending}`), v);
    symlinkSync(join(dir, 'store', `scan${ending}`), join(dir, 'links', `abs${ending}`));
    symlinkSync(join('..', 'store', `scan${ending}`), join(dir, 'links', `rel${ending}`));
    // a chain of links, through a linked folder
    symlinkSync(join(dir, 'store'), join(dir, 'store-link'));
    symlinkSync(join(dir, 'store-link', `scan${ending}`), join(dir, 'links', `chain${ending}`));
    for (const name of ['abs', 'rel', 'chain']) {
      const back = await readVolume(join(dir, 'links', `${name}${ending}`));
      assert.deepEqual(back.data, v.data, `${name}${ending}`);
      assert.deepEqual([...back.shape], [...v.shape]);
    }
  });
}

test('a link named like a scan to a file named otherwise (a content-addressed store) reads', async () => {
  const dir = tempDir();
  const cache = tempDir();
  const v = vol();
  await writeVolume(join(dir, 'scan.nii.gz'), v);
  renameSync(join(dir, 'scan.nii.gz'), join(cache, '3f9a0c'));
  const name = `case${process.pid}_0000.nii.gz`;
  symlinkSync(join(cache, '3f9a0c'), join(dir, name));
  assert.deepEqual((await readVolume(join(dir, name))).data, v.data);
  // the private copy made for the reader is gone afterwards
  const staged = readdirSync(tmpdir()).filter((f) => f.startsWith('kneeseg-read-'));
  assert.ok(!staged.some((f) => existsSync(join(tmpdir(), f, name))));
});

test('a linked .mhd finds its data file beside the link or beside its target', async () => {
  const dir = tempDir();
  const v = vol();
  mkdirSync(join(dir, 'store'));
  await writeVolume(join(dir, 'store', 'scan.mhd'), v);
  // header alone linked: scan.raw is beside the target
  mkdirSync(join(dir, 'a'));
  symlinkSync(join(dir, 'store', 'scan.mhd'), join(dir, 'a', 'scan.mhd'));
  assert.deepEqual((await readVolume(join(dir, 'a', 'scan.mhd'))).data, v.data);
  // header and data linked from different folders
  mkdirSync(join(dir, 'b'));
  mkdirSync(join(dir, 'raw'));
  copyFileSync(join(dir, 'store', 'scan.mhd'), join(dir, 'b', 'real.mhd'));
  renameSync(join(dir, 'store', 'scan.raw'), join(dir, 'raw', 'scan.raw'));
  symlinkSync(join(dir, 'raw', 'scan.raw'), join(dir, 'b', 'scan.raw'));
  assert.deepEqual((await readVolume(join(dir, 'b', 'real.mhd'))).data, v.data);
  // the data file a dangling link
  unlinkSync(join(dir, 'raw', 'scan.raw'));
  await rejectsNaming(
    readVolume(join(dir, 'b', 'real.mhd')),
    join(dir, 'b', 'real.mhd'),
    /data file .*scan\.raw is a symbolic link to .*, which does not exist/,
  );
});

test('a link loop and a dangling link are named as such, for every reader', async () => {
  const dir = tempDir();
  for (const ending of ['.nii.gz', '.mha', '.nrrd', '.mhd', '.h5']) {
    const a = join(dir, `a${ending}`);
    const b = join(dir, `b${ending}`);
    symlinkSync(b, a);
    symlinkSync(a, b);
    await rejectsNaming(readVolume(a), a, /is a symbolic link loop \(ELOOP/);
    const dangling = join(dir, `gone${ending}`);
    symlinkSync(join(dir, 'nowhere', `scan${ending}`), dangling);
    await rejectsNaming(
      readVolume(dangling),
      dangling,
      /is a symbolic link to .*nowhere.*, which does not exist/,
    );
  }
  // a DICOM series folder that is a loop
  symlinkSync(join(dir, 'series2'), join(dir, 'series1'));
  symlinkSync(join(dir, 'series1'), join(dir, 'series2'));
  await rejectsNaming(readVolume(join(dir, 'series1')), join(dir, 'series1'), /symbolic link loop/);
});

test('a DICOM series reached through a linked folder, and one of linked slice files, reads', async () => {
  const dir = tempDir();
  const v = obliqueVolume((n) => Int16Array.from({ length: n }, (_, i) => i * 3 - 40), [6, 5, 4]);
  writeDicomSeries(join(dir, 'store', 'series'), v);
  symlinkSync(join(dir, 'store', 'series'), join(dir, 'linked-series'));
  assert.deepEqual((await readVolume(join(dir, 'linked-series'))).data, v.data);
  mkdirSync(join(dir, 'slices'));
  for (const f of readdirSync(join(dir, 'store', 'series')))
    symlinkSync(join(dir, 'store', 'series', f), join(dir, 'slices', f));
  assert.deepEqual((await readVolume(join(dir, 'slices'))).data, v.data);
  // one slice a dangling link: named, not "cannot be read as a DICOM series"
  symlinkSync(join(dir, 'gone.dcm'), join(dir, 'slices', 'IM_extra.dcm'));
  await rejectsNaming(
    readVolume(join(dir, 'slices')),
    join(dir, 'slices', 'IM_extra.dcm'),
    /symbolic link to .*gone\.dcm, which does not exist/,
  );
});
