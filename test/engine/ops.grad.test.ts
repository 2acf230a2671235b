// Float64 finite-difference gradient checks of the free functions (torch.* / torch.nn.functional.*)
// the models and losses use.
import { test } from 'node:test';
import * as E from '../../src/engine/index.ts';
import { gradcheck, rnd, distinct } from './gradcheck.ts';
import { f64 } from './helpers.ts';

const long = (values: number[], shape: number[] = [values.length]) =>
  E.tensor(values, shape, { dtype: 'int64' });

test('einsum: attention-style contractions', () => {
  gradcheck('einsum bhqd,bhkd->bhqk', (q, k) => E.einsum('bhqd,bhkd->bhqk', q, k), [
    rnd([1, 2, 3, 2], 1),
    rnd([1, 2, 4, 2], 2),
  ]);
  gradcheck('einsum ij,j->i', (a, b) => E.einsum('ij,j->i', a, b), [rnd([3, 4], 3), rnd([4], 4)]);
  gradcheck('einsum bii->b (trace)', (a) => E.einsum('bii->b', a), [rnd([2, 3, 3], 5)]);
});

test('conv2d: stride, padding, dilation, groups, bias', () => {
  const x = rnd([2, 4, 5, 6], 6);
  gradcheck('conv2d 3x3 pad 1', (i, w, b) => E.conv2d(i, w, b, { padding: 1 }), [
    x,
    rnd([3, 4, 3, 3], 7),
    rnd([3], 8),
  ]);
  gradcheck(
    'conv2d stride 2 dilation 2 no bias',
    (i, w) => E.conv2d(i, w, null, { stride: 2, dilation: 2, padding: [2, 1] }),
    [x, rnd([2, 4, 3, 2], 9)],
  );
  gradcheck('conv2d groups 2', (i, w, b) => E.conv2d(i, w, b, { groups: 2 }), [
    x,
    rnd([4, 2, 1, 3], 10),
    rnd([4], 11),
  ]);
});

test('convTranspose2d and conv1d', () => {
  gradcheck('convTranspose2d stride 2', (i, w, b) => E.convTranspose2d(i, w, b, { stride: 2 }), [
    rnd([2, 3, 3, 4], 12),
    rnd([3, 2, 2, 2], 13),
    rnd([2], 14),
  ]);
  gradcheck(
    'convTranspose2d k3 stride 2 pad 1 outputPadding 1',
    (i, w) => E.convTranspose2d(i, w, null, { stride: 2, padding: 1, outputPadding: 1 }),
    [rnd([1, 2, 3, 3], 15), rnd([2, 3, 3, 3], 16)],
  );
  gradcheck('conv1d', (i, w, b) => E.conv1d(i, w, b, { padding: 1, stride: 2 }), [
    rnd([2, 3, 7], 17),
    rnd([2, 3, 3], 18),
    rnd([2], 19),
  ]);
});

test('batchNorm (train and eval), groupNorm, layerNorm', () => {
  const x = rnd([3, 2, 2, 3], 20, -2, 2);
  const w = rnd([2], 21, 0.5, 1.5);
  const b = rnd([2], 22);
  gradcheck('batchNorm training', (i, g, h) => E.batchNorm(i, null, null, g, h, true), [x, w, b]);
  gradcheck(
    'batchNorm training with running stats',
    (i, g, h) =>
      E.batchNorm(i, E.zeros([2], { dtype: 'float64' }), E.ones([2], { dtype: 'float64' }), g, h, true),
    [x, w, b],
  );
  const rm = f64([0.3, -0.2], [2]);
  const rv = f64([1.5, 0.7], [2]);
  gradcheck('batchNorm eval', (i, g, h) => E.batchNorm(i, rm, rv, g, h, false), [x, w, b]);
  gradcheck('batchNorm 1d [N, C]', (i) => E.batchNorm(i, null, null, null, null, true), [rnd([4, 3], 23)]);
  gradcheck('groupNorm', (i, g, h) => E.groupNorm(i, 2, g, h), [
    rnd([2, 4, 2, 3], 24),
    rnd([4], 25, 0.5, 1.5),
    rnd([4], 26),
  ]);
  gradcheck('layerNorm', (i, g, h) => E.layerNorm(i, [3, 4], g, h), [
    rnd([2, 3, 4], 27),
    rnd([3, 4], 28),
    rnd([3, 4], 29),
  ]);
});

test('maxPool2d, avgPool2d', () => {
  gradcheck('maxPool2d 2x2', (i) => E.maxPool2d(i, 2), [distinct([2, 2, 4, 6], 30)]);
  gradcheck('maxPool2d 3x3 stride 2 pad 1', (i) => E.maxPool2d(i, 3, 2, 1), [distinct([1, 2, 5, 5], 31)]);
  gradcheck('avgPool2d 2x2', (i) => E.avgPool2d(i, 2), [rnd([2, 2, 4, 6], 32)]);
  gradcheck('avgPool2d 3x3 stride 2 pad 1', (i) => E.avgPool2d(i, 3, 2, 1), [rnd([1, 2, 5, 5], 33)]);
});

test('interpolate bilinear (size, scale, alignCorners) and nearest', () => {
  const x = rnd([1, 2, 3, 4], 34);
  gradcheck('bilinear size', (i) => E.interpolate(i, { size: [5, 7] }), [x]);
  gradcheck('bilinear scale 2', (i) => E.interpolate(i, { scale: 2 }), [x]);
  gradcheck('bilinear align corners', (i) => E.interpolate(i, { size: [6, 5], alignCorners: true }), [x]);
  gradcheck('bilinear downsample', (i) => E.interpolate(i, { size: [2, 3] }), [x]);
  gradcheck('nearest scale 2', (i) => E.interpolate(i, { scale: 2, mode: 'nearest' }), [x]);
});

