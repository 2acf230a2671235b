import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSplit, subjectOf, type Split, type SplitInput } from '../../src/data/splits.ts';
import { ConfigError } from '../../src/errors.ts';

const ids = (n: number, labelled = true, prefix = 'c'): SplitInput[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${String(i).padStart(3, '0')}`, labelled }));

const idsOf = (s: Split) => ({
  train: s.train.map((c) => c.id),
  val: s.validation.map((c) => c.id),
  test: s.test.map((c) => c.id),
});

test('7:2:1 train:test:val from imagesTr when there is no imagesTs; every case exactly once', () => {
  const cases = ids(20);
  const s = makeSplit(cases, [], { seed: 1 });
  assert.equal(s.train.length, 14);
  assert.equal(s.test.length, 4);
  assert.equal(s.validation.length, 2);
  const all = [...s.train, ...s.validation, ...s.test].map((c) => c.id).sort();
  assert.deepEqual(
    all,
    cases.map((c) => c.id),
  );
});

test('deterministic by seed, independent of input order; another seed gives another split', () => {
  const cases = ids(30);
  const a = makeSplit(cases, [], { seed: 7, labelled: 5 });
  const b = makeSplit([...cases].reverse(), [], { seed: 7, labelled: 5 });
  assert.deepEqual(a, b);
  const c = makeSplit(cases, [], { seed: 8, labelled: 5 });
  assert.notDeepEqual(idsOf(a), idsOf(c));
});

test('with imagesTs: test is imagesTs, imagesTr splits 7:1 into train:validation', () => {
  const s = makeSplit(ids(16), ids(3, true, 't'), { seed: 3 });
  assert.deepEqual(
    s.test.map((c) => c.id),
    ['t000', 't001', 't002'],
  );
  assert.equal(s.validation.length, 2);
  assert.equal(s.train.length, 14);
});

test('subject grouping: a subject never straddles splits (checked for many seeds)', () => {
  const cases: SplitInput[] = [];
  for (let i = 0; i < 15; i++)
    for (const side of ['left', 'right']) cases.push({ id: `subj${i}_${side}`, labelled: true });
  for (let seed = 0; seed < 50; seed++) {
    const s = makeSplit(cases, [], { seed, subjectPattern: '^(\\w+?)_' });
    const where = new Map<string, string>();
    for (const [name, list] of [
      ['train', s.train],
      ['val', s.validation],
      ['test', s.test],
    ] as const) {
      for (const c of list) {
        const subj = c.id.split('_')[0]!;
        assert.ok(
          !where.has(subj) || where.get(subj) === name,
          `seed ${seed}: ${subj} in ${where.get(subj)} and ${name}`,
        );
        where.set(subj, name);
      }
    }
    assert.equal(s.test.length % 2, 0);
    assert.equal(s.validation.length % 2, 0);
  }
  assert.equal(subjectOf('subj1_left', /^(\w+?)_/), 'subj1');
  assert.equal(subjectOf('x', /^(\w+?)_/), 'x');
  assert.equal(subjectOf('a_b', undefined), 'a_b');
});

test('labelled N keeps exactly N training labels; unlabelled cases never go to validation or test', () => {
  const cases = [...ids(20), ...ids(10, false, 'u')];
  for (const n of [0, 1, 5, 14]) {
    const s = makeSplit(cases, [], { seed: 11, labelled: n });
    assert.equal(s.train.filter((c) => c.labelled).length, n);
    assert.ok([...s.validation, ...s.test].every((c) => c.labelled && c.id.startsWith('c')));
    assert.equal(s.train.filter((c) => c.id.startsWith('u')).length, 10);
    assert.ok(s.train.filter((c) => c.id.startsWith('u')).every((c) => !c.labelled));
  }
  assert.deepEqual(
    makeSplit(cases, [], { seed: 11, labelled: 5 }),
    makeSplit(cases, [], { seed: 11, labelled: 5 }),
  );
  assert.throws(() => makeSplit(cases, [], { seed: 11, labelled: 15 }), ConfigError);
  assert.throws(() => makeSplit(cases, [], { seed: 11, subjectPattern: '(' }), ConfigError);
});

test('tiny datasets keep one labelled subject for training', () => {
  const s = makeSplit(ids(2), [], { seed: 0 });
  assert.equal(s.train.filter((c) => c.labelled).length, 1);
  assert.equal(s.validation.length + s.test.length, 1);
  const one = makeSplit(ids(1), [], { seed: 0 });
  assert.deepEqual(idsOf(one), { train: ['c000'], val: [], test: [] });
});
