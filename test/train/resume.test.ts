import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors } from '../../src/engine/index.ts';
import { runTraining } from '../../src/train/run.ts';
import { loggedIteration, startTrain, waitFor, type Child } from './child.ts';
import { readLog, tempDir, tinyCohort, tinyConfig, trainEntries, validationEntries } from './helpers.ts';

const root = tempDir('train-resume');
let data = '';
let configFile = '';
let config: Record<string, unknown> = {};

before(async () => {
  data = await tinyCohort(root);
  // sshcps crosses the stage switch at iteration 15; bottleneck dropout draws from libtorch's generator;
  // the U-Net's batch norm has running buffers; augmentation runs in the worker
  config = tinyConfig(data, {
    method: { name: 'sshcps' },
    model: { unet: { dropout: 0.2 } },
    schedule: { stageSwitch: { mode: 'fraction', fraction: 0.5, minDice: 0 }, maxIterations: 40 },
    seed: 5,
    // log entries average 4 iterations and checkpoints fall between them: a resumed average must
    // still cover the iterations before the checkpoint
    logEvery: 4,
  });
  configFile = join(root, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
});

/** The checkpoint must always be a whole file: it decodes and holds the loop state. */
function checkpointIteration(run: string): number {
  const path = join(run, 'checkpoints', 'last.safetensors');
  if (!existsSync(path)) return 0;
  const f = loadSafetensors(path);
  try {
    const state = JSON.parse(f.metadata.kneeseg_state!) as { iteration: number };
    assert.ok(f.tensors.size > 0);
    return state.iteration;
  } finally {
    for (const t of f.tensors.values()) t.dispose();
  }
}

const tmpFiles = (run: string) =>
  existsSync(join(run, 'checkpoints'))
    ? readdirSync(join(run, 'checkpoints')).filter((f) => f.includes('.kneeseg-tmp-'))
    : [];

/**
 * `--resume` when the run has a checkpoint; else `--overwrite` for a folder a killed run left (resuming
 * without a checkpoint is an error, and a folder holding a run is not overwritten without the flag).
 */
const continueFlags = (run: string): string[] =>
  existsSync(join(run, 'checkpoints', 'last.safetensors'))
    ? ['--resume']
    : existsSync(run)
      ? ['--overwrite']
      : [];

/** Starts (or resumes) the run and kills it with SIGKILL as soon as a checkpoint write begins. */
async function killDuringCheckpointWrite(run: string, resume: boolean): Promise<boolean> {
  const child = startTrain([
    '--data',
    data,
    '--out',
    run,
    '--config',
    configFile,
    ...(resume ? continueFlags(run) : []),
  ]);
  const dir = join(run, 'checkpoints');
  assert.ok(await waitFor(child, () => existsSync(dir)), child.output());
  let caught = false;
  const watcher = watch(dir, (_event, name) => {
    if (!caught && name?.includes('.kneeseg-tmp-')) {
      caught = true;
      child.proc.kill('SIGKILL');
    }
  });
  const { signal } = await child.exited;
  watcher.close();
  assert.equal(signal, 'SIGKILL', `the run ended before a checkpoint write: ${child.output()}`);
  // the temporary file left behind shows the kill came in the middle of the write
  return tmpFiles(run).length > 0;
}

async function killAfter(child: Child, run: string, iteration: number, delayMs: number): Promise<void> {
  assert.ok(await waitFor(child, () => loggedIteration(run) >= iteration, 10), child.output());
  await new Promise((r) => setTimeout(r, delayMs));
  child.proc.kill('SIGKILL');
  const { signal } = await child.exited;
  assert.equal(signal, 'SIGKILL', `the run ended before it was killed: ${child.output()}`);
}

test('kill -9 at any moment, then --resume: the run finishes with the losses of an uninterrupted run', async (t) => {
  const reference = join(root, 'reference');
  await runTraining(config, { out: reference });

  const run = join(root, 'killed');
  const args = ['--data', data, '--out', run, '--config', configFile];
  // 1. killed while the first checkpoint is being written; try a few times to land inside the write
  let midWrite = await killDuringCheckpointWrite(run, false);
  checkpointIteration(run);
  let attempts = 1;
  for (; attempts < 3 && !midWrite; attempts++) {
    midWrite = await killDuringCheckpointWrite(run, true);
    checkpointIteration(run);
  }
  t.diagnostic(`attempts ${attempts}, mid-write ${midWrite}`);
  // 2. killed at an arbitrary moment between checkpoints
  const resumed = startTrain([...args, ...continueFlags(run)]);
  // (by the log entry at c + 10 the checkpoint of c + 5 is written)
  await killAfter(resumed, run, checkpointIteration(run) + 10, Math.floor(Math.random() * 300));
  const before = checkpointIteration(run);
  assert.ok(before > 0);
  // 3. resumed to the end
  const last = startTrain([...args, '--resume']);
  const { code } = await last.exited;
  assert.equal(code, 0, last.output());
  assert.match(last.output(), new RegExp(`resumed at ${before}`));
  assert.equal(checkpointIteration(run), 40);
  assert.deepEqual(tmpFiles(run), [], 'stale temporary files are removed on resume');

  const want = readLog(reference);
  const got = readLog(run);
  const losses = (log: typeof want) =>
    trainEntries(log).map((e) => ({ i: e.iteration, stage: e.stage, ...e.losses }));
  const vals = (log: typeof want) =>
    validationEntries(log).map((e) => ({ i: e.iteration, loss: e.val_loss, ema: e.ema_vl, dice: e.dice }));
  assert.equal(losses(want).length, 10);
  assert.deepEqual(losses(got), losses(want));
  assert.deepEqual(vals(got), vals(want));
  assert.ok(
    midWrite,
    'no kill landed inside a checkpoint write in three tries (the checkpoint was still checked after each kill)',
  );
});
