import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SemiSupervisedSampler } from '../../src/data/sampler.ts';
import { ConfigError } from '../../src/errors.ts';

test('batches hold the requested mix; an epoch visits every labelled item once', () => {
  const s = new SemiSupervisedSampler({ labelled: 10, unlabelled: 7, seed: 1 });
  assert.equal(s.stepsPerEpoch, 5);
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const b = s.next();
    assert.equal(b.labelled.length, 2);
    assert.equal(b.unlabelled.length, 2);
    assert.equal(b.epoch, 0);
    assert.equal(b.epochEnd, i === 4);
    for (const u of b.unlabelled) assert.ok(u >= 0 && u < 7);
    seen.push(...b.labelled);
  }
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    [...Array(10).keys()],
  );
  assert.equal(s.next().epoch, 1);
});

test('each stream is reshuffled per pass and covers its items every pass', () => {
  const s = new SemiSupervisedSampler({
    labelled: 6,
    unlabelled: 5,
    seed: 4,
    batchLabelled: 3,
    batchUnlabelled: 1,
  });
  const lab: number[] = [];
  const unl: number[] = [];
  for (let i = 0; i < 10; i++) {
    const b = s.next();
    lab.push(...b.labelled);
    unl.push(...b.unlabelled);
  }
  const passes = (xs: number[], n: number) =>
    Array.from({ length: Math.floor(xs.length / n) }, (_, p) => xs.slice(p * n, (p + 1) * n));
  const lp = passes(lab, 6);
  for (const p of lp) assert.deepEqual([...p].sort(), [...Array(6).keys()]);
  assert.ok(
    lp.some((p) => p.join() !== lp[0]!.join()),
    'order changes between passes',
  );
  for (const p of passes(unl, 5)) assert.deepEqual([...p].sort(), [...Array(5).keys()]);
});

test('state round-trips through JSON and resumes with the same batches; seeds differ', () => {
  const a = new SemiSupervisedSampler({ labelled: 9, unlabelled: 13, seed: 7 });
  for (let i = 0; i < 11; i++) a.next();
  const state = JSON.parse(JSON.stringify(a.state()));
  assert.equal(state.step, 11);
  assert.equal(state.epoch, 2);
  assert.equal(state.position, 1);
  const b = SemiSupervisedSampler.fromState(state);
  for (let i = 0; i < 20; i++) assert.deepEqual(b.next(), a.next());
  const c = new SemiSupervisedSampler({ labelled: 9, unlabelled: 13, seed: 8 });
  const d = new SemiSupervisedSampler({ labelled: 9, unlabelled: 13, seed: 7 });
  assert.notDeepEqual([c.next(), c.next()], [d.next(), d.next()]);
});

test('supervised batches, epochs by the unlabelled stream, and bad configs', () => {
  const s = new SemiSupervisedSampler({ labelled: 4, unlabelled: 0, batchUnlabelled: 0, seed: 1 });
  assert.deepEqual(s.next().unlabelled, []);
  const u = new SemiSupervisedSampler({ labelled: 4, unlabelled: 20, seed: 1, epochBy: 'unlabelled' });
  assert.equal(u.stepsPerEpoch, 10);
  assert.throws(() => new SemiSupervisedSampler({ labelled: 0, unlabelled: 3, seed: 1 }), ConfigError);
  assert.throws(() => new SemiSupervisedSampler({ labelled: 3, unlabelled: 0, seed: 1 }), ConfigError);
});
