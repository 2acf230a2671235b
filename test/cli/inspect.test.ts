import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDataset } from '../data/dataset-fixture.ts';
import { kneeseg } from '../helpers/cli.ts';

test('kneeseg inspect prints the summary; --json gives every case; a bad dataset exits 1 naming the file', async () => {
  const dir = await makeDataset();
  const ok = await kneeseg('inspect', dir);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /cases: 3 labelled, 2 unlabelled \(imagesTr\); 2 test \(1 with labels\)/);
  assert.match(ok.stdout, /shape: 6 x 5 x 4 \.\. 6 x 5 x 4 voxels/);
  assert.match(ok.stdout, /\n\s+2 {2}femoral_cartilage\s+\d/);
  const json = await kneeseg('inspect', dir, '--json');
  assert.equal((JSON.parse(json.stdout) as { cases: unknown[] }).cases.length, 7);
  rmSync(join(dir, 'dataset.json'));
  const bad = await kneeseg('inspect', dir);
  assert.equal(bad.code, 1);
  assert.ok(bad.stderr.includes(`kneeseg: ${join(dir, 'dataset.json')}: is missing`), bad.stderr);
  assert.equal(bad.stdout, '');
});

test('kneeseg inspect reads scans that are links into another folder; a dangling one is one line naming it', async () => {
  const dir = await makeDataset();
  // move every training image into a store outside the dataset and link it back
  const store = mkdtempSync(join(tmpdir(), 'kneeseg-store-'));
  for (const f of readdirSync(join(dir, 'imagesTr'))) {
    renameSync(join(dir, 'imagesTr', f), join(store, f));
    symlinkSync(join(store, f), join(dir, 'imagesTr', f));
  }
  const ok = await kneeseg('inspect', dir);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /cases: 3 labelled, 2 unlabelled/);
  rmSync(join(store, 'k02_0000.nii.gz'));
  const bad = await kneeseg('inspect', dir);
  assert.equal(bad.code, 1);
  const link = join(dir, 'imagesTr', 'k02_0000.nii.gz');
  assert.equal(
    bad.stderr,
    `kneeseg: ${link}: is a symbolic link to ${join(store, 'k02_0000.nii.gz')}, which does not exist (a dangling link). ` +
      'Fix: restore the file the link points to, or point the link at the scan',
  );
});
