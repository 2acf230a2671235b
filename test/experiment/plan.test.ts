import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ablationRows,
  compareRows,
  defaultSeeds,
  labelEfficiencyRows,
  labelledCount,
  optionsRows,
  rowsOf,
  runKey,
} from '../../src/experiment/plan.ts';
import { mergeConfig, parseConfig } from '../../src/train/config.ts';
import { pairedWilcoxon } from '../../src/experiment/stats.ts';

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
      'cct@0.2',
      'cld@0.2',
      'generic-ssl@0.2',
      'dtc@0.2',
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
  // differences ranked -2, -3, +1, +4: W+ = W- = 5, the centre of the null; brute force over the 16
  // sign patterns: P(W+ <= 5) = P(W+ >= 5) = 9/16, so the doubled tail is 9/8 and p is 1
  let atMost5 = 0;
  for (let m = 0; m < 16; m++)
    atMost5 += [1, 2, 3, 4].reduce((s, r, i) => s + (m & (1 << i) ? r : 0), 0) <= 5 ? 1 : 0;
  assert.equal(atMost5 / 16, 9 / 16);
  const centred = pairedWilcoxon([0.848, 0.805, 0.8535, 0.8545], [0.8505, 0.8136, 0.8528, 0.8225]);
  assert.equal(centred.pValue, 1);
});

/** Dotted paths of the leaves where two parsed configurations differ. */
function changedKeys(a: unknown, b: unknown, path = ''): string[] {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      changedKeys(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      ),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path];
}

test('options rows: the defaults, then one departure from the paper set back at a time, then the paper preset', () => {
  const rows = optionsRows();
  assert.deepEqual(rowsOf('options'), rows);
  assert.ok(rows.every((r) => r.method === 'sshcps' && r.fraction === 0.2));
  assert.equal(optionsRows(0.4)[3]!.fraction, 0.4);
  const [ref, ...variants] = rows;
  assert.equal(ref!.variant, undefined);
  assert.equal(ref!.config, undefined);
  const defaults = parseConfig({});
  const changed = (config: Record<string, unknown> | undefined) =>
    changedKeys(defaults, parseConfig(mergeConfig({}, config ?? {})));
  const expected: Record<string, string[]> = {
    'no-dice': ['tree.diceWeight'],
    'entry-bce': ['tree.condReduction'],
    'dtc-sdf': ['tree.sdfForm'],
    'lc-sum': ['tree.consistencyNodes'],
    'no-fg-oversampling': ['batch.foreground.share'],
  };
  for (const [variant, keys] of Object.entries(expected)) {
    const row = variants.find((r) => r.variant === variant);
    assert.ok(row, variant);
    assert.deepEqual(changed(row.config), keys, variant);
  }
  assert.equal(parseConfig(mergeConfig({}, rows[1]!.config!)).tree.diceWeight, 0);
  assert.equal(parseConfig(mergeConfig({}, rows[2]!.config!)).tree.condReduction, 'entries');
  assert.equal(parseConfig(mergeConfig({}, rows[3]!.config!)).tree.sdfForm, 'dtc');
  assert.equal(parseConfig(mergeConfig({}, rows[4]!.config!)).tree.consistencyNodes, 'sum');
  assert.equal(parseConfig(mergeConfig({}, rows[5]!.config!)).batch.foreground.share, 0);
  const paper = variants.find((r) => r.variant === 'paper');
  assert.deepEqual(
    paper?.config,
    JSON.parse(readFileSync(new URL('../../configs/paper.json', import.meta.url), 'utf8')),
  );
  // the preset holds every single departure above
  const inPaper = changed(paper?.config);
  for (const keys of Object.values(expected)) for (const k of keys) assert.ok(inPaper.includes(k), k);
  assert.equal(new Set(rows.map((r) => r.row)).size, rows.length, 'row names differ');
  assert.equal(defaultSeeds('options'), 3);
  assert.equal(defaultSeeds('ablation'), 1);
});

test('run keys: a variant gets its own folder, plain keys are unchanged', () => {
  assert.equal(runKey('sshcps', 14, 0), 'sshcps-l14-s0');
  assert.equal(runKey('sshcps', 14, 0, undefined), 'sshcps-l14-s0');
  assert.equal(runKey('sshcps', 3, 0, 'no-dice'), 'sshcps-no-dice-l3-s0');
  const keys = optionsRows().flatMap((r) => [0, 1, 2].map((s) => runKey(r.method, 14, s, r.variant)));
  assert.equal(new Set(keys).size, keys.length);
  assert.ok(keys.includes('sshcps-l14-s1'));
  assert.throws(() => runKey('sshcps', 3, 0, '../x'), /slug/);
});
