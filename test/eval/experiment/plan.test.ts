import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ablationRows,
  compareRows,
  labelEfficiencyRows,
  labelledCount,
  runKey,
} from '../../../src/eval/experiment/plan.ts';
import { pairedWilcoxon } from '../../../src/eval/experiment/stats.ts';

test('the tables train what the paper reports', () => {
  const ablation = ablationRows();
  assert.deepEqual(
    ablation.map((r) => `${r.method}@${r.fraction}`),
    [
      'seg-th@0.2',
      'seg-th-up@0.2',
      'seg-ls@0.2',
      'sshcps@0.2',
      'seg-th@1',
      'seg-th-up@1',
      'seg-ls@1',
      'sshcps@1',
    ],
  );
  const compare = compareRows();
  assert.deepEqual(
    compare.map((r) => `${r.method}@${r.fraction}`),
    [
      'supervised@1',
      'supervised@0.2',
      'dtc@0.2',
      'cct@0.2',
      'cld@0.2',
      'mean-teacher@0.2',
      'ua-mt@0.2',
      'sshcps@0.2',
    ],
  );
  assert.equal(labelEfficiencyRows([0.5, 1]).length, 6);
});

test('labelled counts: 20% of 70 scans is 14, never 0, never more than there are', () => {
  assert.equal(labelledCount(0.2, 70), 14);
  assert.equal(labelledCount(0.2, 3), 1);
  assert.equal(labelledCount(1, 16), 16);
  assert.equal(labelledCount(2, 16), 16);
  assert.equal(runKey('sshcps', 14, 0), 'sshcps-l14-s0');
});

test('paired Wilcoxon signed-rank test: the value scipy gives for the same pairs', () => {
  // scipy.stats.wilcoxon(a, b, correction=True, mode='approx') -> p = 0.024884 (normal approximation, tie and continuity corrections)
  const a = [0.8, 0.82, 0.79, 0.85, 0.9, 0.7, 0.75, 0.88];
  const b = [0.78, 0.8, 0.8, 0.81, 0.86, 0.69, 0.7, 0.85];
  const r = pairedWilcoxon(a, b);
  assert.equal(r.n, 8);
  assert.ok(Math.abs(r.pValue - 0.024884) < 1e-5, `p = ${r.pValue}`);
  assert.ok(Math.abs(r.meanDifference - 0.025) < 1e-12);
  // NaN pairs are dropped; identical samples give no test
  assert.equal(pairedWilcoxon([1, NaN, 2], [0, 5, 1]).n, 2);
  assert.ok(Number.isNaN(pairedWilcoxon([1, 2, 3], [1, 2, 3]).pValue));
});
