import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kneeseg } from '../helpers/cli.ts';

test('--json or --csv that is a folder or lies below a file is refused before any scoring', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-cli-evaluate-'));
  mkdirSync(join(dir, 'results'));
  writeFileSync(join(dir, 'file'), 'x');
  // --pred and --gt do not even exist: the output is checked before they are read
  const missing = ['--pred', join(dir, 'no-pred'), '--gt', join(dir, 'no-gt')];
  const a = await kneeseg('evaluate', ...missing, '--json', join(dir, 'results'));
  assert.equal(a.code, 1);
  assert.equal(
    a.stderr,
    `kneeseg: ${join(dir, 'results')}: is a folder, but --json names the file to write. Fix: give --json a file name, e.g. ${join(dir, 'results', 'evaluation.json')}`,
  );
  const b = await kneeseg('evaluate', ...missing, '--csv', join(dir, 'file', 'x.csv'));
  assert.equal(b.code, 1);
  assert.match(
    b.stderr,
    /^kneeseg: .*file\/x\.csv: lies below .*file, which is a file, not a folder\. Fix: give --csv /,
  );
  // a good --json path gets past the check: the error is then about --pred
  const c = await kneeseg('evaluate', ...missing, '--json', join(dir, 'results', 'evaluation.json'));
  assert.equal(c.code, 1);
  assert.match(c.stderr, /no-(pred|gt): is not a folder/);
});
