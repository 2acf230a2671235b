/**
 * Model selection across the two stages and the stage switch's guard (src/train/trainer.ts): real
 * training of a two-stage tree method on a tiny cohort, with scripted validation losses or decodings,
 * so the selection rule, not the network, is under test.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { full, scalar, type Tensor } from '../../src/engine/index.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import type { Method } from '../../src/methods/method.ts';
import { parseConfig, type TrainConfig } from '../../src/train/config.ts';
import { openTrainingData } from '../../src/train/slice-data.ts';
import { stage1Learned, type TrainResult } from '../../src/train/trainer.ts';
import {
  readLog,
  tempDir,
  tinyCohort,
  tinyConfig,
  trainEntries,
  validationEntries,
  methodFor,
  trainOn,
} from './helpers.ts';

const root = tempDir('train-selection');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

interface Script {
  /** validation loss by iteration */
  loss?: (iteration: number) => number;
  /** label value every pixel is decoded to, by the stage of the last training step */
  decodeTo?: (stage: 1 | 2) => number;
}

/** seg-th-up (two stages, no level set) trained with the given schedule and scripted validation. */
async function run(
  name: string,
  schedule: Record<string, unknown>,
  script: Script,
): Promise<{ result: TrainResult; out: string; config: TrainConfig }> {
  const out = join(root, name);
  const config = parseConfig(tinyConfig(data, { method: { name: 'seg-th-up' }, schedule }));
  const tree = defaultKneeTree();
  const opened = await openTrainingData(config, tree);
  try {
    const base = methodFor('seg-th-up', config, opened.channels);
    let stage: 1 | 2 = 1;
    const method: Method = {
      ...base,
      step: (batch, ctx) => {
        stage = ctx.stage;
        return base.step(batch, ctx);
      },
      validationLoss: script.loss
        ? (_batch, ctx) => scalar(script.loss!(ctx.iteration))
        : base.validationLoss,
      decode: script.decodeTo
        ? (logits: Tensor) =>
            full([logits.size(0), logits.size(2), logits.size(3)], script.decodeTo!(stage), {
              dtype: 'int64',
            })
        : base.decode,
    };
    const result = await trainOn(opened, config, method, out, { modelMetadata: { format: 'kneeseg-model' } });
    return { result, out, config };
  } finally {
    await opened.close();
  }
}

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
