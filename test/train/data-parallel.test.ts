// Data-parallel helpers: the shards make up the global batch, buckets are cut alike on every rank, and
// K SGD steps on two ranks leave both with bit-identical parameters equal to one process trained on
// the concatenated global batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { ProcessGroup } from '../../src/engine/distributed.ts';
import { SemiSupervisedSampler } from '../../src/data/sampler.ts';
import {
  allReduceGradients,
  broadcastDecision,
  broadcastParameters,
  buckets,
  globalSamplerConfig,
  shardBatch,
  shardIndices,
} from '../../src/train/data-parallel.ts';
import { TINY_SGD, TinyNet, resultOf, runRanks, tinyBatch, tinyData } from '../helpers/distributed.ts';

test('shardIndices: equal counts, the shards deal out one shared permutation', () => {
  for (const [n, world] of [
    [12, 2],
    [13, 2],
    [10, 3],
    [2, 4],
  ] as const) {
    const shards = Array.from({ length: world }, (_, r) => shardIndices(n, r, world, { seed: 5, epoch: 3 }));
    const per = Math.ceil(n / world);
    for (const s of shards) assert.equal(s.length, per);
    const dealt = Array.from({ length: per * world }, (_, k) => shards[k % world]![Math.floor(k / world)]!);
    const single = shardIndices(n, 0, 1, { seed: 5, epoch: 3 });
    // position k of the one-process order, wrapped when padding
    assert.deepEqual(
      dealt,
      dealt.map((_, k) => single[k % n]),
    );
    assert.deepEqual(
      [...new Set(dealt)].sort((a, b) => a - b),
      [...Array(n).keys()],
    );
    const dropped = Array.from({ length: world }, (_, r) =>
      shardIndices(n, r, world, { seed: 5, epoch: 3, dropLast: true }),
    );
    for (const s of dropped) assert.equal(s.length, Math.floor(n / world));
  }
  assert.notDeepEqual(
    shardIndices(20, 0, 2, { seed: 5, epoch: 0 }),
    shardIndices(20, 0, 2, { seed: 5, epoch: 1 }),
  );
  assert.notDeepEqual(
    shardIndices(20, 0, 2, { seed: 5, epoch: 0 }),
    shardIndices(20, 0, 2, { seed: 5, epoch: 0, stream: 'unlabelled' }),
  );
  assert.deepEqual(shardIndices(5, 1, 2, { seed: 0, epoch: 0, shuffle: false }), [1, 3, 0]);
  assert.deepEqual(shardIndices(0, 0, 2, { seed: 0, epoch: 0 }), []);
  assert.throws(() => shardIndices(4, 2, 2, { seed: 0, epoch: 0 }), /rank 2 is not in/);
});

test('shardIndices with one rank is the sampler pass order of each stream', () => {
  const sampler = new SemiSupervisedSampler({
    labelled: 7,
    unlabelled: 5,
    batchLabelled: 7,
    batchUnlabelled: 5,
    seed: 11,
  });
  for (let epoch = 0; epoch < 2; epoch++) {
    const b = sampler.next();
    assert.deepEqual(b.labelled, shardIndices(7, 0, 1, { seed: 11, epoch }));
    assert.deepEqual(b.unlabelled, shardIndices(5, 0, 1, { seed: 11, epoch, stream: 'unlabelled' }));
  }
});

test('shardBatch: the ranks of a global sampler split its batches, in rank order', () => {
  const perRank = { labelled: 9, unlabelled: 20, batchLabelled: 2, batchUnlabelled: 3, seed: 4 };
  const global = new SemiSupervisedSampler(globalSamplerConfig(perRank, 3));
  for (let s = 0; s < 5; s++) {
    const b = global.next();
    const parts = [0, 1, 2].map((r) => shardBatch(b, r, 3));
    for (const p of parts) {
      assert.equal(p.labelled.length, 2);
      assert.equal(p.unlabelled.length, 3);
      assert.equal(p.step, b.step);
    }
    assert.deepEqual(
      parts.flatMap((p) => p.labelled),
      b.labelled,
    );
    assert.deepEqual(
      parts.flatMap((p) => p.unlabelled),
      b.unlabelled,
    );
  }
  assert.throws(() => shardBatch({ ...global.next(), labelled: [1, 2, 3] }, 0, 2), /do not split/);
});

