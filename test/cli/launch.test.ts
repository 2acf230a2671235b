/** The local launcher of `kneeseg train --nproc N` (src/cli/launch.ts), on plain Node child scripts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchRanks, rankEnvironment, withoutLaunchFlags } from '../../src/cli/launch.ts';

const node = (script: string) => [process.execPath, '-e', script];

test('withoutLaunchFlags drops the launcher flags in both forms and keeps the rest', () => {
  assert.deepEqual(
    withoutLaunchFlags([
      'train',
      '--nproc',
      '2',
      '--data',
      'd',
      '--master-port=29500',
      '--out',
      'r',
      '--nnodes=1',
    ]),
    ['train', '--data', 'd', '--out', 'r'],
  );
});

test("rankEnvironment: torchrun's variables, global rank from node rank, a share of the cores", () => {
  const env = rankEnvironment(
    { nproc: 2, nnodes: 3, nodeRank: 2, masterAddr: '10.0.0.1', masterPort: 29500 },
    1,
    {},
  );
  assert.equal(env.WORLD_SIZE, '6');
  assert.equal(env.RANK, '5');
  assert.equal(env.LOCAL_RANK, '1');
  assert.equal(env.LOCAL_WORLD_SIZE, '2');
  assert.equal(env.MASTER_ADDR, '10.0.0.1');
  assert.equal(env.MASTER_PORT, '29500');
  assert.ok(Number(env.KNEESEG_THREADS) >= 1);
  assert.equal(
    rankEnvironment({ nproc: 2, nnodes: 1, nodeRank: 0, masterAddr: 'a', masterPort: 1 }, 0, {
      KNEESEG_THREADS: '7',
    }).KNEESEG_THREADS,
    '7',
  );
});

test('launchRanks runs every rank with its own RANK and one free master port; status 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-launch-'));
  const script = `require('fs').writeFileSync(require('path').join(${JSON.stringify(dir)}, 'rank' + process.env.RANK), JSON.stringify(process.env))`;
  const status = await launchRanks({ nproc: 3, command: node(script), log: () => {} });
  assert.equal(status, 0);
  const envs = [0, 1, 2].map(
    (r) => JSON.parse(readFileSync(join(dir, `rank${r}`), 'utf8')) as Record<string, string>,
  );
  assert.deepEqual(
    envs.map((e) => e.RANK),
    ['0', '1', '2'],
  );
  assert.ok(envs.every((e) => e.WORLD_SIZE === '3' && e.MASTER_PORT === envs[0]!.MASTER_PORT));
  assert.ok(Number(envs[0]!.MASTER_PORT) > 0);
});

test('a failing rank stops the others at once and its status is the job status, naming the rank', async () => {
  const lines: string[] = [];
  const script = `if (process.env.RANK === '1') process.exit(3); setTimeout(() => {}, 60000);`;
  const started = Date.now();
  const status = await launchRanks({
    nproc: 2,
    command: node(script),
    log: (l) => lines.push(l),
    graceMs: 2000,
  });
  assert.equal(status, 3);
  assert.ok(Date.now() - started < 30_000, 'the sleeping rank was stopped, not waited for');
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /rank 1 of 2 exited with status 3; stopping the other ranks/);
});

test('launch flags out of range are refused before anything starts', async () => {
  await assert.rejects(launchRanks({ nproc: 0, command: node('') }), /--nproc 0: give a whole number from 1/);
  await assert.rejects(
    launchRanks({ nproc: 1, nnodes: 2, nodeRank: 2, command: node('') }),
    /--node-rank 2: give a whole number from 0 to 1/,
  );
  await assert.rejects(
    launchRanks({ nproc: 1, nnodes: 2, masterPort: 0, command: node('') }),
    /--master-port 0/,
  );
});
