/**
 * Seconds for one plate's local thickness (plateThickness, src/infer/thickness.ts: largest ball
 * first) against the ball painting it replaced (test/helpers/thickness-painting.ts), with the same
 * 2x supersampling, on label maps of an OAI DESS scan's size, 160 x 192 x 192 voxels of
 * 0.7 x 0.365 x 0.365 mm:
 *
 *   femoral, tibial, patellar  the cartilage plates of a synthetic knee (src/data/synth) at that grid
 *   blob-40                    a ball 40 voxels across on every axis (28 x 14.6 x 14.6 mm)
 *   femoral+blob-40            the femoral plate with such a ball of cartilage across it (a bad map)
 *   all-femoral                the whole map femoral cartilage (no background voxel, so no ball has
 *                              a radius: NaN, as the module comment says)
 *   98%-128x128x24             a bad map of FACTS.md's size, 128 x 128 x 24 voxels of
 *                              0.365 x 0.365 x 0.7 mm, 98% one plate, the rest a background ellipsoid
 *   tibia-bone                 the synthetic tibia (bone, about 40 mm thick) measured as if a plate
 *   98%-full                   160 x 192 x 192, 98% one plate, the rest a background ball (not run by
 *                              default: several minutes)
 *
 *   node --import tsx bench/thickness/thickness.bench.ts [--cases a,b,...] [--old-limit 120]
 *     [--baseline PATH/src/infer/thickness.ts] [--threads 2]
 *
 * --threads: threads of the new method and of the baseline (default 2, the project machines' cores;
 * the painting runs on one). Each method runs in a fresh child process (so that none inherits another's
 * heap, and the new one starts its helper threads as `kneeseg measure` does); the painting is
 * stopped after --old-limit seconds, and where it finishes the two maps are compared value for
 * value. --baseline times another version's localThickness (e.g. a checkout of an earlier commit:
 * `git worktree add /tmp/before <commit>`, then `--baseline /tmp/before/src/infer/thickness.ts`) in
 * the same run and compares its map too. One run each, wall-clock seconds, and the CPU seconds of
 * all threads; the load average is printed because the machine may be shared. Results: a table on stdout and
 * runs/bench/thickness.json. bench/ measures; it never asserts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KNEE_LABELS } from '../../src/data/labels.ts';
import { renderCase } from '../../src/data/synth/generate.ts';
import { sampleSubject } from '../../src/data/synth/subject.ts';
import type { Shape3, Spacing3 } from '../../src/data/volume.ts';
import { localThickness } from '../../src/infer/thickness.ts';
import { localThicknessByPainting } from '../../test/helpers/thickness-painting.ts';

const OAI_SHAPE: Shape3 = [160, 192, 192];
const OAI_SPACING: Spacing3 = [0.7, 0.365, 0.365];
const DEFAULT_CASES = [
  'femoral',
  'tibial',
  'patellar',
  'blob-40',
  'femoral+blob-40',
  'all-femoral',
  '98%-128x128x24',
  'tibia-bone',
];

interface Case {
  readonly name: string;
  readonly mask: Uint8Array;
  readonly shape: Shape3;
  readonly spacing: Spacing3;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

function make(shape: Shape3, inside: (x: number, y: number, z: number) => boolean): Uint8Array {
  const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0, i = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[0]; x++, i++) m[i] = inside(x, y, z) ? 1 : 0;
  return m;
}

let knee: Uint8Array | undefined;
function kneeLabel(label: number): Uint8Array {
  knee ??= renderCase(sampleSubject(3), { shape: OAI_SHAPE, spacing: OAI_SPACING }).label.data;
  return knee.map((v) => (v === label ? 1 : 0));
}

function buildCase(name: string): Case {
  const oai = (mask: Uint8Array): Case => ({ name, mask, shape: OAI_SHAPE, spacing: OAI_SPACING });
  const [cx, cy, cz] = OAI_SHAPE.map((n) => n / 2) as [number, number, number];
  switch (name) {
    case 'femoral':
      return oai(kneeLabel(KNEE_LABELS.femoral_cartilage));
    case 'tibial':
      return oai(kneeLabel(KNEE_LABELS.tibial_cartilage));
    case 'patellar':
      return oai(kneeLabel(KNEE_LABELS.patellar_cartilage));
    case 'tibia-bone':
      return oai(kneeLabel(KNEE_LABELS.tibia));
    case 'blob-40':
      return oai(make(OAI_SHAPE, (x, y, z) => (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 < 20 ** 2));
    case 'femoral+blob-40': {
      const mask = kneeLabel(KNEE_LABELS.femoral_cartilage);
      // centred on the plate's middle voxel (in memory order)
      let [k, mid] = [0, 0];
      const half = mask.reduce((s, v) => s + v, 0) >> 1;
      for (let i = 0; i < mask.length && k <= half; i++) if (mask[i]) [k, mid] = [k + 1, i];
      const [nx, ny] = OAI_SHAPE;
      const [mx, my, mz] = [mid % nx, Math.floor(mid / nx) % ny, Math.floor(mid / (nx * ny))];
      const ball = make(OAI_SHAPE, (x, y, z) => (x - mx) ** 2 + (y - my) ** 2 + (z - mz) ** 2 < 20 ** 2);
      return oai(mask.map((v, i) => v | ball[i]!));
    }
    case 'all-femoral':
      return oai(new Uint8Array(OAI_SHAPE[0] * OAI_SHAPE[1] * OAI_SHAPE[2]).fill(1));
    case '98%-128x128x24': {
      const shape: Shape3 = [128, 128, 24];
      // a background ball of 2% of the map, off centre
      const mask = make(shape, (x, y, z) => (x - 40) ** 2 + (y - 80) ** 2 + 4 * (z - 12) ** 2 >= 15.5 ** 2);
      return { name, mask, shape, spacing: [0.365, 0.365, 0.7] };
    }
    case '98%-full':
      return oai(make(OAI_SHAPE, (x, y, z) => (x - 50) ** 2 + (y - 70) ** 2 + (z - 120) ** 2 >= 30.4 ** 2));
    default:
      throw new Error(`unknown case ${name}; cases: ${[...DEFAULT_CASES, '98%-full'].join(', ')}`);
  }
}

type LocalThickness = typeof localThickness;

/**
 * Child process: one method on the case in `dir` (this localThickness, the painting, or the
 * localThickness of the module at `baseline`), its map written next to it as `{method}.bin`.
 */
