/**
 * Data-parallel training step: the time of one training step (supervised method, Adam) and of its
 * gradient all-reduce (`afterBackward` of src/train/distributed-run.ts: the bucketed gradient mean and
 * the buffers' broadcast) with 1 and with N processes on loopback, each process training on its own
 * batch of the configured size (so N processes take a global batch N times larger per step). Random
 * inputs and labels: the step's cost does not depend on the pixels. bench/ measures; it never asserts.
 *
 *   node --import tsx bench/train/data-parallel.bench.ts [--backbones unet,medt] [--size 128x128]
 *                                                        [--batch 2] [--steps 6] [--worlds 1,2]
 *
 * Threads per process: KNEESEG_THREADS (default 1). With as many processes as free cores, N processes
 * should take about as long per step as one plus the all-reduce; on a machine shared with other jobs
 * (as this project's 2-core machines are) they compete for the same cores instead.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as E from '../../src/engine/index.ts';
import { ProcessGroup } from '../../src/engine/distributed.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { createMethod } from '../../src/methods/registry.ts';
import { buildModel } from '../../src/models/registry.ts';
import type { SliceBatch } from '../../src/train/batches.ts';
import { parseConfig } from '../../src/train/config.ts';
import { bufferTensors, dataParallelHooks, stateTensors } from '../../src/train/distributed-run.ts';
import { broadcastParameters } from '../../src/train/data-parallel.ts';
import { singleProcessHooks, type TrainHooks } from '../../src/train/hooks.ts';
import { trainStep, type StepParts } from '../../src/train/step.ts';

const { values: args } = parseArgs({
  options: {
    backbones: { type: 'string', default: 'unet' },
    size: { type: 'string', default: '128x128' },
    batch: { type: 'string', default: '2' },
    steps: { type: 'string', default: '6' },
    worlds: { type: 'string', default: '1,2' },
    // set by the launcher for the rank processes
    backbone: { type: 'string' },
    world: { type: 'string' },
    rank: { type: 'string' },
    port: { type: 'string', default: '0' },
  },
});

interface Row {
  backbone: string;
  world: number;
  parameters: number;
  /** bytes of one all-reduce of every gradient (float32) */
  gradient_bytes: number;
  step_ms: number;
  allreduce_ms: number;
  /** global batch slices per second */
  slices_per_s: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function randomBatch(n: number, size: readonly [number, number]): SliceBatch {
  const [H, W] = size;
  const image = new Float32Array(n * 5 * H * W).map(() => Math.random());
  const label = new Uint8Array(n * H * W).map(() => Math.floor(Math.random() * 7));
  return { image, label, n, numLabelled: n, channels: 5, height: H, width: W, spacing: [0.36, 0.36] };
}

/** One process's steps; rank 0 prints the row. */
function rankMain(rank: number, world: number, port: number, backbone: string): void {
  const say = (line: string) => writeSync(1, `${line}\n`);
  const size = args.size.split('x').map(Number) as [number, number];
  const config = parseConfig({ data: { dir: 'unused', size }, model: { backbone } });
  E.manualSeed(1);
  const method = createMethod('supervised', {
    tree: defaultKneeTree(),
    treeOptions: config.tree,
    buildModel: ({ outChannels, levelSet }) =>
      buildModel({ ...config.model, inChannels: 5, outChannels, levelSet, imageSize: size }),
  });
  const parameters = method.modules.model!.parameters();
  let pg: ProcessGroup | null = null;
  let hooks: TrainHooks = singleProcessHooks;
  const reduceMs: number[] = [];
  if (world > 1) {
    pg = ProcessGroup.init({
      masterPort: port,
      worldSize: world,
      rank,
      timeoutMs: 600_000,
      onListening: (p) => say(`PORT ${p}`),
    });
    const dp = dataParallelHooks(pg, () => bufferTensors(method.modules));
    broadcastParameters(pg, stateTensors(method.modules));
    hooks = {
      ...dp,
      afterBackward: (p) => {
        const t = performance.now();
        dp.afterBackward(p);
        reduceMs.push(performance.now() - t);
      },
    };
  } else say('PORT 0');
  const optimizer = new E.Adam(parameters, { lr: 1e-3 });
  const parts: StepParts = { method, optimizer, parameters, buffers: [], hooks, seed: 1, head: null };
  const steps = Number(args.steps);
  const stepMs: number[] = [];
  const batch = randomBatch(Number(args.batch), size);
  for (let i = 0; i <= steps; i++) {
    const t = performance.now();
    trainStep(parts, batch, { iteration: i, maxIterations: steps, epoch: 0, stage: 1 });
    if (i > 0) stepMs.push(performance.now() - t); // the first step pays first-touch allocations
  }
  pg?.barrier();
  pg?.close();
  const count = parameters.reduce((s, p) => s + p.numel, 0);
  const row: Row = {
    backbone,
    world,
    parameters: count,
    gradient_bytes: count * 4,
    step_ms: median(stepMs),
    allreduce_ms: reduceMs.length ? median(reduceMs.slice(1)) : 0,
    slices_per_s: (world * Number(args.batch)) / (median(stepMs) / 1000),
  };
  if (rank === 0) say(`ROW ${JSON.stringify(row)}`);
}

