/**
 * Multi-process tests of the c10d binding: starts `worldSize` ranks of distributed-worker.ts on
 * loopback and collects what each prints. Rank 0 binds port 0 (the system picks a free port) and
 * prints it; the others read it on stdin, so parallel test files never fight over a port.
 *
 * Also the tiny model and data both the workers and the single-process reference use.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as E from '../../src/engine/index.ts';
import { mulberry32 } from '../../src/data/random.ts';
import type { SliceBatch } from '../../src/train/batches.ts';
import { shardSliceBatch } from '../../src/train/distributed-run.ts';
import { singleProcessHooks, type TrainHooks } from '../../src/train/hooks.ts';
import { trainStep, type StepParts } from '../../src/train/step.ts';

const WORKER = fileURLToPath(new URL('./distributed-worker.ts', import.meta.url));

export interface RankRun {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr */
  output: string;
  /** the objects the worker printed as `RESULT {json}` lines, in order */
  results: Record<string, unknown>[];
}

export interface RunOptions {
  worldSize?: number;
  /** the process group's timeout */
  timeoutMs?: number;
  /** scenario arguments, passed to every rank */
  args?: Record<string, unknown>;
  /** called for each stdout line (to kill a rank at the right moment) */
  onLine?: (rank: number, line: string, procs: ChildProcess[]) => void;
  /** every rank is killed after this long, so a broken test fails instead of hanging (default 60 s) */
  deadlineMs?: number;
}

