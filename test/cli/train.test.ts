import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors } from '../../src/engine/index.ts';
import type { TrainConfig } from '../../src/train/config.ts';
import { loggedIteration, startTrain, waitFor } from '../train/child.ts';
import { readLog, tempDir, tinyCohort, tinyConfig, trainEntries } from '../train/helpers.ts';
import { kneeseg } from '../helpers/cli.ts';

const root = tempDir('cli-train');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

function checkpointState(run: string): { iteration: number; stopped: string | null } {
  const f = loadSafetensors(join(run, 'checkpoints', 'last.safetensors'));
  for (const t of f.tensors.values()) t.dispose();
  return JSON.parse(f.metadata.kneeseg_state!) as { iteration: number; stopped: string | null };
}

test('kneeseg train rejects an unknown key or a negative lr with exit status 1, naming the key', async () => {
  const unknown = join(root, 'unknown.json');
  writeFileSync(unknown, JSON.stringify({ optim: { lr: 1e-3, learningRate: 0.1 } }));
  const a = await kneeseg('train', '--data', data, '--out', join(root, 'bad1'), '--config', unknown);
  assert.equal(a.code, 1);
  assert.equal(a.stderr, 'kneeseg: config "optim.learningRate": unknown key');
  assert.equal(existsSync(join(root, 'bad1', 'config.json')), false);

  const negative = join(root, 'negative.json');
  writeFileSync(negative, JSON.stringify({ optim: { lr: -1e-3 } }));
  const b = await kneeseg('train', '--data', data, '--out', join(root, 'bad2'), '--config', negative);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /^kneeseg: config "optim\.lr": /);

  const size = await kneeseg('train', '--data', data, '--out', join(root, 'bad3'), '--size', '288');
  assert.equal(size.code, 1);
  assert.match(size.stderr, /^kneeseg: config "data\.size": /);
});

test('plain progress lines without a terminal; SIGINT checkpoints and exits 130; --resume finishes', async () => {
  const run = join(root, 'run');
  const file = join(root, 'run.json');
  // the file sets seed 4 and 80 iterations; the flags override both
  writeFileSync(file, JSON.stringify(tinyConfig(data, { seed: 4, schedule: { maxIterations: 80 } })));
  const args = ['--data', data, '--out', run, '--config', file, '--seed', '2', '--max-iterations', '60'];
  const child = startTrain(args);
  assert.ok(await waitFor(child, () => loggedIteration(run) >= 5, 10), child.output());
  child.proc.kill('SIGINT');
  const { code } = await child.exited;
  const text = child.output();
  assert.equal(code, 130, text);
  assert.match(text, /stopping after this step/);
  assert.match(text, /^training 7,\d+ parameters, 60 iterations$/m);
  assert.match(
    text,
    /^iter 5\/60 epoch 0 stage 1 lr 1\.0e-3 cp [\d.]+ cond [\d.]+ .*total [\d.]+ \([\d.]+ s\/step\)$/m,
  );
  // the first validation is the best so far under the default selection, mean Dice
  assert.match(text, /^validation epoch 1: mean Dice [\d.]+% \(best\), loss [\d.]+; Dice% femur /m);
  assert.match(text, /^training stopped at iteration \d+: interrupted/m);
  assert.ok(!text.includes('\r') && !text.includes('\u001b'), 'no bar, no cursor movement');
  const stopped = checkpointState(run);
  assert.equal(stopped.stopped, 'interrupted');
  assert.ok(stopped.iteration >= 5 && stopped.iteration < 60, String(stopped.iteration));

  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as TrainConfig;
  assert.equal(config.seed, 2); // flag over file
  assert.equal(config.schedule.maxIterations, 60); // flag over file
  assert.equal(config.schedule.iterationsPerEpoch, 5); // file over default
  assert.equal(config.optim.lr, 1e-3); // default

  const resumed = startTrain([...args, '--resume']);
  const end = await resumed.exited;
  assert.equal(end.code, 0, resumed.output());
  assert.match(resumed.output(), new RegExp(`resumed at ${stopped.iteration}`));
  assert.match(resumed.output(), /training stopped at iteration 60: iteration budget reached/);
  assert.equal(checkpointState(run).iteration, 60);
  const iterations = trainEntries(readLog(run)).map((e) => e.iteration);
  assert.deepEqual(
    iterations,
    Array.from({ length: 12 }, (_, i) => 5 * (i + 1)),
  );
  assert.ok(readLog(run).some((e) => e.type === 'event' && e.message === 'resumed'));
});
