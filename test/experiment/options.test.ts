import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment } from '../../src/experiment/run.ts';
import { optionsRows } from '../../src/experiment/plan.ts';
import { tempDir, tinyCohort } from '../train/helpers.ts';
import { kneeseg } from '../helpers/cli.ts';

const root = tempDir('experiment-options');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

const TINY = {
  data: { size: [32, 32] },
  model: { unet: { baseChannels: 4, depth: 2 } },
  schedule: { iterationsPerEpoch: 2, validationSlices: 2 },
  logEvery: 2,
  checkpointEvery: 2,
  threads: 1,
};

test('experiment options: the defaults and a variant train in their own folders, tested against the defaults', async () => {
  const out = join(root, 'exp');
  const rows = optionsRows().filter((r) => r.variant === undefined || r.variant === 'no-dice');
  const iterations: number[] = [];
  const r = await runExperiment({
    kind: 'options',
    data,
    out,
    backbone: 'unet',
    seeds: 1,
    maxIterations: 2,
    baseConfig: TINY,
    rows,
    listener: (e) => {
      if (e.type === 'start') iterations.push(e.totalIterations);
    },
  });
  assert.deepEqual(iterations, [2, 2], 'both rows run the same iterations');
  const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
  assert.match(md, /^# Ablation of the departures from the paper/);
  assert.match(md, /\| p vs default \|/);
  assert.match(md, /\| SSHCPS \(defaults\) \| 1 \(50%\) \+ 3 unlabelled \|.*\| ref\. \|/);
  assert.match(md, /\| no state Dice \| 1 \(50%\) \+ 3 unlabelled \|.*\| (–|< 0\.001|\d\.\d{3}) \|/);
  assert.match(md, /same budget: 2 iterations each/);
  const config = (key: string) =>
    JSON.parse(readFileSync(join(out, 'runs', key, 'config.json'), 'utf8')) as {
      tree: { diceWeight: number };
      schedule: { maxIterations: number };
      model: { unet: { baseChannels: number } };
    };
  const plain = config('sshcps-l1-s0');
  const noDice = config('sshcps-no-dice-l1-s0');
  assert.equal(plain.tree.diceWeight, 1);
  assert.equal(noDice.tree.diceWeight, 0);
  assert.equal(noDice.schedule.maxIterations, 2);
  assert.equal(noDice.model.unet.baseChannels, 4, 'the base configuration still applies');
  const results = JSON.parse(readFileSync(join(out, 'RESULTS.json'), 'utf8')) as { variant?: string }[];
  assert.deepEqual(
    results.map((x) => x.variant),
    [undefined, 'no-dice'],
  );
  assert.equal(r.runs.length, 2);
  // Figure 4 comes from the reference run
  assert.ok(existsSync(join(out, 'figures', 'surface-rendering.png')));
});

test('kneeseg experiment options refuses to run without an iteration or time budget', async () => {
  const out = join(root, 'refused');
  const r = await kneeseg('experiment', 'options', '--data', data, '--out', out);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /kneeseg: experiment options .*equal iterations.*--max-iterations N/);
  assert.ok(!existsSync(out), 'nothing written');
});
