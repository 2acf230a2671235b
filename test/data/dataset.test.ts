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
import { writeLabelMap, writeVolume } from '../../src/data/io/index.ts';
import { tmpdir } from 'node:os';
import { InputError } from '../../src/errors.ts';
import { GEOMETRY, JSON_ALL, labels, makeDataset, scan } from './dataset-fixture.ts';
import { throwsNaming } from '../helpers/throws-naming.ts';

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

/** makeDataset() plus files outside the nnU-Net folders, and a dataset.json listing cases under `dataset`. */
async function listedDataset(): Promise<{ dir: string; base: DatasetJson; other: string }> {
  const dir = await makeDataset();
  const other = mkdtempSync(join(tmpdir(), 'kneeseg-listed-'));
  await writeVolume(join(other, 'x07_0000.nii.gz'), scan(7));
  mkdirSync(join(dir, 'segs'));
  await writeLabelMap(join(dir, 'segs', 'x07.nii.gz'), labels([0, 2, 4]));
  return { dir, base: readDatasetJson(dir), other };
}

test('nnU-Net v2 `dataset` key: listed cases with their paths are labelled, the rest of imagesTr unlabelled', async () => {
  const { dir, base, other } = await listedDataset();
  process.env.KNEESEG_TEST_SEGS = 'segs';
  try {
    // numTraining counts the list (2), not imagesTr (5): refused before the listing was honoured
    writeDatasetJson(dir, {
      ...base,
      numTraining: 2,
      dataset: {
        k02: { images: ['imagesTr/k02_0000.nii.gz'], label: 'labelsTr/k02.nii.gz' },
        x07: { images: [join(other, 'x07_0000.nii.gz')], label: '${KNEESEG_TEST_SEGS}/x07.nii.gz' },
      },
    });
    const ds = openDataset(dir);
    assert.deepEqual(
      ds.training.map((c) => [c.id, c.label !== undefined]),
      [
        ['k01', false], // labelsTr/k01.nii.gz exists, but the listing leaves k01 out
        ['k02', true],
        ['k03', false],
        ['k04', false],
        ['k05', false],
        ['x07', true],
      ],
    );
    const x07 = ds.training[5]!;
    assert.deepEqual(x07.images, [join(other, 'x07_0000.nii.gz')]);
    assert.equal(x07.label, join(dir, 'segs', 'x07.nii.gz'));
    assert.equal(ds.training[1]!.label, join(dir, 'labelsTr', 'k02.nii.gz'));
    const loaded = await loadCase(ds, x07);
    assert.deepEqual(loaded.image.data, scan(7).data);
    assert.deepEqual(Array.from(loaded.label!.data.slice(0, 4)), [0, 2, 4, 0]);
    assert.equal(ds.test.length, 2, 'imagesTs is read as before');
    // imagesTr may be absent when the list names every training case
    rmSync(join(dir, 'imagesTr'), { recursive: true });
    rmSync(join(dir, 'labelsTr'), { recursive: true });
    throwsNaming(
      () => openDataset(dir),
      join(dir, 'imagesTr', 'k02_0000.nii.gz'),
      /is missing \(listed as dataset\.k02\.images\.0/,
    );
    writeDatasetJson(dir, {
      ...readDatasetJson(dir),
      numTraining: 1,
      dataset: { x07: readDatasetJson(dir).dataset!.x07! },
    });
    assert.deepEqual(
      openDataset(dir).training.map((c) => c.id),
      ['x07'],
    );
  } finally {
    delete process.env.KNEESEG_TEST_SEGS;
  }
});

test('`dataset` key: numTraining, channel count, endings, missing files and case ids are checked by name', async () => {
  const { dir, base, other } = await listedDataset();
  const path = join(dir, 'dataset.json');
  const x07 = { images: [join(other, 'x07_0000.nii.gz')], label: 'segs/x07.nii.gz' };
  const write = (json: Record<string, unknown>) => writeFileSync(path, JSON.stringify({ ...base, ...json }));
  write({ numTraining: 5, dataset: { x07 } });
  throwsNaming(() => openDataset(dir), path, /numTraining is 5 but "dataset" lists 1 cases/);
  write({ numTraining: 1, dataset: { x07: { ...x07, images: [...x07.images, ...x07.images] } } });
  throwsNaming(
    () => openDataset(dir),
    path,
    /dataset\.x07\.images lists 2 file\(s\), but channel_names declares 1/,
  );
  write({ dataset: { x07: { ...x07, label: 'segs/x07.nrrd' } } });
  throwsNaming(() => openDataset(dir), path, /dataset\.x07\.label .* does not end in \.nii\.gz/);
  write({ dataset: { x07: { ...x07, label: 'segs/x08.nii.gz' } } });
  throwsNaming(
    () => openDataset(dir),
    join(dir, 'segs', 'x08.nii.gz'),
    /is missing \(listed as dataset\.x07\.label in .*dataset\.json\)/,
  );
  write({ dataset: { 'a/b': x07 } });
  throwsNaming(() => openDataset(dir), path, /dataset\."a\/b": a case id is a file name/);
  write({ dataset: { x07: { images: [] } } });
  throwsNaming(() => openDataset(dir), path, /is malformed: dataset\.x07\.images.*dataset\.x07\.label/);
  // the listing survives a write and a read
  const json = { ...base, numTraining: 1, dataset: { x07 } };
  writeDatasetJson(dir, json);
  assert.deepEqual(readDatasetJson(dir), json);
});
