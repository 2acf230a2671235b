/**
 * An experiment scores the test split its runs held out (RUN/splits.json), `data.subjectPattern`
 * included: both knees of a subject are trained on together or tested on together, never split.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { writeSynthCohort } from '../../src/data/synth/index.ts';
import { makeSplit } from '../../src/data/splits.ts';
import { runExperiment } from '../../src/experiment/run.ts';
import { readRunSplit } from '../../src/train/run-split.ts';
import { tempDir } from '../train/helpers.ts';

const root = tempDir('experiment-split');
const PATTERN = '^(s\\d+)_';
let data = '';
let ids: string[] = [];

/** 8 labelled scans, no imagesTs, renamed to the left and right knees of 4 subjects (s0_l, s0_r, ...). */
before(async () => {
  data = join(root, 'dataset');
  await writeSynthCohort({
    out: data,
    labelled: 8,
    unlabelled: 0,
    test: 0,
    seed: 3,
    grid: { shape: [12, 40, 40], spacing: [2, 0.9, 0.9] },
    workers: 1,
  });
  for (const folder of ['imagesTr', 'labelsTr'])
    for (const f of readdirSync(join(data, folder))) {
      const i = Number(/^knee_(\d{4})/.exec(f)![1]);
      renameSync(
        join(data, folder, f),
        join(data, folder, f.replace(/^knee_\d{4}/, `s${i >> 1}_${'lr'[i & 1]}`)),
      );
    }
  ids = readdirSync(join(data, 'labelsTr')).map((f) => f.replace('.nii.gz', ''));
});

test('with data.subjectPattern the experiment scores the test split training held out', async () => {
  const cases = ids.map((id) => ({ id, labelled: true }));
  // a seed for which the split without the pattern would test on knees the patterned run trains on
  const seed = Array.from({ length: 50 }, (_, s) => s).find((s) => {
    const trained = makeSplit(cases, [], { seed: s, subjectPattern: PATTERN }).train.map((c) => c.id);
    return makeSplit(cases, [], { seed: s }).test.some((c) => trained.includes(c.id));
  });
  assert.ok(seed !== undefined, 'the pattern changes the test split for some seed');
  const expected = makeSplit(cases, [], { seed, subjectPattern: PATTERN });

  const out = join(root, 'exp');
  const r = await runExperiment({
    kind: 'compare',
    data,
    out,
    backbone: 'unet',
    seed,
    maxIterations: 2,
    baseConfig: {
      data: { size: [32, 32], subjectPattern: PATTERN },
      model: { unet: { baseChannels: 4, depth: 2 } },
      schedule: { iterationsPerEpoch: 2, validationSlices: 2 },
      logEvery: 2,
      checkpointEvery: 2,
      threads: 1,
    },
    rows: [{ row: 'Supervised', method: 'supervised', fraction: 1 }],
  });

  // the run wrote its split once, with the pattern, and the experiment read it
  const keys = readdirSync(join(out, 'runs'));
  assert.equal(keys.length, 1);
  const run = join(out, 'runs', keys[0]!);
  const split = readRunSplit(run);
  assert.equal(split.subjectPattern, PATTERN);
  assert.deepEqual(
    split.labelled,
    expected.train.map((c) => c.id),
  );
  assert.deepEqual(
    split.validation,
    expected.validation.map((c) => c.id),
  );
  assert.deepEqual(
    split.test,
    expected.test.map((c) => c.id),
  );
  const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as { test_cases: string[] };
  assert.deepEqual(summary.test_cases, split.test);

  // scored: exactly the held-out knees, none that trained or validated
  const scored = r.runs[0]!.evaluation.cases.map((c) => c.case).sort();
  assert.deepEqual(scored, split.test);
  const seen = new Set([...split.labelled, ...split.unlabelled, ...split.validation]);
  assert.deepEqual(
    scored.filter((id) => seen.has(id)),
    [],
  );
  const subjects = (list: string[]) => new Set(list.map((id) => /^(s\d+)_/.exec(id)![1]));
  const tested = subjects(split.test);
  assert.ok(
    [...subjects([...seen])].every((s) => !tested.has(s)),
    'no subject both trained and tested',
  );
  assert.deepEqual(
    readdirSync(join(out, 'ground-truth', `split-${seed}`)).sort(),
    split.test.map((id) => `${id}.nii.gz`),
  );
  // the plan counted the labelled training cases of that split: 2 subjects, 4 knees
  assert.deepEqual(keys, [`supervised-l4-s${seed}`]);
});