test('pad: constant, reflect, replicate', () => {
  const x = rnd([1, 2, 3, 4], 35);
  gradcheck('pad constant', (i) => E.pad(i, [1, 2, 0, 1], 'constant', 0.5), [x]);
  gradcheck('pad reflect', (i) => E.pad(i, [2, 1, 1, 2], 'reflect'), [x]);
  gradcheck('pad replicate', (i) => E.pad(i, [1, 2, 2, 1], 'replicate'), [x]);
});

test('cat, stack, where', () => {
  gradcheck('cat dim 1', (a, b) => E.cat([a, b], 1), [rnd([2, 3], 36), rnd([2, 2], 37)]);
  gradcheck('stack dim 1', (a, b) => E.stack([a, b], 1), [rnd([2, 3], 38), rnd([2, 3], 39)]);
  const cond = E.tensor([1, 0, 1, 1, 0, 0], [2, 3], { dtype: 'bool' });
  gradcheck('where tensor/tensor (broadcast)', (a, b) => E.where(cond, a, b), [
    rnd([2, 3], 40),
    rnd([3], 41),
  ]);
  gradcheck('where tensor/scalar', (a) => E.where(cond, a, 0.5), [rnd([2, 3], 42)]);
  gradcheck('where scalar/tensor', (b) => E.where(cond, -1, b), [rnd([2, 3], 43)]);
});

test('linear, with and without bias', () => {
  gradcheck('linear', (x, w, b) => E.linear(x, w, b), [rnd([2, 3, 4], 44), rnd([5, 4], 45), rnd([5], 46)]);
  gradcheck('linear no bias', (x, w) => E.linear(x, w), [rnd([3, 4], 47), rnd([2, 4], 48)]);
});

test('bceWithLogits: reductions, weight, posWeight', () => {
  const target = f64([1, 0, 0.3, 1, 0, 0.8], [2, 3]);
  const logits = rnd([2, 3], 49, -3, 3);
  gradcheck('bce mean', (l) => E.bceWithLogits(l, target), [logits]);
  gradcheck('bce sum', (l) => E.bceWithLogits(l, target, { reduction: 'sum' }), [logits]);
  gradcheck('bce none', (l) => E.bceWithLogits(l, target, { reduction: 'none' }), [logits]);
  gradcheck(
    'bce weight + posWeight',
    (l) => E.bceWithLogits(l, target, { weight: f64([0.5, 2, 1], [3]), posWeight: f64([3, 1, 0.5], [3]) }),
    [logits],
  );
  gradcheck('bce d/d target', (t) => E.bceWithLogits(f64(logits.data, [2, 3]), t), [rnd([2, 3], 50, 0, 1)]);
});

test('crossEntropy: class indices (2-d and spatial), weights, ignoreIndex, label smoothing, probabilities', () => {
  const logits = rnd([4, 3], 51, -2, 2);
  const labels = long([2, 0, 1, 2]);
  gradcheck('ce mean', (l) => E.crossEntropy(l, labels), [logits]);
  gradcheck('ce weight', (l) => E.crossEntropy(l, labels, { weight: f64([0.2, 1, 3], [3]) }), [logits]);
  gradcheck('ce ignoreIndex', (l) => E.crossEntropy(l, long([2, -1, 1, -1]), { ignoreIndex: -1 }), [logits]);
  gradcheck('ce label smoothing', (l) => E.crossEntropy(l, labels, { labelSmoothing: 0.1 }), [logits]);
  gradcheck('ce none', (l) => E.crossEntropy(l, labels, { reduction: 'none' }), [logits]);
  gradcheck('ce spatial [N, C, H, W]', (l) => E.crossEntropy(l, long([0, 2, 1, 1, 0, 2, 2, 1], [2, 2, 2])), [
    rnd([2, 3, 2, 2], 52, -2, 2),
  ]);
  const probs = f64([0.2, 0.5, 0.3, 1, 0, 0, 0.1, 0.1, 0.8, 0, 0.5, 0.5], [4, 3]);
  gradcheck('ce probabilities', (l) => E.crossEntropy(l, probs), [logits]);
});

test('mseLoss: reductions and gradient to both sides', () => {
  gradcheck('mse mean', (a, b) => E.mseLoss(a, b), [rnd([2, 3], 53), rnd([2, 3], 54)]);
  gradcheck('mse sum', (a, b) => E.mseLoss(a, b, 'sum'), [rnd([2, 3], 55), rnd([2, 3], 56)]);
  gradcheck('mse none', (a, b) => E.mseLoss(a, b, 'none'), [rnd([2, 3], 57), rnd([2, 3], 58)]);
});

test('a composite: attention block (linear -> einsum -> softmax -> matmul -> layerNorm)', () => {
  gradcheck(
    'attention',
    (x, wq, wk) => {
      const q = E.linear(x, wq);
      const k = E.linear(x, wk);
      const a = E.einsum('bqd,bkd->bqk', q, k).div(Math.sqrt(2)).softmax(-1);
      return E.layerNorm(a.matmul(x), [3], null, null);
    },
    [rnd([2, 4, 3], 59), rnd([2, 3], 60), rnd([2, 3], 61)],
  );
});
