/** The process pool of `experiment --jobs` and the demo (src/cli/train-pool.ts), on plain Node scripts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainArgs, trainPool } from '../../src/cli/train-pool.ts';
import type { TrainJob } from '../../src/experiment/run.ts';
import { KneesegError } from '../../src/errors.ts';

const scratch = () => mkdtempSync(join(tmpdir(), 'kneeseg-pool-'));

/**
 * A stand-in for `kneeseg train`: records its arguments, environment and configuration under the
 * run folder (--out), holds a marker while it runs, and exits with the status the job's config names.
 */
const STAND_IN = `
const fs = require('fs'), path = require('path');
const a = process.argv.slice(1);
const out = a[a.indexOf('--out') + 1];
const config = JSON.parse(fs.readFileSync(a[a.indexOf('--config') + 1], 'utf8'));
const live = path.join(path.dirname(out), 'live');
fs.mkdirSync(live, { recursive: true });
fs.writeFileSync(path.join(live, path.basename(out)), '');
const running = fs.readdirSync(live).length;
setTimeout(() => {
  fs.rmSync(path.join(live, path.basename(out)));
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'seen.json'), JSON.stringify({ args: a, threads: process.env.KNEESEG_THREADS, config, running }));
  console.log('step line of ' + path.basename(out));
  process.exit(config.exit ?? 0);
}, 300);
`;
const standIn = (args: string[]) => [process.execPath, '-e', STAND_IN, '--', ...args];

function jobs(root: string, exits: number[]): TrainJob[] {
  return exits.map((exit, i) => ({
    key: `run${i}`,
    dir: join(root, `run${i}`),
    config: { data: { dir: '/data/here' }, seed: i, exit },
  }));
}

interface Seen {
  args: string[];
  threads: string;
  config: { seed: number };
  running: number;
}
const seen = (root: string, key: string): Seen =>
  JSON.parse(readFileSync(join(root, key, 'seen.json'), 'utf8')) as Seen;

test('trainArgs: a fresh folder starts over (--overwrite), one with a checkpoint resumes; data from the config', () => {
  const root = scratch();
  const job: TrainJob = { key: 'k', dir: join(root, 'k'), config: { data: { dir: '/d' } } };
  assert.deepEqual(trainArgs(job, '/c.json'), [
    'train',
    '--data',
    '/d',
    '--config',
    '/c.json',
    '--out',
    job.dir,
    '--overwrite',
  ]);
  mkdirSync(join(job.dir, 'checkpoints'), { recursive: true });
  writeFileSync(join(job.dir, 'checkpoints', 'last.safetensors'), '');
  assert.equal(trainArgs(job, '/c.json').at(-1), '--resume');
  assert.throws(() => trainArgs({ ...job, config: {} }, '/c.json'), /run k: .*no data\.dir/);
});

test('trainPool runs every job once, at most `processes` at a time, each with its config and threads', async () => {
  const root = scratch();
  const all = jobs(root, [0, 0, 0, 0, 0]);
  const lines: string[] = [];
  await trainPool({ processes: 2, threadsEach: 3, command: standIn, log: (l) => lines.push(l) })(all);
  for (const [i, j] of all.entries()) {
    const s = seen(root, j.key);
    assert.equal(s.config.seed, i, 'the job got its own configuration');
    assert.equal(s.threads, '3');
    assert.equal(s.args[s.args.indexOf('--out') + 1], j.dir);
    assert.ok(s.running <= 2, `${j.key} ran beside ${s.running - 1} others`);
  }
  assert.ok(
    all.some((j) => seen(root, j.key).running === 2),
    'two jobs ran at the same time',
  );
  assert.deepEqual(lines, [], 'nothing to report');
});

test('trainPool: a failed job starts no further ones, and the error names it and says how to resume', async () => {
  const root = scratch();
  const all = jobs(root, [3, 0, 0, 0]);
  await assert.rejects(trainPool({ processes: 1, command: standIn })(all), (e: Error) => {
    assert.ok(e instanceof KneesegError);
    assert.match(e.message, /run0 exited with status 3/);
    assert.match(e.message, /run the same command again/);
    return true;
  });
  assert.deepEqual(
    readdirSync(root).filter((f) => f.startsWith('run')),
    ['run0'],
    'the jobs after the failed one never started',
  );
});

test('trainPool refuses a process count that is not a whole number of at least 1', () => {
  for (const n of [0, -1, 1.5, Number.NaN])
    assert.throws(() => trainPool({ processes: n }), /--jobs .*whole number/);
});

test("trainPool's threads: KNEESEG_THREADS when the user set it, else an equal share of the cores", async () => {
  const before = process.env.KNEESEG_THREADS;
  try {
    process.env.KNEESEG_THREADS = '5';
    const root = scratch();
    await trainPool({ processes: 2, command: standIn })(jobs(root, [0]));
    assert.equal(seen(root, 'run0').threads, '5');
    delete process.env.KNEESEG_THREADS;
    const other = scratch();
    await trainPool({ processes: 2, command: standIn })(jobs(other, [0]));
    assert.equal(seen(other, 'run0').threads, String(Math.max(1, Math.floor(availableParallelism() / 2))));
  } finally {
    if (before === undefined) delete process.env.KNEESEG_THREADS;
    else process.env.KNEESEG_THREADS = before;
  }
});
