import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputError } from '../../src/errors.ts';
import { checkOutputFile, checkOutputFolder } from '../../src/output/check.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'kneeseg-check-'));

function refused(fn: () => void, file: string, problem: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OutputError, String(e));
    assert.equal(e.file, file);
    assert.ok(!e.message.includes('\n'));
    assert.match(e.message, problem);
    assert.match(e.message, /\. Fix: /);
    return true;
  });
}

test('an output folder may exist or be new, not be a file or lie below one', () => {
  const d = dir();
  const file = join(d, 'scan.nii.gz');
  writeFileSync(file, 'x');
  checkOutputFolder(d, '--output');
  checkOutputFolder(join(d, 'new', 'deeper'), '--output');
  refused(
    () => checkOutputFolder(file, '--output'),
    file,
    /: is a file, but --output names the folder to write into\. Fix: give --output a new or existing folder/,
  );
  const below = join(file, 'out');
  refused(
    () => checkOutputFolder(below, '--out'),
    below,
    new RegExp(`: lies below ${file}, which is a file, not a folder`),
  );
  refused(
    () => checkOutputFolder(join(below, 'more'), '--out'),
    join(below, 'more'),
    /lies below .*scan\.nii\.gz, which is a file/,
  );
});

test('an output file may exist or be new, not be a folder or lie below a file', () => {
  const d = dir();
  mkdirSync(join(d, 'results'));
  writeFileSync(join(d, 'a.json'), '{}');
  checkOutputFile(join(d, 'a.json'), '--json');
  checkOutputFile(join(d, 'new', 'b.json'), '--json');
  refused(
    () => checkOutputFile(join(d, 'results'), '--json'),
    join(d, 'results'),
    /: is a folder, but --json names the file to write\. Fix: give --json a file name/,
  );
  refused(
    () => checkOutputFile(join(d, 'a.json', 'b.json'), '--csv'),
    join(d, 'a.json', 'b.json'),
    /lies below .*a\.json, which is a file/,
  );
});
