import { test } from 'node:test';
import assert from 'node:assert/strict';
import { full, ones, randn, setNumThreads, type Tensor } from '../../src/engine/index.ts';
import {
  alphasCumprod,
  ddimSample,
  linearBetas,
  qSample,
  spacedTimesteps,
} from '../../src/methods/gaussian-diffusion.ts';

setNumThreads(1);

test('the linear schedule: 1e-4 to 0.02 over 1000 steps, scaled by 1000 / T; abar is the running product', () => {
  const b = linearBetas(1000);
  assert.equal(b.length, 1000);
  assert.ok(Math.abs(b[0]! - 1e-4) < 1e-15 && Math.abs(b[999]! - 0.02) < 1e-15);
  assert.ok(Math.abs(b[1]! - b[0]! - (0.02 - 1e-4) / 999) < 1e-15);
  const half = linearBetas(500);
  assert.ok(Math.abs(half[0]! - 2e-4) < 1e-15 && Math.abs(half[499]! - 0.04) < 1e-15);
  const a = alphasCumprod(Float64Array.from([0.1, 0.2, 0.5]));
  assert.deepEqual(
    [...a].map((v) => +v.toFixed(12)),
    [0.9, 0.72, 0.36],
  );
});

test('space_timesteps: even strides over [0, T - 1], halves rounded to even as Python does', () => {
  assert.deepEqual(spacedTimesteps(1000, 10), [0, 111, 222, 333, 444, 555, 666, 777, 888, 999]);
  // stride 166.5: round(166.5) = 166, round(499.5) = 500, round(832.5) = 832
  assert.deepEqual(spacedTimesteps(1000, 7), [0, 166, 333, 500, 666, 832, 999]);
  assert.deepEqual(spacedTimesteps(1000, 1), [0]);
  assert.throws(() => spacedTimesteps(5, 6), RangeError);
});

test('q_sample: sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, t per sample', () => {
  const abar = Float64Array.from([0.81, 0.36]);
  const x0 = ones([2, 1, 1, 2]);
  const noise = full([2, 1, 1, 2], 2);
  const xt = qSample(x0, [0, 1], noise, abar).toArray();
  const expect = [0.9 + 2 * Math.sqrt(0.19), 0.6 + 2 * 0.8];
  xt.forEach((v, i) => assert.ok(Math.abs(v - expect[Math.floor(i / 2)]!) < 1e-6, `${v}`));
});

test('DDIM: visits the kept steps from the last, returns the clipped x0 of the final step', () => {
  const abar = alphasCumprod(linearBetas(1000));
  const steps = spacedTimesteps(1000, 4);
  const seen: number[] = [];
  const inputs: Tensor[] = [];
  const x0 = ddimSample(
    (x, t) => {
      seen.push(t);
      inputs.push(x.clone().keep());
      return full(x.shape, t === 0 ? 3 : 0.5);
    },
    randn([1, 2, 3, 3]),
    abar,
    steps,
  );
  assert.deepEqual(seen, [999, 666, 333, 0]);
  assert.ok(
    x0.toArray().every((v) => v === 1),
    'clamped to [-1, 1]',
  );
  // a model that always predicts x0 = c moves x_t to sqrt(abar_prev) c + sqrt(1 - abar_prev) eps with
  // eps = (x_t / sqrt(abar) - c) / sqrt(1 / abar - 1): check the second input from the first
  const a = abar[999]!;
  const prev = abar[666]!;
  const x = inputs[0]!.toArray();
  const next = inputs[1]!.toArray();
  x.forEach((v, i) => {
    const eps = (v * Math.sqrt(1 / a) - 0.5) / Math.sqrt(1 / a - 1);
    const want = Math.sqrt(prev) * 0.5 + Math.sqrt(1 - prev) * eps;
    assert.ok(Math.abs(next[i]! - want) < 1e-4 * Math.max(1, Math.abs(want)), `${next[i]} vs ${want}`);
  });
});
