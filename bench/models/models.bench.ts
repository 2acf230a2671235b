/**
 * Training step and inference time of MedT and U-Net, ours against the PyTorch reference
 * (bench/reference/, same networks, same config) on the same machine in one run.
 *
 *   node --import tsx bench/models/models.bench.ts [--steps 3] [--repeat 1] [--cases medt:128x128,unet:288x240]
 *
 * Training step: batch 4, forward, cross-entropy on f_PW + MSE on f_LS, backward, Adam. Inference: one
 * slice, eval mode, no grad. Each measurement runs in its own process (peak RSS is per process:
 * Node's `resourceUsage().maxRSS`, Python's `getrusage` maxrss), 2 threads on both sides. PyTorch gets
 * its best allocator settings (glibc tunables, FACTS.md) and OpenBLAS threads. MedT is measured in
 * PyTorch twice: with the official per-patch loop (the baseline) and with patches batched as ours.
 * Results: a table on stdout and runs/bench/models.json. Times are minima and medians of `steps`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import {
  Adam,
  crossEntropy,
  manualSeed,
  mseLoss,
  noGrad,
  randint,
  randn,
  scope,
  setNumThreads,
  zerosLike,
} from '../../src/engine/index.ts';
import { buildModel } from '../../src/models/registry.ts';
import { GLIBC_TUNABLES, pytorchEnv } from '../reference/env.ts';

const THREADS = 2;
const RUN_PY = fileURLToPath(new URL('../reference/run.py', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

interface Timing {
  train_step_s: number[];
  infer_s: number[];
  peak_rss_mib: number;
  params: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

/** `medt:288x240`, or `medt:288x240:infer` to measure inference only (a batch-4 MedT step at that size
 * needs far more memory than a shared 24 GiB machine has free). */
function configOf(spec: string) {
  const [backbone, size] = spec.split(':') as ['medt' | 'unet', string];
  const [h, w] = size.split('x').map(Number) as [number, number];
  return buildModelConfig(backbone, [h, w]);
}

function buildModelConfig(backbone: 'medt' | 'unet', imageSize: [number, number]) {
  return { backbone, imageSize, inChannels: 3, outChannels: 9, levelSet: true };
}

/** Child mode: measures our model for one case and prints one JSON line. */
function measureOurs(spec: string, steps: number): void {
  setNumThreads(THREADS);
  manualSeed(0);
  const model = buildModel(configOf(spec));
  const config = model.config;
  const [H, W] = config.imageSize;
  const x = randn([4, config.inChannels, H, W]).keep();
  const y = randint(0, config.outChannels, [4, H, W]).keep();
  const opt = new Adam(model.parameters(), { lr: 1e-3, betas: [0.9, 0.99], weightDecay: 1e-5 });
  const step = () =>
    scope(() => {
      opt.zeroGrad();
      const out = model.forward(x);
      crossEntropy(out.logits, y)
        .add(mseLoss(out.levelSet!, zerosLike(out.levelSet!)))
        .backward();
      opt.step();
    });
  const time = (fn: () => void) => {
    const t0 = performance.now();
    fn();
    return (performance.now() - t0) / 1000;
  };
  const inferOnly = spec.endsWith(':infer');
  model.train();
  if (!inferOnly) step();
  const train = inferOnly ? [] : Array.from({ length: steps }, () => time(step)).sort((a, b) => a - b);
  model.eval();
  const x1 = x.narrow(0, 0, 1).keep();
  const infer1 = () => scope(() => void noGrad(() => model.forward(x1)));
  infer1();
  const infer = Array.from({ length: Math.max(steps, 3) }, () => time(infer1)).sort((a, b) => a - b);
  const t: Timing = {
    train_step_s: train,
    infer_s: infer,
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
    params: model.parameterCount(),
  };
  console.log(JSON.stringify(t));
}

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): Timing {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as Timing;
}

const median = (v: number[]) => v[Math.floor(v.length / 2)] ?? NaN;
const fmt = (s: number | undefined) =>
  s === undefined || Number.isNaN(s) ? '-' : s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(0)} ms`;

function main(): void {
  const steps = Number(arg('steps', '3'));
  const repeat = Number(arg('repeat', '1'));
  const child = arg('case', '');
  if (child) return measureOurs(child, steps);
  const cases = arg('cases', 'medt:128x128,medt:288x240,unet:128x128,unet:288x240').split(',');
  const py = (spec: string, loop: boolean) =>
    runChild(
      '/usr/bin/python3',
      [
        RUN_PY,
        'bench',
        JSON.stringify(buildModel(configOf(spec)).config),
        '--batch',
        '4',
        '--steps',
        String(steps),
        '--threads',
        String(THREADS),
        ...(loop ? ['--local-loop'] : []),
        ...(spec.endsWith(':infer') ? ['--no-train'] : []),
      ],
      pytorchEnv(THREADS),
    );
  const results: Record<string, Record<string, Timing>> = {};
  const load: Record<string, number[]> = {};
  // other jobs on the machine slow both sides; the load average says how clean a run was
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (const spec of cases) {
    load[spec] = loadavg();
    // variants alternate over `repeat` rounds, so a change in machine load hits all of them alike
    const r: Record<string, Timing> = {};
    const variants: [string, () => Timing][] = [
      [
        'ours',
        () =>
          runChild(process.execPath, ['--import', 'tsx', SELF, '--case', spec, '--steps', String(steps)], {}),
      ],
      ...(spec.startsWith('medt')
        ? ([
            ['pytorch_official_loop', () => py(spec, true)],
            ['pytorch_batched', () => py(spec, false)],
          ] as [string, () => Timing][])
        : ([['pytorch', () => py(spec, false)]] as [string, () => Timing][])),
    ];
    for (let round = 0; round < repeat; round++)
      for (const [name, measure] of variants) {
        const t = measure();
        const prev = r[name];
        r[name] = prev
          ? {
              ...t,
              train_step_s: [...prev.train_step_s, ...t.train_step_s].sort((a, b) => a - b),
              infer_s: [...prev.infer_s, ...t.infer_s].sort((a, b) => a - b),
              peak_rss_mib: Math.max(prev.peak_rss_mib, t.peak_rss_mib),
            }
          : t;
      }
    results[spec] = r;
    const ours = r.ours;
    console.log(
      `\n${spec}  (${ours.params.toLocaleString('en-US')} parameters, batch 4, ${THREADS} threads, min / median of ${steps} x ${repeat})`,
    );
    console.log(
      '  variant                  train step           inference/slice     peak RSS   step ratio ours/this',
    );
    for (const [name, t] of Object.entries(r)) {
      const ratio = name === 'ours' ? '' : (median(ours.train_step_s) / median(t.train_step_s)).toFixed(2);
      console.log(
        `  ${name.padEnd(23)}  ${fmt(t.train_step_s[0]).padStart(8)} / ${fmt(median(t.train_step_s)).padStart(8)}   ` +
          `${fmt(t.infer_s[0]).padStart(7)} / ${fmt(median(t.infer_s)).padStart(7)}   ${t.peak_rss_mib.toFixed(0).padStart(6)} MiB   ${ratio}`,
      );
    }
  }
  const out = fileURLToPath(new URL('../../runs/bench', import.meta.url));
  const file = arg('out', 'models.json');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, file),
    JSON.stringify(
      {
        threads: THREADS,
        steps,
        glibcTunablesForPyTorch: GLIBC_TUNABLES,
        loadAverageBeforeCase: load,
        results,
      },
      null,
      2,
    ),
  );
  console.log(`\nwritten: ${join(out, file)}`);
}

main();
