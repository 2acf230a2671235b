/**
 * The engine against PyTorch (Debian's python3-torch: the same libtorch 1.13) on the same machine, side
 * by side in one run: per-call cost of a tiny op, conv2d 3x3 forward and forward+backward, a 1024^3
 * matmul, and a full training step (forward, loss, backward, Adam) of a small U-Net.
 *
 *   npm run bench            (node --import tsx bench/engine/engine.bench.ts [--quick])
 *
 * Both sides use 2 threads (libtorch intra-op and OpenBLAS). PyTorch gets its best settings: glibc
 * malloc tunables that keep freed memory for reuse (FACTS.md), torch.set_num_threads, and
 * zero_grad(set_to_none=True); both run under the OpenMP waiting the engine sets (a short spin,
 * GOMP_SPINCOUNT=3000, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT says otherwise). Our side runs with its caching allocator and nothing tuned. Two
 * rounds alternate PyTorch and ours (the machine's load drifts); each figure is the median of all timed
 * runs after warm-up, and the ratio of the minima is printed too. Prints a table with each ratio
 * ours / PyTorch and writes bench/engine/results.json. bench/ measures; it never asserts.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { format } from 'prettier';
import * as E from '../../src/engine/index.ts';
import { GLIBC_TUNABLES, pytorchEnv } from '../reference/env.ts';

const { Conv2d, BatchNorm2d, ReLU, ConvTranspose2d } = E.nn;

const QUICK = process.argv.includes('--quick');
/** Rounds alternate PyTorch and ours, so a change in machine load touches both sides alike. */
const ROUNDS = QUICK ? 1 : 2;
const THREADS = 2;
const PYTHON = '/usr/bin/python3';
const REF = fileURLToPath(new URL('./engine_ref.py', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));

/** One configuration for both sides (engine_ref.py reads the same object). */
const CONFIG = {
  threads: THREADS,
  warmup: QUICK ? 1 : 3,
  runs: QUICK ? 3 : 10,
  unetRuns: QUICK ? 2 : 6,
  tinyCalls: 100_000,
  tinyRuns: QUICK ? 2 : 5,
  conv: { n: 4, cin: 64, cout: 64, h: 144, w: 120 },
  matmul: 1024,
  unet: { n: 4, cin: 1, classes: 2, size: 128 },
};

type Name = 'tiny' | 'convFwd' | 'convFwdBwd' | 'matmul' | 'unetStep';

