import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setNumThreads } from '../../src/engine/index.ts';
import { writeVolume } from '../../src/data/io/index.ts';
import { InputError } from '../../src/errors.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { predictCase } from '../../src/infer/run-predict.ts';
import { caseIdOf, listScans } from '../../src/infer/scans.ts';
import { kneeseg } from '../helpers/cli.ts';
import { syntheticScan, tempDir, writeTinyModel } from './helpers.ts';

setNumThreads(1); // tiny tensors: one thread avoids contention on a shared machine

test('a folder with a corrupt, a 2D and an unsupported file: the good scans are done, the bad reported, exit status 1', async () => {
  const dir = tempDir();
  const run = join(dir, 'run');
  writeTinyModel(run);
  const input = join(dir, 'scans');
  const scan = syntheticScan([7, 30, 26]);
  await writeVolume(join(input, 'knee_a_0000.nii.gz'), scan);
  await writeVolume(join(input, 'knee_d.nrrd'), scan);
  writeFileSync(
    join(input, 'knee_b_0000.nii.gz'),
    Buffer.from('this is not a NIfTI file at all, only some text'),
  );
  await writeVolume(join(input, 'knee_c.mha'), { ...syntheticScan([1, 30, 26]) });
  writeFileSync(join(input, 'notes.docx'), 'x');
  const out = join(dir, 'out');
  const r = await kneeseg('predict', '--model', run, '--input', input, '--output', out, '--side', 'left');
  const printed = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.code, 1, printed);
  assert.ok(existsSync(join(out, 'knee_a.nii.gz')));
  assert.ok(existsSync(join(out, 'knee_d.nii.gz')));
  assert.ok(!existsSync(join(out, 'knee_b.nii.gz')) && !existsSync(join(out, 'knee_c.nii.gz')));
  assert.match(printed, /knee_b_0000\.nii\.gz.*FAILED|FAILED.*knee_b_0000\.nii\.gz/);
  assert.match(printed, /knee_c\.mha: is a 2D image/);
  assert.match(printed, /not scans, skipped: .*notes\.docx/);
  assert.match(printed, /2 done, 2 failed/);
  const csv = readFileSync(join(out, 'measurements.csv'), 'utf8');
  const cases = new Set(
    csv
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[0]),
  );
  assert.deepEqual([...cases], ['knee_a', 'knee_d']);
  assert.match(csv, /knee_a,left,femoral_cartilage,medial,/);
  const json = JSON.parse(readFileSync(join(out, 'measurements.json'), 'utf8')) as {
    cases: { case: string }[];
  };
  assert.deepEqual(
    json.cases.map((c) => c.case),
    ['knee_a', 'knee_d'],
  );
});

test('a single corrupt scan is an InputError naming the file; a good run exits 0', async () => {
  const dir = tempDir();
  const m = loadModel(writeTinyModel(join(dir, 'run')));
  const bad = join(dir, 'bad.nii.gz');
  writeFileSync(bad, Buffer.alloc(400, 7));
  await assert.rejects(
    predictCase(m, { id: 'bad', path: bad }, { output: join(dir, 'o') }),
    (e: unknown) => e instanceof InputError && e.message.includes(bad),
  );
  const unsupported = join(dir, 'scan.jpg');
  writeFileSync(unsupported, 'x');
  await assert.rejects(
    predictCase(m, { id: 'scan', path: unsupported }, { output: join(dir, 'o') }),
    /scan\.jpg: unsupported file ending/,
  );
  await writeVolume(join(dir, 'good.nii.gz'), syntheticScan([5, 20, 20]));
  const r = await kneeseg(
    'predict',
    '--model',
    join(dir, 'run', 'model.safetensors'),
    '--input',
    join(dir, 'good.nii.gz'),
    '--output',
    join(dir, 'o'),
    '--tta',
    'flip',
    '--largest-component',
  );
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.ok(existsSync(join(dir, 'o', 'good.nii.gz')));
  const badBatch = await kneeseg(
    'predict',
    '--model',
    join(dir, 'run'),
    '--input',
    join(dir, 'good.nii.gz'),
    '--output',
    join(dir, 'o2'),
    '--batch',
    '0',
  );
  assert.notEqual(badBatch.code, 0);
  assert.match(badBatch.stderr, /batch.*must be auto or a whole number >= 1, got 0/);
  assert.ok(!existsSync(join(dir, 'o2', 'good.nii.gz')));
});

test('case ids drop the ending and the nnU-Net channel suffix; a DICOM folder is one scan', () => {
  assert.equal(caseIdOf('/a/knee_0003_0000.nii.gz'), 'knee_0003');
  assert.equal(caseIdOf('/a/knee_0003.mhd'), 'knee_0003');
  assert.equal(caseIdOf('/a/series_12/'), 'series_12');
  const dir = tempDir();
  writeFileSync(join(dir, 'IM1.dcm'), 'x');
  writeFileSync(join(dir, 'IM2.dcm'), 'x');
  assert.deepEqual(listScans(dir).scans, [{ id: caseIdOf(dir), path: dir }]);
});
