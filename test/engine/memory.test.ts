// A training loop runs in constant memory: 10,000 steps of a small conv net, each inside scope(),
// keep resident memory flat and release every handle (ARCHITECTURE.md, memory discipline).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';

const { Conv2d, BatchNorm2d } = E.nn;

/** conv -> batch norm -> relu -> pool -> transposed conv -> skip concat -> 1x1 conv: the kinds of op a U-Net uses. */
class TinyNet extends E.Layer {
  readonly c1 = this.module('c1', new Conv2d(1, 4, 3, { padding: 1 }));
  readonly bn = this.module('bn', new BatchNorm2d(4));
  readonly up = this.module('up', new E.nn.ConvTranspose2d(4, 2, 2, { stride: 2 }));
  readonly head = this.module('head', new Conv2d(6, 2, 1));
  forward(x: E.Tensor): E.Tensor {
    const a = this.bn.forward(this.c1.forward(x)).relu();
    const b = this.up.forward(E.maxPool2d(a, 2));
    return this.head.forward(E.cat([a, b], 1));
  }
}

test('10,000 training steps in scopes: RSS grows < 50 MB after warm-up, live handles return to baseline', (t) => {
  // One thread: this test is about memory, and on a busy machine (tests run two at a time) a second
  // OpenMP thread makes tiny convolutions many times slower while it waits for a core.
  const threads = E.getNumThreads();
  E.setNumThreads(1);
  E.manualSeed(0);
  const x = E.randn([2, 1, 8, 8]).keep();
  const target = E.randint(0, 2, [2, 8, 8]).keep();
  const net = new TinyNet();
  const opt = new E.Adam(net.parameters(), { lr: 1e-3 });
  const baseline = E.memoryStats().liveHandles;

  const step = () =>
    E.scope(() => {
      opt.zeroGrad();
      const logits = net.forward(x);
      const loss = E.crossEntropy(logits, target).add(
        E.bceWithLogits(logits.narrow(1, 0, 1), target.unsqueeze(1).float()),
      );
      loss.backward();
      opt.step();
      return loss.item();
    });

  const first = step();
  for (let i = 0; i < 300; i++) step(); // warm-up: allocator cache, optimizer state, V8 heap
  const rssWarm = process.memoryUsage().rss;
  assert.equal(E.memoryStats().liveHandles, baseline);
  let last = first;
  const t0 = performance.now();
  for (let i = 0; i < 10_000; i++) last = step();
  const ms = (performance.now() - t0) / 10_000;
  const growth = (process.memoryUsage().rss - rssWarm) / 2 ** 20;
  t.diagnostic(`RSS growth ${growth.toFixed(1)} MB over 10,000 steps, ${ms.toFixed(2)} ms per step`);
  assert.ok(growth < 50, `resident memory grew ${growth.toFixed(1)} MB over 10,000 steps`);
  assert.equal(E.memoryStats().liveHandles, baseline, 'every handle a step created was released');
  assert.ok(last < first, `training made progress (loss ${first} -> ${last})`);
  E.setNumThreads(threads);
});
