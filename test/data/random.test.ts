import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussian, hashSeed, mulberry32, shuffle } from '../../src/data/random.ts';

test('mulberry32 repeats from its seed and differs between seeds', () => {
  const a = mulberry32(7);
  const b = mulberry32(7);
  const c = mulberry32(8);
  const xa = Array.from({ length: 5 }, a);
  assert.deepEqual(xa, Array.from({ length: 5 }, b));
  assert.notDeepEqual(xa, Array.from({ length: 5 }, c));
  for (const x of xa) assert.ok(x >= 0 && x < 1);
});

test('uniform mean and gaussian moments are right', () => {
  const rng = mulberry32(1);
  const n = 200_000;
  let s = 0;
  for (let i = 0; i < n; i++) s += rng();
  assert.ok(Math.abs(s / n - 0.5) < 0.005);
  let m = 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const g = gaussian(rng);
    m += g;
    v += g * g;
  }
  assert.ok(Math.abs(m / n) < 0.01);
  assert.ok(Math.abs(v / n - 1) < 0.02);
});

test('hashSeed separates nearby inputs; shuffle is a permutation', () => {
  assert.notEqual(hashSeed(1, 2), hashSeed(2, 1));
  assert.equal(hashSeed(3, 4), hashSeed(3, 4));
  const p = shuffle([...Array(50).keys()], mulberry32(3));
  assert.deepEqual(
    [...p].sort((x, y) => x - y),
    [...Array(50).keys()],
  );
  assert.notDeepEqual(p, [...Array(50).keys()]);
});
