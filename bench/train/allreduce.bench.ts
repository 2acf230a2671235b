/**
 * Gloo all-reduce bandwidth on loopback: two processes (this file, started twice by itself) sum float32
 * buffers of 1-50 MB with ProcessGroup.allReduceSum, the collective data-parallel training runs once
 * per gradient bucket. Reports per size the median time, the algorithm bandwidth (buffer bytes / time)
 * and the bus bandwidth (algorithm x 2 (n - 1) / n, NCCL-tests' convention: what each link carries,
 * comparable across world sizes), and the algorithm bandwidth of the fastest repeat. bench/ measures;
 * it never asserts.
 *
 *   node --import tsx bench/train/allreduce.bench.ts [--sizes 1,2,5,10,25,50] [--repeats 10] [--world 2]
 *
 * Sizes are MB (10^6 bytes). On loopback the figure is memory copies and the kernel's TCP path, shared
 * with whatever else runs on the machine: a floor for the real network's cost, not a prediction of it.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as E from '../../src/engine/index.ts';
import { ProcessGroup } from '../../src/engine/distributed.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,2,5,10,25,50' },
    repeats: { type: 'string', default: '10' },
    world: { type: 'string', default: '2' },
    // set by the launcher for the rank processes
    rank: { type: 'string' },
    port: { type: 'string', default: '0' },
  },
});

const sizesMB = args.sizes.split(',').map(Number);
const repeats = Number(args.repeats);
const world = Number(args.world);

interface Row {
  mb: number;
  median_ms: number;
  min_ms: number;
  algo_gb_per_s: number;
  bus_gb_per_s: number;
  /** algorithm bandwidth of the fastest repeat: on a shared machine, the closest to an idle one */
  best_algo_gb_per_s: number;
}

function rankMain(rank: number, port: number): void {
  const say = (line: string) => writeSync(1, `${line}\n`);
  const pg = ProcessGroup.init({
    masterPort: port,
    worldSize: world,
    rank,
    timeoutMs: 120_000,
    onListening: (p) => say(`PORT ${p}`),
  });
  const rows: Row[] = [];
  for (const mb of sizesMB) {
    const n = Math.round((mb * 1e6) / 4);
    const times: number[] = [];
    E.scope(() => {
      const buf = E.full([n], rank + 1);
      pg.allReduceSum(buf); // first touch of the buffers, in both processes
      for (let i = 0; i < repeats; i++) {
        pg.barrier(); // start together: each time is one collective, not a rank catching up
        const t = process.hrtime.bigint();
        pg.allReduceSum(buf);
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    });
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const algo = (mb * 1e6) / (median / 1e3) / 1e9;
    rows.push({
      mb,
      median_ms: median,
      min_ms: times[0]!,
      algo_gb_per_s: algo,
      bus_gb_per_s: (algo * 2 * (world - 1)) / world,
      best_algo_gb_per_s: (mb * 1e6) / (times[0]! / 1e3) / 1e9,
    });
  }
  pg.close();
  if (rank === 0) say(`ROWS ${JSON.stringify(rows)}`);
}

async function launch(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const common = [
    '--import',
    'tsx',
    self,
    '--sizes',
    args.sizes,
    '--repeats',
    args.repeats,
    '--world',
    args.world,
  ];
  const env = { ...process.env, KNEESEG_THREADS: '1' };
  const root = spawn(process.execPath, [...common, '--rank', '0'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const others: ReturnType<typeof spawn>[] = [];
  root.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    const port = /^PORT (\d+)$/m.exec(out);
    if (port && others.length === 0)
      for (let r = 1; r < world; r++)
        others.push(
          spawn(process.execPath, [...common, '--rank', String(r), '--port', port[1]!], {
            env,
            stdio: ['ignore', 'ignore', 'inherit'],
          }),
        );
  });
  const code = await new Promise<number | null>((resolve) => root.on('exit', resolve));
  await Promise.all(
    others.map((p) => new Promise((resolve) => (p.exitCode !== null ? resolve(0) : p.on('exit', resolve)))),
  );
  const rows = /^ROWS (.*)$/m.exec(out);
  if (code !== 0 || !rows) {
    console.error(`allreduce bench: rank 0 exited with ${code}\n${out}`);
    process.exitCode = 1;
    return;
  }
  const table = JSON.parse(rows[1]!) as Row[];
  console.log(
    `Gloo all-reduce (sum, float32) on loopback, ${world} processes, median of ${repeats}; ` +
      `${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)}`,
  );
  console.log('    MB   median ms     min ms   algo GB/s   bus GB/s  best algo GB/s');
  for (const r of table)
    console.log(
      `${String(r.mb).padStart(6)} ${r.median_ms.toFixed(1).padStart(11)} ${r.min_ms.toFixed(1).padStart(10)} ` +
        `${r.algo_gb_per_s.toFixed(2).padStart(11)} ${r.bus_gb_per_s.toFixed(2).padStart(10)} ` +
        `${r.best_algo_gb_per_s.toFixed(2).padStart(15)}`,
    );
  console.log(
    JSON.stringify({ date: new Date().toISOString(), world, repeats, loadavg: loadavg()[0], rows: table }),
  );
}

if (args.rank !== undefined) rankMain(Number(args.rank), Number(args.port));
else await launch();
