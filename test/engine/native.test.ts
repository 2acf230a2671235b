// The binding: libtorch errors become JavaScript Errors naming the op and the shapes (never an abort),
// misuse is caught, and handles cost nothing once disposed, even in a loop that never yields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as E from '../../src/engine/index.ts';
import { native } from '../../src/engine/native.ts';

const live = () => E.memoryStats().liveHandles;

test('a shape mismatch raises an Error naming the op and both shapes', () => {
  const a = E.ones([2, 3]);
  const b = E.ones([4, 5]);
  assert.throws(
    () => a.matmul(b),
    (e: unknown) =>
      e instanceof Error &&
      e.message.includes('aten::matmul') &&
      e.message.includes('[2, 3]') &&
      e.message.includes('[4, 5]') &&
      /cannot be multiplied/.test(e.message) &&
      !e.message.includes('frame #'), // no C++ backtrace
  );
  assert.throws(
    () => a.add(b),
    /aten::add\.Tensor\(self=Tensor\[2, 3\] Float, other=Tensor\[4, 5\] Float.*size of tensor a \(3\) must match/,
  );
  assert.throws(() => a.bmm(b), /aten::bmm.*batch1 must be a 3D tensor/);
});

test('conv2d with the wrong number of input channels names the op, the shapes and the channels', () => {
  assert.throws(
    () => E.conv2d(E.ones([1, 3, 8, 8]), E.ones([4, 2, 3, 3])),
    (e: unknown) =>
      e instanceof Error &&
      e.message.includes('aten::conv2d') &&
      e.message.includes('[1, 3, 8, 8]') &&
      e.message.includes('[4, 2, 3, 3]') &&
      /expected input\[1, 3, 8, 8\] to have 2 channels, but got 3/.test(e.message),
  );
  const conv = new E.nn.Conv2d(2, 4, 3);
  assert.throws(() => conv.forward(E.ones([1, 5, 6, 6])), /aten::conv2d.*to have 2 channels, but got 5/);
});

test('wrong dtypes, out-of-range indices and bad arguments are Errors too', () => {
  const x = E.ones([3, 4]);
  assert.throws(() => x.indexSelect(0, E.tensor([0.5], [1])), /aten::index_select.*Float/s);
  assert.throws(
    () => x.gather(1, E.tensor([7, 0, 0], [3, 1], { dtype: 'int64' })),
    /aten::gather.*out of bounds/s,
  );
  assert.throws(
    () => x.indexSelect(0, E.tensor([9], [1], { dtype: 'int64' })),
    /aten::index_select.*out of range/s,
  );
  assert.throws(
    () => E.crossEntropy(E.ones([2, 3]), E.tensor([0, 5], [2], { dtype: 'int64' })),
    /out of bounds|Target 5/,
  );
  assert.throws(() => x.item(), /item: a Tensor with 12 elements cannot be converted/);
  assert.throws(() => x.reshape(5, 5), /aten::reshape.*invalid for input of size 12/);
  assert.throws(() => E.call('aten::no_such_op'), /unknown operator aten::no_such_op/);
  assert.throws(
    () => E.call('aten::add.Tensor', x, 'x' as unknown as number),
    /aten::add\.Tensor: expected a tensor/,
  );
  assert.throws(() => E.call('aten::add.Tensor', x), /missing argument 'other'/);
  assert.throws(() => E.call('aten::add.Tensor', x, null), /argument 'other' cannot be null/);
  assert.throws(() => E.call('aten::sum.dim_IntList', x, ['a'] as unknown as number[], false, null), Error);
  const y = x.requiresGrad_().mul(2);
  assert.throws(() => y.backward(), /backward: grad can be implicitly created only for scalar outputs/);
  assert.throws(() => E.zeros([2]).backward(), /does not require grad/);
});

test('use after dispose raises; dispose twice is harmless', () => {
  const t = E.ones([2]);
  const other = E.ones([2]);
  t.dispose();
  t.dispose();
  assert.ok(t.isDisposed);
  assert.throws(() => t.add(1), /tensor used after dispose\(\)/);
  assert.throws(() => t.shape, /tensor used after dispose\(\)/);
  assert.throws(() => other.add(t), /tensor used after dispose\(\)/);
  assert.equal(String(t), 'Tensor(disposed)');
  // the raw binding checks too (the JS wrapper is not the only guard)
  const h = native.opCall(E.opId('aten::neg'), other.handle) as Parameters<typeof native.dispose>[0];
  native.dispose(h);
  assert.throws(() => native.opCall(E.opId('aten::neg'), h), /aten::neg: tensor used after dispose\(\)/);
  assert.throws(() => native.shape({} as Parameters<typeof native.shape>[0]), /expected a tensor/);
});

// A full garbage collection on demand, so the finalizer tests do not depend on when V8 collects.
v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('after many errors the engine still works and failed calls leak no handles', () => {
  // earlier tests' unreferenced tensors would otherwise be finalized whenever V8 next collects,
  // perhaps in the middle of this count
  gc();
  const base = live();
  E.scope(() => {
    const a = E.ones([2, 3]);
    const b = E.ones([4, 5]);
    for (let i = 0; i < 20; i++) assert.throws(() => a.matmul(b));
    assert.deepEqual(a.matmul(E.ones([3, 1])).toArray(), [3, 3]);
    assert.equal(live(), base + 4); // a, b, the ones and the product: nothing from the failed calls
  });
  assert.equal(live(), base);
});

test('disposed handles leave nothing behind in a loop that never yields to the event loop', () => {
  const x = E.ones([1]);
  const loop = (n: number) => {
    for (let i = 0; i < n; i++) x.add(x).dispose();
  };
  loop(100_000); // warm-up: V8 and malloc reach their working sizes
  gc();
  // RSS is noisy (allocator arenas, V8 heap growth): a leak grows it on every round, noise does not,
  // so the smallest growth of three rounds is the figure
  const growths = [0, 1, 2].map(() => {
    const before = process.memoryUsage().rss;
    loop(100_000);
    gc();
    return (process.memoryUsage().rss - before) / 2 ** 20;
  });
  const growth = Math.min(...growths);
  // with finalizers queued until the event loop turns, this grew ~19 MB (~190 bytes a handle) a round
  assert.ok(
    growth < 8,
    `RSS grew ${growths.map((g) => g.toFixed(1)).join(', ')} MB over 100,000 disposed handles`,
  );
});

test('undisposed handles are freed by garbage collection inside a synchronous loop (the safety net)', () => {
  const x = E.ones([1]);
  const base = live();
  for (let i = 0; i < 20_000; i++) native.opCall(E.opId('aten::add.Tensor'), x.handle, x.handle, 1); // never disposed
  gc(); // finalizers run during the collection, not later on the event loop
  const left = live() - base;
  assert.ok(left < 100, `${left} of 20,000 dropped handles still alive after a collection`);
});
