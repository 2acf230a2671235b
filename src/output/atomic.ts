/**
 * The one way kneeseg writes a file: complete or absent. Every output (label maps, probability maps,
 * thickness PNGs, measurements, weights, checkpoints, run JSON, evaluation tables, reports, the slice
 * cache) goes through here. The bytes go to a hidden temporary name in the target's own folder (the
 * same file system, so the rename is atomic), are fsynced, and are renamed over the final name; the
 * folder is fsynced after the rename. A write that fails (a full disk, no permission) removes its
 * temporary file and becomes an OutputError naming the output and the cause, never the input.
 *
 * Temporary names are `.kneeseg-tmp-PID-RANDOM-NAME`; a process killed in the middle of a write
 * (kill -9, power loss) leaves one behind, and removeStaleTemporaries clears those whose process is
 * gone on the next run into that folder.
 *
 * This module imports only Node and errors.ts, so every layer (the engine's safetensors writer too)
 * may use it.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OutputError } from '../errors.ts';

export const TEMP_PREFIX = '.kneeseg-tmp-';

/** A fresh hidden name beside `path` for writing it (or a folder standing in for it). */
export function temporaryPathFor(path: string): string {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return join(dirname(path), `${TEMP_PREFIX}${tag}-${basename(path)}`);
}

/**
 * Test hook standing in for the disk: given the output being written and the bytes about to be
 * written to it, returns how many of them fit; fewer than asked ends the write with ENOSPC, as a full
 * disk does. Null (the default): the real disk decides.
 */
export type DiskSpace = (output: string, bytes: number) => number;
let disk: DiskSpace | null = null;

export function simulateDisk(space: DiskSpace | null): void {
  disk = space;
}

/** A DiskSpace with `bytes` free, shared by all writes (a disk that fills up). */
export function diskWithFreeBytes(bytes: number): DiskSpace {
  let free = bytes;
  return (_output, n) => {
    const fits = Math.max(0, Math.min(n, free));
    free -= fits;
    return fits;
  };
}

function enospc(): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write');
  e.code = 'ENOSPC';
  e.syscall = 'write';
  return e;
}

/** What Node's error codes mean for an output, and what to do about them. */
const CAUSES: Readonly<Record<string, readonly [string, string]>> = {
  ENOSPC: [
    'no space left on the disk (ENOSPC)',
    'free space on that disk, or write to a folder on another disk',
  ],
  EDQUOT: ['the disk quota is used up (EDQUOT)', 'free space within the quota, or write elsewhere'],
  EFBIG: ['the file is larger than the file system allows (EFBIG)', 'write to another file system'],
  EACCES: [
    'permission denied (EACCES)',
    'give the user running kneeseg write access to the folder, or write elsewhere',
  ],
  EPERM: [
    'operation not permitted (EPERM)',
    'give the user running kneeseg write access to the folder, or write elsewhere',
  ],
  EROFS: ['the file system is read-only (EROFS)', 'write to a folder on a writable disk'],
  EISDIR: [
    'a folder of that name is in the way (EISDIR)',
    'remove or rename that folder, or write elsewhere',
  ],
  ENOTDIR: [
    'a file lies where its path needs a folder (ENOTDIR)',
    'give a path whose parent folders are folders',
  ],
  ENAMETOOLONG: ['the name is too long for the file system (ENAMETOOLONG)', 'give a shorter path'],
  EIO: ['the disk reported an I/O error (EIO)', 'check the disk, or write elsewhere'],
};

/** The OutputError for `err` met while writing `path` (an OutputError is returned as it is). */
export function outputError(path: string, err: unknown): OutputError {
  if (err instanceof OutputError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const cause = code ? CAUSES[code] : undefined;
  if (cause) return new OutputError(path, `cannot be written: ${cause[0]}`, cause[1]);
  const text = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  return new OutputError(
    path,
    `cannot be written (${text || 'the writer gave no reason'}${code ? `, ${code}` : ''})`,
    'check that the folder is writable and its disk has space',
  );
}

function writeAll(fd: number, chunk: Uint8Array, output: string): void {
  const fits = disk ? disk(output, chunk.length) : chunk.length;
  let done = 0;
  while (done < fits) done += writeSync(fd, chunk, done, fits - done);
  if (fits < chunk.length) throw enospc();
}

/** fsync of a folder, so a rename in it survives a power loss; not every file system allows it. */
function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort: the rename itself is atomic either way
  }
}

