/**
 * Tests that compare with PyTorch run /usr/bin/python3 with Debian's python3-torch. CI installs it, so
 * there its absence fails the test; elsewhere the test is reported as skipped, with the reason, never
 * as a pass.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

let found: boolean | undefined;

/** Whether PYTHON can import torch (find_spec locates the package without the seconds an import takes). */
export function pythonHasTorch(): boolean {
  const probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)";
  found ??= spawnSync(PYTHON, ['-c', probe], { stdio: 'ignore' }).status === 0;
  return found;
}

/**
 * true when the PyTorch check can run; otherwise fails under CI=true, else marks the test skipped
 * (`t.skip` with what did not run) and returns false, and the test returns.
 */
export function needPythonTorch(t: { skip(message?: string): void }, what: string): boolean {
  if (pythonHasTorch()) return true;
  assert.ok(!process.env.CI, `CI is set but ${PYTHON} cannot import torch (apt-get install python3-torch)`);
  t.skip(`python3-torch is not installed (apt-get install python3-torch): ${what} did not run`);
  return false;
}
