/**
 * The `kneeseg` command. Each subcommand lives in its own file and registers itself here; the files
 * are thin: they parse flags, call library functions (which never print) and report.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { outOfMemoryBytes } from '../engine/index.ts';
import { KneesegError } from '../errors.ts';
import { subcommands } from './commands.ts';

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('kneeseg')
    .description('Semi-supervised knee cartilage segmentation (SSHCPS) on libtorch')
    .version(version())
    .exitOverride();
  for (const add of subcommands) add(program);
  return program;
}

/** Runs the command line; returns the exit status instead of exiting, so tests can call it. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof KneesegError) {
      console.error(`kneeseg: ${err.message}`);
      return 1;
    }
    if (outOfMemoryBytes(err) !== undefined) {
      console.error(
        `kneeseg: out of memory (${(err as Error).message.split('\n')[0]}). Fix: use smaller inputs, slices or batches, or a machine with more memory`,
      );
      return 1;
    }
    throw err;
  }
}