/** Starts `world` processes of this file for one backbone; resolves with rank 0's row. */
async function runWorld(backbone: string, world: number): Promise<Row | null> {
  const self = fileURLToPath(import.meta.url);
  const common = ['--import', 'tsx', self, '--size', args.size, '--batch', args.batch, '--steps', args.steps];
  const rankArgs = (r: number, port: string) => [
    ...common,
    ...['--backbone', backbone, '--world', String(world), '--rank', String(r), '--port', port],
  ];
  const env = { ...process.env, KNEESEG_THREADS: process.env.KNEESEG_THREADS ?? '1' };
  const root = spawn(process.execPath, rankArgs(0, '0'), { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const others: ReturnType<typeof spawn>[] = [];
  root.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    const port = /^PORT (\d+)$/m.exec(out);
    if (port && others.length === 0)
      for (let r = 1; r < world; r++)
        others.push(
          spawn(process.execPath, rankArgs(r, port[1]!), { env, stdio: ['ignore', 'ignore', 'inherit'] }),
        );
  });
  const code = await new Promise<number | null>((resolve) => root.on('exit', resolve));
  await Promise.all(others.map((p) => new Promise((r) => (p.exitCode !== null ? r(0) : p.on('exit', r)))));
  const row = /^ROW (.*)$/m.exec(out);
  if (code !== 0 || !row) {
    console.error(`data-parallel bench: ${backbone}, ${world} processes: rank 0 exited with ${code}\n${out}`);
    return null;
  }
  return JSON.parse(row[1]!) as Row;
}

async function launch(): Promise<void> {
  const rows: Row[] = [];
  for (const backbone of args.backbones.split(','))
    for (const world of args.worlds.split(',').map(Number)) {
      const row = await runWorld(backbone, world);
      if (row) rows.push(row);
    }
  console.log(
    `data-parallel training step (supervised, ${args.size}, batch ${args.batch} per process, median of ${args.steps}); ` +
      `${cpus().length} cores, ${process.env.KNEESEG_THREADS ?? '1'} thread(s) per process, load ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log('backbone  procs  parameters  grad MB   step ms  all-reduce ms  slices/s');
  for (const r of rows)
    console.log(
      `${r.backbone.padEnd(8)} ${String(r.world).padStart(6)} ${String(r.parameters).padStart(11)} ` +
        `${(r.gradient_bytes / 1e6).toFixed(2).padStart(8)} ${r.step_ms.toFixed(0).padStart(9)} ` +
        `${r.allreduce_ms.toFixed(1).padStart(14)} ${r.slices_per_s.toFixed(2).padStart(9)}`,
    );
  console.log(
    JSON.stringify({
      date: new Date().toISOString(),
      size: args.size,
      batch: args.batch,
      loadavg: loadavg()[0],
      rows,
    }),
  );
}

if (args.rank !== undefined)
  rankMain(Number(args.rank), Number(args.world), Number(args.port), args.backbone ?? 'unet');
else await launch();
