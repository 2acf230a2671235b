/** RUN/splits.json (src/train/run-split.ts): written once per run, read back, recomputed for older runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset } from '../../src/data/dataset.ts';
import { makeSplit } from '../../src/data/splits.ts';
import { parseConfig } from '../../src/train/config.ts';
import {
  configSplit,
  readRunSplit,
  recordRunSplit,
  runSplit,
  runSplitOf,
  SPLITS_FILE,
} from '../../src/train/run-split.ts';
import { makeDataset } from '../data/dataset-fixture.ts';
import { tempDir } from './helpers.ts';
import { throwsNaming } from '../helpers/throws-naming.ts';

const root = tempDir('run-split');

test('configSplit is makeSplit with the seed, data.labelled and data.subjectPattern of the configuration', async () => {
  const dir = await makeDataset();
  const ds = openDataset(dir);
  const config = parseConfig({ data: { dir, labelled: 1, subjectPattern: '^(k0[12])' }, seed: 4 });
  const inputs = ds.training.map((c) => ({ id: c.id, labelled: c.label !== undefined }));
  const tests = ds.test.map((c) => ({ id: c.id, labelled: c.label !== undefined }));
  assert.deepEqual(
    configSplit(ds, config),
    makeSplit(inputs, tests, { seed: 4, labelled: 1, subjectPattern: '^(k0[12])' }),
  );
  const split = runSplitOf(configSplit(ds, config), config);
  assert.equal(split.labelled.length, 1);
  assert.deepEqual(split.test, ['t01', 't02']);
  assert.deepEqual([...split.labelled, ...split.unlabelled, ...split.validation].sort(), [
    'k01',
    'k02',
    'k03',
    'k04',
    'k05',
  ]);
  assert.deepEqual([split.seed, split.labelledCount, split.subjectPattern], [4, 1, '^(k0[12])']);
});

test('recordRunSplit writes the split; a resumed run whose dataset now splits otherwise is refused', () => {
  const run = mkdtempSync(join(root, 'run-'));
  const split = {
    seed: 0,
    subjectPattern: null,
    labelledCount: null,
    labelled: ['a', 'b'],
    unlabelled: ['c'],
    validation: ['d'],
    test: ['e'],
  };
  recordRunSplit(run, split, false);
  assert.deepEqual(readRunSplit(run), split);
  assert.deepEqual(JSON.parse(readFileSync(join(run, SPLITS_FILE), 'utf8')), split);
  recordRunSplit(run, split, true); // the same split: resumed
  const other = { ...split, labelled: ['a'], unlabelled: ['b', 'c'] };
  throwsNaming(() => recordRunSplit(run, other, true), join(run, SPLITS_FILE), /differs from the split/);
  recordRunSplit(run, other, false); // a fresh run replaces it
  assert.deepEqual(readRunSplit(run), other);
});

test('readRunSplit names the file when it is missing, not JSON or malformed', () => {
  const run = mkdtempSync(join(root, 'run-'));
  const path = join(run, SPLITS_FILE);
  throwsNaming(() => readRunSplit(run), path, /is missing/);
  writeFileSync(path, '{"seed": ');
  throwsNaming(() => readRunSplit(run), path, /is not valid JSON/);
  writeFileSync(path, JSON.stringify({ seed: 0, test: [1] }));
  throwsNaming(() => readRunSplit(run), path, /is malformed: subjectPattern: .*test\.0/);
});

test('runSplit of a run folder from before splits.json: the split of its config.json, written once', async () => {
  const dir = await makeDataset();
  const run = mkdtempSync(join(root, 'run-'));
  const config = parseConfig({ data: { dir }, seed: 2 });
  writeFileSync(join(run, 'config.json'), JSON.stringify(config));
  const expected = runSplitOf(configSplit(openDataset(dir), config), config);
  assert.deepEqual(runSplit(run), expected);
  assert.ok(existsSync(join(run, SPLITS_FILE)));
  assert.deepEqual(readRunSplit(run), expected);
  // a folder with neither file is not a run
  const empty = mkdtempSync(join(root, 'run-'));
  throwsNaming(() => runSplit(empty), join(empty, SPLITS_FILE), /is missing/);
});
