/**
 * The MedT training step alone (no data pipeline, no method losses): forward of the network with
 * both heads, a loss over both outputs, backward and an Adam step, at the paper's 288 x 240 with
 * batch 4 (SSHCPS's 2 labelled + 2 unlabelled go through the network as one batch). Compares the
 * axial attention of src/models/medt/ with the previous formulation (test/helpers/axial-attention-
 * oracle.ts) side by side: each variant runs in its own child process, so each has its own peak
 * resident memory, and the variants alternate over the rounds so that a load that comes and goes hits
 * both alike. bench/ measures; it never asserts.
 *
 *   nice -n 19 node --import tsx bench/train/medt-step.bench.ts [--steps 3] [--rounds 2]
 *       [--variants new,old] [--size 288,240] [--batch 4] [--profile]
 *
 * Peak resident memory includes the free blocks the engine's caching allocator keeps for reuse
 * (KNEESEG_CPU_CACHE_MB, default 4096, passes through to the children); the live tensors after the
 * forward are printed beside it.
 *
 * `--profile` (one process, the current code) also prints where a step's time goes: forward time per
 * module kind and per ATen operator (timed around each call from JavaScript), and forward + backward
 * of each attention layer run alone on the shapes it sees in the network.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  Adam,
  noGrad,
  randn,
  scope,
  memoryStats,
  resetPeakMemoryStats,
  type Tensor,
} from '../../src/engine/index.ts';
import { native } from '../../src/engine/native.ts';
import { buildModel } from '../../src/models/registry.ts';
import { AxialAttention } from '../../src/models/medt/axial-attention.ts';
import { AxialBlock } from '../../src/models/medt/gated-axial-block.ts';
import { Branch } from '../../src/models/medt/branch.ts';
import { oldAxialAttentionForward } from '../../test/helpers/axial-attention-oracle.ts';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    variants: { type: 'string', default: 'new,old' },
    size: { type: 'string', default: '288,240' },
    batch: { type: 'string', default: '4' },
    profile: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const SIZE = args.size.split(',').map(Number) as [number, number];
const BATCH = Number(args.batch);
const STEPS = Number(args.steps);

/** Routes every AxialAttention through the previous formulation. */
function useOld(): void {
  AxialAttention.prototype.forward = function (this: AxialAttention, x: Tensor) {
    return scope(() => oldAxialAttentionForward(this, x));
  };
}

function model() {
  const net = buildModel({ backbone: 'medt', inChannels: 3, imageSize: SIZE });
  net.train();
  return net;
}

let liveAfterForward = 0;

/** One training step: forward, a loss over both heads, backward, Adam. Returns [forward, total] ms. */
function step(net: ReturnType<typeof model>, opt: Adam, x: Tensor): [number, number] {
  const t0 = performance.now();
  let t1 = 0;
  scope(() => {
    opt.zeroGrad();
    const out = net.forward(x);
    t1 = performance.now();
    liveAfterForward = Math.max(liveAfterForward, memoryStats().allocatedBytes);
    const loss = out.logits.square().mean().add(out.levelSet!.sub(0.5).square().mean());
    loss.backward();
    opt.step();
  });
  return [t1 - t0, performance.now() - t0];
}

