/** `kneeseg train` as a child process, for the tests that kill or interrupt a run. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/kneeseg.js', import.meta.url));

export interface Child {
  proc: ChildProcess;
  /** stdout and stderr so far */
  output(): string;
  /** resolves with the exit code (null) and signal when the process ends */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startTrain(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, [BIN, 'train', ...args], {
    env: { ...process.env, KNEESEG_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, output: () => text, exited };
}

/** Polls until `ready()` holds or the child ends; false when it ended first. */
export async function waitFor(child: Child, ready: () => boolean, everyMs = 5): Promise<boolean> {
  let ended = false;
  void child.exited.then(() => (ended = true));
  while (!ended) {
    if (ready()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return ready();
}

/** The highest iteration of a training entry in RUN/log.jsonl (0 when none). */
export function loggedIteration(run: string): number {
  const path = join(run, 'log.jsonl');
  if (!existsSync(path)) return 0;
  let last = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    try {
      const e = JSON.parse(line) as { type?: string; iteration?: number };
      if (e.type === 'train' && typeof e.iteration === 'number') last = Math.max(last, e.iteration);
    } catch {
      // a line being written
    }
  }
  return last;
}
