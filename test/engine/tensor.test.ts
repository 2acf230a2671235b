// Tensor: data in and out for each dtype, and forward values of the methods against plain JS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { assertClose, f64, randomArrays } from './helpers.ts';

const randArray = randomArrays(1);

test('dtype round trips are exact: float32, float64, int64, int32, uint8, bool', () => {
  const cases: [E.DType, E.TypedArray][] = [
    ['float32', Float32Array.from([0, -0, 1.5, -3.25e-38, 3.4e38, Infinity, -Infinity, Math.PI, 1e-45])],
    [
      'float64',
      Float64Array.from([0, -0, Number.MAX_VALUE, Number.MIN_VALUE, -Infinity, Math.E, 1 / 3, 5e-324]),
    ],
    ['int64', BigInt64Array.from([0n, -1n, 9007199254740993n, -(2n ** 63n), 2n ** 63n - 1n, 42n])],
    ['int32', Int32Array.from([0, -1, 2147483647, -2147483648, 12345, 7])],
    ['uint8', Uint8Array.from([0, 1, 127, 128, 254, 255])],
    ['bool', Uint8Array.from([1, 0, 0, 1, 1, 0])],
  ];
  for (const [dtype, values] of cases) {
    const shape = values.length === 6 ? [2, 3] : [values.length];
    const t = E.tensor(values, shape, { dtype });
    assert.equal(t.dtype, dtype);
    assert.deepEqual(t.shape, shape);
    assert.equal(t.numel, values.length);
    const back = t.data();
    assert.equal(back.constructor, values.constructor, dtype);
    assert.deepEqual(back, values, dtype);
    t.dispose();
  }
  // NaN survives too (deepEqual treats NaN as equal to NaN; check explicitly)
  assert.ok(Number.isNaN(E.tensor(Float32Array.from([NaN])).item()));
});

test('typed arrays give their dtype; plain numbers convert to the requested one', () => {
  assert.equal(E.tensor(new Float64Array(2)).dtype, 'float64');
  assert.equal(E.tensor(new Int32Array(2)).dtype, 'int32');
  assert.equal(E.tensor(new BigInt64Array(2)).dtype, 'int64');
  assert.equal(E.tensor(new Uint8Array(2)).dtype, 'uint8');
  assert.equal(E.tensor([1, 2]).dtype, 'float32');
  assert.deepEqual(E.tensor([1.9, -2.9, 3], [3], { dtype: 'int64' }).toArray(), [1, -2, 3]);
  assert.deepEqual(E.tensor([0, 2, 0], [3], { dtype: 'bool' }).toArray(), [0, 1, 0]);
  assert.deepEqual(E.tensor(Float32Array.from([0.5, 1.5]), [2], { dtype: 'float64' }).toArray(), [0.5, 1.5]);
  assert.throws(() => E.tensor([1, 2, 3], [2, 2]), /3 values do not fill shape \[2, 2\]/);
});

test('conversions between dtypes, 0-d tensors and item()', () => {
  const x = f64([1.7, -1.7, 0, 2.5], [4]);
  assert.deepEqual(x.to('int32').toArray(), [1, -1, 0, 2]); // truncation toward zero, as in C
  assert.deepEqual(x.to('bool').toArray(), [1, 1, 0, 1]);
  assert.equal(x.float().dtype, 'float32');
  assert.equal(x.long().dtype, 'int64');
  const s = E.scalar(3.5, { dtype: 'float64' });
  assert.deepEqual(s.shape, []);
  assert.equal(s.item(), 3.5);
  assert.equal(x.gt(0).any().item(), 1);
  assert.equal(x.device, 'cpu');
});