export async function runRanks(scenario: string, opts: RunOptions = {}): Promise<RankRun[]> {
  const worldSize = opts.worldSize ?? 2;
  const config = JSON.stringify({ timeoutMs: opts.timeoutMs ?? 10_000, ...opts.args });
  const procs: ChildProcess[] = [];
  const runs: RankRun[] = [];
  const ended: Promise<void>[] = [];
  for (let rank = 0; rank < worldSize; rank++) {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', WORKER, scenario, String(rank), String(worldSize), config],
      {
        env: { ...process.env, KNEESEG_THREADS: '1', OMP_WAIT_POLICY: 'PASSIVE' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const run: RankRun = { rank, code: null, signal: null, output: '', results: [] };
    procs.push(proc);
    runs.push(run);
    let pending = '';
    proc.stdout!.on('data', (b: Buffer) => {
      run.output += b.toString();
      pending += b.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const port = /^PORT (\d+)$/.exec(line);
        if (rank === 0 && port) for (const p of procs.slice(1)) p.stdin!.write(`${port[1]}\n`);
        if (line.startsWith('RESULT '))
          run.results.push(JSON.parse(line.slice(7)) as Record<string, unknown>);
        opts.onLine?.(rank, line, procs);
      }
    });
    proc.stderr!.on('data', (b: Buffer) => (run.output += b.toString()));
    proc.stdin!.on('error', () => {}); // a rank that died before reading its port
    ended.push(
      new Promise((resolve) =>
        proc.on('exit', (code, signal) => {
          run.code = code;
          run.signal = signal;
          resolve();
        }),
      ),
    );
  }
  const deadline = setTimeout(() => procs.forEach((p) => p.kill('SIGKILL')), opts.deadlineMs ?? 60_000);
  try {
    await Promise.all(ended);
  } finally {
    clearTimeout(deadline);
  }
  return runs;
}

/** The first result of `run` holding `key`, or a failure showing what the rank printed. */
export function resultOf<T>(run: RankRun, key: string): T {
  const r = run.results.find((x) => key in x);
  if (r === undefined) throw new Error(`rank ${run.rank} reported no '${key}'; its output:\n${run.output}`);
  return r[key] as T;
}

// ---- a tiny model and data set for the data-parallel equivalence test ----------------------------

/** tanh MLP 4 -> 6 -> 1 in float64, plus a parameter no loss uses and two buffers. */
export class TinyNet extends E.Module {
  readonly w1: E.Tensor;
  readonly b1: E.Tensor;
  readonly w2: E.Tensor;
  readonly b2: E.Tensor;
  constructor() {
    super();
    const f64 = { dtype: 'float64' } as const;
    this.w1 = this.param('w1', E.randn([4, 6], f64));
    this.b1 = this.param('b1', E.randn([6], f64));
    this.w2 = this.param('w2', E.randn([6, 1], f64));
    this.b2 = this.param('b2', E.randn([1], f64));
    this.param('unused', E.randn([2], f64));
    this.buffer('scale', E.randn([3], f64));
    this.buffer('count', E.randint(0, 1000, [1]));
  }
  forward(x: E.Tensor): E.Tensor {
    return x.matmul(this.w1).add(this.b1).tanh().matmul(this.w2).add(this.b2);
  }
  loss(x: E.Tensor, y: E.Tensor): E.Tensor {
    return this.forward(x).sub(y).square().mean();
  }
}

/** n samples of 4 features and one target, a function of the seed only. */
export function tinyData(n: number, seed: number): { x: number[][]; y: number[] } {
  const rng = mulberry32(seed);
  const x = Array.from({ length: n }, () => Array.from({ length: 4 }, () => rng() * 2 - 1));
  const y = x.map((r) => Math.sin(r[0]! * 2) + r[1]! * r[2]! - 0.5 * r[3]!);
  return { x, y };
}

/** The rows `idx` of the data as float64 tensors [B, 4] and [B, 1]. */
export function tinyBatch(
  data: { x: number[][]; y: number[] },
  idx: readonly number[],
): [E.Tensor, E.Tensor] {
  return [
    E.tensor(
      idx.flatMap((i) => data.x[i]!),
      [idx.length, 4],
      { dtype: 'float64' },
    ),
    E.tensor(
      idx.map((i) => data.y[i]!),
      [idx.length, 1],
      { dtype: 'float64' },
    ),
  ];
}

export const TINY_SGD = { lr: 0.1, momentum: 0.9 } as const;

// ---- the trainer's step (src/train/step.ts) on the tiny model, with or without data-parallel hooks --

export interface TinyStepsOptions {
  /** the data-parallel hooks of this rank; absent: one process on the global batches */
  hooks?: TrainHooks;
  rank?: number;
  worldSize?: number;
  steps: number;
  /** per-rank batch (even: half labelled, half unlabelled) */
  perRankBatch: number;
  n: number;
  seed: number;
  /** the loss is NaN at this iteration on this rank (the one-process reference: in its global batch) */
  nanAt?: { rank: number; iteration: number };
}

/** The global batch of a step: W x B items, the first half labelled, as SliceData orders them. */
export function tinyGlobalBatch(
  data: { x: number[][]; y: number[] },
  step: number,
  size: number,
): SliceBatch {
  const image = new Float32Array(size * 5);
  for (let k = 0; k < size; k++) {
    const i = (step * size + k) % data.y.length;
    image.set([...data.x[i]!, data.y[i]!], k * 5);
  }
  const numLabelled = size / 2;
  return {
    image,
    label: new Uint8Array(numLabelled),
    n: size,
    numLabelled,
    channels: 5,
    height: 1,
    width: 1,
    spacing: [1, 1],
  };
}

/**
 * `steps` Adam steps of TinyNet through trainStep: this rank's part of each global batch
 * (shardSliceBatch) when `hooks` are given, else the global batch itself. The net starts from the
 * parameters in place (the caller seeds or broadcasts them).
 */
export function tinyTrainSteps(
  net: TinyNet,
  o: TinyStepsOptions,
): { params: number[][]; skipped: number[]; losses: number[] } {
  const rank = o.rank ?? 0;
  const worldSize = o.worldSize ?? 1;
  const data = tinyData(o.n, o.seed);
  const optimizer = new E.Adam(net.parameters(), { lr: 0.01 });
  const parts: StepParts = {
    method: {
      step: (batch, ctx) => {
        const x = batch.image.reshape(batch.image.size(0), 5).to('float64');
        const loss = net.loss(x.narrow(1, 0, 4), x.narrow(1, 4, 1));
        const nan = o.nanAt && o.nanAt.iteration === ctx.iteration && (!o.hooks || o.nanAt.rank === rank);
        return { total: nan ? loss.mul(Number.NaN) : loss };
      },
    },
    optimizer,
    parameters: net.parameters(),
    buffers: [...net.namedBuffers()].map(([, b]) => b),
    hooks: o.hooks ?? singleProcessHooks,
    seed: o.seed,
    head: null,
  };
  const skipped: number[] = [];
  const losses: number[] = [];
  for (let iteration = 0; iteration < o.steps; iteration++) {
    const global = tinyGlobalBatch(data, iteration, o.perRankBatch * worldSize);
    const batch = o.hooks ? shardSliceBatch(global, rank, worldSize) : global;
    const out = trainStep(parts, batch, { iteration, maxIterations: o.steps, epoch: 0, stage: 1 });
    if (out.bad.length) skipped.push(iteration);
    losses.push(out.values.total!);
  }
  const params = net.parameters().map((p) => p.toArray());
  return { params, skipped, losses };
}
