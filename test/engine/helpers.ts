/** Shared by the engine tests: float64 tensors, seeded random arrays, a relative closeness check. */
import assert from 'node:assert/strict';
import { tensor, type Tensor } from '../../src/engine/index.ts';
import { mulberry32, uniform } from '../../src/data/random.ts';

export const f64 = (values: ArrayLike<number>, shape: number[]): Tensor =>
  tensor(values, shape, { dtype: 'float64' });

/** Uniform float64 arrays in [lo, hi) drawn from one stream seeded with `seed` (one per test file). */
export function randomArrays(seed: number): (n: number, lo?: number, hi?: number) => Float64Array {
  const rng = mulberry32(seed);
  return (n, lo = -1, hi = 1) => Float64Array.from({ length: n }, () => uniform(rng, lo, hi));
}

/** |actual - expected| <= tol * max(1, |expected|) elementwise. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-12,
  what = '',
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!))))
      assert.fail(`${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}
