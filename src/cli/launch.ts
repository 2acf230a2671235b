/**
 * `kneeseg train --nproc N`: starts the N local processes of one data-parallel group, as PyTorch's
 * torchrun does: each gets torchrun's variables (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK,
 * LOCAL_RANK, LOCAL_WORLD_SIZE) and an equal share of the cores. Rank 0 owns the terminal; the other
 * ranks' output is prefixed with their rank. When one rank fails, the launcher stops the others and
 * exits with that rank's status, so a dead worker never leaves the job hanging.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { KneesegError } from '../errors.ts';

export interface LaunchOptions {
  /** processes on this machine */
  nproc: number;
  /** machines in the job (each runs this launcher with the same nproc) */
  nnodes?: number;
  /** this machine's index in [0, nnodes) */
  nodeRank?: number;
  masterAddr?: string;
  /** rendezvous port; with one machine, 0 picks a free one */
  masterPort?: number;
  /** the command each rank runs: program and arguments */
  command: readonly string[];
  /** lines of the launcher (which rank failed); default stderr */
  log?: (line: string) => void;
  /** how long the others get to exit after a rank failed before they are killed (default 10 s) */
  graceMs?: number;
}

/** The flags of `kneeseg train` that the launcher consumes (the ranks never see them). */
export const LAUNCH_FLAGS = ['--nproc', '--nnodes', '--node-rank', '--master-addr', '--master-port'];

/** `argv` without the launcher's flags (`--flag value` and `--flag=value` forms). */
export function withoutLaunchFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (LAUNCH_FLAGS.includes(a)) i++;
    else if (!LAUNCH_FLAGS.some((f) => a.startsWith(`${f}=`))) out.push(a);
  }
  return out;
}

/** The `kneeseg` command as this Node runs it (tsx registers itself in bin/kneeseg.js). */
export function kneesegCommand(args: readonly string[]): string[] {
  return [process.execPath, fileURLToPath(new URL('../../bin/kneeseg.js', import.meta.url)), ...args];
}

/** A TCP port free on the loopback interface now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function checkLaunch(o: LaunchOptions): Required<Omit<LaunchOptions, 'log'>> {
  const r = {
    nproc: o.nproc,
    nnodes: o.nnodes ?? 1,
    nodeRank: o.nodeRank ?? 0,
    masterAddr: o.masterAddr ?? '127.0.0.1',
    masterPort: o.masterPort ?? 0,
    command: o.command,
    graceMs: o.graceMs ?? 10_000,
  };
  const whole = (flag: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max)
      throw new KneesegError(`${flag} ${v}: give a whole number from ${min} to ${max}`);
  };
  whole('--nproc', r.nproc, 1, 1024);
  whole('--nnodes', r.nnodes, 1, 65536);
  whole('--node-rank', r.nodeRank, 0, r.nnodes - 1);
  whole('--master-port', r.masterPort, r.nnodes > 1 ? 1 : 0, 65535);
  return r;
}

/** Each local rank's environment: torchrun's variables and its share of the cores. */
export function rankEnvironment(
  o: { nproc: number; nnodes: number; nodeRank: number; masterAddr: string; masterPort: number },
  localRank: number,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const threads = Math.max(1, Math.floor(availableParallelism() / o.nproc));
  return {
    ...base,
    MASTER_ADDR: o.masterAddr,
    MASTER_PORT: String(o.masterPort),
    WORLD_SIZE: String(o.nnodes * o.nproc),
    RANK: String(o.nodeRank * o.nproc + localRank),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(o.nproc),
    KNEESEG_THREADS: base.KNEESEG_THREADS ?? String(threads),
  };
}

export function prefixLines(stream: NodeJS.ReadableStream, prefix: string, out: NodeJS.WritableStream): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) out.write(`${prefix}${line}\n`);
  });
  stream.on('end', () => pending && out.write(`${prefix}${pending}\n`));
}

/** Runs the ranks of this machine to the end; resolves with the job's exit status. */
export async function launchRanks(options: LaunchOptions): Promise<number> {
  const o = checkLaunch(options);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (o.masterPort === 0) o.masterPort = await freePort();
  const children: ChildProcess[] = [];
  // Ctrl-C reaches every rank from the terminal: they checkpoint and stop together, the launcher waits
  process.on('SIGINT', waitForRanks);
  const first = o.nodeRank * o.nproc;
  let failure: { rank: number; status: number } | null = null;
  const statuses = await Promise.all(
    Array.from({ length: o.nproc }, (_, local) => {
      const rank = first + local;
      const child = spawn(o.command[0]!, o.command.slice(1), {
        env: rankEnvironment(o, local),
        stdio: rank === 0 ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      });
      if (rank !== 0) {
        prefixLines(child.stdout!, `[rank ${rank}] `, process.stdout);
        prefixLines(child.stderr!, `[rank ${rank}] `, process.stderr);
      }
      children.push(child);
      return new Promise<number>((resolve) => {
        child.on('error', (err) => {
          log(`kneeseg: rank ${rank} could not start (${err.message})`);
          resolve(1);
        });
        child.on('exit', (code, signal) => {
          const status = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
          if (status !== 0 && failure === null) {
            failure = { rank, status };
            log(
              `kneeseg: rank ${rank} of ${o.nnodes * o.nproc} ${signal ? `was killed (${signal})` : `exited with status ${code}`}; stopping the other ranks`,
            );
            stopOthers(children, child, o.graceMs);
          }
          resolve(status);
        });
      });
    }),
  );
  process.off('SIGINT', waitForRanks);
  const failed = failure as { rank: number; status: number } | null;
  return failed ? failed.status : (statuses.find((s) => s !== 0) ?? 0);
}

function waitForRanks(): void {}

/** SIGTERM to every rank still running, SIGKILL to those still there after `graceMs`. */
function stopOthers(children: readonly ChildProcess[], failed: ChildProcess, graceMs: number): void {
  const running = () => children.filter((c) => c !== failed && c.exitCode === null && c.signalCode === null);
  for (const c of running()) c.kill('SIGTERM');
  setTimeout(() => {
    for (const c of running()) c.kill('SIGKILL');
  }, graceMs).unref();
}
