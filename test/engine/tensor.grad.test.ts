// Float64 finite-difference gradient checks of the Tensor methods the project differentiates through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, type Tensor } from '../../src/engine/index.ts';
import { gradcheck, rnd, distinct } from './gradcheck.ts';

test('broadcasting arithmetic: add, sub, mul, div, rsub, neg with tensors and scalars', () => {
  const a = rnd([2, 3], 1);
  const row = rnd([3], 2);
  const col = rnd([2, 1], 3);
  const away = rnd([1, 3], 4, 0.5, 2); // divisors kept away from zero
  gradcheck('add [2,3]+[3]', (x, y) => x.add(y, 0.7), [a, row]);
  gradcheck('sub [2,1]-[1,3]', (x, y) => x.sub(y, 1.3), [col, away]);
  gradcheck('mul [2,3]*[2,1]', (x, y) => x.mul(y), [a, col]);
  gradcheck('div [2,3]/[1,3]', (x, y) => x.div(y), [a, away]);
  gradcheck('scalar ops', (x) => x.add(2).sub(0.5).mul(3).div(1.5).rsub(4).neg(), [a]);
});

test('exp, log, log1p, expm1, sqrt, rsqrt, pow, abs, square, reciprocal', () => {
  const x = rnd([2, 4], 5);
  const pos = rnd([2, 4], 6, 0.3, 3);
  gradcheck('exp', (t) => t.exp(), [x]);
  gradcheck('log', (t) => t.log(), [pos]);
  gradcheck('log1p', (t) => t.log1p(), [rnd([2, 4], 7, -0.5, 2)]);
  gradcheck('expm1', (t) => t.expm1(), [x]);
  gradcheck('sqrt', (t) => t.sqrt(), [pos]);
  gradcheck('rsqrt', (t) => t.rsqrt(), [pos]);
  gradcheck('pow scalar', (t) => t.pow(2.5), [pos]);
  gradcheck('pow tensor^tensor', (b, e) => b.pow(e), [pos, rnd([4], 8, -1.5, 1.5)]);
  gradcheck('abs', (t) => t.abs(), [distinct([2, 4], 9, 0.05)]);
  gradcheck('square, reciprocal', (t) => t.square().add(t.reciprocal()), [pos]);
});

test('sigmoid, logSigmoid, softplus, relu, gelu, tanh, clamp, minimum, maximum', () => {
  const x = distinct([3, 4], 10, 0.2); // in [-2.4, 2.2], no element at a kink
  gradcheck('sigmoid', (t) => t.sigmoid(), [x]);
  gradcheck('logSigmoid', (t) => t.logSigmoid(), [x]);
  gradcheck('softplus', (t) => t.softplus(), [x]);
  gradcheck('softplus beta=2 threshold=1', (t) => t.softplus(2, 1), [x]);
  gradcheck('relu', (t) => t.relu(), [x]);
  gradcheck('gelu', (t) => t.gelu(), [x]);
  gradcheck('gelu tanh', (t) => t.gelu('tanh'), [x]);
  gradcheck('tanh', (t) => t.tanh(), [x]);
  gradcheck('clamp', (t) => t.clamp(-1.01, 0.99), [x]);
  gradcheck('minimum, maximum', (a, b) => a.minimum(b).add(a.maximum(b).mul(2)), [
    x,
    distinct([3, 4], 11, 0.17),
  ]);
});

test('softmax, logSoftmax, logsumexp over each dim', () => {
  const x = rnd([2, 3, 4], 12, -2, 2);
  for (const dim of [0, 1, -1]) {
    gradcheck(`softmax dim ${dim}`, (t) => t.softmax(dim), [x]);
    gradcheck(`logSoftmax dim ${dim}`, (t) => t.logSoftmax(dim), [x]);
  }
  gradcheck('logsumexp dim 2', (t) => t.logsumexp(2), [x]);
  gradcheck('logsumexp dims [0, 2] keepdim', (t) => t.logsumexp([0, 2], true), [x]);
});

test('sum, mean, max (amax), min (amin) over dims and over all', () => {
  const x = rnd([2, 3, 4], 13);
  gradcheck('sum all', (t) => t.sum(), [x]);
  gradcheck('sum dim 1', (t) => t.sum(1), [x]);
  gradcheck('sum dims [0, 2] keepdim', (t) => t.sum([0, 2], true), [x]);
  gradcheck('mean all', (t) => t.mean(), [x]);
  gradcheck('mean dims [1, 2]', (t) => t.mean([1, 2]), [x]);
  const d = distinct([2, 3, 4], 14);
  gradcheck('max all', (t) => t.max(), [d]);
  gradcheck('max dim 1', (t) => t.max(1), [d]);
  gradcheck('max dims [0, 2] keepdim', (t) => t.max([0, 2], true), [d]);
  gradcheck('min all', (t) => t.min(), [d]);
  gradcheck('min dim -1', (t) => t.min(-1), [d]);
  gradcheck('maxWithIndices values', (t) => t.maxWithIndices(2)[0], [d]);
});

