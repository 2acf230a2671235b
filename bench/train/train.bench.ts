/**
 * Training throughput: iterations per second and the share of each iteration spent waiting for the
 * next batch (the batch, and SSHCPS's signed distance targets, are built in a worker thread while the
 * previous step runs, so the wait should be a few per cent at most), for SSHCPS and, as the baseline
 * of its cost, the supervised method, on the U-Net and MedT backbones at the paper's 288 x 240 input,
 * batch 2 labelled + 2 unlabelled for both, default networks, all cores. Reports the SSHCPS /
 * supervised step-time ratio per backbone.
 *
 *   node --import tsx bench/train/train.bench.ts [--iterations N] [--medt-iterations N] [--backbones unet,medt]
 *                                                [--rounds R] [--demo]
 *
 * `--rounds R` runs SSHCPS and supervised alternately R times per backbone and reports the median of
 * the R ratios: on a shared machine a load that comes and goes then hits both methods alike.
 * `--demo` uses the demo's configuration (128 x 128, U-Net of 8 base channels, DEMO_CONFIG of
 * src/cli/demo.ts) instead of the paper's input and default networks; its ratio is kept as `unet-demo`.
 *
 * The synthetic cohort is generated once into the system's temporary folder and reused. Figures come
 * from RUN/log.jsonl (seconds_per_step, data_wait_seconds, logged every iteration); the first
 * iteration (worker start, first-touch allocations) is reported apart. Prints a table and writes
 * bench/train/results.json with the process's peak memory; rows of backbones not run this time are kept
 * from the previous file (each row carries its date). bench/ measures; it never asserts.
 *
 * Memory: one MedT step at 288 x 240, batch 4, needs about 11 GB resident here (the U-Net 1.4 GB),
 * so run the MedT part only when nothing else large is running on a 24 GB machine.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeSynthCohort } from '../../src/data/synth/index.ts';
import { runTraining } from '../../src/train/run.ts';
import { mergeConfig } from '../../src/train/config.ts';
import { DEMO_CONFIG } from '../../src/cli/demo.ts';

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '12' },
    'medt-iterations': { type: 'string', default: '5' },
    /** comma-separated: which backbones to run (MedT needs ~11 GB) */
    backbones: { type: 'string', default: 'unet,medt' },
    rounds: { type: 'string', default: '1' },
    demo: { type: 'boolean', default: false },
  },
});
const ROUNDS = Math.max(1, Number(args.rounds));
const DEMO = args.demo;
type BenchMethod = 'sshcps' | 'supervised';
type Backbone = 'unet' | 'medt';
const BACKBONES = args.backbones.split(',').map((b) => b.trim()) as Backbone[];
for (const b of BACKBONES)
  if (b !== 'unet' && b !== 'medt') throw new Error(`--backbones: unknown backbone "${b}" (unet, medt)`);
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));
const SIZE: [number, number] = DEMO ? (DEMO_CONFIG.data.size as [number, number]) : [288, 240];
/** the key of a backbone's ratio in results.json */
const key = (b: Backbone): string => (DEMO ? `${b}-demo` : b);

interface TrainLine {
  type: string;
  iteration: number;
  seconds_per_step: number;
  data_wait_seconds: number;
}