test('elementwise math matches Math.* in float64', () => {
  const v = randArray(50, 0.1, 3);
  const x = f64(v, [5, 10]);
  const checks: [string, E.Tensor, (a: number) => number][] = [
    ['exp', x.exp(), Math.exp],
    ['log', x.log(), Math.log],
    ['log1p', x.log1p(), Math.log1p],
    ['expm1', x.expm1(), Math.expm1],
    ['sqrt', x.sqrt(), Math.sqrt],
    ['pow 1.5', x.pow(1.5), (a) => a ** 1.5],
    ['tanh', x.neg().tanh(), (a) => Math.tanh(-a)],
    ['sigmoid', x.sub(1.5).sigmoid(), (a) => 1 / (1 + Math.exp(-(a - 1.5)))],
    ['logSigmoid', x.sub(1.5).logSigmoid(), (a) => -Math.log1p(Math.exp(-(a - 1.5)))],
    ['softplus', x.sub(1.5).softplus(), (a) => Math.log1p(Math.exp(a - 1.5))],
    ['relu', x.sub(1.5).relu(), (a) => Math.max(0, a - 1.5)],
    ['abs', x.sub(1.5).abs(), (a) => Math.abs(a - 1.5)],
    ['clamp', x.clamp(0.5, 2), (a) => Math.min(2, Math.max(0.5, a))],
    ['rsub', x.rsub(1), (a) => 1 - a],
  ];
  for (const [name, t, f] of checks) assertClose(t.data() as Float64Array, Array.from(v, f), 1e-14, name);
  // gelu: x * Phi(x); Phi through erf, which JS lacks: compare at points with known values
  assertClose(
    f64([0, 1, -1], [3]).gelu().toArray(),
    [0, 0.8413447460685429, -0.15865525393145707],
    1e-14,
    'gelu',
  );
});

