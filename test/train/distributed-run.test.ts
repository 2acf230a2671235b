/**
 * Data-parallel training end to end on two ranks on loopback (src/train/distributed-run.ts): the
 * trainer's step with the hooks against one process on the global batches, the agreed skip of a
 * non-finite step, and two ranks of runTraining that end with bit-identical state.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as E from '../../src/engine/index.ts';
import { decodeDecision, encodeDecision } from '../../src/train/data-parallel.ts';
import { shardSliceBatch } from '../../src/train/distributed-run.ts';
import { resultOf, runRanks, TinyNet, tinyGlobalBatch, tinyTrainSteps } from '../helpers/distributed.ts';
import { readLog, tempDir, tinyCohort, tinyConfig, trainEntries, validationEntries } from './helpers.ts';

const root = tempDir('dp-run');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

test('decisions keep NaN and +-Infinity through their JSON', () => {
  const d = { best: Infinity, loss: Number.NaN, worst: -Infinity, nested: [{ x: 1 }], stop: null };
  const back = decodeDecision<typeof d>(encodeDecision(d)!);
  assert.ok(Number.isNaN(back.loss));
  assert.equal(back.best, Infinity);
  assert.equal(back.worst, -Infinity);
  assert.deepEqual(back.nested, [{ x: 1 }]);
  assert.equal(back.stop, null);
});

test("a rank's part of a global batch: its labelled slices, then its unlabelled ones", () => {
  const data = { x: Array.from({ length: 8 }, (_, i) => [i, 0, 0, 0]), y: new Array<number>(8).fill(0) };
  const global = tinyGlobalBatch(data, 0, 8); // items 0-3 labelled, 4-7 unlabelled
  const part = shardSliceBatch(global, 1, 2);
  assert.equal(part.n, 4);
  assert.equal(part.numLabelled, 2);
  assert.deepEqual(
    [0, 1, 2, 3].map((k) => part.image[k * 5]),
    [2, 3, 6, 7],
  );
  assert.throws(() => shardSliceBatch(global, 0, 3), /do not split into 3 equal parts/);
});

test('trainStep with the hooks: ranks stay bit-identical and match one process on the global batches (no batch norm)', async () => {
  const steps = { steps: 8, perRankBatch: 4, n: 40, seed: 5, nanAt: { rank: 1, iteration: 3 } };
  const runs = await runRanks('steps', { args: { steps }, timeoutMs: 20_000 });
  for (const r of runs) assert.equal(r.code, 0, r.output);
  const [a, b] = runs.map((r) => r.results.find((x) => 'params' in x)!) as {
    params: number[][];
    skipped: number[];
    losses: number[];
    buffers: number[][];
    decisionKept: boolean;
  }[];
  assert.ok(a && b, runs.map((r) => r.output).join('\n'));
  // bit-identical parameters and buffers on both ranks
  assert.deepEqual(b.params, a.params);
  assert.deepEqual(b.buffers, a.buffers);
  // rank 1 alone saw a NaN loss at iteration 3: both ranks skipped it, and logged the same mean losses
  assert.deepEqual(a.skipped, [3]);
  assert.deepEqual(b.skipped, [3]);
  assert.deepEqual(b.losses.map(String), a.losses.map(String));
  assert.ok(a.decisionKept && b.decisionKept);

  // one process on the global batches, from rank 0's initial parameters (seed 100)
  E.manualSeed(100);
  const reference = E.scope(() => tinyTrainSteps(new TinyNet(), { ...steps, perRankBatch: 8 }));
  assert.deepEqual(reference.skipped, [3]);
  const worst = Math.max(
    ...a.params.flatMap((p, i) => p.map((v, j) => Math.abs(v - reference.params[i]![j]!))),
  );
  assert.ok(worst < 1e-5, `largest difference from one process ${worst}`);
  const lossGap = Math.max(
    ...a.losses.map((l, i) => (Number.isFinite(l) ? Math.abs(l - reference.losses[i]!) : 0)),
  );
  assert.ok(lossGap < 1e-9, `logged losses differ from one process by ${lossGap}`);
});

/** The tensors of a checkpoint file (its metadata holds wall-clock times, which differ). */
function checkpointTensors(path: string): Map<string, Buffer> {
  const f = E.loadSafetensors(path);
  const out = new Map<string, Buffer>();
  for (const [k, t] of f.tensors) {
    const d = t.data();
    out.set(k, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    t.dispose();
  }
  return out;
}

for (const method of ['supervised', 'mean-teacher', 'cld']) {
  test(`two ranks of runTraining (${method}, U-Net with batch norm) hold bit-identical state; rank 0 alone writes the run`, async () => {
    const out = join(root, `run-${method}`);
    const rankFolder = join(root, `rank1-${method}`);
    const config = tinyConfig(data, {
      method: { name: method },
      schedule: { maxIterations: 10, iterationsPerEpoch: 5 },
    });
    const runs = await runRanks('train', { args: { config, out, rankFolder }, timeoutMs: 30_000 });
    for (const r of runs) assert.equal(r.code, 0, r.output);
    assert.equal(resultOf<number>(runs[0]!, 'iterations'), 10);
    assert.equal(resultOf<number>(runs[1]!, 'iterations'), 10);
    for (const f of ['config.json', 'log.jsonl', 'summary.json', 'model.safetensors', 'splits.json'])
      assert.ok(existsSync(join(out, f)), `${f} missing`);
    // the checkpoints hold every module (the teacher included), its buffers and Adam's moments
    const mine = checkpointTensors(join(out, 'checkpoints', 'last.safetensors'));
    const theirs = checkpointTensors(join(rankFolder, 'checkpoints', 'last.safetensors'));
    assert.deepEqual([...theirs.keys()], [...mine.keys()]);
    assert.ok([...mine.keys()].some((k) => k.includes('running_mean')));
    if (method === 'mean-teacher') assert.ok([...mine.keys()].some((k) => k.startsWith('module.teacher.')));
    if (method === 'cld') assert.ok([...mine.keys()].some((k) => k.startsWith('module.confidenceA.')));
    for (const [k, t] of mine) assert.ok(t.equals(theirs.get(k)!), `${k} differs between the ranks`);
    // both ranks logged the same (global mean) losses and took the same verdicts
    const logs = [readLog(out), readLog(rankFolder)];
    const losses = logs.map((l) => trainEntries(l).map((e) => JSON.stringify(e.losses)));
    assert.deepEqual(losses[1], losses[0]);
    assert.equal(losses[0]!.length, 2);
    const verdicts = logs.map((l) => validationEntries(l).map((e) => [e.iteration, e.best, e.dice]));
    assert.deepEqual(verdicts[1], verdicts[0]);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { iterations: number };
    assert.equal(summary.iterations, 10);
    assert.deepEqual(
      readdirSync(out).filter((f) => f.startsWith('.')),
      [],
    ); // the lock was released
  });
}

test('when rank 0 cannot start (its run folder holds a finished run), the other rank stops with its reason', async () => {
  const out = join(root, 'run-supervised'); // the finished run of the test above
  const config = tinyConfig(data, { method: { name: 'supervised' } });
  const runs = await runRanks('train', {
    args: { config, out, rankFolder: join(root, 'r1') },
    timeoutMs: 30_000,
  });
  assert.notEqual(runs[0]!.code, 0);
  assert.match(runs[0]!.output, /holds a finished run already/);
  assert.notEqual(runs[1]!.code, 0);
  assert.match(runs[1]!.output, /rank 0 could not start the run: .*holds a finished run already/);
  assert.equal(existsSync(join(root, 'r1')), false); // rank 1 never started its loop
});
