import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.ts';
import { runWorkerPool } from '../../src/eval/worker-pool.ts';

const WORKER = new URL('./fixtures/pool-worker.ts', import.meta.url);

test('runWorkerPool: every job once, results with their index; failures re-raised, InputError kept', async () => {
  const got = new Map<number, number>();
  await runWorkerPool<number, number>(WORKER, [1, 2, 3, 4, 5], 2, (r, i) => got.set(i, r));
  assert.deepEqual(
    [...got.entries()].sort((a, b) => a[0] - b[0]),
    [
      [0, 1],
      [1, 4],
      [2, 9],
      [3, 16],
      [4, 25],
    ],
  );
  await runWorkerPool<number, number>(WORKER, [], 2, () => assert.fail('no jobs'));

  await assert.rejects(
    runWorkerPool<number, number>(WORKER, [1, -1, 2], 2, () => {}),
    (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.file, '/data/case-1.nii.gz');
      assert.equal(e.message, '/data/case-1.nii.gz: is broken. Fix: fix it');
      return true;
    },
  );
  await assert.rejects(
    runWorkerPool<number, number>(WORKER, [-2], 1, () => {}),
    (e: unknown) => !(e instanceof InputError) && /plain failure -2/.test((e as Error).message),
  );
});
