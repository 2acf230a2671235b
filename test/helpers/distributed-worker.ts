/**
 * One rank of a multi-process test (started by distributed.ts):
 *   node --import tsx distributed-worker.ts SCENARIO RANK WORLD_SIZE CONFIG_JSON
 * Rank 0 prints `PORT n` once its rendezvous port is bound; the other ranks read n on stdin. Results go
 * to stdout as `RESULT {json}` lines, written synchronously: collectives block the event loop, and a
 * rank that is about to be killed must have said what it did.
 */
import { writeSync } from 'node:fs';
import * as E from '../../src/engine/index.ts';
import { ProcessGroup } from '../../src/engine/distributed.ts';
import {
  allReduceGradients,
  broadcastDecision,
  broadcastParameters,
  shardIndices,
} from '../../src/train/data-parallel.ts';
import {
  bufferTensors,
  dataParallelHooks,
  startListener,
  stateTensors,
} from '../../src/train/distributed-run.ts';
import { runTraining } from '../../src/train/run.ts';
import { TINY_SGD, TinyNet, tinyBatch, tinyData, tinyTrainSteps } from './distributed.ts';

const [scenario, rankArg, worldArg, configArg] = process.argv.slice(2);
const rank = Number(rankArg);
const worldSize = Number(worldArg);
const config = JSON.parse(configArg ?? '{}') as Record<string, number>;
const args = config as unknown as Record<string, unknown>;
const timeoutMs = config.timeoutMs ?? 10_000;

const say = (line: string) => writeSync(1, `${line}\n`);
const report = (o: Record<string, unknown>) => say(`RESULT ${JSON.stringify(o)}`);
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

async function masterPort(): Promise<number> {
  if (rank === 0) return 0;
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  process.stdin.destroy();
  return Number(text.trim());
}

function join(): ProcessGroup {
  const started = Date.now();
  return E.scope(() => {
    const pg = ProcessGroup.init({
      masterAddr: '127.0.0.1',
      masterPort: port,
      worldSize,
      rank,
      timeoutMs,
      onListening: (bound) => say(`PORT ${bound}`),
    });
    report({ joinedMs: Date.now() - started });
    return pg;
  });
}

let port = 0;

/** Known answers for each collective (rank r contributes values built from r). */
function collectives(pg: ProcessGroup): void {
  E.scope(() => {
    const a = E.tensor([rank + 1, 10 * (rank + 1), 0.25], [3], { dtype: 'float64' });
    pg.allReduceSum(a);
    const f = E.tensor([rank, 2], [2], { dtype: 'float32' });
    const l = E.tensor([7 * rank + 1], [1], { dtype: 'int64' });
    const m = E.full([2, 2], rank + 1, { dtype: 'float64' });
    pg.allReduceSum([f, l, m]); // mixed dtypes: one coalesced collective per dtype
    const mean = E.tensor([2 * rank, 1], [2], { dtype: 'float32' });
    pg.allReduceMean(mean);
    const fromOne = E.tensor([rank + 100, 5], [2], { dtype: 'int32' });
    pg.broadcast(fromOne, 1);
    const fromZero = [E.full([3], rank, { dtype: 'float32' }), E.full([1], 10 + rank, { dtype: 'int64' })];
    pg.broadcast(fromZero, 0);
    const decision = broadcastDecision(
      pg,
      rank === 0
        ? { stop: false, stage: 2, best: { iteration: 40, dice: 0.75 }, note: 'genou ü' }
        : undefined,
    );
    report({
      sum: a.toArray(),
      coalesced: [f.toArray(), l.toArray(), m.toArray()],
      mean: mean.toArray(),
      broadcastFromOne: fromOne.toArray(),
      broadcastFromZero: fromZero.map((t) => t.toArray()),
      decision,
    });
  });
  // rank 1 arrives late: rank 0's barrier must wait for it
  if (rank === 1) sleep(config.lateMs ?? 700);
  const t = Date.now();
  pg.barrier();
  report({ barrierMs: Date.now() - t });
}