function runChild(variant: string): void {
  if (variant === 'old') useOld();
  const net = model();
  const opt = new Adam(net.parameters(), { lr: 1e-4 });
  const x = noGrad(() => randn([BATCH, 3, ...SIZE])).keep();
  const times: [number, number][] = [];
  const cpu: number[] = [];
  const missesPerStep: number[] = [];
  const heldPerStep: number[] = [];
  for (let s = 0; s <= STEPS; s++) {
    // step 0: first-touch, not timed
    const c0 = process.cpuUsage();
    const m0 = memoryStats().misses;
    resetPeakMemoryStats();
    times.push(step(net, opt, x));
    missesPerStep.push(memoryStats().misses - m0);
    heldPerStep.push(memoryStats().peakReservedBytes / 2 ** 30);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const timed = times.slice(1);
  console.log(
    JSON.stringify({
      variant,
      step_ms: timed.map((t) => t[1]),
      /** CPU time (user + system, all threads) per step: less sensitive than wall time to other load */
      cpu_ms: cpu.slice(1),
      forward_ms: timed.map((t) => t[0]),
      first_step_ms: times[0]![1],
      peak_rss_gb: (process.resourceUsage().maxRSS * 1024) / 2 ** 30,
      /** tensors alive at the end of the forward (what backward needs): a floor under the peak */
      live_after_forward_gb: liveAfterForward / 2 ** 30,
      /** the most bytes in live tensors at once during the last step (the caching allocator's count) */
      peak_live_gb: memoryStats().peakAllocatedBytes / 2 ** 30,
      /** the most bytes the allocator held (live + cached free blocks) during the last step */
      peak_reserved_gb: memoryStats().peakReservedBytes / 2 ** 30,
      /** requests that needed new memory from the system, per step (step 0 first): 0 once it is warm */
      misses_per_step: missesPerStep,
      /** the most bytes held during each step (step 0 first): peak RSS is this plus the process's own */
      held_per_step_gb: heldPerStep,
      cached_gb: memoryStats().cachedBytes / 2 ** 30,
    }),
  );
}

interface ChildResult {
  variant: string;
  step_ms: number[];
  cpu_ms: number[];
  forward_ms: number[];
  first_step_ms: number;
  peak_rss_gb: number;
  live_after_forward_gb: number;
  peak_live_gb: number;
  peak_reserved_gb: number;
  misses_per_step: number[];
  held_per_step_gb: number[];
  cached_gb: number;
  load: [number, number];
}

function compare(): void {
  const variants = args.variants.split(',');
  const script = fileURLToPath(import.meta.url);
  const results: ChildResult[] = [];
  for (let r = 0; r < Number(args.rounds); r++)
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      const before = loadavg()[0]!;
      const p = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          script,
          '--child',
          v,
          '--steps',
          String(STEPS),
          '--size',
          args.size,
          '--batch',
          args.batch,
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      if (p.status !== 0) throw new Error(`variant ${v} failed (status ${p.status}): ${p.stdout}`);
      const res = JSON.parse(p.stdout.trim().split('\n').at(-1)!) as ChildResult;
      res.load = [before, loadavg()[0]!];
      results.push(res);
      console.log(
        `round ${r + 1} ${v.padEnd(3)}: step ${res.step_ms.map((t) => (t / 1000).toFixed(2)).join(', ')} s ` +
          `(CPU ${res.cpu_ms.map((t) => (t / 1000).toFixed(1)).join(', ')} s; forward ${res.forward_ms.map((t) => (t / 1000).toFixed(2)).join(', ')} s), ` +
          `peak RSS ${res.peak_rss_gb.toFixed(2)} GB (live after forward ${res.live_after_forward_gb.toFixed(2)} GB, last step's peak live ${res.peak_live_gb.toFixed(2)} GB and held ${res.peak_reserved_gb.toFixed(2)} GB, allocator misses per step ${res.misses_per_step.join(' ')}, held per step ${res.held_per_step_gb.map((g) => g.toFixed(2)).join(' ')} GB, cached at the end ${res.cached_gb.toFixed(2)} GB), load ${res.load.map((l) => l.toFixed(1)).join(' -> ')}`,
      );
    }
  const min = (v: string, f: (r: ChildResult) => number[]) =>
    Math.min(...results.filter((r) => r.variant === v).flatMap(f));
  const median = (v: string) => {
    const xs = results
      .filter((r) => r.variant === v)
      .flatMap((r) => r.step_ms)
      .sort((a, b) => a - b);
    return xs[Math.floor((xs.length - 1) / 2)]!;
  };
  const peak = (v: string) => Math.max(...results.filter((r) => r.variant === v).map((r) => r.peak_rss_gb));
  console.log(
    `\nMedT step, ${SIZE.join('x')}, batch ${BATCH}, KNEESEG_THREADS=${process.env.KNEESEG_THREADS ?? 'all'}`,
  );
  for (const v of variants)
    console.log(
      `${v.padEnd(3)}: step min ${(min(v, (r) => r.step_ms) / 1000).toFixed(2)} s, median ${(median(v) / 1000).toFixed(2)} s, ` +
        `CPU min ${(min(v, (r) => r.cpu_ms) / 1000).toFixed(1)} s, forward min ${(min(v, (r) => r.forward_ms) / 1000).toFixed(2)} s, ` +
        `peak RSS ${peak(v).toFixed(2)} GB`,
    );
  if (variants.includes('old') && variants.includes('new'))
    console.log(
      `new / old: step min ${(min('new', (r) => r.step_ms) / min('old', (r) => r.step_ms)).toFixed(2)}, ` +
        `median ${(median('new') / median('old')).toFixed(2)}, CPU min ` +
        `${(min('new', (r) => r.cpu_ms) / min('old', (r) => r.cpu_ms)).toFixed(2)}, peak RSS ${(peak('new') / peak('old')).toFixed(2)}`,
    );
}