/**
 * Writes `data` (text as UTF-8, bytes, or chunks written one after the other) to `path`, creating its
 * folder: `path` afterwards holds all of it, or (on any error) what it held before. Throws OutputError.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const chunks = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  const dir = dirname(path);
  let tmp: string | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    tmp = temporaryPathFor(path);
    const fd = openSync(tmp, 'wx');
    try {
      for (const c of chunks) writeAll(fd, c, path);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    tmp = undefined;
    syncFolder(dir);
  } catch (err) {
    if (tmp) rmSync(tmp, { force: true });
    throw outputError(path, err);
  }
}

/** Free bytes for unprivileged users on the disk of `dir`; Infinity when it cannot be told. */
function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Infinity;
  }
}

/**
 * A writer that failed without an error code (itk-wasm's say "file stream is fail after write" or
 * nothing at all) on a disk with next to nothing free ran out of space: say so.
 */
function withCause(err: unknown, dir: string): unknown {
  if ((err as NodeJS.ErrnoException | undefined)?.code || freeBytes(dir) >= 1 << 20) return err;
  const e: NodeJS.ErrnoException = new Error(err instanceof Error ? err.message : String(err));
  e.code = 'ENOSPC';
  return e;
}

/**
 * For writers that make the file themselves (itk-wasm) and may make several (a MetaImage header and
 * its .raw): `write` receives a path with `path`'s name inside a fresh hidden folder beside it; every
 * file it produced is fsynced, checked by `verify` (itk-wasm's NIfTI writer does not report a full
 * disk: it leaves a short file), and renamed into place, data files before the file named `path`, so
 * a reader never sees a header without its data. Throws OutputError naming `path`.
 */
export async function writeAtomically(
  path: string,
  write: (tmpPath: string) => Promise<void>,
  verify?: (tmpPath: string) => void,
): Promise<void> {
  const dir = dirname(path);
  const name = basename(path);
  let tmpDir: string | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    tmpDir = temporaryPathFor(path);
    mkdirSync(tmpDir);
    await write(join(tmpDir, name));
    const produced = readdirSync(tmpDir).sort((a, b) => Number(a === name) - Number(b === name));
    if (!produced.includes(name)) throw new Error('the writer produced no file');
    for (const f of produced) {
      const file = join(tmpDir, f);
      const size = statSync(file).size;
      const fits = disk ? disk(join(dir, f), size) : size;
      if (fits < size) {
        truncateSync(file, fits);
        throw enospc();
      }
      const fd = openSync(file, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    verify?.(join(tmpDir, name));
    for (const f of produced) renameSync(join(tmpDir, f), join(dir, f));
    syncFolder(dir);
  } catch (err) {
    throw outputError(path, withCause(err, dir));
  } finally {
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** Whether process `pid` runs (on this machine). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // runs, under another user
  }
}

/**
 * The process that owns a temporary entry by its name, or null for one this module did not name.
 * Earlier versions of kneeseg named them `NAME.tmp-PID` (weights, slice cache), `DIR.partial-PID`
 * (synthetic cohorts) and `.kneeseg-tmp-XXXXXX` (mkdtemp, no pid: owner 0, never running).
 */
function ownerOf(name: string): number | null {
  const m =
    new RegExp(`^${TEMP_PREFIX.replace('.', '\\.')}(\\d+)-[0-9a-f]{8}-`).exec(name) ??
    /\.(?:tmp|partial)-(\d+)$/.exec(name);
  if (m) return Number(m[1]);
  return new RegExp(`^${TEMP_PREFIX.replace('.', '\\.')}[A-Za-z0-9]{6}$`).test(name) ? 0 : null;
}

/**
 * Removes the temporary files and folders that writers killed mid-write left in `dir` and, down to
 * `depth` levels, in its non-hidden sub-folders; those of processes still running are kept (they may
 * be writing). Returns the paths removed. A folder that does not exist or cannot be listed is skipped.
 */
export function removeStaleTemporaries(dir: string, depth = 1): string[] {
  const removed: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return removed;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    const owner = ownerOf(e.name);
    if (owner !== null) {
      if (owner !== 0 && processRuns(owner)) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } else if (depth > 0 && e.isDirectory() && !e.name.startsWith('.'))
      removed.push(...removeStaleTemporaries(path, depth - 1));
  }
  return removed;
}
