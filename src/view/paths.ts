/**
 * Which files the viewer may serve: only regular files below the roots it was given. A request path
 * is split into segments, each percent-decoded once; a segment that is empty, "." or "..", or that
 * decodes to something holding "/", "\" or NUL, is refused (so "%2e%2e" and "%2f" cannot climb out).
 * The file's real path (symbolic links resolved) must still lie below the root's real path, so a
 * link pointing out of the root is refused too.
 */
import { realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';

export class ForbiddenPath extends Error {}

/** The segments of an URL path, decoded; ForbiddenPath for one that could leave the folder. */
export function safeSegments(urlPath: string): string[] {
  const raw = urlPath.split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)));
  return raw.map((s) => {
    let d: string;
    try {
      d = decodeURIComponent(s);
    } catch {
      throw new ForbiddenPath(`bad percent-encoding in "${s}"`);
    }
    if (d === '' || d === '.' || d === '..' || /[/\\\0]/.test(d))
      throw new ForbiddenPath(`path segment "${s}" is not allowed`);
    return d;
  });
}

/** True when `path` is `root` or lies below it (both real paths). */
export function isBelow(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The real path of the regular file at `segments` below `root`, or ForbiddenPath when it is missing,
 * not a regular file, or (through links) outside the root.
 */
export function resolveBelow(root: string, segments: readonly string[]): string {
  const realRoot = realpathSync(root);
  let real: string;
  try {
    real = realpathSync(join(realRoot, ...segments));
  } catch {
    throw new ForbiddenPath('no such file');
  }
  if (!isBelow(real, realRoot)) throw new ForbiddenPath('the file lies outside the served folder');
  if (!statSync(real).isFile()) throw new ForbiddenPath('not a regular file');
  return real;
}