/** K SGD steps on this rank's shards of a shared data set; reports every parameter afterwards. */
function sgd(pg: ProcessGroup): void {
  const { n, perRankBatch, steps, seed, bucketBytes } = config as Record<string, number>;
  E.manualSeed(1000 + rank); // each rank starts elsewhere: broadcastParameters must fix that
  const net = new TinyNet();
  broadcastParameters(pg, net, { bucketBytes });
  report({ initial: [...net.stateDict()].map(([k, t]) => [k, t.toArray()]) });
  const data = tinyData(n!, seed!);
  const opt = new E.SGD(net.parameters(), TINY_SGD);
  const perEpoch = Math.ceil(n! / worldSize);
  const batches: number[][] = [];
  for (let step = 0; step < steps!; step++) {
    const start = step * perRankBatch!;
    const epoch = Math.floor(start / perEpoch);
    const order = shardIndices(n!, rank, worldSize, { seed: seed!, epoch });
    const idx = order.slice(start - epoch * perEpoch, start - epoch * perEpoch + perRankBatch!);
    batches.push(idx);
    E.scope(() => {
      opt.zeroGrad();
      const [x, y] = tinyBatch(data, idx);
      net.loss(x, y).backward();
      allReduceGradients(pg, net.parameters(), { bucketBytes });
      opt.step();
    });
  }
  report({ batches, final: [...net.stateDict()].map(([k, t]) => [k, t.toArray()]) });
  // only rank 0 has a gradient for `unused`, nobody for the others
  E.scope(() => {
    opt.zeroGrad();
    const unused = net.parameters()[4]!;
    if (rank === 0) unused.grad = E.tensor([1, 3], [2], { dtype: 'float64' });
    allReduceGradients(pg, net.parameters(), { bucketBytes });
    report({ partialGrads: net.parameters().map((p) => p.grad?.toArray() ?? null) });
  });
}

/** Rank 1 is killed (by the test) while rank 0 waits for it inside an all-reduce. */
function killed(pg: ProcessGroup): void {
  const t = E.ones([4]);
  pg.allReduceSum(t); // the connections are up
  if (rank === 1) {
    say('READY');
    sleep(20_000);
    return;
  }
  const started = Date.now();
  try {
    pg.allReduceSum(t);
    report({ error: null });
  } catch (err) {
    report({ error: (err as Error).message, failedAfterMs: Date.now() - started });
  }
}

/** Rank 1 stays alive but stops taking part: rank 0 must give up after the timeout. */
function silent(pg: ProcessGroup): void {
  if (rank === 1) {
    sleep(timeoutMs * 2 + 1000);
    return;
  }
  const started = Date.now();
  try {
    pg.allReduceSum(E.ones([4]));
    report({ error: null });
  } catch (err) {
    report({ error: (err as Error).message, failedAfterMs: Date.now() - started });
  }
  const t = Date.now();
  pg.close();
  report({ closeMs: Date.now() - t });
}

/**
 * trainStep with the data-parallel hooks on TinyNet: each rank starts elsewhere (the start broadcast
 * must fix that) and trains on its part of each global batch; reports its parameters.
 */
function steps(pg: ProcessGroup): void {
  E.manualSeed(100 + rank);
  const net = new TinyNet();
  startListener(pg, () => stateTensors({ net }))({
    type: 'start',
    totalIterations: 0,
    startIteration: 0,
    parameters: 0,
    resumed: false,
  });
  const hooks = dataParallelHooks(pg, () => bufferTensors({ net }));
  const out = tinyTrainSteps(net, { ...(args.steps as object), hooks, rank, worldSize } as never);
  const buffers = bufferTensors({ net }).map((b) => b.toArray());
  // a verdict's NaN and Infinity must survive the broadcast (plain JSON makes them null)
  const d = hooks.decide(rank === 0 ? { a: Number.NaN, b: Infinity, c: [-Infinity, 1] } : null)!;
  const kept = Number.isNaN(d.a) && d.b === Infinity && d.c[0] === -Infinity && d.c[1] === 1;
  report({ ...out, buffers, decisionKept: kept });
}

/** runTraining on this rank (rank > 0 writes to `rankFolder`); the test compares the folders. */
async function train(pg: ProcessGroup): Promise<void> {
  const r = await runTraining(args.config, {
    out: args.out as string,
    resume: Boolean(args.resume),
    distributed: pg,
    rankFolder: args.rankFolder as string,
  });
  report({ iterations: r.result.state.iteration, stopped: r.result.state.stopped });
}

const scenarios: Record<string, (pg: ProcessGroup) => void | Promise<void>> = {
  collectives,
  sgd,
  killed,
  silent,
  steps,
  train,
};

port = await masterPort();
const pg = join();
await scenarios[scenario!]!(pg);
pg.close();
process.exit(0);
