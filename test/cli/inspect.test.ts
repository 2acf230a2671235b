import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
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
