/**
 * `kneeseg train` on several processes: `--nproc 2` end to end, and a rank killed mid-run (the other
 * ends within --dist-timeout naming it, then --resume continues from rank 0's last checkpoint).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../../src/engine/index.ts';
import { freePort } from '../../src/cli/launch.ts';
import { startTrain, waitFor, type Child } from '../train/child.ts';
import { readLog, tempDir, tinyCohort, tinyConfig, trainEntries } from '../train/helpers.ts';

const root = tempDir('cli-train-dp');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

function configFile(name: string, over: Record<string, unknown>): string {
  const file = join(root, `${name}.json`);
  writeFileSync(file, JSON.stringify(tinyConfig(data, { method: { name: 'supervised' }, ...over })));
  return file;
}

const scratchFolders = () => new Set(readdirSync(tmpdir()).filter((f) => /^kneeseg-rank\d+-/.test(f)));

test('kneeseg train --nproc 2 writes one complete run folder and exits 0; rank 1 prints nothing', async () => {
  const run = join(root, 'run');
  const before = scratchFolders();
  const child = startTrain([
    '--data',
    data,
    '--out',
    run,
    '--config',
    configFile('nproc', { schedule: { maxIterations: 10 } }),
    '--nproc',
    '2',
  ]);
  const { code } = await child.exited;
  const text = child.output();
  assert.equal(code, 0, text);
  assert.match(text, /^model: .*model\.safetensors/m);
  assert.doesNotMatch(text, /\[rank 1\]/);
  for (const f of ['config.json', 'log.jsonl', 'summary.json', 'model.safetensors', 'splits.json'])
    assert.ok(existsSync(join(run, f)), `${f} missing`);
  const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as { iterations: number };
  assert.equal(summary.iterations, 10);
  // the per-rank batch is the configured one; the loop counted epochs of the global batch
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {
    batch: { labelled: number };
  };
  assert.equal(config.batch.labelled, 2);
  assert.equal(trainEntries(readLog(run)).length, 2);
  // rank 1's scratch folder is gone
  assert.deepEqual(
    [...scratchFolders()].filter((f) => !before.has(f)),
    [],
  );
});

/** One rank of a job started by hand, as torchrun would (its variables set, no launcher). */
function startRank(rank: number, port: number, args: string[]): Child {
  return startTrain(args, {
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    WORLD_SIZE: '2',
    RANK: String(rank),
  });
}

function checkpointIteration(run: string): number {
  const path = join(run, 'checkpoints', 'last.safetensors');
  if (!existsSync(path)) return 0;
  try {
    const f = loadSafetensors(path);
    for (const t of f.tensors.values()) t.dispose();
    return (JSON.parse(f.metadata.kneeseg_state!) as { iteration: number }).iteration;
  } catch {
    return 0; // being replaced
  }
}

test("a killed rank ends the other within --dist-timeout, naming it; --resume continues from the checkpoint with the uninterrupted job's losses", async () => {
  const run = join(root, 'killed');
  const file = configFile('killed', { schedule: { maxIterations: 20 } });
  const args = ['--data', data, '--out', run, '--config', file, '--dist-timeout', '10'];
  const port = await freePort();
  const ranks = [startRank(0, port, args), startRank(1, port, args)];
  assert.ok(await waitFor(ranks[0]!, () => checkpointIteration(run) >= 5, 20), ranks[0]!.output());
  const killedAt = Date.now();
  ranks[1]!.proc.kill('SIGKILL');
  const { code } = await ranks[0]!.exited;
  const seconds = (Date.now() - killedAt) / 1000;
  const text = ranks[0]!.output();
  assert.equal(code, 1, text);
  assert.ok(seconds < 10, `rank 0 took ${seconds} s to stop`);
  assert.match(
    text,
    /kneeseg: data-parallel training stopped on rank 0 of 2: .*rank 1\b.*continue with --resume/,
  );
  const saved = checkpointIteration(run);
  assert.ok(saved >= 5 && saved < 20, `checkpoint at ${saved}`);

  // both ranks again (started by hand: no launcher to wait for); rank 1 gets rank 0's checkpoint
  const port2 = await freePort();
  const again = [0, 1].map((r) => startRank(r, port2, ['--data', data, '--out', run, '--resume']));
  for (const r of again) assert.equal((await r.exited).code, 0, r.output());
  assert.equal(again[1]!.output(), ''); // rank 1 prints nothing
  const log = readLog(run);
  assert.ok(log.some((e) => e.type === 'event' && e.message === 'resumed'));
  const iterations = trainEntries(log).map((e) => e.iteration);
  assert.deepEqual(iterations, [5, 10, 15, 20]);
  const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as { iterations: number };
  assert.equal(summary.iterations, 20);

  // the same job never interrupted: the killed and resumed one logged exactly its losses
  const whole = join(root, 'whole');
  const port3 = await freePort();
  const reference = [0, 1].map((r) =>
    startRank(r, port3, ['--data', data, '--out', whole, '--config', file, '--dist-timeout', '10']),
  );
  for (const r of reference) assert.equal((await r.exited).code, 0, r.output());
  const losses = (dir: string) =>
    trainEntries(readLog(dir)).map((e) => ({ i: e.iteration, stage: e.stage, ...e.losses }));
  assert.equal(losses(whole).length, 4);
  assert.deepEqual(losses(run), losses(whole));
});
