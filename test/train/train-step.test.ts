/**
 * The train_step phase (src/train/step.ts) on a two-layer model: the gradient hook sits between
 * backward and the optimizer step, a non-finite step changes neither weights nor buffers, and the
 * level-set head's group gets its own learning rate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, Module, dropout, nn, ones, type Tensor } from '../../src/engine/index.ts';
import type { SliceBatch } from '../../src/train/batches.ts';
import { trainStep, type StepParts } from '../../src/train/step.ts';
import type { Method } from '../../src/methods/method.ts';

class Tiny extends Module {
  readonly lin = this.module('lin', new nn.Linear(4, 2));
  readonly bn = this.module('bn', new nn.BatchNorm1d(2));
}

const batch: SliceBatch = {
  image: Float32Array.from({ length: 8 }, (_, i) => i / 8 - 0.3),
  label: new Uint8Array(0),
  n: 2,
  numLabelled: 0,
  channels: 1,
  height: 2,
  width: 2,
  spacing: [1, 1],
};
const ctx = { iteration: 0, maxIterations: 10, epoch: 0, stage: 1 as const };
const snapshot = (m: Module) => [...m.stateDict()].map(([k, t]) => [k, [...t.data()]] as const);

/** A step whose loss goes through batch norm (its running statistics change) and is `poison` x its value. */
function parts(model: Tiny, calls: string[], poison = 1): StepParts {
  const optimizer = new Adam([{ params: model.parameters() }], { lr: 0.1 });
  const method: StepParts['method'] = {
    step: (b) => {
      const y = model.bn.forward(model.lin.forward(b.image.reshape(2, 4)));
      const total = y.square().mean().add(y.sum().mul(0.1)).mul(poison);
      return { total };
    },
    afterStep: () => calls.push('afterStep'),
  } satisfies Pick<Method, 'step' | 'afterStep'>;
  return {
    method,
    optimizer: {
      zeroGrad: () => (calls.push('zeroGrad'), optimizer.zeroGrad()),
      step: () => (calls.push('step'), optimizer.step()),
      setLr: (lr, group) => (calls.push(`setLr ${lr} ${group}`), optimizer.setLr(lr, group)),
    },
    parameters: model.parameters(),
    buffers: [...model.namedBuffers()].map(([, b]) => b),
    hooks: {
      afterBackward: (params: readonly Tensor[]) => {
        calls.push('afterBackward');
        assert.ok(params.length === 4 && params.every((p) => p.grad !== null), 'gradients exist');
      },
      decide: (d) => d,
    },
    seed: 1,
    head: null,
  };
}

test('a finite step: backward, then the gradient hook, then the optimizer step, then afterStep', () => {
  const model = new Tiny();
  const calls: string[] = [];
  const p = parts(model, calls);
  const before = snapshot(model);
  let weightsAtHook: ReturnType<typeof snapshot> | null = null;
  const hook = p.hooks.afterBackward;
  p.hooks = { ...p.hooks, afterBackward: (ps) => ((weightsAtHook = snapshot(model)), hook(ps)) };
  const outcome = trainStep(p, batch, ctx);
  assert.deepEqual(calls, ['zeroGrad', 'afterBackward', 'step', 'afterStep']);
  assert.deepEqual(outcome.bad, []);
  assert.ok(Number.isFinite(outcome.values.total));
  // the hook sees this step's gradients before they are applied
  const weights = (s: ReturnType<typeof snapshot>) =>
    s.filter(([k]) => k.endsWith('weight') || k.endsWith('bias'));
  assert.deepEqual(weights(weightsAtHook!), weights(before));
  assert.notDeepEqual(weights(snapshot(model)), weights(before));
});

test('a non-finite step is skipped: no hook, no update, batch-norm statistics put back', () => {
  const model = new Tiny();
  const calls: string[] = [];
  const before = snapshot(model);
  const outcome = trainStep(parts(model, calls, NaN), batch, ctx);
  assert.deepEqual(outcome.bad, ['total']);
  assert.deepEqual(calls, ['zeroGrad']);
  assert.deepEqual(snapshot(model), before, 'weights and running statistics as before the step');
});

test('the level-set head group gets its scheduled lr before the step', () => {
  const calls: string[] = [];
  const p = { ...parts(new Tiny(), calls), head: { group: 0, lr: (i: number) => i / 100 } };
  trainStep(p, batch, { ...ctx, iteration: 7 });
  assert.equal(calls[0], 'setLr 0.07 0');
});

test('a step is seeded by (seed, iteration): the same iteration draws the same numbers', () => {
  const draws: number[] = [];
  const p = parts(new Tiny(), []);
  const seeded: StepParts = {
    ...p,
    method: {
      step: (b, c) => {
        const kept = dropout(ones([64]), 0.5, true).sum();
        draws.push(kept.item());
        return { total: p.method.step(b, c).total.add(kept.mul(0)) };
      },
    },
  };
  for (const iteration of [3, 4, 3]) trainStep(seeded, batch, { ...ctx, iteration });
  assert.equal(draws[0], draws[2]);
  assert.notEqual(draws[0], draws[1]);
});
