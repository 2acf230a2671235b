// scope(): what a scope creates is released when it ends, except what it returns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';

const live = () => E.memoryStats().liveHandles;

test('tensors created inside are disposed; the returned one survives', () => {
  const base = live();
  const outside = E.ones([3]);
  let inner: E.Tensor[] = [];
  const result = E.scope(() => {
    const a = E.ones([3]);
    const b = a.mul(2);
    const c = b.add(outside);
    inner = [a, b];
    return c;
  });
  assert.ok(inner.every((t) => t.isDisposed));
  assert.ok(!result.isDisposed && !outside.isDisposed);
  assert.deepEqual(result.toArray(), [3, 3, 3]);
  assert.equal(live(), base + 2);
  result.dispose();
  outside.dispose();
  assert.equal(live(), base);
});

test('nested scopes hand returned tensors to the enclosing scope', () => {
  const base = live();
  let fromInner: E.Tensor | null = null;
  let dropped: E.Tensor | null = null;
  const kept = E.scope(() => {
    fromInner = E.scope(() => {
      dropped = E.zeros([1]);
      return E.ones([1]);
    });
    assert.ok(dropped!.isDisposed, 'inner temporaries go when the inner scope ends');
    assert.ok(!fromInner.isDisposed, 'the inner result lives on in the outer scope');
    return E.full([1], 5);
  });
  assert.ok(fromInner!.isDisposed, 'the outer scope released the inner result it did not return');
  assert.equal(kept.item(), 5);
  kept.dispose();
  assert.equal(live(), base);
});

test('arrays, plain objects and maps of tensors are kept whole', () => {
  const base = live();
  const r = E.scope(() => {
    const tmp = E.ones([2]);
    return {
      list: [tmp.add(1), tmp.add(2)],
      nested: { deep: [{ t: tmp.mul(3) }] },
      map: new Map([['m', tmp.sub(1)]]),
      n: 4,
    };
  });
  assert.deepEqual(r.list[0]!.toArray(), [2, 2]);
  assert.deepEqual(r.nested.deep[0]!.t.toArray(), [3, 3]);
  assert.deepEqual(r.map.get('m')!.toArray(), [0, 0]);
  assert.equal(live(), base + 4, 'the temporary `tmp` was released');
  for (const t of [...r.list, r.nested.deep[0]!.t, r.map.get('m')!]) t.dispose();
  assert.equal(live(), base);
});

test('an exception inside releases everything the scope created, at every level', () => {
  const base = live();
  const made: E.Tensor[] = [];
  assert.throws(
    () =>
      E.scope(() => {
        made.push(E.ones([4]));
        E.scope(() => {
          made.push(E.ones([5]));
          made.push(E.ones([2, 3]).matmul(E.ones([4, 5]))); // throws inside libtorch
        });
      }),
    /aten::matmul/,
  );
  assert.ok(made.every((t) => t.isDisposed));
  assert.equal(live(), base);
  // and the scope stack is intact: a new scope still works and nothing leaks into it
  const t = E.scope(() => E.ones([1]).add(1));
  assert.equal(t.item(), 2);
  t.dispose();
  assert.equal(live(), base);
});

test('keep() takes a tensor out of the scope; gradients read inside a scope are released', () => {
  const base = live();
  const w = E.ones([3], { dtype: 'float64' }).keep().requiresGrad_();
  E.scope(() => {
    w.mul(w).sum().backward();
    const g = w.grad!; // a new handle on the gradient, owned by this scope
    assert.deepEqual(g.toArray(), [2, 2, 2]);
  });
  assert.ok(!w.isDisposed);
  assert.equal(live(), base + 1);
  const g = w.grad!; // outside any scope: owned by the caller
  assert.deepEqual(g.toArray(), [2, 2, 2], 'the gradient itself is still on w');
  g.dispose();
  w.dispose();
  assert.equal(live(), base);
});

test('async functions are refused (their tensors would outlive the scope)', () => {
  const base = live();
  assert.throws(
    () =>
      E.scope(() => {
        E.ones([1]);
        return Promise.resolve(1);
      }),
    /must be synchronous/,
  );
  assert.equal(live(), base);
});

const MiB = 2 ** 20;

/** Full garbage collections V8 runs during `fn`. */
async function majorCollections(fn: () => void): Promise<number> {
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  let major = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (
        (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR
      )
        major++;
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 50)); // entries arrive asynchronously
  obs.disconnect();
  return major;
}

test('scoped work does not make V8 collect garbage; tensors that outlive every scope still weigh', async () => {
  // each iteration makes 64 MiB tensors (and views of them); V8 is told about native memory only
  // for tensors that outlive every scope, so that they still count if never disposed
  const work = () => {
    const a = E.zeros([16 * MiB]);
    return [a.view(4, 4 * MiB).add(1), a.mul(2)];
  };
  const inScopes = await majorCollections(() => {
    for (let i = 0; i < 40; i++) E.scope(() => E.scope(work)[0]!.sum().item());
  });
  const returned = await majorCollections(() => {
    for (let i = 0; i < 40; i++) for (const t of E.scope(work)) t.dispose();
  });
  const kept = await majorCollections(() => {
    for (let i = 0; i < 40; i++) for (const t of E.scope(() => work().map((t) => t.keep()))) t.dispose();
  });
  const outside = await majorCollections(() => {
    for (let i = 0; i < 40; i++) for (const t of work()) t.dispose();
  });
  // reporting every 64 MiB intermediate made V8 run a full collection in most iterations
  assert.ok(inScopes <= 2, `${inScopes} full collections in 40 scoped iterations`);
  for (const [what, n] of Object.entries({ returned, kept, outside }))
    assert.ok(n >= 10, `${what}: ${n} full collections: V8 was not told about the tensors`);
});