function measure(fn: () => void, warmup: number, runs: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const block = (cin: number, cout: number) =>
  new E.Sequential(
    new Conv2d(cin, cout, 3, { padding: 1 }),
    new BatchNorm2d(cout),
    new ReLU(),
    new Conv2d(cout, cout, 3, { padding: 1 }),
    new BatchNorm2d(cout),
    new ReLU(),
  );

/** The U-Net of engine_ref.py: three levels, 16-32-64 channels, transposed-conv upsampling, skips. */
class UNet extends E.Layer {
  readonly enc1;
  readonly enc2;
  readonly mid;
  readonly up2;
  readonly dec2;
  readonly up1;
  readonly dec1;
  readonly head;
  constructor(cin: number, classes: number) {
    super();
    this.enc1 = this.module('enc1', block(cin, 16));
    this.enc2 = this.module('enc2', block(16, 32));
    this.mid = this.module('mid', block(32, 64));
    this.up2 = this.module('up2', new ConvTranspose2d(64, 32, 2, { stride: 2 }));
    this.dec2 = this.module('dec2', block(64, 32));
    this.up1 = this.module('up1', new ConvTranspose2d(32, 16, 2, { stride: 2 }));
    this.dec1 = this.module('dec1', block(32, 16));
    this.head = this.module('head', new Conv2d(16, classes, 1));
  }
  forward(x: E.Tensor): E.Tensor {
    const e1 = this.enc1.forward(x);
    const e2 = this.enc2.forward(E.maxPool2d(e1, 2));
    const m = this.mid.forward(E.maxPool2d(e2, 2));
    const d2 = this.dec2.forward(E.cat([this.up2.forward(m), e2], 1));
    const d1 = this.dec1.forward(E.cat([this.up1.forward(d2), e1], 1));
    return this.head.forward(d1);
  }
}

function ours(): { results: Record<Name, number[]>; unetParams: number } {
  E.setNumThreads(THREADS);
  E.manualSeed(0);
  const res = {} as Record<Name, number[]>;

  // tiny op: one run is `tinyCalls` adds of 1-element tensors, each result disposed (as Python's
  // reference counting frees it)
  const a = E.ones([1]);
  const b = E.ones([1]);
  res.tiny = measure(
    () => {
      for (let i = 0; i < CONFIG.tinyCalls; i++) a.add(b).dispose();
    },
    1,
    CONFIG.tinyRuns,
  );

  const c = CONFIG.conv;
  const x = E.randn([c.n, c.cin, c.h, c.w]);
  const w = E.randn([c.cout, c.cin, 3, 3]).mul(0.05);
  const bias = E.randn([c.cout]);
  res.convFwd = measure(
    () => E.noGrad(() => E.conv2d(x, w, bias, { padding: 1 }).dispose()),
    CONFIG.warmup,
    CONFIG.runs,
  );

  const wg = w.clone().requiresGrad_();
  const bg = bias.clone().requiresGrad_();
  const gy = E.ones([c.n, c.cout, c.h, c.w]);
  res.convFwdBwd = measure(
    () =>
      E.scope(() => {
        E.conv2d(x, wg, bg, { padding: 1 }).backward(gy);
        wg.grad = null;
        bg.grad = null;
      }),
    CONFIG.warmup,
    CONFIG.runs,
  );

  const A = E.randn([CONFIG.matmul, CONFIG.matmul]);
  const B = E.randn([CONFIG.matmul, CONFIG.matmul]);
  res.matmul = measure(() => E.noGrad(() => A.matmul(B).dispose()), CONFIG.warmup, CONFIG.runs);

  const u = CONFIG.unet;
  const net = new UNet(u.cin, u.classes);
  const opt = new E.Adam(net.parameters(), { lr: 1e-3 });
  const ux = E.randn([u.n, u.cin, u.size, u.size]);
  const uy = E.randint(0, u.classes, [u.n, u.size, u.size]);
  res.unetStep = measure(
    () =>
      E.scope(() => {
        opt.zeroGrad();
        E.crossEntropy(net.forward(ux), uy).backward();
        opt.step();
      }),
    CONFIG.warmup,
    CONFIG.unetRuns,
  );
  return { results: res, unetParams: net.parameterCount() };
}

interface PyOut {
  torch: string;
  threads: number;
  unetParams: number;
  results: Record<Name, number[]>;
}

function pytorch(): PyOut {
  const r = spawnSync(PYTHON, [REF, JSON.stringify(CONFIG)], {
    encoding: 'utf8',
    // the engine sets GOMP_SPINCOUNT on load unless told otherwise (src/engine/native.ts); PyTorch
    // inherits it (and any OMP_WAIT_POLICY) so both sides wait for OpenMP work the same way
    env: { ...process.env, ...pytorchEnv(THREADS) },
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0)
    throw new Error(
      `${PYTHON} ${REF} failed (is python3-torch installed? apt-get install python3-torch):\n${r.stderr}`,
    );
  return JSON.parse(r.stdout) as PyOut;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const ROWS: {
  name: Name;
  label: string;
  unit: 'us/call' | 'ms';
  scale: (ms: number) => number;
  gflop?: number;
}[] = [
  {
    name: 'tiny',
    label: 'tiny op (add, 1-element tensors)',
    unit: 'us/call',
    scale: (ms) => (ms * 1e3) / CONFIG.tinyCalls,
  },
  {
    name: 'convFwd',
    label: 'conv2d 3x3 N=4 64->64 144x120 forward',
    unit: 'ms',
    scale: (ms) => ms,
    gflop: (2 * 4 * 64 * 64 * 144 * 120 * 9) / 1e9,
  },
  {
    name: 'convFwdBwd',
    label: 'conv2d 3x3 N=4 64->64 144x120 fwd+bwd',
    unit: 'ms',
    scale: (ms) => ms,
    gflop: (3 * 2 * 4 * 64 * 64 * 144 * 120 * 9) / 1e9,
  },
  {
    name: 'matmul',
    label: 'matmul 1024^3 (float32)',
    unit: 'ms',
    scale: (ms) => ms,
    gflop: (2 * 1024 ** 3) / 1e9,
  },
  { name: 'unetStep', label: 'U-Net 16-64, 4x1x128x128, train step', unit: 'ms', scale: (ms) => ms },
];

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const pys: PyOut[] = [];
  const mes: ReturnType<typeof ours>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    pys.push(pytorch()); // while our process is idle
    mes.push(ours());
  }
  const merge = (all: { results: Record<Name, number[]> }[]) =>
    Object.fromEntries(ROWS.map(({ name }) => [name, all.flatMap((a) => a.results[name])])) as Record<
      Name,
      number[]
    >;
  const py = { ...pys[0]!, results: merge(pys) };
  const me = { ...mes[0]!, results: merge(mes) };
  const load1 = loadavg()[0]!;
  const rows = ROWS.map((r) => {
    const o = r.scale(median(me.results[r.name]));
    const p = r.scale(median(py.results[r.name]));
    return {
      name: r.name,
      label: r.label,
      unit: r.unit,
      ours: o,
      pytorch: p,
      ratio: o / p,
      oursMin: r.scale(Math.min(...me.results[r.name])),
      pytorchMin: r.scale(Math.min(...py.results[r.name])),
      ratioOfMinima: Math.min(...me.results[r.name]) / Math.min(...py.results[r.name]),
      oursGflops: r.gflop ? r.gflop / (o / 1e3) : undefined,
      pytorchGflops: r.gflop ? r.gflop / (p / 1e3) : undefined,
    };
  });

  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (v: number) => (v >= 100 ? v.toFixed(1) : v >= 10 ? v.toFixed(2) : v.toFixed(3));
  console.log(
    `kneeseg engine vs PyTorch ${py.torch} (${THREADS} threads each; median of timed runs over ${ROUNDS} alternating rounds; load ${load0.toFixed(1)} -> ${load1.toFixed(1)})`,
  );
  console.log(
    `${pad('benchmark', 42)}${pad('unit', 9)}${pad('ours', 10)}${pad('PyTorch', 10)}${pad('ours/PyTorch', 14)}(minima)`,
  );
  for (const r of rows)
    console.log(
      `${pad(r.label, 42)}${pad(r.unit, 9)}${pad(num(r.ours), 10)}${pad(num(r.pytorch), 10)}${pad(r.ratio.toFixed(3), 14)}${r.ratioOfMinima.toFixed(3)}`,
    );
  if (me.unetParams !== py.unetParams)
    console.log(`warning: U-Net parameter counts differ (ours ${me.unetParams}, PyTorch ${py.unetParams})`);

  // formatted as the repository's `prettier --check .` expects
  const json = JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      torch: E.buildInfo().torchVersion,
      pytorch: py.torch,
      threads: { ours: E.getNumThreads(), pytorch: py.threads },
      pytorchSettings: { GLIBC_TUNABLES, OPENBLAS_NUM_THREADS: THREADS, zeroGradSetToNone: true },
      ompWaitPolicy: process.env.OMP_WAIT_POLICY ?? 'default',
      gompSpincount: process.env.GOMP_SPINCOUNT ?? 'default',
      loadAverage: [load0, load1],
      config: CONFIG,
      unetParams: { ours: me.unetParams, pytorch: py.unetParams },
      rows,
      raw: { ours: me.results, pytorch: py.results },
    },
    null,
    2,
  );
  writeFileSync(RESULTS, await format(json, { parser: 'json', printWidth: 110 }));
  console.log(`written ${RESULTS}`);
}

await main();