/** Adds the time spent in `fn` to `into[label]`, excluding nested timed calls of the same table. */
function timed<T>(into: Map<string, number>, label: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    into.set(label, (into.get(label) ?? 0) + performance.now() - t0);
  }
}

function profile(): void {
  const net = model();
  const opt = new Adam(net.parameters(), { lr: 1e-4 });
  const x = noGrad(() => randn([BATCH, 3, ...SIZE])).keep();
  step(net, opt, x);

  // forward time per module kind (inclusive) and per operator
  const modules = new Map<string, number>();
  const ops = new Map<string, number>();
  const names = new Map<number, string>();
  const opName = (id: number) => {
    let n = names.get(id);
    if (n === undefined) names.set(id, (n = native.opSchema(id).replace(/\(.*$/, '')));
    return n;
  };
  const medt = net.backbone as unknown as { global: Branch; local: Branch };
  const shapes = new Map<AxialAttention, number[]>();
  const wrapAttention = (a: AxialAttention, label: string) => {
    const f = a.forward.bind(a);
    a.forward = (t: Tensor) => {
      shapes.set(a, t.shape.slice());
      return timed(modules, label, () => f(t));
    };
  };
  for (const [branch, name] of [
    [medt.global, 'global'],
    [medt.local, 'local'],
  ] as const) {
    const bf = branch.forward.bind(branch);
    branch.forward = (t: Tensor) => timed(modules, `${name} branch`, () => bf(t));
    branch.blocks.forEach((b: AxialBlock) => {
      wrapAttention(b.hight_block, `${name} attention (height)`);
      wrapAttention(b.width_block, `${name} attention (width)`);
    });
  }
  const opCall = native.opCall.bind(native);
  const opCallVoid = native.opCallVoid.bind(native);
  native.opCall = (id, ...a) => timed(ops, opName(id), () => opCall(id, ...a));
  native.opCallVoid = (id, ...a) => timed(ops, opName(id), () => opCallVoid(id, ...a));
  const total = step(net, opt, x);
  const forward = total[0];
  native.opCall = opCall;
  native.opCallVoid = opCallVoid;
  const show = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .forEach(([k, v]) => console.log(`  ${(v / 1000).toFixed(3).padStart(7)} s  ${k}`));
  console.log(
    `step ${(total[1] / 1000).toFixed(2)} s, forward ${(forward / 1000).toFixed(2)} s (timed ops included)`,
  );
  console.log('forward per module (inclusive):');
  show(modules, 20);
  console.log('forward per operator:');
  show(ops, 25);

  // each attention layer alone, forward + backward, on the shape it saw
  console.log('attention layers alone (forward / forward + backward, ms):');
  for (const [a, shape] of shapes) {
    const xi = noGrad(() => randn(shape))
      .requiresGrad_(true)
      .keep();
    const run = () =>
      scope(() => {
        const t0 = performance.now();
        const y = AxialAttention.prototype.forward.call(a, xi);
        const t1 = performance.now();
        y.square().sum().backward();
        return [t1 - t0, performance.now() - t0];
      });
    run();
    const [f, fb] = run();
    console.log(
      `  ${a.opts.kind.padEnd(5)} ${a.opts.axis.padEnd(6)} x ${shape.join('x').padEnd(16)} ${f!.toFixed(0).padStart(6)} / ${fb!.toFixed(0).padStart(6)}`,
    );
    xi.dispose();
  }
}

if (args.child) runChild(args.child);
else if (args.profile) profile();
else compare();
