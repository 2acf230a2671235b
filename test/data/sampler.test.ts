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

/** 100 labelled items: structure 0 in items 0..59, structure 1 in 40..99, structure 2 only in item 7. */
const slicesByStructure = [
  Array.from({ length: 60 }, (_, i) => i),
  Array.from({ length: 60 }, (_, i) => 40 + i),
  [7],
];

test('foreground share 0 draws exactly the plain batches', () => {
  const plain = new SemiSupervisedSampler({ labelled: 100, unlabelled: 30, seed: 3, batchLabelled: 3 });
  const zero = new SemiSupervisedSampler({
    labelled: 100,
    unlabelled: 30,
    seed: 3,
    batchLabelled: 3,
    foreground: { share: 0, slicesByStructure },
  });
  for (let i = 0; i < 200; i++) {
    const a = plain.next();
    const b = zero.next();
    assert.deepEqual(b, a);
    assert.deepEqual(b.foreground, [null, null, null]);
  }
});

test('foreground draws make up exactly the share, hold their structure, and spare the uniform stream', () => {
  for (const [share, L] of [
    [0.33, 2],
    [0.5, 3],
    [1 / 3, 1],
    [1, 2],
  ] as const) {
    const s = new SemiSupervisedSampler({
      labelled: 100,
      unlabelled: 0,
      batchUnlabelled: 0,
      seed: 11,
      batchLabelled: L,
      foreground: { share, slicesByStructure },
    });
    const steps = 3000;
    let fg = 0;
    const uniform: number[] = [];
    for (let i = 0; i < steps; i++) {
      const b = s.next();
      b.labelled.forEach((item, j) => {
        const t = b.foreground[j]!;
        if (t === null) uniform.push(item);
        else {
          fg++;
          assert.ok(slicesByStructure[t]!.includes(item), `item ${item} does not hold structure ${t}`);
        }
      });
    }
    assert.equal(fg, Math.floor(steps * L * share), `share ${share}, L ${L}`);
    // the uniform draws still cover every item once per pass
    for (let p = 0; p + 100 <= uniform.length; p += 100)
      assert.deepEqual(
        uniform.slice(p, p + 100).sort((a, b) => a - b),
        [...Array(100).keys()],
      );
  }
  // L = 2, share 0.33: 1 foreground slot in about a third of the batches, not one in every batch
  const s = new SemiSupervisedSampler({
    labelled: 100,
    unlabelled: 0,
    batchUnlabelled: 0,
    seed: 1,
    foreground: { share: 0.33, slicesByStructure },
  });
  const perBatch = Array.from({ length: 300 }, () => s.next().foreground.filter((t) => t !== null).length);
  assert.ok(perBatch.every((n) => n <= 1));
  assert.equal(
    perBatch.reduce((a, b) => a + b, 0),
    198,
  );
});

test('foreground structures are chosen uniformly, however rare', () => {
  const s = new SemiSupervisedSampler({
    labelled: 100,
    unlabelled: 0,
    batchUnlabelled: 0,
    seed: 5,
    foreground: { share: 1, slicesByStructure },
  });
  const counts = [0, 0, 0];
  let item7 = 0;
  for (let i = 0; i < 6000; i++) {
    const b = s.next();
    for (const t of b.foreground) counts[t!]!++;
    item7 += b.labelled.filter((item) => item === 7).length;
  }
  // 12000 draws, 4000 expected each; 4 standard deviations is about 200
  for (const c of counts) assert.ok(Math.abs(c - 4000) < 250, `structure counts ${counts}`);
  // the only item of the rare structure is drawn about 1/3 of the time (plus its share from structure 0)
  assert.ok(item7 > 3800, `item 7 drawn ${item7} times`);
  // an empty structure is skipped, not drawn
  const skip = new SemiSupervisedSampler({
    labelled: 100,
    unlabelled: 0,
    batchUnlabelled: 0,
    seed: 5,
    foreground: { share: 1, slicesByStructure: [[], [3], []] },
  });
  for (let i = 0; i < 50; i++) {
    const b = skip.next();
    assert.deepEqual(b.labelled, [3, 3]);
    assert.deepEqual(b.foreground, [1, 1]);
  }
});

test('foreground batches are a function of (seed, step): a restarted sampler draws the same', () => {
  const config = {
    labelled: 100,
    unlabelled: 17,
    seed: 9,
    batchLabelled: 3,
    foreground: { share: 0.33, slicesByStructure },
  };
  const a = new SemiSupervisedSampler(config);
  const head = Array.from({ length: 37 }, () => a.next());
  const state = JSON.parse(JSON.stringify(a.state()));
  const b = SemiSupervisedSampler.fromState(state);
  const c = new SemiSupervisedSampler(config, 37);
  for (let i = 0; i < 100; i++) {
    const x = a.next();
    assert.deepEqual(b.next(), x);
    assert.deepEqual(c.next(), x);
  }
  const d = new SemiSupervisedSampler(config, 20);
  assert.deepEqual(d.next(), head[20]);
  const other = new SemiSupervisedSampler({ ...config, seed: 10 });
  assert.notDeepEqual(
    Array.from({ length: 20 }, () => other.next().labelled),
    head.slice(0, 20).map((h) => h.labelled),
  );
});

test('bad foreground options are config errors naming the key', () => {
  const base = { labelled: 10, unlabelled: 0, batchUnlabelled: 0, seed: 1 };
  const key = (k: string) => (e: unknown) => e instanceof ConfigError && e.key === k;
  assert.throws(
    () => new SemiSupervisedSampler({ ...base, foreground: { share: 1.5, slicesByStructure: [[1]] } }),
    key('foreground.share'),
  );
  assert.throws(
    () => new SemiSupervisedSampler({ ...base, foreground: { share: 0.3, slicesByStructure: [[10]] } }),
    key('foreground.slicesByStructure'),
  );
  assert.throws(
    () => new SemiSupervisedSampler({ ...base, foreground: { share: 0.3, slicesByStructure: [[], []] } }),
    key('foreground'),
  );
  // share 0 needs no structure at all
  new SemiSupervisedSampler({ ...base, foreground: { share: 0, slicesByStructure: [] } });
});
