import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeVolume } from '../../src/data/io/index.ts';
import { OutputError } from '../../src/errors.ts';
import {
  diskWithFreeBytes,
  outputError,
  removeStaleTemporaries,
  simulateDisk,
  writeAtomically,
  writeFileAtomic,
} from '../../src/output/atomic.ts';
import { syntheticScan } from '../infer/helpers.ts';
import { deadPid, filesBelow } from './helpers.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'kneeseg-atomic-'));

/** `fn` throws a one-line OutputError naming `file` as full (ENOSPC) with a fix. */
function assertFull(err: unknown, file: string): true {
  assert.ok(err instanceof OutputError, String(err));
  assert.equal(err.file, file);
  assert.equal(
    err.message,
    `${file}: cannot be written: no space left on the disk (ENOSPC). Fix: free space on that disk, or write to a folder on another disk`,
  );
  return true;
}

test('writeFileAtomic writes text, bytes and chunks, creating the folder', () => {
  const d = dir();
  writeFileAtomic(join(d, 'a', 'x.txt'), 'hello\n');
  writeFileAtomic(join(d, 'a', 'y.bin'), new Uint8Array([1, 2, 3]));
  writeFileAtomic(join(d, 'a', 'z.bin'), [new Uint8Array([1]), Buffer.from([2, 3])]);
  assert.equal(readFileSync(join(d, 'a', 'x.txt'), 'utf8'), 'hello\n');
  assert.deepEqual([...readFileSync(join(d, 'a', 'y.bin'))], [1, 2, 3]);
  assert.deepEqual([...readFileSync(join(d, 'a', 'z.bin'))], [1, 2, 3]);
  assert.deepEqual(readdirSync(join(d, 'a')).sort(), ['x.txt', 'y.bin', 'z.bin']);
});

test('a full disk leaves the earlier file untouched and no temporary file; the error names the output and ENOSPC', () => {
  const d = dir();
  const file = join(d, 'measurements.json');
  writeFileAtomic(file, '{"old": true}\n');
  for (const free of [0, 5, 20]) {
    simulateDisk(diskWithFreeBytes(free));
    try {
      assert.throws(
        () => writeFileAtomic(file, [Buffer.from('{"new": '), Buffer.from('"a longer text"}\n')]),
        (e) => assertFull(e, file),
      );
    } finally {
      simulateDisk(null);
    }
    assert.equal(readFileSync(file, 'utf8'), '{"old": true}\n');
    assert.deepEqual(readdirSync(d), ['measurements.json']);
  }
  // a new file is absent after a failed write
  simulateDisk(diskWithFreeBytes(3));
  try {
    assert.throws(
      () => writeFileAtomic(join(d, 'new.csv'), 'case,x\n'),
      (e) => assertFull(e, join(d, 'new.csv')),
    );
  } finally {
    simulateDisk(null);
  }
  assert.deepEqual(readdirSync(d), ['measurements.json']);
});

test('writeVolume on a full disk: the label map is absent (a MetaImage header and its data both), no temporary folder', async () => {
  const d = dir();
  const vol = syntheticScan([6, 20, 18]);
  for (const name of ['knee.nii.gz', 'knee.nii', 'knee.mhd', 'knee.nrrd']) {
    for (const free of [0, 100]) {
      simulateDisk(diskWithFreeBytes(free));
      try {
        await assert.rejects(writeVolume(join(d, name), vol), (e) => assertFull(e, join(d, name)));
      } finally {
        simulateDisk(null);
      }
      assert.deepEqual(readdirSync(d), [], `${name} with ${free} bytes free`);
    }
  }
  await writeVolume(join(d, 'knee.mhd'), vol);
  assert.deepEqual(readdirSync(d).sort(), ['knee.mhd', 'knee.raw']);
});

test('writeAtomically: a writer that fails is an OutputError naming the final file, not the temporary one', async () => {
  const d = dir();
  const file = join(d, 'x.nii.gz');
  await assert.rejects(
    writeAtomically(file, async () => {
      throw new Error('file stream is fail after write');
    }),
    (e: unknown) =>
      e instanceof OutputError &&
      e.message.startsWith(`${file}: cannot be written (file stream is fail after write)`) &&
      !e.message.includes('.kneeseg-tmp-'),
  );
  await assert.rejects(
    writeAtomically(file, async () => {}),
    (e: unknown) => e instanceof OutputError && /the writer produced no file/.test(e.message),
  );
  assert.deepEqual(readdirSync(d), []);
});

test('outputError names the cause of common write failures', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  assert.match(
    outputError('/o/a.png', err('EACCES')).message,
    /^\/o\/a\.png: cannot be written: permission denied \(EACCES\)\. Fix: /,
  );
  assert.match(outputError('/o/a.png', err('EROFS')).message, /read-only \(EROFS\)/);
  assert.match(outputError('/o/a.png', err('EDQUOT')).message, /quota/);
  assert.match(
    outputError('/o/a.png', err('EXYZ')).message,
    /^\/o\/a\.png: cannot be written \(EXYZ, EXYZ\)/,
  );
});

test('removeStaleTemporaries removes what killed writers left (files and folders, one level down), not what running ones write', () => {
  const d = dir();
  const dead = deadPid();
  mkdirSync(join(d, 'thickness'));
  mkdirSync(join(d, 'checkpoints'));
  const stale = [
    join(d, `.kneeseg-tmp-${dead}-0123abcd-knee.nii.gz`),
    join(d, 'thickness', `.kneeseg-tmp-${dead}-89abcdef-knee_femoral_cartilage.png`),
    join(d, 'checkpoints', `last.safetensors.tmp-${dead}`), // earlier versions' names
    join(d, '.kneeseg-tmp-Ab12Cd'),
  ];
  const live = [join(d, `.kneeseg-tmp-${process.pid}-00000000-measurements.json`)];
  const kept = [
    join(d, 'knee.nii.gz'),
    join(d, 'thickness', 'knee_femoral_cartilage.png'),
    join(d, 'notes.tmp-x'),
  ];
  for (const f of [...stale, ...live, ...kept]) writeFileSync(f, 'x');
  mkdirSync(join(d, `.kneeseg-tmp-${dead}-11112222-knee.mhd`)); // a folder of a MetaImage write
  writeFileSync(join(d, `.kneeseg-tmp-${dead}-11112222-knee.mhd`, 'knee.raw'), 'x');
  const removed = removeStaleTemporaries(d).sort();
  assert.deepEqual(removed, [...stale, join(d, `.kneeseg-tmp-${dead}-11112222-knee.mhd`)].sort());
  assert.deepEqual(
    filesBelow(d).sort(),
    [...live, ...kept, join(d, 'thickness'), join(d, 'checkpoints')].sort(),
  );
});
