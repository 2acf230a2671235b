/**
 * The default stage switch (schedule.stageSwitch.mode 'plateau', src/train/trainer.ts): a two-stage
 * method moves to the unconditional stage when EMA-VL has not improved for `patience` epochs, once
 * every structure has reached `minDice`; without that, stage 1 goes on until `stopPatience` ends it.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/train/config.ts';
import { readLog, tempDir, tinyCohort, trainEntries, validationEntries } from './helpers.ts';
import { scriptedRun } from './scripted.ts';

const root = tempDir('train-stage-switch');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

test('the default stage switch is the plateau of EMA-VL, guarded by minDice', () => {
  const { mode, patience, minDice } = parseConfig({}).schedule.stageSwitch;
  assert.deepEqual({ mode, patience, minDice }, { mode: 'plateau', patience: 60, minDice: 0.5 });
});

test('plateau: stage 2 starts at the epoch EMA-VL has not improved for `patience` epochs', async () => {
  // a flat validation loss: best at epoch 1, no improvement at epochs 2 and 3
  const { out, config } = await scriptedRun(
    root,
    data,
    'flat',
    { stageSwitch: { patience: 2, minDice: 0 } },
    {
      loss: () => 1,
    },
  );
  assert.equal(config.schedule.stageSwitch.mode, 'plateau');
  const log = readLog(out);
  assert.deepEqual(
    trainEntries(log).map((e) => [e.iteration, e.stage]),
    [
      [5, 1],
      [10, 1],
      [15, 1],
      [20, 2],
      [25, 2],
      [30, 2],
    ],
  );
  assert.deepEqual(
    trainEntries(log).map((e) => e.lr),
    [1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-4],
    'the stage-2 learning rate',
  );
  const events = log.filter((e) => e.type === 'event').map((e) => e.message);
  assert.deepEqual(events, ['stage 2 (unconditional fine-tuning) from epoch 3, lr 0.0001']);
  // stage 2 restarts the plateau: the default stopPatience (60) does not end the run
  assert.equal(validationEntries(log).length, 6);
});

test('plateau: an improving EMA-VL keeps stage 1', async () => {
  const { out } = await scriptedRun(
    root,
    data,
    'falling',
    { stageSwitch: { patience: 2, minDice: 0 } },
    {
      loss: (i) => 10 - i / 5,
    },
  );
  assert.ok(trainEntries(readLog(out)).every((e) => e.stage === 1));
});

test('plateau with the default minDice: no structure found, no switch; stopPatience ends stage 1', async () => {
  const { out, result } = await scriptedRun(
    root,
    data,
    'guarded',
    { stageSwitch: { patience: 2 }, stopPatience: 4 },
    { loss: () => 1, decodeTo: () => 0 },
  );
  const log = readLog(out);
  assert.ok(trainEntries(log).every((e) => e.stage === 1));
  // best at epoch 1, four epochs without improvement: stopped at epoch 5 (iteration 25)
  assert.equal(result.state.iteration, 25);
  assert.equal(result.state.stopped, 'EMA-VL has not improved for 4 epochs');
});
