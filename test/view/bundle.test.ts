/** When the page bundle must be rebuilt (src/view/bundle.ts): a page source or a module it imports changed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BUNDLE_FILE, bundleIsStale } from '../../src/view/bundle.ts';

test('the bundle is stale when missing, or older than the page or the shared palette it bundles', () => {
  const out = mkdtempSync(join(tmpdir(), 'kneeseg-bundle-'));
  assert.equal(bundleIsStale(out), true, 'no bundle');
  const app = join(out, BUNDLE_FILE);
  writeFileSync(app, '');
  const now = Date.now() / 1000;
  utimesSync(app, now + 1000, now + 1000);
  assert.equal(bundleIsStale(out), false, 'a bundle newer than every source');
  const palette = resolve(import.meta.dirname, '../../src/data/palette.ts');
  const before = statSync(palette);
  try {
    utimesSync(palette, now + 2000, now + 2000);
    assert.equal(bundleIsStale(out), true, 'the palette changed after the bundle was built');
  } finally {
    utimesSync(palette, before.atime, before.mtime);
  }
});
