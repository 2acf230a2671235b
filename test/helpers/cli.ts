/** Runs the kneeseg command line inside the test process. */
import { main } from '../../src/cli/main.ts';

export interface CliResult {
  /** exit status (main returns it instead of exiting) */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `kneeseg ...args` in this process, capturing what it prints to console.log and console.error. */
export async function kneeseg(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  // main reads process.exitCode, which the test runner sets to 1 after a failed test: a command must
  // not inherit it, and the runner's own status must survive the command
  const runnerExitCode = process.exitCode;
  process.exitCode = undefined;
  try {
    const code = await main(['node', 'kneeseg', ...args]);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    [console.log, console.error] = [log, error];
    process.exitCode = runnerExitCode;
  }
}
