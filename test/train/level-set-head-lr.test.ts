/**
 * optim.levelSetHead: the paper's schedule of its semi-supervised branch (section 3.2: lr 0.01, x0.1
 * every 200 iterations) as the level-set head's own parameter group; everything else keeps the stage
 * learning rate. Read back from the optimizer state in the checkpoint.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadSafetensors } from '../../src/engine/index.ts';
import { runTraining } from '../../src/train/run.ts';
import { tempDir, tinyCohort, tinyConfig } from './helpers.ts';

const root = tempDir('train-ls-lr');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

/** Learning rates per optimizer group and parameters per group at the last checkpoint. */
function optimizerGroups(run: string): { lrs: number[]; parameters: number } {
  const f = loadSafetensors(join(run, 'checkpoints', 'last.safetensors'));
  try {
    const meta = JSON.parse(f.metadata.kneeseg_optimizer!) as { lrs: number[] };
    return { lrs: meta.lrs, parameters: f.tensors.size };
  } finally {
    for (const t of f.tensors.values()) t.dispose();
  }
}

test('the level-set head follows lr * gamma^floor(t / every); the rest follows the stage', async () => {
  const out = join(root, 'paper-schedule');
  await runTraining(
    tinyConfig(data, {
      method: { name: 'sshcps' },
      optim: { lr: 2e-3, levelSetHead: { lr: 0.01, every: 4, gamma: 0.1 } },
      // the last step is iteration 9: floor(9 / 4) = 2 decays
      schedule: { maxIterations: 10, stageSwitch: { mode: 'epoch', epoch: 100, minDice: 0 } },
      checkpointEvery: 10,
    }),
    { out },
  );
  const { lrs } = optimizerGroups(out);
  assert.equal(lrs.length, 2);
  assert.equal(lrs[0], 2e-3);
  assert.ok(Math.abs(lrs[1]! - 1e-4) < 1e-12, String(lrs[1]));
});

test('without the option there is one group at the stage learning rate', async () => {
  const out = join(root, 'default');
  await runTraining(
    tinyConfig(data, { method: { name: 'sshcps' }, schedule: { maxIterations: 5 }, checkpointEvery: 5 }),
    { out },
  );
  assert.deepEqual(optimizerGroups(out).lrs, [1e-3]);
});