async function cohort(): Promise<string> {
  const dir = join(tmpdir(), 'kneeseg-bench-train-cohort');
  if (existsSync(join(dir, 'dataset.json'))) return dir;
  const t0 = performance.now();
  await writeSynthCohort({ out: dir, labelled: 3, unlabelled: 3, test: 1, seed: 11 });
  console.log(`cohort: ${dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return dir;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function bench(data: string, backbone: Backbone, method: BenchMethod, iterations: number) {
  const out = mkdtempSync(join(tmpdir(), `kneeseg-bench-train-${backbone}-${method}-`));
  const load = loadavg()[0]!;
  try {
    const own = {
      data: { dir: data, size: SIZE },
      model: { backbone },
      method: { name: method },
      schedule: { maxIterations: iterations, iterationsPerEpoch: 1000, validationSlices: 4 },
      logEvery: 1,
      checkpointEvery: 1000,
    };
    const { summary } = await runTraining(DEMO ? mergeConfig(DEMO_CONFIG, own) : own, { out });
    const lines = readFileSync(join(out, 'log.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as TrainLine)
      .filter((e) => e.type === 'train');
    const [first, ...rest] = lines;
    const step = mean(rest.map((e) => e.seconds_per_step));
    const wait = mean(rest.map((e) => e.data_wait_seconds));
    return {
      date: new Date().toISOString(),
      backbone: key(backbone),
      method,
      input: `3x${SIZE[0]}x${SIZE[1]}`,
      batch: '2 labelled + 2 unlabelled',
      parameters: summary.parameters,
      iterations_timed: rest.length,
      iterations_per_second: 1 / (step + wait),
      seconds_per_step: step,
      data_wait_seconds: wait,
      data_wait_share: wait / (step + wait),
      max_data_wait_seconds: Math.max(...rest.map((e) => e.data_wait_seconds)),
      first_iteration: {
        seconds_per_step: first!.seconds_per_step,
        data_wait_seconds: first!.data_wait_seconds,
      },
      /** the process's peak resident memory so far (U-Net runs first, so MedT's figure covers both) */
      peak_rss_gb: (process.resourceUsage().maxRSS * 1024) / 2 ** 30,
      load_before: load,
      load_after: loadavg()[0]!,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

type Row = Awaited<ReturnType<typeof bench>> & { step_ratio_vs_supervised?: number };

const data = await cohort();
const rows: Row[] = [];
/** SSHCPS / supervised seconds per step on the same backbone: the median over the rounds */
const ratios: Record<string, number> = {};
for (const backbone of BACKBONES) {
  const iterations = Number(backbone === 'medt' ? args['medt-iterations'] : args.iterations);
  const perRound: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const sshcps: Row = await bench(data, backbone, 'sshcps', iterations);
    const supervised: Row = await bench(data, backbone, 'supervised', iterations);
    perRound.push((sshcps.step_ratio_vs_supervised = sshcps.seconds_per_step / supervised.seconds_per_step));
    rows.push(sshcps, supervised);
  }
  perRound.sort((a, b) => a - b);
  ratios[key(backbone)] = perRound[Math.floor((perRound.length - 1) / 2)]!;
  if (ROUNDS > 1)
    console.log(
      `${key(backbone)}: ratios of the ${ROUNDS} rounds ${perRound.map((x) => x.toFixed(2)).join(', ')}`,
    );
}

const pct = (x: number) => `${(100 * x).toFixed(4)} %`;
console.log(
  `\ntraining throughput, ${SIZE.join('x')}, batch 2+2, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), KNEESEG_THREADS=${process.env.KNEESEG_THREADS ?? 'all'}`,
);
console.log(
  'backbone | method     | params    | it/s   | s/step | step ratio | wait ms | wait share | max wait ms | 1st it. wait s | load 1 min',
);
console.log(
  '---------|------------|-----------|--------|--------|------------|---------|------------|-------------|----------------|-----------',
);
for (const r of rows)
  console.log(
    [
      r.backbone.padEnd(8),
      r.method.padEnd(10),
      r.parameters.toLocaleString('en').padStart(9),
      r.iterations_per_second.toFixed(3).padStart(6),
      r.seconds_per_step.toFixed(3).padStart(6),
      (r.step_ratio_vs_supervised === undefined
        ? '1 (base)'
        : r.step_ratio_vs_supervised.toFixed(2)
      ).padStart(10),
      (1000 * r.data_wait_seconds).toFixed(3).padStart(7),
      pct(r.data_wait_share).padStart(10),
      (1000 * r.max_data_wait_seconds).toFixed(3).padStart(11),
      r.first_iteration.data_wait_seconds.toFixed(3).padStart(14),
      `${r.load_before.toFixed(1)} -> ${r.load_after.toFixed(1)}`,
      `peak RSS ${r.peak_rss_gb.toFixed(1)} GB`,
    ].join(' | '),
  );
for (const [b, x] of Object.entries(ratios))
  console.log(
    `${b}: one SSHCPS step takes ${x.toFixed(2)} x a supervised step${ROUNDS > 1 ? ' (median of the rounds)' : ''}`,
  );
// keep the rows (and ratios) of backbones not run this time, dated as they were
const previous = existsSync(RESULTS)
  ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as {
      date?: string;
      rows?: (Record<string, unknown> & { backbone: string })[];
      step_ratio_vs_supervised?: Record<string, number>;
    })
  : {};
const kept = (previous.rows ?? [])
  .filter((r) => !BACKBONES.map(key).includes(r.backbone))
  .map((r) => ({ date: previous.date, ...r }));
const keptRatios = Object.fromEntries(
  Object.entries(previous.step_ratio_vs_supervised ?? {}).filter(([b]) => !BACKBONES.map(key).includes(b)),
);
writeFileSync(
  RESULTS,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      cores: availableParallelism(),
      step_ratio_vs_supervised: { ...keptRatios, ...ratios },
      rows: [...rows, ...kept],
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${RESULTS}`);
