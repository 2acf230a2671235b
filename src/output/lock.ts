/**
 * Output folders are written by one kneeseg at a time. `lockFolder` creates DIR/.kneeseg.lock
 * exclusively (O_EXCL), holding the owner's pid, host, command and start time; a second kneeseg that
 * finds it refuses with an OutputError naming the folder and the owner. A lock whose process is gone
 * (kill -9, a crash, a reboot) is taken over, so a killed run never blocks the next one. The lock
 * file is hidden, so readers that list label maps or scans never see it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OutputError } from '../errors.ts';
import { outputError, processRuns, removeStaleTemporaries } from './atomic.ts';

export const LOCK_NAME = '.kneeseg.lock';

interface Holder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface FolderLock {
  readonly file: string;
  /** Removes the lock file (when it is still this lock's); safe to call twice. */
  release(): void;
}

/** A lock file found empty or unreadable is taken to be in the making for this long (ms). */
const CREATION_GRACE_MS = 5000;

function readHolder(file: string): Holder | 'in-the-making' | 'gone' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return 'gone';
  }
  try {
    const h = JSON.parse(text) as Holder;
    if (Number.isInteger(h.pid) && typeof h.host === 'string') return h;
  } catch {
    // empty (its writer was between creating and writing it, or was killed there) or damaged
  }
  try {
    return Date.now() - statSync(file).mtimeMs < CREATION_GRACE_MS ? 'in-the-making' : 'gone';
  } catch {
    return 'gone';
  }
}

/**
 * Locks `dir` (created if needed) for `command` (e.g. "predict"); throws OutputError when another
 * running kneeseg holds it, or when the folder cannot be created or written.
 */
export function lockFolder(dir: string, command: string): FolderLock {
  const file = join(dir, LOCK_NAME);
  const mine: Holder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw outputError(dir, err);
  }
  for (let attempt = 0; ; attempt++) {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify(mine));
      closeSync(fd);
      let released = false;
      return {
        file,
        release() {
          if (released) return;
          released = true;
          const h = readHolder(file);
          if (typeof h === 'object' && h.pid === mine.pid && h.since === mine.since)
            rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if (fd !== undefined) {
        closeSync(fd);
        rmSync(file, { force: true });
      }
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw outputError(dir, err);
    }
    const h = readHolder(file);
    const running =
      h === 'in-the-making' || (typeof h === 'object' && (h.host !== mine.host || processRuns(h.pid)));
    if (running) {
      const who =
        typeof h === 'object'
          ? `kneeseg ${h.command} (process ${h.pid} on ${h.host}, since ${h.since})`
          : 'a kneeseg that is starting';
      throw new OutputError(
        dir,
        `is being written by another ${who}`,
        `wait until it has finished, or give another output folder; if no kneeseg is writing there, delete ${file}`,
      );
    }
    // left by a process that is gone: take it over
    rmSync(file, { force: true });
  }
}

/**
 * Runs `fn` with output folder `dir` locked for `command`; the temporary files that writers killed
 * mid-write left in it (and its sub-folders) are removed first, and the lock is released however
 * `fn` ends.
 */
export async function withFolderLock<T>(dir: string, command: string, fn: () => Promise<T>): Promise<T> {
  const lock = lockFolder(dir, command);
  try {
    removeStaleTemporaries(dir);
    return await fn();
  } finally {
    lock.release();
  }
}
