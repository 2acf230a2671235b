import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile } from '../../src/image/percentile.ts';

test('matches numpy.percentile (linear) on known values', () => {
  // Values from numpy 2.4: np.percentile(x, q)
  assert.ok(Math.abs(percentile([1, 2, 3, 4], 95) - 3.85) < 1e-12);
  assert.equal(percentile([0, 10], 95), 9.5);
  assert.equal(percentile([3, 1, 2], 50), 2);
  assert.equal(
    percentile(
      Array.from({ length: 21 }, (_, i) => i * i),
      95,
    ),
    361,
  );
  assert.equal(percentile([5], 95), 5);
  assert.equal(percentile([4, 1], 0), 1);
  assert.equal(percentile([4, 1], 100), 4);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile([1], 101), /outside/);
});
