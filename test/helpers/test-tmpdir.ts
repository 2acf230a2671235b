/**
 * Loaded before every test file (`--import`, package.json "test"): the test processes put their
 * temporary folders under one folder of their own, removed when the process that made it exits, so
 * a run of the suite leaves nothing in the system's temporary folder (the runner's children inherit
 * TMPDIR and make theirs inside the runner's; a child that is killed is cleaned up by the runner).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'kneeseg-test-'));
process.env.TMPDIR = dir;
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
