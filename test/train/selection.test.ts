/**
 * Model selection across the two stages and the stage switch's guard (src/train/trainer.ts): real
 * training of a two-stage tree method on a tiny cohort, with scripted validation losses or decodings,
 * so the selection rule, not the network, is under test.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { stage1Learned } from '../../src/train/trainer.ts';
import { readLog, tempDir, tinyCohort, trainEntries, validationEntries } from './helpers.ts';
import { scriptedRun, type Script } from './scripted.ts';

const root = tempDir('train-selection');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

/** seg-th-up trained with the given schedule and scripted validation (./scripted.ts). */
const run = (name: string, schedule: Record<string, unknown>, script: Script) =>
  scriptedRun(root, data, name, schedule, script);

const switchAtEpoch3 = { mode: 'epoch', epoch: 3, minDice: 0 };

test('ema-vl selection restarts at the stage switch: a stage-2 model wins over a lower stage-1 loss', async () => {
  // stage 1 (iterations 5-15): loss 1; stage 2 (20-30): cp + up is larger, 3 then 2.5 then 2.6
  const losses = new Map([
    [5, 1],
    [10, 1],
    [15, 1],
    [20, 3],
    [25, 2.5],
    [30, 2.6],
  ]);
  const { result, out } = await run(
    'ema-vl',
    { selection: 'ema-vl', emaDecay: 0.5, stageSwitch: switchAtEpoch3 },
    { loss: (i) => losses.get(i)! },
  );
  const v = validationEntries(readLog(out));
  assert.deepEqual(
    v.map((e) => e.stage),
    [1, 1, 1, 2, 2, 2],
  );
  // EMA restarted in stage 2: 3, 2.75, 2.675, each a new best of its stage
  assert.deepEqual(
    v.filter((e) => e.best).map((e) => e.iteration),
    [5, 20, 25, 30],
  );
  assert.equal(result.state.bestIteration, 30);
  assert.ok(Math.abs(result.state.bestScore - 2.675) < 1e-6, `${result.state.bestScore}`); // float32 losses
});

test('dice selection compares both stages on one scale: the better stage-2 decoding wins', async () => {
  // stage 1 decodes to background (Dice 0 on every structure present), stage 2 to femur everywhere
  const femur = defaultKneeTree().nodes.find((n) => n.name === 'DF')!.label!;
  const { result, out } = await run(
    'dice',
    { selection: 'dice', stageSwitch: switchAtEpoch3 },
    { decodeTo: (stage) => (stage === 1 ? 0 : femur), loss: (i) => i }, // a rising loss: not the criterion
  );
  const v = validationEntries(readLog(out));
  const names = Object.keys(v[0]!.dice);
  const femurName = names.find((k) => /^femur$/.test(k))!;
  assert.ok(v[0]!.dice[femurName] === 0 && v[3]!.dice[femurName]! > 0, 'femur found in stage 2 only');
  assert.deepEqual(
    v.filter((e) => e.best).map((e) => e.iteration),
    [5, 20],
  );
  assert.equal(result.state.bestIteration, 20);
  const mean = Object.values(v[3]!.dice).reduce((a, b) => a + b, 0) / names.length;
  assert.ok(Math.abs(result.state.bestScore - (1 - mean)) < 1e-12);
});

test('the stage switch waits until every structure reaches minDice', async () => {
  const fraction = { mode: 'fraction', fraction: 0.3 };
  // nothing is ever found: with the guard stage 1 goes on to the end
  const guarded = await run('guarded', { stageSwitch: { ...fraction, minDice: 0.5 } }, { decodeTo: () => 0 });
  assert.ok(trainEntries(readLog(guarded.out)).every((e) => e.stage === 1));
  // without it the switch comes at 30% of the run
  const free = await run('free', { stageSwitch: { ...fraction, minDice: 0 } }, { decodeTo: () => 0 });
  const stages = trainEntries(readLog(free.out)).map((e) => [e.iteration, e.stage]);
  assert.deepEqual(
    stages.filter(([, s]) => s === 2).map(([i]) => i),
    [15, 20, 25, 30],
  );
});

test('stage1Learned: every structure at or above minDice; no validation yet is not learned', () => {
  assert.equal(stage1Learned({ lastDice: null }, 0.5), false);
  assert.equal(stage1Learned({ lastDice: null }, 0), true);
  assert.equal(stage1Learned({ lastDice: { a: 0.9, b: 0.5 } }, 0.5), true);
  assert.equal(stage1Learned({ lastDice: { a: 0.9, b: 0.49 } }, 0.5), false);
});
