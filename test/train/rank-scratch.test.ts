import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { makeRankFolder, removeStaleRankFolders } from '../../src/train/rank-scratch.ts';

/** The id of a process that has ended (a child that exited). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test("a killed rank's scratch folder is removed when the next rank starts; live ranks' and other files stay", () => {
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-rank-scratch-test-'));
  const dead = join(dir, `kneeseg-rank1-pid${deadPid()}-abc123`);
  const live = join(dir, `kneeseg-rank2-pid${process.pid}-def456`);
  const other = join(dir, 'kneeseg-rank1-xyz'); // no process id: not ours to judge
  for (const d of [dead, live, other]) {
    mkdirSync(d);
    writeFileSync(join(d, 'log.jsonl'), '{}\n');
  }
  const mine = makeRankFolder(3, dir);
  assert.ok(!existsSync(dead), 'the dead rank folder is gone');
  assert.ok(existsSync(live) && existsSync(other));
  assert.match(basename(mine), new RegExp(`^kneeseg-rank3-pid${process.pid}-`));
  assert.deepEqual(removeStaleRankFolders(dir), [], 'nothing else is stale');
  rmSync(dir, { recursive: true, force: true });
});
