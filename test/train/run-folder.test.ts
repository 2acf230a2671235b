/**
 * What `kneeseg train` does with its run folder: refuses a folder holding a run without --overwrite,
 * refuses --resume without a usable checkpoint (naming the folder or the file), leaves no stub folder
 * when it fails, and a full disk during a checkpoint write leaves the checkpoint whole or absent.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Adam, nn, saveSafetensors, tensor } from '../../src/engine/index.ts';
import { OutputError } from '../../src/errors.ts';
import { diskWithFreeBytes, simulateDisk } from '../../src/output/atomic.ts';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.ts';
import { explainOutOfMemory, openRunFolder } from '../../src/train/run-folder.ts';
import { parseConfig } from '../../src/train/config.ts';
import { kneeseg } from '../helpers/cli.ts';
import { assertCompleteOrAbsent } from '../output/helpers.ts';
import { tempDir, tinyCohort, tinyConfig } from './helpers.ts';

const root = tempDir('run-folder');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

const train = (out: string, ...more: string[]) =>
  kneeseg('train', '--data', data, '--out', out, '--config', writeConfig(), ...more);

function writeConfig(): string {
  const file = join(root, 'tiny.json');
  writeFileSync(file, JSON.stringify(tinyConfig(data, { schedule: { maxIterations: 10 } })));
  return file;
}

/** A one-line kneeseg error with a fix. */
function oneLine(stderr: string, pattern: RegExp): void {
  assert.ok(!stderr.includes('\n'), stderr);
  assert.match(stderr, pattern);
  assert.match(stderr, /\. Fix: /);
}

test('--resume on a folder without a checkpoint is an error naming the folder and the fix', async () => {
  for (const out of [join(root, 'never'), join(root, 'empty')]) {
    if (out.endsWith('empty')) mkdirSync(out);
    const r = await train(out, '--resume');
    assert.equal(r.code, 1);
    oneLine(
      r.stderr,
      new RegExp(
        `^kneeseg: ${out}: --resume: there is no checkpoint to resume from .*Fix: give --out the run folder that holds the checkpoint, or drop --resume`,
      ),
    );
  }
  assert.equal(existsSync(join(root, 'never')), false);
});

test('--resume with an empty, truncated, garbage or non-JSON-state checkpoint names the checkpoint file', async () => {
  const out = join(root, 'damaged');
  const last = join(out, 'checkpoints', 'last.safetensors');
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  const good = join(root, 'good.safetensors');
  saveSafetensors(
    good,
    { w: tensor([1, 2, 3, 4], [4]) },
    { kneeseg_state: '{"iteration": 3', kneeseg_optimizer: '{}' },
  );
  const cases: [string, Buffer | string, RegExp][] = [
    ['empty', '', /too short/],
    ['garbage', 'this is not a checkpoint at all, only text', /cannot be resumed from/],
    ['truncated', (await import('node:fs')).readFileSync(good).subarray(0, 60), /cannot be resumed from/],
    ['non-JSON state', (await import('node:fs')).readFileSync(good), /metadata kneeseg_state is not JSON/],
  ];
  for (const [what, bytes, problem] of cases) {
    writeFileSync(last, bytes);
    const r = await train(out, '--resume');
    assert.equal(r.code, 1, `${what}: ${r.stderr}`);
    oneLine(r.stderr, new RegExp(`^kneeseg: ${last}: `));
    assert.match(r.stderr, problem, what);
    assert.match(r.stderr, /Fix: start the run again without --resume/);
    assert.ok(existsSync(last), `${what}: the run folder is kept`);
  }
});

