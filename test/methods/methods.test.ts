import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, manualSeed, noGrad, scope, setNumThreads } from '../../src/engine/index.ts';
import { createMethod, METHOD_NAMES } from '../../src/methods/registry.ts';
import type { Method, StepContext } from '../../src/methods/method.ts';
import { ConfigError } from '../../src/errors.ts';
import { consistencyLoss } from '../../src/levelset/losses.ts';
import { unconditionalProbability } from '../../src/hierarchy/marginals.ts';
import { fixedBatch, segmentationNetContext, standInContext } from './stand-in.ts';
import { EXPECTED_TERMS, expectedTermNames } from './expected-terms.ts';

// tiny tensors: a second intra-op thread only adds contention when test files run side by side
setNumThreads(1);

const OPTIONS: Record<string, unknown> = {
  // fewer teacher passes keep the test fast; the ramps are shortened so every term counts
  'ua-mt': { passes: 2, consistencyRampup: 0 },
  'mean-teacher': { consistencyRampup: 0 },
  cct: { consistencyRampup: 0 },
  dtc: { consistencyRampup: 0 },
  // mu at its final value from the first step, and fewer sampler steps
  'generic-ssl': { muRampup: false, samplingSteps: 3 },
};

/** generic-ssl needs a network with f_PW (its D_theta); the others train on the stand-in */
const context = (name: string) => (name === 'generic-ssl' ? segmentationNetContext() : standInContext());

function train(method: Method, stage: 1 | 2, steps: number): Record<string, number>[] {
  const batch = fixedBatch(2, 2);
  const opt = new Adam(
    Object.values(method.modules).flatMap((m) => m.parameters()),
    { lr: 0.01 },
  );
  const history: Record<string, number>[] = [];
  for (let i = 0; i < steps; i++) {
    const ctx: StepContext = { iteration: 100 + i, maxIterations: 120, epoch: 0, stage };
    scope(() => {
      manualSeed(7); // the same random perturbations each step: a fixed objective
      opt.zeroGrad();
      const terms = method.step(batch, ctx);
      terms.total.backward();
      opt.step();
      method.afterStep?.(ctx);
      history.push(Object.fromEntries(Object.entries(terms).map(([k, v]) => [k, v.item()])));
    });
  }
  return history;
}

for (const name of METHOD_NAMES) {
  test(`${name}: a step returns finite named losses and the total decreases on a fixed batch`, () => {
    manualSeed(1);
    const method = createMethod(name, context(name), OPTIONS[name] ?? {});
    assert.equal(method.name, name);
    const stages: (1 | 2)[] = method.twoStage ? [1, 2] : [1];
    assert.equal(method.twoStage, EXPECTED_TERMS[name]?.stage2 !== undefined, `${name}: stages`);
    for (const stage of stages) {
      const h = train(method, stage, 12);
      for (const r of h)
        assert.deepEqual(Object.keys(r).sort(), expectedTermNames(name, stage), `${name} stage ${stage}`);
      for (const r of h)
        for (const [k, v] of Object.entries(r)) assert.ok(Number.isFinite(v), `${name} ${k} = ${v}`);
      assert.ok(
        h.at(-1)!.total! < h[0]!.total!,
        `${name} stage ${stage}: ${h[0]!.total} -> ${h.at(-1)!.total}`,
      );
    }
    // validation loss, prediction: finite, and decoding gives label values of the tree
    const batch = fixedBatch(2, 0);
    const v = method.validationLoss(batch, { iteration: 0, maxIterations: 1, epoch: 0, stage: 1 }).item();
    assert.ok(Number.isFinite(v));
    const labels = noGrad(() => method.decode(method.predictor.forward(batch.image).logits));
    assert.deepEqual(labels.shape, [2, 16, 16]);
    assert.ok(labels.toArray().every((x) => x >= 0 && x <= 6));
  });
}

test('with no unlabelled slices, sshcps = seg-ls + alpha * (its consistency term on labelled pixels)', () => {
  const batch = fixedBatch(3, 0);
  for (const stage of [1, 2] as const) {
    const ctx: StepContext = { iteration: 30, maxIterations: 100, epoch: 0, stage };
    manualSeed(5);
    const full = createMethod('sshcps', standInContext(), { schedule: { convention: 'sshcps', alpha: 0.7 } });
    manualSeed(5);
    const ablation = createMethod('seg-ls', standInContext());
    const a = full.step(batch, ctx);
    const b = ablation.step(batch, ctx);
    const out = full.predictor.forward(batch.image);
    const lc = consistencyLoss(
      unconditionalProbability(out.logits, standInContext().tree),
      out.levelSet!,
    ).item();
    assert.ok(Math.abs(a.consistency!.item() - lc) < 1e-7);
    assert.ok(
      Math.abs(a.total.item() - (b.total.item() + 0.7 * lc)) < 1e-5,
      `${a.total.item()} vs ${b.total.item()} + 0.7 * ${lc}`,
    );
    for (const k of ['cp', 'ls', stage === 1 ? 'cond' : 'up'])
      assert.ok(Math.abs(a[k]!.item() - b[k]!.item()) < 1e-7, k);
  }
});

test('the registry rejects unknown methods and bad options by name', () => {
  assert.throws(
    () => createMethod('nope', standInContext()),
    (e: Error) => e instanceof ConfigError && /unknown method "nope"/.test(e.message),
  );
  assert.throws(
    () => createMethod('sshcps', standInContext(), { transformK: -1 }),
    /method\.options\.transformK/,
  );
  assert.throws(() => createMethod('dtc', standInContext(), { typo: 1 }), ConfigError);
});
