import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputError } from '../../src/errors.ts';
import { LOCK_NAME, lockFolder, withFolderLock } from '../../src/output/lock.ts';
import { deadPid } from './helpers.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'kneeseg-lock-'));

test('a locked folder refuses a second writer, naming the folder and the holder; released, it can be locked again', () => {
  const d = join(dir(), 'out');
  const lock = lockFolder(d, 'predict');
  assert.throws(
    () => lockFolder(d, 'measure'),
    (e: unknown) => {
      assert.ok(e instanceof OutputError);
      assert.equal(e.file, d);
      assert.match(
        e.message,
        new RegExp(
          `^${d}: is being written by another kneeseg predict \\(process ${process.pid} on .*\\)\\. Fix: wait until it has finished, or give another output folder; if no kneeseg is writing there, delete ${join(d, LOCK_NAME)}$`,
        ),
      );
      return true;
    },
  );
  lock.release();
  lock.release(); // twice is harmless
  assert.equal(existsSync(join(d, LOCK_NAME)), false);
  lockFolder(d, 'measure').release();
});

test('a lock left by a process that is gone (kill -9) is taken over', () => {
  const d = dir();
  const pid = deadPid();
  writeFileSync(
    join(d, LOCK_NAME),
    JSON.stringify({ pid, host: hostname(), command: 'predict', since: 'then' }),
  );
  const lock = lockFolder(d, 'predict');
  lock.release();
  assert.deepEqual(readdirSync(d), []);
});

test('withFolderLock releases on failure and clears stale temporary files first', async () => {
  const d = dir();
  const stale = join(d, `.kneeseg-tmp-${deadPid()}-0123abcd-knee.nii.gz`);
  writeFileSync(stale, 'half');
  await assert.rejects(
    withFolderLock(d, 'predict', async () => {
      assert.equal(existsSync(stale), false);
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(readdirSync(d), []);
});

test('another process holding the lock: refused while it runs, taken over after it is killed with SIGKILL', async () => {
  const d = dir();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import('./src/output/lock.ts').then((m) => { m.lockFolder(${JSON.stringify(d)}, 'predict'); console.log('locked'); setInterval(() => {}, 1000); });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => b.toString().includes('locked') && resolve());
    child.on('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  assert.throws(
    () => lockFolder(d, 'predict'),
    (e: unknown) =>
      e instanceof OutputError && e.message.includes(`kneeseg predict (process ${child.pid} on`),
  );
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  lockFolder(d, 'predict').release();
});
