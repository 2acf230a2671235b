// `predict --input` through symbolic links: a folder of links to scans is a folder of scans, a link to
// a series folder is a series, a broken link is listed so that reading it names the fault.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setNumThreads } from '../../src/engine/index.ts';
import { readVolume, writeVolume } from '../../src/data/io/index.ts';
import { InputError } from '../../src/errors.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { predictCase } from '../../src/infer/run-predict.ts';
import { listScans } from '../../src/infer/scans.ts';
import { writeDicomSeries } from '../data/io/helpers.ts';
import { kneeseg } from '../helpers/cli.ts';
import { assertCompleteOrAbsent } from '../output/helpers.ts';
import { syntheticScan, tempDir, writeTinyModel } from './helpers.ts';

setNumThreads(1);

test('a folder of links: scans, a linked series folder, and broken links named like scans are listed', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await writeVolume(join(store, 'knee_a_0000.nii.gz'), syntheticScan([4, 6, 5]));
  await writeVolume(join(store, 'knee_b.mha'), syntheticScan([4, 6, 5]));
  writeDicomSeries(join(store, 'series'), syntheticScan([4, 6, 5]));
  const input = join(dir, 'input');
  mkdirSync(input);
  symlinkSync(join(store, 'knee_a_0000.nii.gz'), join(input, 'knee_a_0000.nii.gz'));
  symlinkSync(join('..', 'store', 'knee_b.mha'), join(input, 'knee_b.mha'));
  symlinkSync(join(store, 'series'), join(input, 'knee_c'));
  symlinkSync(join(store, 'gone.nii.gz'), join(input, 'knee_d.nii.gz'));
  symlinkSync(join(input, 'knee_e.nrrd'), join(input, 'knee_e.nrrd'));
  symlinkSync(join(store, 'gone.txt'), join(input, 'notes.docx'));
  const { scans, ignored } = listScans(input);
  assert.deepEqual(
    scans.map((s) => s.id),
    ['knee_a', 'knee_b', 'knee_c', 'knee_d', 'knee_e'],
  );
  assert.deepEqual(ignored, [join(input, 'notes.docx')]);
  // the input itself a loop or a dangling link
  symlinkSync(join(dir, 'in-loop'), join(dir, 'in-loop'));
  assert.throws(
    () => listScans(join(dir, 'in-loop')),
    (e: unknown) =>
      e instanceof InputError && e.file === join(dir, 'in-loop') && /symbolic link loop/.test(e.message),
  );
  symlinkSync(join(dir, 'nowhere'), join(dir, 'in-dangling'));
  assert.throws(
    () => listScans(join(dir, 'in-dangling')),
    (e: unknown) =>
      e instanceof InputError &&
      e.file === join(dir, 'in-dangling') &&
      /which does not exist/.test(e.message),
  );
});

test('predict segments scans reached through links and names broken links', async () => {
  const dir = tempDir();
  const m = loadModel(writeTinyModel(join(dir, 'run')));
  const store = join(dir, 'store');
  await writeVolume(join(store, 'knee_a_0000.nii.gz'), syntheticScan([3, 30, 26]));
  const input = join(dir, 'input');
  mkdirSync(input);
  symlinkSync(join(store, 'knee_a_0000.nii.gz'), join(input, 'knee_a_0000.nii.gz'));
  symlinkSync(join(store, 'gone.nii.gz'), join(input, 'knee_b_0000.nii.gz'));
  symlinkSync(join(input, 'knee_c.nii.gz'), join(input, 'knee_c.nii.gz'));
  const [a, b, c] = listScans(input).scans;
  const out = join(dir, 'out');
  const r = await predictCase(m, a!, { output: out, measure: false });
  assert.equal(r.output, join(out, 'knee_a.nii.gz'));
  await assert.rejects(
    predictCase(m, b!, { output: out, measure: false }),
    (e: unknown) => e instanceof InputError && e.file === b!.path && /dangling link/.test(e.message),
  );
  await assert.rejects(
    predictCase(m, c!, { output: out, measure: false }),
    (e: unknown) => e instanceof InputError && e.file === c!.path && /symbolic link loop/.test(e.message),
  );
});

test('a DICOM folder of two series: predict lists them and writes nothing; FOLDER#UID and --series predict one', async () => {
  const dir = tempDir();
  const run = join(dir, 'run');
  writeTinyModel(run);
  const folder = join(dir, 'knee_s');
  const [a, b] = ['1.2.826.0.1.3680043.8.498.21', '1.2.826.0.1.3680043.8.498.22'];
  writeDicomSeries(folder, syntheticScan([3, 30, 12]), { seriesUid: a, description: 'DESS', prefix: 'A' });
  writeDicomSeries(folder, syntheticScan([4, 30, 16]), { seriesUid: b, description: 'T2 map', prefix: 'B' });
  // listed as one scan named after its folder; the folder itself must exist
  assert.deepEqual(listScans(`${folder}#${a}`).scans, [{ id: 'knee_s', path: `${folder}#${a}` }]);
  assert.throws(
    () => listScans(join(dir, `gone#${a}`)),
    (e: unknown) => e instanceof InputError && /which is not a folder/.test(e.message),
  );
  const out = join(dir, 'out');
  const refused = await kneeseg(
    'predict',
    '--model',
    run,
    '--input',
    folder,
    '--output',
    out,
    '--no-measure',
  );
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    new RegExp(
      `${folder}: holds 2 DICOM series and kneeseg reads one series at a time: ` +
        `${b} "T2 map" \\(16 files\\), ${a} "DESS" \\(12 files\\)\\. Fix: name the series to read as FOLDER#SeriesInstanceUID`,
    ),
  );
  assert.deepEqual(await assertCompleteOrAbsent(out), []); // no label map, no temporary file
  const byFlag = await kneeseg(
    'predict',
    '--model',
    run,
    '--input',
    folder,
    '--series',
    b,
    '--output',
    out,
    '--no-measure',
  );
  assert.equal(byFlag.code, 0, byFlag.stderr);
  assert.deepEqual((await readVolume(join(out, 'knee_s.nii.gz'))).shape, [4, 30, 16]);
  const bySuffix = join(dir, 'out2');
  const r = await kneeseg(
    'predict',
    '--model',
    run,
    '--input',
    `${folder}#${a}`,
    '--output',
    bySuffix,
    '--no-measure',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await readVolume(join(bySuffix, 'knee_s.nii.gz'))).shape, [3, 30, 12]);
  const badUid = await kneeseg(
    'predict',
    '--model',
    run,
    '--input',
    folder,
    '--series',
    'T2',
    '--output',
    out,
  );
  assert.equal(badUid.code, 1);
  assert.match(badUid.stderr, /config "series": must be a DICOM UID \(numbers separated by dots\), got T2/);
});