test('a folder holding a run is refused without --overwrite; --overwrite with --resume is a contradiction', async () => {
  const out = join(root, 'finished');
  mkdirSync(out);
  writeFileSync(join(out, 'summary.json'), '{}');
  writeFileSync(join(out, 'model.safetensors'), 'weights');
  const r = await train(out);
  assert.equal(r.code, 1);
  oneLine(
    r.stderr,
    new RegExp(
      `^kneeseg: ${out}: holds a finished run already \\(summary\\.json, model\\.safetensors\\)\\. Fix: give --out a new folder, continue the run with --resume, or replace it with --overwrite$`,
    ),
  );
  assert.deepEqual(readdirSync(out).sort(), ['model.safetensors', 'summary.json']);
  const both = await train(out, '--resume', '--overwrite');
  assert.equal(both.code, 1);
  // --resume is checked first: there is no checkpoint here
  assert.match(both.stderr, /--resume: there is no checkpoint/);
  assert.throws(() => openRunFolder(out, { resume: true, overwrite: true }), /cannot go with --resume/);
  // --overwrite removes the earlier run's files and keeps the others
  writeFileSync(join(out, 'notes.txt'), 'mine');
  openRunFolder(out, { overwrite: true }).release();
  assert.deepEqual(readdirSync(out), ['notes.txt']);
});

test('--out that is a file, and a train that fails before its first checkpoint leaves no stub run folder', async () => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'x');
  const r = await train(join(file, 'run'));
  assert.equal(r.code, 1);
  oneLine(r.stderr, /lies below .*a-file, which is a file, not a folder\. Fix: give --out /);
  const out = join(root, 'stub');
  const bad = await kneeseg('train', '--data', join(root, 'no-dataset-here'), '--out', out);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^kneeseg: /);
  assert.equal(existsSync(out), false, 'no stub folder');
});

test('a full disk at the first checkpoint write: one line naming the checkpoint and ENOSPC, no partial file, no stub', async () => {
  const out = join(root, 'full-disk');
  let r;
  simulateDisk((file, n) => (file.endsWith('last.safetensors') ? 0 : n));
  try {
    r = await train(out);
  } finally {
    simulateDisk(null);
  }
  assert.equal(r.code, 1, r.stdout);
  assert.equal(
    r.stderr,
    `kneeseg: ${join(out, 'checkpoints', 'last.safetensors')}: cannot be written: no space left on the disk (ENOSPC). Fix: free space on that disk, or write to a folder on another disk`,
  );
  assert.equal(existsSync(out), false, 'a run that failed before its first checkpoint leaves no stub');
});

test('saveCheckpoint on a full disk keeps the previous checkpoint whole', async () => {
  const dir = join(root, 'ckpt');
  const path = join(dir, 'last.safetensors');
  const layer = new nn.Linear(4, 3);
  const optimizer = new Adam([{ params: [...layer.parameters()] }], { lr: 1e-3 });
  saveCheckpoint(path, { modules: { layer }, optimizer, state: { iteration: 5 } });
  for (const free of [0, 100, 300]) {
    simulateDisk(diskWithFreeBytes(free));
    try {
      assert.throws(
        () => saveCheckpoint(path, { modules: { layer }, optimizer, state: { iteration: 10 } }),
        (e: unknown) => e instanceof OutputError && e.file === path && /ENOSPC/.test(e.message),
      );
    } finally {
      simulateDisk(null);
    }
    await assertCompleteOrAbsent(dir);
    assert.deepEqual(loadCheckpoint(path, { layer }, optimizer), { iteration: 5 });
  }
  layer.dispose();
});

test('running out of memory becomes one line naming the settings to lower', async () => {
  const config = parseConfig(tinyConfig(data));
  const err = explainOutOfMemory(
    new Error('aten::zeros(...): kneeseg allocator: out of memory allocating 120000000000 bytes'),
    config,
  );
  assert.equal(
    (err as Error).message,
    "out of memory (111.8 GiB for one tensor): unet on 32x32 slices (data.size), batch.labelled 2 + batch.unlabelled 2, does not fit in this machine's memory. Fix: lower data.size (--size), batch.labelled / batch.unlabelled, or the network width (model.medt / model.unet)",
  );
  const other = new Error('something else');
  assert.equal(explainOutOfMemory(other, config), other);
  const m = await kneeseg('model', '--backbone', 'unet', '--size', '100000x100000');
  assert.equal(m.code, 1);
  assert.match(
    m.stderr,
    /^kneeseg: out of memory \([\d.]+ GiB for one tensor\): unet at --size 100000x100000 does not fit in this machine's memory\. Fix: give a smaller --size/,
  );
});
