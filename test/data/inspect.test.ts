import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelPath } from '../../src/data/dataset.ts';
import { inspectDataset } from '../../src/data/inspect.ts';
import { writeLabelMap } from '../../src/data/io/index.ts';
import { InputError } from '../../src/errors.ts';
import { GEOMETRY, labels, makeDataset } from './dataset-fixture.ts';

test('inspectDataset counts cases and voxels per structure (checked against a direct count)', async () => {
  const dir = await makeDataset();
  const s = await inspectDataset(dir);
  assert.deepEqual(s.counts, { labelled: 3, unlabelled: 2, test: 2, testLabelled: 1 });
  assert.equal(s.cases.length, 7);
  assert.deepEqual(s.shapeRange, { min: [6, 5, 4], max: [6, 5, 4] });
  assert.deepEqual(s.spacingRange, { min: [0.5, 0.5, 1.5], max: [0.5, 0.5, 1.5] });
  assert.deepEqual(s.absentStructures, []);
  // Brute force: the fixture's k01..k03 cycle through [0..i+1], t01 through [0..6].
  const n = 6 * 5 * 4;
  const expected: Record<string, number> = {};
  const names = ['femur', 'femoral_cartilage', 'tibia', 'tibial_cartilage', 'patella', 'patellar_cartilage'];
  for (const name of names) expected[name] = 0;
  for (const values of [
    [0, 1],
    [0, 1, 2],
    [0, 1, 2, 3],
    [0, 1, 2, 3, 4, 5, 6],
  ]) {
    for (let i = 0; i < n; i++) {
      const v = values[i % values.length]!;
      if (v > 0) expected[names[v - 1]!]! += 1;
    }
  }
  assert.deepEqual(s.totalVoxels, expected);
  assert.equal(s.cases.find((c) => c.id === 'k04')!.voxels, undefined);
  assert.equal(s.cases.find((c) => c.id === 'k02')!.voxels!['femoral_cartilage'], n / 3);
});

test('inspectDataset reports a dataset without patella and stops at a bad label map', async () => {
  const dir = await makeDataset({
    channel_names: { '0': 'DESS' },
    labels: { background: 0, femur: 1, femoral_cartilage: 2, tibia: 3, tibial_cartilage: 4 },
    file_ending: '.mha',
  });
  const s = await inspectDataset(dir);
  assert.deepEqual(s.absentStructures, ['patella', 'patellar_cartilage']);
  const bad = labelPath(dir, 'labelsTr', 'k03', '.mha');
  await writeLabelMap(bad, labels([0, 1, 6], GEOMETRY));
  await assert.rejects(
    inspectDataset(dir),
    (e: unknown) => e instanceof InputError && e.file === bad && /label values 6/.test(e.message),
  );
});
