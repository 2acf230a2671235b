import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { convFlops, DOCTOR_CONV, openmpWait, type DoctorReport } from '../../src/cli/doctor.ts';
import { kneeseg } from '../helpers/cli.ts';

test('convFlops counts 2 * N * Cout * H * W * Cin * k^2', () => {
  assert.equal(convFlops(1, 1, 1, 1, 1), 18);
  assert.equal(convFlops(4, 64, 64, 144, 120), 2 * 4 * 64 * 144 * 120 * 64 * 9);
  assert.equal(convFlops(2, 3, 5, 7, 11, 1), 2 * 2 * 5 * 7 * 11 * 3);
});

test('kneeseg doctor prints Node, libtorch, threads, device, allocator and a conv GFLOP/s figure', async () => {
  const r = await kneeseg('doctor', '--seconds', '0.2');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^node\\s+${process.version.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(r.stdout, /^libtorch\s+1\.13\.\d/m);
  assert.match(r.stdout, /^threads\s+\d+ \(/m);
  // the engine's short OpenMP spin (src/engine/native.ts), unless the environment chose otherwise
  if (process.env.OMP_WAIT_POLICY === undefined)
    assert.match(r.stdout, /^openmp\s+idle threads: spin 3000 rounds, then sleep/m);
  assert.match(r.stdout, /^device\s+cpu \(cuda (available|not available)/m);
  assert.match(r.stdout, /^allocator\s+kneeseg caching CPU allocator, cache limit \d+\.\d MiB/m);
  const m = /^conv\s+3x3 N=4 64->64 144x120: (\d+) convs in ([\d.]+) s = ([\d.]+) GFLOP\/s$/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  const [convs, seconds, gflops] = [Number(m[1]), Number(m[2]), Number(m[3])];
  assert.ok(convs >= 3 && gflops > 0);
  // the figure is the convolution count over the time, not a made-up number
  const { n, cin, cout, h, w } = DOCTOR_CONV;
  // seconds are printed to 0.01 s and GFLOP/s to 0.1: the figure must lie in the range that allows
  const gflop = (convFlops(n, cin, cout, h, w) * convs) / 1e9;
  const [lo, hi] = [gflop / (seconds + 0.005) - 0.05, gflop / Math.max(seconds - 0.005, 1e-9) + 0.05];
  assert.ok(gflops >= lo && gflops <= hi, `${gflops} outside [${lo}, ${hi}]`);
});

test('kneeseg doctor --json gives the same facts as data; a bad --seconds is refused', async () => {
  const r = await kneeseg('doctor', '--seconds', '0.05', '--json');
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as DoctorReport;
  assert.equal(rep.node, process.version);
  assert.equal(rep.device, 'cpu');
  assert.equal(typeof rep.cuda, 'boolean');
  assert.ok(rep.threads >= 1);
  assert.ok(
    rep.allocator.limitBytes > 0 && rep.allocator.cachedBytes > 0,
    'the benchmark left blocks in the cache',
  );
  assert.equal(rep.conv.flopsPerConv, convFlops(4, 64, 64, 144, 120));
  const bad = await kneeseg('doctor', '--seconds', 'x');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--seconds must be a positive number/);
});

test('doctor names the OpenMP waiting a user chose: the policy and spin count as set', () => {
  assert.equal(openmpWait({}), "libgomp's default");
  assert.equal(openmpWait({ GOMP_SPINCOUNT: '3000' }), 'spin 3000 rounds, then sleep');
  assert.equal(openmpWait({ OMP_WAIT_POLICY: 'PASSIVE' }), 'OMP_WAIT_POLICY=PASSIVE');
  assert.equal(
    openmpWait({ OMP_WAIT_POLICY: 'active', GOMP_SPINCOUNT: '100' }),
    'OMP_WAIT_POLICY=active, GOMP_SPINCOUNT=100',
  );
  // a process started with OMP_WAIT_POLICY keeps it: the engine adds no spin count of its own
  const bin = fileURLToPath(new URL('../../bin/kneeseg.js', import.meta.url));
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  delete env.GOMP_SPINCOUNT;
  const r = spawnSync(process.execPath, [bin, 'doctor', '--seconds', '0.05', '--json'], {
    encoding: 'utf8',
    env,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as DoctorReport).openmpWait, 'OMP_WAIT_POLICY=PASSIVE');
});

test('kneeseg --version prints the package version (as a separate process)', () => {
  const bin = fileURLToPath(new URL('../../bin/kneeseg.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '0.1.0');
});
