/**
 * What `kneeseg predict` guarantees about its output folder: every file complete or absent (a full
 * disk, injected or a real tmpfs where the test may mount one), an error naming the output and not
 * the scan, temporary files of a killed run cleared, one writer per folder, output paths checked first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeVolume } from '../../src/data/io/index.ts';
import { setNumThreads } from '../../src/engine/index.ts';
import { OutputError } from '../../src/errors.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { predictScans } from '../../src/infer/run-predict.ts';
import { diskWithFreeBytes, simulateDisk } from '../../src/output/atomic.ts';
import { kneeseg } from '../helpers/cli.ts';
import { assertCompleteOrAbsent, deadPid, filesBelow } from '../output/helpers.ts';
import { syntheticScan, tempDir, writeTinyModel } from './helpers.ts';

setNumThreads(1);

const root = tempDir();
const run = join(root, 'run');
writeTinyModel(run);
const input = join(root, 'scans');
await writeVolume(join(input, 'knee_a_0000.nii.gz'), syntheticScan([7, 30, 26], 1));
await writeVolume(join(input, 'knee_b_0000.nii.gz'), syntheticScan([8, 28, 30], 2));
const predict = (output: string, ...more: string[]) =>
  kneeseg('predict', '--model', run, '--input', input, '--output', output, '--probabilities', ...more);

/** Bytes of everything a complete run writes. */
let total = 0;

test('a complete run: label maps, probabilities, thickness maps and measurements, all whole', async () => {
  const out = join(root, 'full');
  const r = await predict(out);
  assert.equal(r.code, 0, r.stderr);
  const files = await assertCompleteOrAbsent(out);
  total = files.filter((f) => statSync(f).isFile()).reduce((s, f) => s + statSync(f).size, 0);
  assert.ok(
    files.some((f) => f.endsWith('knee_b.nii.gz')) && files.some((f) => f.endsWith('measurements.json')),
  );
  assert.ok(total > 0);
});

test('a disk that fills during predict: exit 1, one line naming an output and ENOSPC (not the scan), every file complete or absent; a rerun completes', async () => {
  assert.ok(total > 0, 'the complete run ran first');
  for (const share of [0, 0.2, 0.5, 0.8, 0.95]) {
    const out = join(root, `full-${share}`);
    simulateDisk(diskWithFreeBytes(Math.floor(total * share)));
    let r;
    try {
      r = await predict(out);
    } finally {
      simulateDisk(null);
    }
    assert.equal(r.code, 1, `${share}: ${r.stdout}`);
    assert.match(
      r.stderr,
      new RegExp(
        `^kneeseg: ${out}/\\S+: cannot be written: no space left on the disk \\(ENOSPC\\)\\. Fix: free space on that disk, or write to a folder on another disk$`,
      ),
    );
    assert.doesNotMatch(`${r.stdout}${r.stderr}`, /readable scan|wrote .*measurements/);
    await assertCompleteOrAbsent(out);
    const again = await predict(out);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      filesBelow(out)
        .map((f) => f.slice(out.length))
        .sort(),
      filesBelow(join(root, 'full'))
        .map((f) => f.slice(join(root, 'full').length))
        .sort(),
    );
  }
});

/** A real small file system: a tmpfs (as root, where mounting is allowed); else null. */
function mountTmpfs(dir: string, bytes: number): (() => void) | null {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return () => execFileSync('umount', [dir]);
}

test('a real full file system (tmpfs where it can be mounted, else an injected full disk): complete or absent', async () => {
  assert.ok(total > 0, 'the complete run ran first');
  const mnt = join(root, 'small-disk');
  // tmpfs counts whole 4 KiB pages: half of the pages the outputs need
  const unmount = mountTmpfs(mnt, Math.max(4096, Math.floor(total / 2 / 4096) * 4096));
  if (!unmount) simulateDisk(diskWithFreeBytes(Math.floor(total / 2)));
  try {
    const r = await predict(join(mnt, 'out'));
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^kneeseg: \S+: cannot be written: no space left on the disk \(ENOSPC\)\. Fix: /);
    await assertCompleteOrAbsent(join(mnt, 'out'));
  } finally {
    simulateDisk(null);
    unmount?.();
  }
});

test('temporary files of a predict killed mid-write (kill -9) are removed by the next run into the folder', async () => {
  const out = join(root, 'killed');
  const pid = deadPid();
  mkdirSync(join(out, 'thickness'), { recursive: true });
  mkdirSync(join(out, `.kneeseg-tmp-${pid}-0badc0de-knee_a.nii.gz`));
  writeFileSync(join(out, `.kneeseg-tmp-${pid}-0badc0de-knee_a.nii.gz`, 'knee_a.nii.gz'), 'half');
  writeFileSync(join(out, 'thickness', `.kneeseg-tmp-${pid}-12345678-knee_a_femoral_cartilage.png`), 'half');
  writeFileSync(
    join(out, '.kneeseg.lock'),
    JSON.stringify({ pid, host: (await import('node:os')).hostname(), command: 'predict', since: 'then' }),
  );
  const r = await predict(out);
  assert.equal(r.code, 0, r.stderr);
  await assertCompleteOrAbsent(out);
  assert.ok(!readdirSync(out).includes('.kneeseg.lock'), 'the lock is released');
});

test('two predicts into one folder at once: one refuses naming the folder, the other output is whole', async () => {
  const out = join(root, 'shared');
  const model = loadModel(run);
  try {
    const o = { output: out, batch: 8, probabilities: true };
    const [a, b] = await Promise.allSettled([predictScans(model, input, o), predictScans(model, input, o)]);
    const refused = [a, b].filter((x) => x.status === 'rejected');
    const done = [a, b].filter((x) => x.status === 'fulfilled');
    assert.equal(refused.length, 1);
    assert.equal(done.length, 1);
    const err = (refused[0] as PromiseRejectedResult).reason as unknown;
    assert.ok(err instanceof OutputError, String(err));
    assert.match(
      err.message,
      new RegExp(`^${out}: is being written by another kneeseg predict \\(process ${process.pid} `),
    );
    const r = (done[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof predictScans>>>).value;
    assert.equal(r.done.length, 2);
    await assertCompleteOrAbsent(out);
    const json = JSON.parse(readFileSync(join(out, 'measurements.json'), 'utf8')) as {
      cases: { case: string }[];
    };
    assert.deepEqual(
      json.cases.map((c) => c.case),
      ['knee_a', 'knee_b'],
    );
  } finally {
    model.model.dispose();
  }
});

test('--output that is a file or lies below one: one line naming it and the fix, before the model is loaded', async () => {
  const file = join(root, 'a-file.txt');
  writeFileSync(file, 'x');
  for (const output of [file, join(file, 'out')]) {
    const r = await kneeseg(
      'predict',
      '--model',
      join(root, 'no-such-model'),
      '--input',
      input,
      '--output',
      output,
    );
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      new RegExp(
        `^kneeseg: ${output}: (is a file, but --output names the folder to write into|lies below ${file}, which is a file, not a folder)\\. Fix: give --output `,
      ),
    );
  }
  const m = await kneeseg('measure', join(root, 'full', 'knee_a.nii.gz'), '--output', file);
  assert.equal(m.code, 1);
  assert.match(m.stderr, /^kneeseg: .*a-file\.txt: is a file, but --output names the folder/);
  rmSync(file);
});