async function runChild(dir: string, method: string, baseline: string): Promise<void> {
  const { shape, spacing } = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Case;
  const mask = new Uint8Array(readFileSync(join(dir, 'mask.bin')));
  const other =
    method === 'baseline'
      ? ((await import(pathToFileURL(baseline).href)) as { localThickness: LocalThickness }).localThickness
      : undefined;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const map =
    method === 'painting'
      ? localThickness(mask, shape, spacing, {}, localThicknessByPainting)
      : (other ?? localThickness)(mask, shape, spacing);
  const seconds = (performance.now() - t0) / 1000;
  const { user, system } = process.cpuUsage(cpu0);
  writeFileSync(join(dir, `${method}.bin`), map);
  console.log(JSON.stringify({ seconds, cpuSeconds: (user + system) / 1e6 }));
}

interface Timing {
  seconds: number;
  cpuSeconds: number;
  map: Float32Array;
}

/**
 * Runs `method` on the case in `dir` in a fresh process on `threads` threads (KNEESEG_THREADS, read
 * by localThickness, not by the painting); its seconds and map, null past `limit` s.
 */
function timed(dir: string, method: string, baseline: string, limit: number, threads = 1): Timing | null {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--child', dir, method, baseline],
    { encoding: 'utf8', timeout: limit * 1000, env: { ...process.env, KNEESEG_THREADS: String(threads) } },
  );
  if (child.status !== 0) {
    if (child.signal !== null) return null;
    throw new Error(`${method} failed: ${child.stderr}`);
  }
  const out = JSON.parse(child.stdout.trim().split('\n').pop()!) as Omit<Timing, 'map'>;
  const map = new Float32Array(new Uint8Array(readFileSync(join(dir, `${method}.bin`))).buffer);
  return { ...out, map };
}

function main(): void {
  const oldLimit = Number(arg('old-limit', '120'));
  const baseline = arg('baseline', '');
  const threads = Number(arg('threads', '2'));
  const names = arg('cases', DEFAULT_CASES.join(',')).split(',');
  const rows: Record<string, unknown>[] = [];
  const fmt = (s: number | null) => (s === null ? `>${oldLimit}` : s.toFixed(2));
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (2 cores); new and baseline: ${threads} threads, wall (CPU) seconds`,
  );
  console.log(
    `case              plate voxels        new s   old s   old/new  same map${baseline ? '      baseline s  same map' : ''}`,
  );
  for (const name of names) {
    const c = buildCase(name);
    const voxels = c.mask.reduce((s, v) => s + v, 0);
    const dir = mkdtempSync(join(tmpdir(), 'kneeseg-thickness-'));
    writeFileSync(join(dir, 'case.json'), JSON.stringify({ shape: c.shape, spacing: c.spacing }));
    writeFileSync(join(dir, 'mask.bin'), c.mask);
    const now = timed(dir, 'new', baseline, 3600, threads)!;
    const same = (other: { map: Float32Array } | null) =>
      other === null ? '-' : other.map.every((v, i) => Object.is(v, now.map[i])) ? 'yes' : 'NO';
    const old = timed(dir, 'painting', baseline, oldLimit);
    const before = baseline ? timed(dir, 'baseline', baseline, 3600, threads) : null;
    rmSync(dir, { recursive: true, force: true });
    const newS = now.seconds;
    const oldS = old?.seconds ?? null;
    const ratio = oldS === null ? `>${+(oldLimit / newS).toPrecision(2)}` : (oldS / newS).toFixed(1);
    const both = (t: Timing) => `${t.seconds.toFixed(2)} (${t.cpuSeconds.toFixed(1)})`;
    console.log(
      `${name.padEnd(17)} ${String(voxels).padStart(12)} ${both(now).padStart(12)} ${fmt(oldS).padStart(7)} ${ratio.padStart(9)}  ${same(old).padEnd(8)}` +
        (before ? `  ${both(before).padStart(14)}  ${same(before)}` : ''),
    );
    rows.push({
      case: name,
      shape: c.shape,
      spacing: c.spacing,
      voxels,
      newSeconds: newS,
      newCpuSeconds: now.cpuSeconds,
      oldSeconds: oldS,
      same: same(old),
      baselineSeconds: before?.seconds ?? null,
      baselineCpuSeconds: before?.cpuSeconds ?? null,
      baselineSame: same(before),
    });
  }
  mkdirSync('runs/bench', { recursive: true });
  writeFileSync(
    'runs/bench/thickness.json',
    `${JSON.stringify({ oldLimit, baseline: baseline || null, threads, load: loadavg(), rows }, null, 2)}\n`,
  );
  console.log('wrote runs/bench/thickness.json');
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const [dir, method, baseline] = process.argv.slice(childAt + 1);
  await runChild(dir!, method!, baseline ?? '');
} else main();
