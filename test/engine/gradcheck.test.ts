// The gradient checker itself must fail on a wrong gradient, or every gradient test is vacuous.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradcheck, rnd } from './gradcheck.ts';

test('gradcheck accepts a correct gradient and rejects a wrong one', () => {
  const x = rnd([2, 3], 1);
  const ok = gradcheck('x*x', (t) => t.mul(t), [x]);
  assert.ok(ok.maxAbsError < 1e-8);
  // detach hides one factor from autograd: it reports x where the true derivative is 2x
  assert.throws(
    () => gradcheck('x*detach(x)', (t) => t.mul(t.detach()), [x]),
    /autograd .* vs finite difference/,
  );
});

test('gradcheck rejects a function whose inputs get no gradient', () => {
  assert.throws(
    () => gradcheck('detached', (t) => t.detach().exp(), [rnd([2], 2)]),
    /does not require grad|no gradient/,
  );
});