test('buckets: by dtype, cut once a bucket reaches the size', () => {
  E.scope(() => {
    const t = [E.zeros([4]), E.zeros([4]), E.zeros([2], { dtype: 'float64' }), E.zeros([10]), E.zeros([1])];
    const sizes = (bytes: number) => buckets(t, bytes).map((b) => b.map((x) => t.indexOf(x)));
    assert.deepEqual(sizes(16), [[0], [1], [2], [3], [4]]);
    assert.deepEqual(sizes(32), [[0, 1], [2], [3], [4]]);
    assert.deepEqual(sizes(1e9), [[0, 1], [2], [3, 4]]);
  });
});

test('a group of one: gradients, parameters and decisions stay as they are', () => {
  const pg = ProcessGroup.init({ masterPort: 0, worldSize: 1, rank: 0, timeoutMs: 5000 });
  try {
    E.manualSeed(3);
    const net = new TinyNet();
    const before = [...net.stateDict().values()].map((t) => t.toArray());
    broadcastParameters(pg, net);
    assert.deepEqual(
      [...net.stateDict().values()].map((t) => t.toArray()),
      before,
    );
    E.scope(() => {
      const data = tinyData(4, 1);
      const [x, y] = tinyBatch(data, [0, 1, 2, 3]);
      net.loss(x, y).backward();
      const grads = net.parameters().map((p) => p.grad?.toArray() ?? null);
      allReduceGradients(pg, net.parameters(), { bucketBytes: 64 });
      assert.deepEqual(
        net.parameters().map((p) => p.grad?.toArray() ?? null),
        grads,
      );
    });
    assert.deepEqual(broadcastDecision(pg, { stop: true }), { stop: true });
    assert.throws(() => broadcastDecision(pg, undefined), /must be a JSON value/);
  } finally {
    pg.close();
  }
});

test('two ranks, K SGD steps: bit-identical parameters, equal to one process on the global batches', async (t) => {
  const cfg = { n: 16, perRankBatch: 4, steps: 6, seed: 7, bucketBytes: 100 };
  const runs = await runRanks('sgd', { args: cfg });
  for (const run of runs) assert.equal(run.code, 0, run.output);
  type State = [string, number[]][];
  const initial = runs.map((r) => resultOf<State>(r, 'initial'));
  assert.deepEqual(initial[1], initial[0], 'broadcastParameters gave rank 1 rank 0 values');
  const finals = runs.map((r) => resultOf<State>(r, 'final'));
  assert.deepEqual(finals[1], finals[0], 'the ranks hold bit-identical parameters and buffers');
  assert.notDeepEqual(finals[0], initial[0]);

  // one process, the same start, each step on the two ranks' batches together
  const batches = runs.map((r) => resultOf<number[][]>(r, 'batches'));
  const net = new TinyNet();
  const own = net.stateDict();
  E.noGrad(() => {
    for (const [k, values] of initial[0]!) {
      const t = own.get(k)!;
      t.copy_(E.tensor(values, t.shape, { dtype: t.dtype }));
    }
  });
  const opt = new E.SGD(net.parameters(), TINY_SGD);
  const data = tinyData(cfg.n, cfg.seed);
  for (let s = 0; s < cfg.steps; s++) {
    E.scope(() => {
      opt.zeroGrad();
      const [x, y] = tinyBatch(data, [...batches[0]![s]!, ...batches[1]![s]!]);
      net.loss(x, y).backward();
      opt.step();
    });
  }
  let worst = 0;
  for (const [k, values] of finals[0]!) {
    const ref = own.get(k)!.toArray();
    values.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ref[i]!))));
  }
  t.diagnostic(`largest difference from one process: ${worst}`);
  assert.ok(worst <= 1e-5, `largest difference from one process: ${worst}`);
  for (const run of runs)
    assert.deepEqual(
      resultOf(run, 'partialGrads'),
      [null, null, null, null, [0.5, 1.5]],
      'a gradient some ranks lack is averaged with zeros; one no rank has stays absent',
    );
  // each global batch is distinct data: every index of an epoch used once
  assert.deepEqual(
    [...batches[0]![0]!, ...batches[1]![0]!, ...batches[0]![1]!, ...batches[1]![1]!].sort((a, b) => a - b),
    [...Array(cfg.n).keys()],
  );
});
