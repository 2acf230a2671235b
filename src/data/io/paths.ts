/**
 * Paths as the WebAssembly readers need them. itk-wasm mounts the folder of the file it is given into
 * its own virtual file system and cannot leave it: a symbolic link into another folder (a dataset of
 * links into a shared store, a DataLad/git-annex checkout) fails there with an empty error (FACTS.md).
 * So links are resolved here, with Node, before a reader sees the path; a link loop or a link to a
 * file that is gone becomes an InputError naming the link, not a stack trace or "corrupt file".
 */
import { lstatSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { InputError } from '../../errors.ts';

/** Node's error codes for the failures a path can have. */
function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'unknown error';
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The InputError for a path that stat/realpath refused with `err`. */
export function pathError(path: string, err: unknown): InputError {
  const code = codeOf(err);
  if (code === 'ELOOP')
    return new InputError(
      path,
      'is a symbolic link loop (ELOOP: following its links leads back to a link already passed)',
      'point the link at the scan itself (`ls -l` shows where each link goes)',
    );
  if (code === 'ENOENT' && isLink(path)) {
    let target = '?';
    try {
      target = readlinkSync(path);
    } catch {
      // the link vanished meanwhile: the message still says what it is
    }
    return new InputError(
      path,
      `is a symbolic link to ${target}, which does not exist (a dangling link)`,
      'restore the file the link points to, or point the link at the scan',
    );
  }
  if (code === 'ENOENT')
    return new InputError(path, 'does not exist (or a folder or link on its way does not)', 'check the path');
  if (code === 'EACCES' || code === 'EPERM')
    return new InputError(
      path,
      'cannot be opened (permission denied)',
      'give the user running kneeseg read access to it and its folders',
    );
  if (code === 'ENOTDIR')
    return new InputError(path, 'has a file where its path needs a folder (ENOTDIR)', 'check the path');
  return new InputError(path, `cannot be opened (${code})`, 'check the path');
}

/** `statSync` following links, undefined when `path` does not exist; InputError for loops, dangling links, no access. */
export function statFollowing(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if (codeOf(err) === 'ENOENT' && !isLink(path)) return undefined;
    throw pathError(path, err);
  }
}

/**
 * The real path of `path`, every symbolic link on the way resolved (realpath(3)); InputError naming
 * `path` for a missing file, a dangling link, a link loop or a folder without access.
 */
export function resolveLinks(path: string): string {
  try {
    return realpathSync(path);
  } catch (err) {
    throw pathError(path, err);
  }
}

/** A DICOM UID: dot-separated numbers (PS3.5 9.1). */
export const UID_PATTERN = /^[0-9]+(\.[0-9]+)*$/;

/**
 * `FOLDER#UID` names one series of a folder holding several: the part after the last `#` is a
 * SeriesInstanceUID when it looks like one and the whole path does not exist (a file may have `#` in
 * its name). Returns the folder (or `path` itself) and the UID, if any.
 */
export function splitSeriesPath(path: string): { readonly dir: string; readonly series?: string } {
  const at = path.lastIndexOf('#');
  if (at <= 0 || !UID_PATTERN.test(path.slice(at + 1))) return { dir: path };
  try {
    lstatSync(path);
    return { dir: path };
  } catch {
    return { dir: path.slice(0, at), series: path.slice(at + 1) };
  }
}
