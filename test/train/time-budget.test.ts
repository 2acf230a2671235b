import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runTraining } from '../../src/train/run.ts';
import { readLog, tempDir, tinyCohort, tinyConfig, validationEntries } from './helpers.ts';

const root = tempDir('train-budget');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

test('a run stopped by its time budget validates its last weights, which can become the model', async () => {
  const out = join(root, 'run');
  // an epoch far longer than the run: without the final validation there would be none at all
  const cfg = tinyConfig(data, {
    method: { name: 'supervised' },
    schedule: { minutes: 0.05, iterationsPerEpoch: 100000, maxIterations: 10000000 },
  });
  const { result } = await runTraining(cfg, { out });
  assert.match(result.state.stopped ?? '', /time budget/);
  const v = validationEntries(readLog(out));
  assert.equal(v.length, 1);
  assert.equal(v[0]!.iteration, result.state.iteration);
  assert.equal(v[0]!.best, true);
  assert.equal(result.state.bestIteration, result.state.iteration);
});
