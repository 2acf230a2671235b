import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setNumThreads } from '../../src/engine/index.ts';
import { writeLabelMap, writeVolume } from '../../src/data/io/index.ts';
import { IDENTITY_DIRECTION, type Volume } from '../../src/data/volume.ts';
import { measureLabelMap, measurementsCsv } from '../../src/infer/measure.ts';
import { structuresOf } from '../../src/infer/run-measure.ts';
import { kneeseg } from '../helpers/cli.ts';
import { syntheticScan, tempDir, writeTinyModel } from '../infer/helpers.ts';

setNumThreads(1); // the predict comparison runs a tiny network; one thread on a shared machine

const SPACING: [number, number, number] = [0.4, 0.5, 0.7];
const VOXEL_MM3 = 0.4 * 0.5 * 0.7;

/**
 * A knee-like label map: femur block, femoral plate 4 voxels (2.8 mm) thick along z spanning the
 * whole image in x and y, tibial plate 6 voxels (2.4 mm) thick along x, patellar plate, no patella.
 */
function kneeLabels(shift = 0): Volume<Uint8Array> {
  const shape: [number, number, number] = [30, 24, 20];
  const data = new Uint8Array(30 * 24 * 20);
  for (let z = 0, i = 0; z < 20; z++)
    for (let y = 0; y < 24; y++)
      for (let x = 0; x < 30; x++, i++) {
        if (z < 3 + shift) data[i] = 1;
        else if (z < 7 + shift) data[i] = 2;
        else if (z >= 10 && z < 18 && x >= 4 && x < 10 && y >= 3 && y < 20) data[i] = 4;
        else if (z >= 10 && z < 14 && x >= 20 && x < 27 && y >= 5 && y < 9) data[i] = 6;
      }
  return { shape, spacing: SPACING, origin: [0, 0, 0], direction: IDENTITY_DIRECTION, data };
}

function csvRows(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
}

test('kneeseg measure: a folder of label maps gives the volumes and thickness computed directly, and the thickness maps', async () => {
  const dir = tempDir();
  const labels = join(dir, 'labels');
  await writeLabelMap(join(labels, 'knee_a.nii.gz'), kneeLabels());
  await writeLabelMap(join(labels, 'knee_b.mha'), kneeLabels(1));
  writeFileSync(join(labels, 'notes.txt'), 'not a label map');
  const out = join(dir, 'out');
  const r = await kneeseg('measure', labels, '--output', out, '--side', 'left');
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /2 label map\(s\)/);
  assert.match(r.stdout, /2 done, 0 failed/);

  const rows = csvRows(join(out, 'measurements.csv'));
  for (const [id, shift] of [
    ['knee_a', 0],
    ['knee_b', 1],
  ] as const) {
    const vol = kneeLabels(shift);
    // volume = voxel count x voxel volume, counted here
    for (const [value, name] of structuresOf()) {
      const count = vol.data.reduce((s, v) => s + (v === value ? 1 : 0), 0);
      const row = rows.find((c) => c[0] === id && c[2] === name && c[3] === 'all')!;
      assert.ok(row, `${id} ${name}`);
      assert.equal(row[1], 'left');
      assert.equal(Number(row[4]), count);
      assert.ok(Math.abs(Number(row[5]) - count * VOXEL_MM3) < 1e-3, `${id} ${name}: ${row[5]}`);
    }
    // the femoral plate spans the image in x and y: 4 voxels of 0.7 mm everywhere
    const fem = rows.find((c) => c[0] === id && c[2] === 'femoral_cartilage' && c[3] === 'all')!;
    for (const col of [6, 7, 8, 9]) assert.ok(Math.abs(Number(fem[col]) - 2.8) < 1e-5, fem.join(','));
    assert.ok(rows.some((c) => c[0] === id && c[2] === 'femoral_cartilage' && c[3] === 'medial'));
    for (const plate of ['femoral_cartilage', 'tibial_cartilage', 'patellar_cartilage'])
      assert.ok(existsSync(join(out, 'thickness', `${id}_${plate}.png`)), `${id} ${plate}`);
  }
  // exactly the library's measurements of the same maps
  const direct = measurementsCsv([
    measureLabelMap('knee_a', kneeLabels(), structuresOf(), { side: 'left' }).measurements,
    measureLabelMap('knee_b', kneeLabels(1), structuresOf(), { side: 'left' }).measurements,
  ]);
  assert.equal(readFileSync(join(out, 'measurements.csv'), 'utf8'), direct);
  const json = JSON.parse(readFileSync(join(out, 'measurements.json'), 'utf8')) as {
    label_maps: string;
    cases: { case: string; side: string }[];
  };
  assert.equal(json.label_maps, labels);
  assert.deepEqual(
    json.cases.map((c) => [c.case, c.side]),
    [
      ['knee_a', 'left'],
      ['knee_b', 'left'],
    ],
  );
});

