/** Known answers for the helpers the flat SSL methods share (src/methods/common.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { rampedWeight } from '../../src/levelset/schedule.ts';
import { emaUpdate } from '../../src/methods/common.ts';

E.setNumThreads(1);

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('rampedWeight: final * exp(-5 (1 - floor(iteration / 150) / rampup)^2), flat after the ramp', () => {
  close(rampedWeight(1, 0, 40), Math.exp(-5), 1e-15, 'start');
  close(rampedWeight(0.1, 149, 40), 0.1 * Math.exp(-5), 1e-15, 'still epoch 0');
  close(rampedWeight(1, 150 * 20, 40), 0.28650479686019015, 1e-15, 'half way: exp(-1.25)');
  close(rampedWeight(2, 150 * 40, 40), 2, 0, 'end');
  close(rampedWeight(2, 150 * 400, 40), 2, 0, 'after');
  close(rampedWeight(0.3, 7, 0), 0.3, 0, 'no ramp');
  close(rampedWeight(1, 10, 4, 5), Math.exp(-1.25), 1e-15, 'epochs of 5 iterations');
});

test('emaUpdate: alpha = min(1 - 1 / (step + 1), decay) on parameters; buffers stay', () => {
  const state = (w: number[], b: number[], mean: number[]) => ({
    weight: E.tensor(w),
    bias: E.tensor(b),
    running_mean: E.tensor(mean),
    running_var: E.tensor([1, 1]),
    num_batches_tracked: E.tensor([0], [], { dtype: 'int64' }),
  });
  const teacher = new E.nn.BatchNorm1d(2);
  const student = new E.nn.BatchNorm1d(2);
  student.loadStateDict(state([3, 5], [-1, 1], [7, 7]));
  const values = (m: E.Module) => Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, t.toArray()]));

  // step 0: alpha 0, the teacher becomes the student (parameters only)
  teacher.loadStateDict(state([1, 1], [0, 0], [0, 0]));
  emaUpdate(teacher, student, 0.99, 0);
  assert.deepEqual(values(teacher).weight, [3, 5]);
  assert.deepEqual(values(teacher).running_mean, [0, 0]);

  // step 9: alpha = 0.9 < decay
  teacher.loadStateDict(state([1, 1], [0, 0], [0, 0]));
  emaUpdate(teacher, student, 0.99, 9);
  values(teacher).weight!.forEach((v, i) => close(v, [1.2, 1.4][i]!, 1e-6, `weight ${i}`));
  values(teacher).bias!.forEach((v, i) => close(v, [-0.1, 0.1][i]!, 1e-6, `bias ${i}`));

  // step 999: alpha = decay = 0.99
  teacher.loadStateDict(state([1, 1], [0, 0], [0, 0]));
  emaUpdate(teacher, student, 0.99, 999);
  values(teacher).weight!.forEach((v, i) => close(v, [1.02, 1.04][i]!, 1e-6, `weight ${i}`));
  assert.deepEqual(values(teacher).running_mean, [0, 0]);
  assert.deepEqual(values(student).weight, [3, 5], 'the student is not changed');
});