test('matmul (2-d, batched, broadcast, vector) and bmm', () => {
  gradcheck('matmul 2d', (a, b) => a.matmul(b), [rnd([3, 4], 15), rnd([4, 2], 16)]);
  gradcheck('matmul batched broadcast', (a, b) => a.matmul(b), [rnd([2, 3, 4], 17), rnd([4, 5], 18)]);
  gradcheck('matmul vector', (a, b) => a.matmul(b), [rnd([3, 4], 19), rnd([4], 20)]);
  gradcheck('bmm', (a, b) => a.bmm(b), [rnd([2, 3, 4], 21), rnd([2, 4, 2], 22)]);
});

test('reshape, view, permute, transpose, squeeze, unsqueeze, expand, flatten, flip, contiguous', () => {
  const x = rnd([2, 3, 4], 23);
  gradcheck('reshape', (t) => t.reshape(4, 6).mul(t.reshape(4, 6)), [x]);
  gradcheck('view', (t) => t.view(6, 4).exp(), [x]);
  gradcheck('permute', (t) => t.permute(2, 0, 1).contiguous().reshape(-1), [x]);
  gradcheck('transpose', (t) => t.transpose(0, 2).matmul(rndT([2, 3])), [x]);
  gradcheck('squeeze/unsqueeze', (t) => t.unsqueeze(1).squeeze(1).unsqueeze(0).squeeze(), [x]);
  gradcheck(
    'expand',
    (t) => t.expand(3, 2, 4).mul(tensor(rnd([3, 2, 4], 24).data, [3, 2, 4], { dtype: 'float64' })),
    [rnd([2, 1], 25)],
  );
  gradcheck('flatten', (t) => t.flatten(1).square(), [x]);
  gradcheck('flip', (t) => t.flip([0, 2]).mul(t), [x]);
});

test('narrow, split, indexSelect, gather, scatter, maskedFill', () => {
  const x = rnd([3, 5], 26);
  gradcheck('narrow', (t) => t.narrow(1, 1, 3).square(), [x]);
  gradcheck(
    'split size',
    (t) => {
      const [a, b, c] = t.split(2, 1);
      return a!.sum(1).mul(b!.sum(1)).add(c!.sum(1));
    },
    [x],
  );
  gradcheck(
    'split sizes',
    (t) => {
      const [a, b] = t.split([1, 2], 0);
      return a!.mul(b!.sum(0, true));
    },
    [x],
  );
  const idx = tensor([4, 0, 4, 2], [4], { dtype: 'int64' }); // repeated index: gradients accumulate
  gradcheck('indexSelect', (t) => t.indexSelect(1, idx).square(), [x]);
  const gidx = tensor([0, 2, 2, 1, 0, 1, 1, 0, 2, 2], [2, 5], { dtype: 'int64' });
  gradcheck('gather', (t) => t.gather(0, gidx).square(), [x]);
  const sidx = tensor([1, 0, 2, 2], [1, 4], { dtype: 'int64' });
  const aidx = tensor([1, 1, 3, 0], [1, 4], { dtype: 'int64' }); // repeated: scatterAdd sums
  gradcheck('scatter self and src', (t, s) => t.scatter(0, sidx, s).square(), [
    rnd([3, 4], 27),
    rnd([1, 4], 28),
  ]);
  gradcheck('scatterAdd', (t, s) => t.scatterAdd(1, aidx.expand(3, 4).contiguous(), s).square(), [
    rnd([3, 4], 29),
    rnd([3, 4], 30),
  ]);
  const mask = tensor([1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 0], [3, 5], { dtype: 'bool' });
  gradcheck('maskedFill', (t) => t.maskedFill(mask, 2).square(), [x]);
});

test('gradients flow through detach only where not detached', () => {
  const x = tensor([1, 2, 3], [3], { dtype: 'float64' }).requiresGrad_();
  const y = x.mul(x.detach()).sum(); // d/dx = x (the detached factor is a constant)
  y.backward();
  assert.deepEqual(x.grad!.toArray(), [1, 2, 3]);
});

// helpers -----------------------------------------------------------------------------------------
const rndT = (shape: number[]): Tensor => tensor(rnd(shape, 99).data, shape, { dtype: 'float64' });
