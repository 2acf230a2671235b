// c10d process groups through the binding: known answers for all-reduce, broadcast and barrier across
// two processes on loopback, and the failures a user meets (a rank killed, a rank that stops
// answering) ending in an error that names the rank, not in a hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import {
  ProcessGroup,
  distributedBackends,
  processGroupOptionsFromEnv,
} from '../../src/engine/distributed.ts';
import { resultOf, runRanks } from '../helpers/distributed.ts';

test('this build has the Gloo backend', () => {
  assert.equal(distributedBackends().gloo, true);
});

test('a group of one: collectives are the identity, options are validated', () => {
  const pg = ProcessGroup.init({ masterPort: 0, worldSize: 1, rank: 0, timeoutMs: 5000 });
  try {
    assert.ok(pg.masterPort > 0, 'port 0 binds a free port and reports it');
    E.scope(() => {
      const t = E.tensor([1.5, -2], [2], { dtype: 'float64' });
      pg.allReduceSum(t);
      pg.allReduceMean(t);
      pg.broadcast([t], 0);
      pg.barrier();
      assert.deepEqual(t.toArray(), [1.5, -2]);
      assert.throws(
        () => pg.allReduceMean(E.tensor([1], [1], { dtype: 'int64' })),
        /int64 tensors cannot hold a mean/,
      );
      assert.throws(() => pg.allReduceSum(E.zeros([3, 2]).transpose(0, 1)), /contiguous/);
      assert.throws(() => pg.broadcast(t, 1), /broadcast root/);
    });
  } finally {
    pg.close();
  }
  assert.ok(pg.closed);
  pg.close(); // idempotent
  assert.throws(() => pg.barrier(), /after close/);
  assert.throws(() => ProcessGroup.init({ masterPort: 0, worldSize: 2, rank: 2 }), /rank must be/);
  assert.throws(() => ProcessGroup.init({ masterPort: 0, worldSize: 2, rank: 1 }), /masterPort must be/);
});

test('torchrun-style environment variables give the options', () => {
  assert.equal(processGroupOptionsFromEnv({}), null);
  assert.deepEqual(processGroupOptionsFromEnv({ MASTER_PORT: '29500', WORLD_SIZE: '4', RANK: '3' }), {
    masterAddr: '127.0.0.1',
    masterPort: 29500,
    worldSize: 4,
    rank: 3,
  });
});

test('two ranks: all-reduce sums, broadcasts from either root, barrier waits for the late rank', async () => {
  const runs = await runRanks('collectives', { args: { lateMs: 700 } });
  for (const run of runs) {
    assert.equal(run.code, 0, run.output);
    const r = run.results.find((x) => 'sum' in x)!;
    assert.deepEqual(r.sum, [3, 30, 0.5]);
    // float32 [0,2]+[1,2]; int64 1+8; float64 2x2 of 1+2
    assert.deepEqual(r.coalesced, [[1, 4], [9], [3, 3, 3, 3]]);
    assert.deepEqual(r.mean, [1, 1]);
    assert.deepEqual(r.broadcastFromOne, [101, 5]);
    assert.deepEqual(r.broadcastFromZero, [[0, 0, 0], [10]]);
    assert.deepEqual(r.decision, {
      stop: false,
      stage: 2,
      best: { iteration: 40, dice: 0.75 },
      note: 'genou ü',
    });
  }
  const waited = resultOf<number>(runs[0]!, 'barrierMs');
  assert.ok(waited >= 500, `rank 0 left the barrier after ${waited} ms, before rank 1 arrived (700 ms late)`);
});

test('a killed rank makes the other fail at once, naming it', async () => {
  const runs = await runRanks('killed', {
    timeoutMs: 15_000,
    onLine: (rank, line, procs) => {
      if (rank === 1 && line === 'READY') procs[1]!.kill('SIGKILL');
    },
  });
  assert.equal(runs[1]!.signal, 'SIGKILL');
  assert.equal(runs[0]!.code, 0, runs[0]!.output);
  const message = resultOf<string | null>(runs[0]!, 'error');
  assert.match(message ?? 'no error', /allreduce on rank 0 of 2: rank 1 closed its connection/);
  const after = resultOf<number>(runs[0]!, 'failedAfterMs');
  assert.ok(after < 15_000, `failed after ${after} ms, not within the 15 s timeout`);
});

test('a rank that stops answering makes the other fail after the timeout, not hang', async () => {
  const runs = await runRanks('silent', { timeoutMs: 2000 });
  assert.equal(runs[0]!.code, 0, runs[0]!.output);
  const message = resultOf<string | null>(runs[0]!, 'error');
  assert.match(message ?? 'no error', /allreduce on rank 0 of 2: rank 1 did not answer within 2 s/);
  const after = resultOf<number>(runs[0]!, 'failedAfterMs');
  assert.ok(after >= 1900 && after < 6000, `failed after ${after} ms with a 2 s timeout`);
  assert.ok(resultOf<number>(runs[0]!, 'closeMs') < 3000, 'closing the broken group does not hang');
});
