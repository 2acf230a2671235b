/** EMA-VL plateau signals (src/train/plateau.ts): smoothing, best epoch, lr halving, stopping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPlateau, updatePlateau, type PlateauState } from '../../src/train/plateau.ts';

test('EMA-VL: the first loss starts the average, then ema = decay * ema + (1 - decay) * loss', () => {
  const o = { emaDecay: 0.5, lrPatience: 10, stopPatience: 10 };
  const a = updatePlateau(initialPlateau(), 4, 1, o);
  assert.deepEqual([a.ema, a.improved, a.state.best, a.state.bestEpoch], [4, true, 4, 1]);
  const b = updatePlateau(a.state, 2, 2, o);
  assert.deepEqual([b.ema, b.improved, b.state.best, b.state.bestEpoch], [3, true, 3, 2]);
  // ema 3 again: equal is not better
  const c = updatePlateau(b.state, 3, 3, o);
  assert.deepEqual([c.ema, c.improved, c.state.best, c.state.bestEpoch], [3, false, 3, 2]);
  assert.deepEqual([c.state.sinceBest, c.state.sinceLrChange], [1, 1]);
  // pure: the state passed in is not changed
  assert.deepEqual(b.state, { ema: 3, best: 3, bestEpoch: 2, sinceBest: 0, sinceLrChange: 0 });
});

test('the lr halves every lrPatience epochs without improvement; an improvement resets; stop after stopPatience', () => {
  const o = { emaDecay: 0, lrPatience: 2, stopPatience: 5 }; // decay 0: ema = loss
  const losses = [1, 2, 2, 2, 2, 0.5, 1, 1, 1, 1, 1];
  let s: PlateauState = initialPlateau();
  const rows: [number, boolean, boolean, boolean][] = [];
  losses.forEach((loss, i) => {
    const u = updatePlateau(s, loss, i + 1, o);
    rows.push([i + 1, u.improved, u.halveLr, u.stop]);
    s = u.state;
  });
  assert.deepEqual(rows, [
    [1, true, false, false],
    [2, false, false, false],
    [3, false, true, false],
    [4, false, false, false],
    [5, false, true, false],
    [6, true, false, false],
    [7, false, false, false],
    [8, false, true, false],
    [9, false, false, false],
    [10, false, true, false],
    [11, false, false, true],
  ]);
  assert.deepEqual([s.best, s.bestEpoch, s.sinceBest], [0.5, 6, 5]);
});

test('a non-finite loss is never an improvement', () => {
  const o = { emaDecay: 0.9, lrPatience: 3, stopPatience: 3 };
  const a = updatePlateau(initialPlateau(), 1, 1, o);
  const b = updatePlateau(a.state, NaN, 2, o);
  assert.equal(b.improved, false);
  assert.equal(b.state.best, 1);
  assert.equal(b.state.sinceBest, 1);
});
