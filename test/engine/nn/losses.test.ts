/** Known answers for the shared segmentation losses (src/engine/nn/losses.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../../src/engine/index.ts';

E.setNumThreads(1);

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('softDiceLoss: the SSL4MIS value on a 2-class, 2-pixel case; 0 for a perfect or an empty class', () => {
  // pixel 0 is class 0, pixel 1 class 1; p(class 0) = [0.8, 0.3], p(class 1) = [0.2, 0.7]
  const probs = E.tensor([0.8, 0.3, 0.2, 0.7], [1, 2, 1, 2], { dtype: 'float64' });
  const target = E.tensor([1, 0, 0, 1], [1, 2, 1, 2], { dtype: 'float64' });
  // 1 - mean over classes of (2 * 0.8 + s) / (0.73 + 1 + s) and (2 * 0.7 + s) / (0.53 + 1 + s), s = 1e-5
  close(E.softDiceLoss(probs, target).item(), 0.08005541961740714, 1e-12, 'loss');
  close(E.softDiceLoss(target, target).item(), 0, 1e-12, 'perfect');
  // a class absent from target and prediction counts as perfect: (0 + s) / (0 + s)
  const absent = E.tensor([1, 1, 0, 0], [1, 2, 1, 2], { dtype: 'float64' });
  close(E.softDiceLoss(absent, absent).item(), 0, 1e-12, 'absent class');
});

test('softDiceLoss pools the whole batch per class (not a mean of per-slice losses)', () => {
  // both slices predict class 0 then class 1; slice 0 is right, slice 1 is class 0 throughout
  const probs = E.tensor([1, 0, 0, 1, 1, 0, 0, 1], [2, 2, 1, 2], { dtype: 'float64' });
  const target = E.tensor([1, 0, 0, 1, 1, 1, 0, 0], [2, 2, 1, 2], { dtype: 'float64' });
  // class 0: inter 2, sum p^2 2, sum t^2 3; class 1: inter 1, sum p^2 2, sum t^2 1
  const s = 1e-5;
  const expected = 1 - ((4 + s) / (5 + s) + (2 + s) / (3 + s)) / 2;
  close(E.softDiceLoss(probs, target).item(), expected, 1e-12, 'pooled');
  // per slice: 0 and 1 - (2/3 + 0) / 2, whose mean (1/3) is not the pooled value (4/15)
  const perSlice = (i: number) => E.softDiceLoss(probs.narrow(0, i, 1), target.narrow(0, i, 1)).item();
  close((perSlice(0) + perSlice(1)) / 2, 1 / 3, 1e-5, 'mean of slices');
  assert.ok(Math.abs(expected - 1 / 3) > 0.05);
});
