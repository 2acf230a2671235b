import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addLabelOverlaps, dice, diceFromOverlap, type Overlap } from '../../src/image/dice.ts';
import { mulberry32 } from '../../src/data/random.ts';

/** Random label images with values 0..4, in two batches of different sizes. */
function batches(seed: number): { pred: Uint8Array; gt: Uint8Array }[] {
  const rng = mulberry32(seed);
  const make = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng() * 5));
  return [60, 37].map((n) => ({ pred: make(n), gt: make(n) }));
}

const concat = (xs: Uint8Array[]): Uint8Array => Uint8Array.from(xs.flatMap((x) => [...x]));
const maskOf = (xs: Uint8Array, v: number): Uint8Array => xs.map((x) => (x === v ? 1 : 0));

test('addLabelOverlaps pools per-label counts over batches as one binary overlap per label', () => {
  const bs = batches(7);
  const labels = [1, 2, 3, 6]; // 4 is present but not asked for; 6 is absent from both
  const other: Overlap = { pred: 5, gt: 5, both: 5 };
  const into = new Map<number, Overlap>([[9, other]]);
  for (const b of bs) addLabelOverlaps(b.pred, b.gt, labels, into);
  const pred = concat(bs.map((b) => b.pred));
  const gt = concat(bs.map((b) => b.gt));
  for (const v of labels) {
    // brute force: count the two binary masks voxel by voxel
    let p = 0;
    let g = 0;
    let both = 0;
    for (let i = 0; i < pred.length; i++) {
      if (pred[i] === v) p++;
      if (gt[i] === v) g++;
      if (pred[i] === v && gt[i] === v) both++;
    }
    assert.deepEqual(into.get(v), { pred: p, gt: g, both }, `label ${v}`);
    assert.equal(diceFromOverlap(into.get(v)!), dice(maskOf(pred, v), maskOf(gt, v)));
  }
  assert.equal(into.has(4), false);
  assert.deepEqual(into.get(9), { pred: 5, gt: 5, both: 5 });
  assert.equal(diceFromOverlap(into.get(6)!), 1, 'absent from both: Dice 1');
});

test('addLabelOverlaps: a known answer', () => {
  const into = new Map<number, Overlap>();
  addLabelOverlaps([0, 1, 1, 2, 2, 0], [1, 1, 0, 2, 0, 2], [1, 2], into);
  assert.deepEqual(into.get(1), { pred: 2, gt: 2, both: 1 });
  assert.deepEqual(into.get(2), { pred: 2, gt: 2, both: 1 });
  assert.equal(diceFromOverlap(into.get(1)!), 0.5);
});

test('addLabelOverlaps rejects images of different sizes', () => {
  assert.throws(() => addLabelOverlaps([1, 2], [1], [1], new Map()), RangeError);
});
