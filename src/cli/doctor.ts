/**
 * `kneeseg doctor`: what this installation runs on (Node, libtorch, threads, device, allocator) and a
 * one-second convolution throughput figure, so a slow or broken set-up shows itself before a long run.
 */
import type { Command } from 'commander';
import { KneesegError } from '../errors.ts';

/** Floating-point operations of one k x k convolution (multiply and add counted separately). */
export function convFlops(n: number, cin: number, cout: number, h: number, w: number, k = 3): number {
  return 2 * n * cout * h * w * cin * k * k;
}

/** The benchmark convolution (bench/engine): 3x3, N=4, 64 -> 64 channels, 144x120, padding 1. */
export const DOCTOR_CONV = { n: 4, cin: 64, cout: 64, h: 144, w: 120 } as const;

export interface DoctorReport {
  node: string;
  libtorch: string;
  parallelBackend: string;
  mkldnn: boolean;
  threads: number;
  openblasThreads: string;
  /** how idle OpenMP threads wait between ops, as the engine set it up (src/engine/native.ts) */
  openmpWait: string;
  device: string;
  cuda: boolean;
  allocator: { kind: string; limitBytes: number; cachedBytes: number; allocatedBytes: number };
  conv: { flopsPerConv: number; convs: number; seconds: number; gflops: number };
}

type Engine = typeof import('../engine/index.ts');

/** The OpenMP waiting in effect: the user's OMP_WAIT_POLICY / GOMP_SPINCOUNT, or the engine's spin. */
export function openmpWait(env: NodeJS.ProcessEnv = process.env): string {
  const spin = env.GOMP_SPINCOUNT;
  if (env.OMP_WAIT_POLICY)
    return `OMP_WAIT_POLICY=${env.OMP_WAIT_POLICY}${spin ? `, GOMP_SPINCOUNT=${spin}` : ''}`;
  return spin ? `spin ${spin} rounds, then sleep` : "libgomp's default";
}

/** Runs the benchmark convolution (no grad) repeatedly for about `seconds`; at least 3 timed convs. */
export function convThroughput(E: Engine, seconds: number): DoctorReport['conv'] {
  const { n, cin, cout, h, w } = DOCTOR_CONV;
  return E.scope(() =>
    E.noGrad(() => {
      const x = E.randn([n, cin, h, w]);
      const k = E.randn([cout, cin, 3, 3]).mul(0.05);
      const b = E.zeros([cout]);
      const once = () => E.conv2d(x, k, b, { padding: 1 }).dispose();
      once(); // warm-up: kernel selection, allocator cache
      let convs = 0;
      const t0 = performance.now();
      while (convs < 3 || performance.now() - t0 < seconds * 1e3) {
        once();
        convs++;
      }
      const elapsed = (performance.now() - t0) / 1e3;
      const flopsPerConv = convFlops(n, cin, cout, h, w);
      return { flopsPerConv, convs, seconds: elapsed, gflops: (flopsPerConv * convs) / elapsed / 1e9 };
    }),
  );
}

/** Collects the report; loads the engine lazily so a missing native build is reported, not a crash. */
export async function doctorReport(seconds = 1): Promise<DoctorReport> {
  let E: Engine;
  try {
    E = await import('../engine/index.ts');
  } catch (err) {
    throw new KneesegError(`the tensor engine does not load: ${(err as Error).message}`);
  }
  const info = E.buildInfo();
  const conv = convThroughput(E, seconds);
  const stats = E.memoryStats(); // after the benchmark: shows what the cache keeps
  return {
    node: process.version,
    libtorch: info.torchVersion,
    parallelBackend: /ATen parallel backend: (.*)/.exec(info.parallel)?.[1]?.trim() ?? 'unknown',
    mkldnn: info.mkldnn,
    threads: E.getNumThreads(),
    openblasThreads: process.env.OPENBLAS_NUM_THREADS ?? 'default',
    openmpWait: openmpWait(),
    device: 'cpu',
    cuda: info.cuda,
    allocator: {
      kind: process.env.KNEESEG_SYSTEM_ALLOCATOR
        ? 'system (KNEESEG_SYSTEM_ALLOCATOR set)'
        : 'kneeseg caching CPU allocator',
      limitBytes: stats.limitBytes,
      cachedBytes: stats.cachedBytes,
      allocatedBytes: stats.allocatedBytes,
    },
    conv,
  };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function formatDoctor(r: DoctorReport, version: string): string {
  const { n, cin, cout, h, w } = DOCTOR_CONV;
  return [
    `kneeseg    ${version}`,
    `node       ${r.node}`,
    `libtorch   ${r.libtorch} (parallel backend ${r.parallelBackend}, oneDNN ${r.mkldnn ? 'yes' : 'no'})`,
    `threads    ${r.threads} (libtorch intra-op; OpenBLAS ${r.openblasThreads}; set KNEESEG_THREADS to change)`,
    `openmp     idle threads: ${r.openmpWait} (OMP_WAIT_POLICY=PASSIVE sleeps at once, for a busy shared machine)`,
    `device     ${r.device} (cuda ${r.cuda ? 'available' : 'not available in this libtorch build'})`,
    `allocator  ${r.allocator.kind}, cache limit ${mib(r.allocator.limitBytes)} (KNEESEG_CPU_CACHE_MB), ` +
      `cached ${mib(r.allocator.cachedBytes)}, in use ${mib(r.allocator.allocatedBytes)}`,
    `conv       3x3 N=${n} ${cin}->${cout} ${h}x${w}: ${r.conv.convs} convs in ${r.conv.seconds.toFixed(2)} s = ` +
      `${r.conv.gflops.toFixed(1)} GFLOP/s`,
  ].join('\n');
}

export function doctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('print Node, libtorch, threads, device and allocator settings, and measure conv throughput')
    .option('--seconds <s>', 'how long to run the convolution benchmark', '1')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { seconds: string; json?: boolean }) => {
      const seconds = Number(opts.seconds);
      if (!(seconds > 0))
        throw new KneesegError(`--seconds must be a positive number, got "${opts.seconds}"`);
      const report = await doctorReport(seconds);
      console.log(
        opts.json ? JSON.stringify(report, null, 2) : formatDoctor(report, program.version() ?? ''),
      );
    });
}
