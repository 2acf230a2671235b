import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize, summarizeStructures } from '../../src/eval/aggregate.ts';
import { mulberry32 } from '../../src/data/random.ts';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('summarize: mean and sample sd by hand', () => {
  // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum 32, sample sd sqrt(32/7), population sd 2.
  const v = [2, 4, 4, 4, 5, 5, 7, 9];
  const s = summarize(v);
  assert.equal(s.mean, 5);
  close(s.sd, Math.sqrt(32 / 7));
  assert.deepEqual([s.n, s.n_undefined], [8, 0]);
  assert.equal(summarize(v, { ddof: 0 }).sd, 2);
});

test('summarize: NaN values are left out and counted apart', () => {
  const s = summarize([NaN, 1, NaN, 3]);
  assert.deepEqual(s, { mean: 2, sd: Math.SQRT2, n: 2, n_undefined: 2 });
  const one = summarize([NaN, 0.7]);
  assert.equal(one.mean, 0.7);
  assert.ok(Number.isNaN(one.sd), 'sample sd of one value is undefined');
  assert.equal(summarize([0.7], { ddof: 0 }).sd, 0);
  const none = summarize([NaN, NaN]);
  assert.ok(Number.isNaN(none.mean) && Number.isNaN(none.sd));
  assert.deepEqual([none.n, none.n_undefined], [0, 2]);
  const empty = summarize([]);
  assert.deepEqual([empty.n, empty.n_undefined], [0, 0]);
  assert.throws(() => summarize([1, Infinity]), /infinite/);
});

test('summarize agrees with a float64 brute force on random data, and is stable for large offsets', () => {
  const rand = mulberry32(7);
  const v = Array.from({ length: 101 }, (_, i) => (i % 9 === 0 ? NaN : 1e6 + rand()));
  const defined = v.filter((x) => !Number.isNaN(x));
  const mean = defined.reduce((a, b) => a + b, 0) / defined.length;
  const sd = Math.sqrt(defined.reduce((a, b) => a + (b - mean) ** 2, 0) / (defined.length - 1));
  const s = summarize(v);
  close(s.mean, mean, 1e-9);
  close(s.sd, sd, 1e-9);
  assert.equal(s.n + s.n_undefined, 101);
  assert.equal(s.n_undefined, 12);
});

test('summarizeStructures: per structure and metric; a missing structure counts as undefined', () => {
  const cases = [
    { femur: { dice: 0.9, hd95: 1 }, tibia: { dice: 0.8, hd95: NaN } },
    { femur: { dice: 0.7, hd95: 3 }, tibia: { dice: 0.6, hd95: 2 } },
    { femur: { dice: 0.8 } },
  ];
  const out = summarizeStructures(cases, ['tibia', 'femur'], ['dice', 'hd95']);
  assert.deepEqual(Object.keys(out), ['tibia', 'femur']);
  close(out.femur!.dice.mean, 0.8);
  close(out.femur!.dice.sd, 0.1);
  assert.deepEqual([out.femur!.hd95.mean, out.femur!.hd95.n, out.femur!.hd95.n_undefined], [2, 2, 1]);
  close(out.tibia!.dice.mean, 0.7);
  assert.deepEqual([out.tibia!.dice.n, out.tibia!.dice.n_undefined], [2, 1]);
  assert.deepEqual([out.tibia!.hd95.mean, out.tibia!.hd95.n, out.tibia!.hd95.n_undefined], [2, 1, 2]);
});