test('broadcasting arithmetic follows NumPy rules', () => {
  const a = f64([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual(a.add(f64([10, 20, 30], [3])).toArray(), [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(a.mul(f64([2, 3], [2, 1])).toArray(), [2, 4, 6, 12, 15, 18]);
  assert.deepEqual(f64([1, 2], [2, 1]).sub(f64([1, 2, 3], [1, 3])).shape, [2, 3]);
  assert.deepEqual(a.add(1, 2).toArray(), [3, 4, 5, 6, 7, 8]); // alpha scales the other operand
  assert.deepEqual(a.div(f64([2], [1])).toArray(), [0.5, 1, 1.5, 2, 2.5, 3]);
  // integer tensors stay integral with integral scalars (as in PyTorch)
  assert.equal(E.tensor([1, 2], [2], { dtype: 'int64' }).add(1).dtype, 'int64');
});

test('comparisons give bool tensors; where and masks', () => {
  const a = f64([1, 5, 3], [3]);
  const b = f64([2, 5, 1], [3]);
  assert.equal(a.lt(b).dtype, 'bool');
  assert.deepEqual(a.lt(b).toArray(), [1, 0, 0]);
  assert.deepEqual(a.le(b).toArray(), [1, 1, 0]);
  assert.deepEqual(a.eq(5).toArray(), [0, 1, 0]);
  assert.deepEqual(a.ne(b).toArray(), [1, 0, 1]);
  assert.deepEqual(a.gt(2).logicalAnd(a.lt(4)).toArray(), [0, 0, 1]);
  assert.deepEqual(E.where(a.gt(b), a, b).toArray(), [2, 5, 3]);
  assert.deepEqual(a.maskedFill(a.ge(3), -1).toArray(), [1, -1, -1]);
  assert.deepEqual(f64([NaN, 1, Infinity], [3]).isfinite().toArray(), [0, 1, 0]);
});

test('reductions over dims match JS loops', () => {
  const [n0, n1, n2] = [3, 4, 5];
  const v = randArray(n0 * n1 * n2, -3, 3);
  const x = f64(v, [n0, n1, n2]);
  const at = (i: number, j: number, k: number) => v[(i * n1 + j) * n2 + k]!;
  // over dim 1, keeping [n0, n2]
  const over1 = (f: (xs: number[]) => number) => {
    const out: number[] = [];
    for (let i = 0; i < n0; i++)
      for (let k = 0; k < n2; k++) out.push(f(Array.from({ length: n1 }, (_, j) => at(i, j, k))));
    return out;
  };
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  assertClose(x.sum(1).toArray(), over1(sum), 1e-13, 'sum');
  assertClose(
    x.mean(1).toArray(),
    over1((xs) => sum(xs) / xs.length),
    1e-13,
    'mean',
  );
  assertClose(
    x.max(1).toArray(),
    over1((xs) => Math.max(...xs)),
    0,
    'amax',
  );
  assertClose(
    x.min(1).toArray(),
    over1((xs) => Math.min(...xs)),
    0,
    'amin',
  );
  assertClose(
    x.argmax(1).toArray(),
    over1((xs) => xs.indexOf(Math.max(...xs))),
    0,
    'argmax',
  );
  const [vals, idx] = x.maxWithIndices(1);
  assertClose(
    vals.toArray(),
    over1((xs) => Math.max(...xs)),
    0,
    'max.dim values',
  );
  assertClose(
    idx.toArray(),
    over1((xs) => xs.indexOf(Math.max(...xs))),
    0,
    'max.dim indices',
  );
  assert.deepEqual(x.sum([0, 2], true).shape, [1, n1, 1]);
  assertClose([x.sum().item()], [sum([...v])], 1e-13, 'sum all');
  assert.equal(x.max().item(), Math.max(...v));
});

test('logsumexp and softmax match a stable JS computation, including huge logits', () => {
  const rows = [
    [1, 2, 3, 4],
    [1000, 1001, 999, -1000], // exp overflows without the max shift
    [-800, -801, -802, -803],
  ];
  const x = f64(rows.flat(), [3, 4]);
  // shifted by the row maximum, as a careful implementation computes it
  const logSoft = (r: number[]) => {
    const m = Math.max(...r);
    const logSum = Math.log(r.reduce((s, a) => s + Math.exp(a - m), 0));
    return r.map((a) => a - m - logSum);
  };
  const lse = (r: number[]) =>
    Math.max(...r) + Math.log(r.reduce((s, a) => s + Math.exp(a - Math.max(...r)), 0));
  assertClose(x.logsumexp(1).toArray(), rows.map(lse), 1e-14, 'logsumexp');
  assertClose(x.softmax(1).toArray(), rows.flatMap(logSoft).map(Math.exp), 1e-14, 'softmax');
  assertClose(x.logSoftmax(1).toArray(), rows.flatMap(logSoft), 1e-14, 'logSoftmax');
});

test('matmul and bmm match a triple loop', () => {
  const [b, m, k, n] = [2, 3, 4, 5];
  const av = randArray(b * m * k);
  const bv = randArray(b * k * n);
  const expected: number[] = [];
  for (let p = 0; p < b; p++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += av[(p * m + i) * k + q]! * bv[(p * k + q) * n + j]!;
        expected.push(s);
      }
  const A = f64(av, [b, m, k]);
  const B = f64(bv, [b, k, n]);
  assertClose(A.bmm(B).toArray(), expected, 1e-13, 'bmm');
  assertClose(A.matmul(B).toArray(), expected, 1e-13, 'matmul');
  assertClose(E.einsum('bik,bkj->bij', A, B).toArray(), expected, 1e-13, 'einsum');
});

test('shape ops: reshape, permute, transpose, narrow, split, flip, indexSelect, gather', () => {
  const x = f64([0, 1, 2, 3, 4, 5], [2, 3]);
  assert.deepEqual(x.transpose(0, 1).contiguous().toArray(), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(x.permute(1, 0).shape, [3, 2]);
  assert.deepEqual(x.reshape(3, 2).toArray(), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(x.reshape(-1).shape, [6]);
  assert.deepEqual(x.unsqueeze(0).shape, [1, 2, 3]);
  assert.deepEqual(x.unsqueeze(2).squeeze(2).shape, [2, 3]);
  assert.deepEqual(x.narrow(1, 1, 2).toArray(), [1, 2, 4, 5]);
  assert.deepEqual(
    x.split(2, 1).map((t) => t.toArray()),
    [
      [0, 1, 3, 4],
      [2, 5],
    ],
  );
  assert.deepEqual(x.flip(1).toArray(), [2, 1, 0, 5, 4, 3]);
  assert.deepEqual(x.indexSelect(1, E.tensor([2, 0], [2], { dtype: 'int64' })).toArray(), [2, 0, 5, 3]);
  assert.deepEqual(x.gather(1, E.tensor([2, 2, 0, 1], [2, 2], { dtype: 'int64' })).toArray(), [2, 2, 3, 4]);
  assert.deepEqual(x.expand(2, 2, 3).shape, [2, 2, 3]);
  assert.deepEqual(x.flatten().shape, [6]);
});
