import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  labelPath,
  loadCase,
  openDataset,
  readDatasetJson,
  writeDatasetJson,
  type DatasetJson,
} from '../../src/data/dataset.ts';
import { writeLabelMap } from '../../src/data/io/index.ts';
import { tmpdir } from 'node:os';
import { InputError } from '../../src/errors.ts';
import { GEOMETRY, JSON_ALL, labels, makeDataset, scan } from './dataset-fixture.ts';

function throwsNaming(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.file, file);
    assert.match(err.message, problem);
    return true;
  });
}

async function rejectsNaming(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, String(err));
    assert.equal(err.file, file);
    assert.match(err.message, problem);
    return true;
  });
}

test('openDataset lists labelled, unlabelled and test cases and maps label values to structures', async () => {
  const dir = await makeDataset();
  const ds = openDataset(dir);
  assert.deepEqual(
    ds.training.map((c) => [c.id, c.label !== undefined]),
    [
      ['k01', true],
      ['k02', true],
      ['k03', true],
      ['k04', false],
      ['k05', false],
    ],
  );
  assert.deepEqual(ds.training[0]!.images, [join(dir, 'imagesTr', 'k01_0000.nii.gz')]);
  assert.deepEqual(
    ds.test.map((c) => [c.id, c.label !== undefined]),
    [
      ['t01', true],
      ['t02', false],
    ],
  );
  assert.equal(ds.structures.get(2), 'femoral_cartilage');
  assert.equal(ds.structures.get(6), 'patellar_cartilage');
  assert.equal(ds.structures.size, 6);
  const c = await loadCase(ds, ds.training[2]!);
  assert.deepEqual([...c.label!.shape], [...GEOMETRY.shape]);
  assert.deepEqual(Array.from(c.label!.data.slice(0, 5)), [0, 1, 2, 3, 0]);
  assert.deepEqual(c.image.data, scan(2).data);
  const u = await loadCase(ds, ds.training[4]!);
  assert.equal(u.label, undefined);
});

test('a dataset without patella declares so; a patella value in its label map is refused', async () => {
  const json: DatasetJson = {
    ...JSON_ALL,
    labels: { background: 0, femur: 1, femoral_cartilage: 2, tibia: 3, tibial_cartilage: 4 },
  };
  const dir = await makeDataset(json);
  const ds = openDataset(dir);
  assert.deepEqual([...ds.structures.values()], ['femur', 'femoral_cartilage', 'tibia', 'tibial_cartilage']);
  const file = labelPath(dir, 'labelsTr', 'k02', '.nii.gz');
  await writeLabelMap(file, labels([0, 1, 5, 9]));
  await rejectsNaming(
    loadCase(ds, ds.training[1]!),
    file,
    /holds label values 5, 9 that are not in dataset.json labels \(allowed: 0, 1, 2, 3, 4\)/,
  );
});

test('label map with another shape or spacing than its image: InputError naming the label file', async () => {
  const dir = await makeDataset();
  const ds = openDataset(dir);
  const file = labelPath(dir, 'labelsTr', 'k01', '.nii.gz');
  await writeLabelMap(file, labels([0, 1], { ...GEOMETRY, shape: [6, 5, 3] }));
  await rejectsNaming(loadCase(ds, ds.training[0]!), file, /geometry differs from its image .*shape 6x5x3/);
  await writeLabelMap(file, labels([0, 1], { ...GEOMETRY, spacing: [0.5, 0.6, 1.5] }));
  await rejectsNaming(loadCase(ds, ds.training[0]!), file, /geometry differs/);
  await writeLabelMap(file, labels([0, 1], { ...GEOMETRY, direction: [0, 1, 0, 1, 0, 0, 0, 0, -1] }));
  await rejectsNaming(loadCase(ds, ds.training[0]!), file, /geometry differs/);
});

test('missing, unparsable and malformed dataset.json name the file', async () => {
  const dir = await makeDataset();
  const path = join(dir, 'dataset.json');
  const good = readFileSync(path, 'utf8');
  rmSync(path);
  throwsNaming(() => openDataset(dir), path, /is missing/);
  writeFileSync(path, '{"labels": ');
  throwsNaming(() => openDataset(dir), path, /not valid JSON/);
  const base = JSON.parse(good) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...base, labels: undefined }));
  throwsNaming(() => openDataset(dir), path, /labels/);
  writeFileSync(path, JSON.stringify({ ...base, labels: { femur: 1 } }));
  throwsNaming(() => openDataset(dir), path, /"background": 0/);
  writeFileSync(path, JSON.stringify({ ...base, file_ending: '.png' }));
  throwsNaming(() => openDataset(dir), path, /file_ending/);
  writeFileSync(path, JSON.stringify({ ...base, labels: { background: 0, meniscus: 1 } }));
  throwsNaming(() => openDataset(dir), path, /label "meniscus" is not a structure/);
  writeFileSync(path, JSON.stringify({ ...base, numTraining: 9 }));
  throwsNaming(() => openDataset(dir), path, /numTraining is 9 but imagesTr holds 5/);
  // a label tree with other leaves accepts their names
  writeFileSync(path, JSON.stringify({ ...base, labels: { background: 0, meniscus: 1 } }));
  assert.deepEqual([...openDataset(dir, { structures: ['meniscus'] }).structures], [[1, 'meniscus']]);
});

test('missing, misnamed or empty folders and misnamed files name the path', async () => {
  const dir = await makeDataset();
  const tr = join(dir, 'imagesTr');
  renameSync(tr, join(dir, 'ImagesTr'));
  throwsNaming(() => openDataset(dir), tr, /is missing \(found "ImagesTr"/);
  mkdirSync(tr);
  throwsNaming(() => openDataset(dir), tr, /holds no images/);
  rmSync(tr, { recursive: true });
  renameSync(join(dir, 'ImagesTr'), tr);
  writeFileSync(join(tr, 'k09.nii.gz'), '');
  throwsNaming(() => openDataset(dir), join(tr, 'k09.nii.gz'), /not named \{case\}_0000\.nii\.gz/);
  rmSync(join(tr, 'k09.nii.gz'));
  const orphan = labelPath(dir, 'labelsTr', 'k77', '.nii.gz');
  writeFileSync(orphan, '');
  throwsNaming(() => openDataset(dir), orphan, /has no image k77_0000\.nii\.gz in imagesTr/);
  rmSync(orphan);
  throwsNaming(() => openDataset(join(dir, 'nope')), join(dir, 'nope'), /is not a folder/);
  assert.equal(openDataset(dir).training.length, 5);
});

test('truncated image inside a dataset: loadCase names it', async () => {
  const dir = await makeDataset();
  const ds = openDataset(dir);
  const img = ds.training[3]!.images[0]!;
  const bytes = readFileSync(img);
  writeFileSync(img, bytes.subarray(0, bytes.length - 20));
  await rejectsNaming(loadCase(ds, ds.training[3]!), img, /gzip data is broken|truncated/);
});

test('writeDatasetJson round-trips, keeps extra keys, and writes nothing for an invalid description', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-json-'));
  const json = { ...JSON_ALL, numTraining: 3, name: 'knees', licence: 'CC-BY' } as DatasetJson;
  writeDatasetJson(dir, json);
  assert.deepEqual(readDatasetJson(dir), json);
  const other = join(dir, 'bad');
  throwsNaming(
    () => writeDatasetJson(other, { ...JSON_ALL, labels: { femur: 1 } }),
    join(other, 'dataset.json'),
    /background/,
  );
  assert.ok(!existsSync(other));
  assert.deepEqual(readdirSync(dir), ['dataset.json']);
});
