import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `path` without ever leaving a partial file there: `write` receives a path with the same
 * file name inside a fresh hidden folder next to the target (same file system, so rename is atomic),
 * and every file it produced is moved into place only after it succeeded. A MetaImage header and its
 * .raw are written together this way, keeping the header's reference to the data file valid.
 * Data files are moved before the file named `path`, so a reader never sees a header without data.
 */
export async function writeAtomically(
  path: string,
  write: (tmpPath: string) => Promise<void>,
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmpDir = await mkdtemp(join(dir, '.kneeseg-tmp-'));
  try {
    const name = basename(path);
    await write(join(tmpDir, name));
    const produced = (await readdir(tmpDir)).sort((a, b) => Number(a === name) - Number(b === name));
    for (const file of produced) await rename(join(tmpDir, file), join(dir, file));
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}
