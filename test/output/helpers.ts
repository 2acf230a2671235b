/** Shared pieces of the output tests: a process id that no longer runs, "complete or absent" checks. */
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readVolume } from '../../src/data/io/index.ts';
import { decodeSafetensors } from '../../src/engine/index.ts';

/** The pid of a process that has run and exited (so it runs no more). */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid, 'spawned');
  return r.pid;
}

/** Every file below `dir` (hidden ones included), as paths. */
export function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? [p, ...filesBelow(p)] : [p];
  });
}

/**
 * Asserts that every file below `dir` is whole: no temporary file or folder is left, label maps read,
 * PNGs decode, JSON parses, CSV ends with a line break, weights decode. Returns the files checked.
 */
export async function assertCompleteOrAbsent(dir: string): Promise<string[]> {
  const files = filesBelow(dir);
  for (const f of files) {
    assert.ok(!/\.kneeseg-tmp-|\.tmp-\d+$/.test(f), `temporary file left: ${f}`);
    if (statSync(f).isDirectory()) continue;
    if (/\.(nii\.gz|nii|mha|nrrd)$/.test(f)) await readVolume(f);
    else if (f.endsWith('.png')) PNG.sync.read(readFileSync(f));
    else if (f.endsWith('.json')) JSON.parse(readFileSync(f, 'utf8'));
    else if (f.endsWith('.csv')) assert.match(readFileSync(f, 'utf8'), /^case,.*\n(.*\n)*$/, f);
    else if (f.endsWith('.safetensors'))
      for (const t of decodeSafetensors(readFileSync(f), f).tensors.values()) t.dispose();
  }
  return files;
}
