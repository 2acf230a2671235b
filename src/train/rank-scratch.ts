/**
 * The scratch folders of data-parallel ranks other than 0 (they train in lockstep but own no run
 * folder). A rank removes its folder when it ends; one killed outright (SIGKILL, out of memory) cannot,
 * so each folder carries its process id, and the next rank to start removes the folders whose process
 * is gone.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PATTERN = /^kneeseg-rank\d+-pid(\d+)-/;

/** Whether a process with this id exists (EPERM: it does, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the scratch folders in `dir` left by ranks whose process no longer exists; returns their paths. */
export function removeStaleRankFolders(dir = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = PATTERN.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

/** A new scratch folder for `rank` of this process, after sweeping the stale ones. */
export function makeRankFolder(rank: number, dir = tmpdir()): string {
  removeStaleRankFolders(dir);
  return mkdtempSync(join(dir, `kneeseg-rank${rank}-pid${process.pid}-`));
}