test('kneeseg measure: one file, outputs beside it by default; the same measurements predict writes for its label map', async () => {
  const dir = tempDir();
  writeTinyModel(join(dir, 'run'));
  await writeVolume(join(dir, 'scans', 'knee_p_0000.nii.gz'), syntheticScan([7, 30, 26]));
  const pred = join(dir, 'pred');
  const p = await kneeseg(
    'predict',
    '--model',
    join(dir, 'run'),
    '--input',
    join(dir, 'scans'),
    '--output',
    pred,
    '--side',
    'right',
  );
  assert.equal(p.code, 0, `${p.stdout}\n${p.stderr}`);
  const predicted = readFileSync(join(pred, 'measurements.csv'), 'utf8');

  const alone = join(dir, 'alone');
  mkdirSync(alone);
  writeFileSync(join(alone, 'knee_p.nii.gz'), readFileSync(join(pred, 'knee_p.nii.gz')));
  const m = await kneeseg('measure', join(alone, 'knee_p.nii.gz'), '--side', 'right');
  assert.equal(m.code, 0, `${m.stdout}\n${m.stderr}`);
  assert.equal(readFileSync(join(alone, 'measurements.csv'), 'utf8'), predicted);
  assert.ok(existsSync(join(alone, 'measurements.json')));
});

test('kneeseg measure: unknown label values, an empty folder, an unreadable file, a missing path are one line naming the file and the fix', async () => {
  const dir = tempDir();
  const odd = kneeLabels();
  odd.data[5] = 9;
  odd.data[6] = 7;
  const oddFile = join(dir, 'odd', 'knee_odd.nii.gz');
  await writeLabelMap(oddFile, odd);
  const a = await kneeseg('measure', join(dir, 'odd'));
  assert.equal(a.code, 1);
  assert.match(a.stdout, /0 done, 1 failed/);
  const line = a.stderr.split('\n').find((l) => l.startsWith('failed: '))!;
  assert.ok(line.includes(`${oddFile}: holds label value(s) 7, 9 that are not structures`), line);
  assert.match(line, /Fix: .*--labels/);
  assert.ok(!existsSync(join(dir, 'odd', 'measurements.csv')));

  // the same map measures with a dataset.json that declares 7 and 9
  const labels = {
    background: 0,
    femur: 1,
    femoral_cartilage: 2,
    tibial_cartilage: 4,
    patellar_cartilage: 6,
    meniscus: 7,
    fibula: 9,
  };
  writeFileSync(join(dir, 'dataset.json'), JSON.stringify({ labels }));
  const ok = await kneeseg(
    'measure',
    oddFile,
    '--labels',
    join(dir, 'dataset.json'),
    '--output',
    join(dir, 'o'),
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(
    readFileSync(join(dir, 'o', 'measurements.csv'), 'utf8'),
    /knee_odd,unknown,fibula,all,1,0\.14,,,,/,
  );

  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'empty', 'readme.md'), 'x');
  const b = await kneeseg('measure', join(dir, 'empty'));
  assert.equal(b.code, 1);
  assert.equal(b.stderr.split('\n').length, 1);
  assert.match(b.stderr, /^kneeseg: .*empty: holds no label maps \(\.nii\.gz, .*\)\. Fix: /);

  const broken = join(dir, 'broken', 'knee_x.nii.gz');
  mkdirSync(join(dir, 'broken'));
  writeFileSync(broken, Buffer.from('this is not a NIfTI file at all, only some text'));
  const c = await kneeseg('measure', broken);
  assert.equal(c.code, 1);
  const failed = c.stderr.split('\n').filter((l) => l.startsWith('failed: '));
  assert.equal(failed.length, 1);
  assert.ok(failed[0]!.includes(broken) && failed[0]!.includes('Fix:'), failed[0]);

  const scan = join(dir, 'scan', 'knee_s_0000.nii.gz');
  await writeVolume(scan, syntheticScan([5, 12, 10]));
  const s = await kneeseg('measure', scan);
  assert.equal(s.code, 1);
  assert.match(
    s.stderr,
    /failed: .*knee_s_0000\.nii\.gz: holds label value\(s\) .*, \.\.\. that .*is it a scan rather than a label map\?/,
  );

  const d = await kneeseg('measure', join(dir, 'nowhere'));
  assert.equal(d.code, 1);
  assert.match(d.stderr, /^kneeseg: .*nowhere: does not exist\. Fix: give a label map/);

  const e = await kneeseg('measure', oddFile, '--side', 'up');
  assert.equal(e.code, 1);
  assert.match(e.stderr, /config "side": must be left or right, got up/);
});
