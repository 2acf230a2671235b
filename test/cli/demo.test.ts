/** `kneeseg demo`: its budget is a number of iterations; a time budget or a bad count is refused up front. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kneeseg } from '../helpers/cli.ts';

test('demo --minutes is refused with the flag that replaced it, before anything is written', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'kneeseg-demo-')), 'demo');
  const r = await kneeseg('demo', '--minutes', '5', '--out', out);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /--minutes 5: the demo trains a fixed number of iterations.*Fix: give --iterations N/,
  );
  assert.equal(existsSync(out), false);
});

test('demo --iterations must be a whole number of at least 1', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'kneeseg-demo-')), 'demo');
  for (const n of ['0', '2.5', 'many']) {
    const r = await kneeseg('demo', '--iterations', n, '--out', out);
    assert.equal(r.code, 1, n);
    assert.match(r.stderr, new RegExp(`--iterations ${n}: give a whole number of iterations`));
  }
  assert.equal(existsSync(out), false);
});
