/**
 * Checks of output paths given on the command line, made before any work starts, so a mistake in
 * `--output`, `--out` or `--json` costs a second, not the scoring or the segmenting it would follow.
 * Each failure is an OutputError naming the path, the flag and the fix.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { OutputError } from '../errors.ts';
import { outputError } from './atomic.ts';

/** The nearest of `path` and its parents that exists (links followed), with its stat. */
function nearestExisting(path: string): { at: string; stat: Stats } {
  let at = resolve(path);
  for (;;) {
    try {
      return { at, stat: statSync(at) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a file on the way, found when the walk reaches it
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw outputError(path, err);
    }
    const up = dirname(at);
    if (up === at) throw new OutputError(path, 'has no existing folder on its way', 'check the path');
    at = up;
  }
}

function checkWritable(path: string, folder: string, flag: string): void {
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new OutputError(
      path,
      `cannot be written: the folder ${folder} is not writable (permission denied)`,
      `give ${flag} a path in a folder you may write to`,
    );
  }
}

function checkAncestor(path: string, at: string, stat: Stats, flag: string): void {
  if (!stat.isDirectory())
    throw new OutputError(
      path,
      `lies below ${at}, which is a file, not a folder`,
      `give ${flag} a path whose parent folders are folders`,
    );
}

/** `path` (given as `flag`) must be an existing folder or one that can be created. */
export function checkOutputFolder(path: string, flag: string): void {
  const { at, stat } = nearestExisting(path);
  if (at === resolve(path)) {
    if (!stat.isDirectory())
      throw new OutputError(
        path,
        `is a file, but ${flag} names the folder to write into`,
        `give ${flag} a new or existing folder, not a file`,
      );
  } else checkAncestor(path, at, stat, flag);
  checkWritable(path, at, flag);
}

/** `path` (given as `flag`) must be a file that can be written: not a folder, not below a file. */
export function checkOutputFile(path: string, flag: string): void {
  const { at, stat } = nearestExisting(path);
  if (at === resolve(path)) {
    if (stat.isDirectory())
      throw new OutputError(
        path,
        `is a folder, but ${flag} names the file to write`,
        `give ${flag} a file name, e.g. ${resolve(path, 'evaluation.json')}`,
      );
    checkWritable(path, dirname(at), flag);
    return;
  }
  checkAncestor(path, at, stat, flag);
  checkWritable(path, at, flag);
}
