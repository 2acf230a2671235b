import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  localThickness,
  localThicknessOnGrid,
  plateThickness,
  ridgeCentres,
  thicknessStats,
} from '../../src/infer/thickness.ts';
import type { Shape3, Spacing3 } from '../../src/data/volume.ts';
import { mulberry32 } from '../../src/data/random.ts';
import { localThicknessByPainting } from '../helpers/thickness-painting.ts';

function make(shape: Shape3, inside: (x: number, y: number, z: number) => boolean): Uint8Array {
  const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++) if (inside(x, y, z)) m[x + shape[0] * (y + shape[1] * z)] = 1;
  return m;
}

test('slabs of constant thickness along each axis, anisotropic spacing: exact at supersample 2', () => {
  const spacing: Spacing3 = [0.5, 0.3, 0.7];
  const shape: Shape3 = [16, 18, 14];
  for (let axis = 0; axis < 3; axis++) {
    for (const n of [1, 4, 5, 6]) {
      // The slab spans the whole image across the other two axes: the image border is not background.
      const m = make(shape, (...p) => p[axis]! >= 3 && p[axis]! < 3 + n);
      const { map, stats } = plateThickness(m, shape, spacing);
      const want = n * spacing[axis]!;
      for (let i = 0; i < m.length; i++) {
        if (m[i]) assert.ok(Math.abs(map[i]! - want) < 1e-5, `axis ${axis} n ${n}: ${map[i]} vs ${want}`);
        else assert.equal(map[i], 0);
      }
      assert.ok(Math.abs(stats.meanMm - want) < 1e-5 && Math.abs(stats.maxMm - want) < 1e-5);
    }
  }
});

test('6 voxels at 0.5 mm read 3 mm; without supersampling an odd count reads one voxel thicker', () => {
  const shape: Shape3 = [10, 10, 14];
  const six = make(shape, (_x, _y, z) => z >= 2 && z < 8);
  assert.ok(Math.abs(plateThickness(six, shape, [0.5, 0.5, 0.5]).stats.medianMm - 3) < 1e-6);
  const five = make(shape, (_x, _y, z) => z >= 2 && z < 7);
  assert.ok(Math.abs(plateThickness(five, shape, [0.5, 0.5, 0.5]).stats.medianMm - 2.5) < 1e-6);
  const coarse = plateThickness(five, shape, [0.5, 0.5, 0.5], { supersample: 1 }).stats.medianMm;
  assert.ok(Math.abs(coarse - 3) < 1e-6);
});

test('tilted slab of constant thickness: mean and median within half a voxel', () => {
  const h = 0.5;
  const T = 3;
  const shape: Shape3 = [60, 6, 40];
  for (const angle of [0.3, 0.6]) {
    const m = make(
      shape,
      (x, _y, z) => Math.abs(Math.sin(angle) * x * h + Math.cos(angle) * z * h - 10) < T / 2,
    );
    const { stats } = plateThickness(m, shape, [h, h, h]);
    assert.ok(Math.abs(stats.meanMm - T) < h / 2, `angle ${angle}: mean ${stats.meanMm}`);
    assert.ok(Math.abs(stats.medianMm - T) < h / 2, `angle ${angle}: median ${stats.medianMm}`);
  }
});

test('wedge of linearly varying thickness: each column within half a voxel of the exact local thickness', () => {
  // Solid between the plane z = 0 and the plane z = t(x) (mm, z from the bottom face), voxelized at
  // voxel centres. Its exact local thickness: the largest ball touching both planes at x' has radius
  // r(x') = t(x') cos(a) / (1 + cos(a)), tan(a) = dt/dx, and p is covered by it if |p - c(x')| < r(x').
  const shape: Shape3 = [200, 2, 20];
  const h: Spacing3 = [0.4, 0.4, 0.6];
  const z0 = 2 * h[2];
  const slope = 3.6 / 80;
  const t = (x: number) => 2.4 + slope * x;
  const m = make(shape, (x, _y, z) => {
    const zc = (z + 0.5) * h[2];
    return zc >= z0 && zc < z0 + t((x + 0.5) * h[0]);
  });
  const ca = Math.cos(Math.atan(slope));
  const r = (x: number) => (t(x) * ca) / (1 + ca);
  const exact = (x: number, z: number) => {
    let best = 0;
    for (let xc = x - 4; xc <= x + 4; xc += 0.002) {
      const rc = r(xc);
      if ((x - xc) ** 2 + (z - rc) ** 2 < rc * rc) best = Math.max(best, 2 * rc);
    }
    return best;
  };
  const map = localThickness(m, shape, h);
  let previous = 0;
  for (let x = 15; x < 185; x += 5) {
    let got = 0;
    let want = 0;
    let c = 0;
    for (let z = 0; z < shape[2]; z++) {
      const i = x + shape[0] * shape[1] * z;
      if (!m[i]) continue;
      got += map[i]!;
      want += exact((x + 0.5) * h[0], (z + 0.5) * h[2] - z0);
      c++;
    }
    assert.ok(Math.abs(got / c - want / c) < h[2] / 2, `column ${x}: ${got / c} vs ${want / c}`);
    assert.ok(got / c >= previous - h[2] / 2);
    previous = got / c;
  }
});

/**
 * The definition verbatim: all-pairs radii, then the largest diameter of any open ball containing p
 * (the 1e-9 keeps points exactly on a sphere, ties up to rounding, outside it).
 */
function bruteLocalThickness(mask: Uint8Array, shape: Shape3, sp: Spacing3): Float64Array {
  const n = mask.length;
  const pos = (i: number) => [
    (i % shape[0]) * sp[0],
    (Math.floor(i / shape[0]) % shape[1]) * sp[1],
    Math.floor(i / (shape[0] * shape[1])) * sp[2],
  ];
  const d2 = (a: number[], b: number[]) => (a[0]! - b[0]!) ** 2 + (a[1]! - b[1]!) ** 2 + (a[2]! - b[2]!) ** 2;
  const P = Array.from({ length: n }, (_, i) => pos(i));
  const r2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    let best = Infinity;
    for (let j = 0; j < n; j++) if (!mask[j]) best = Math.min(best, d2(P[i]!, P[j]!));
    r2[i] = best;
  }
  const tau = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    if (!mask[c]) continue;
    for (let p = 0; p < n; p++)
      if (mask[p] && d2(P[p]!, P[c]!) < r2[c]! * (1 - 1e-9))
        tau[p] = Math.max(tau[p]!, 2 * Math.sqrt(r2[c]!));
  }
  return tau;
}

test('ridge pruning and ball painting equal the brute-force definition on random shapes', () => {
  const rng = mulberry32(8);
  for (let trial = 0; trial < 12; trial++) {
    const shape: Shape3 = [4 + Math.floor(rng() * 8), 4 + Math.floor(rng() * 8), 3 + Math.floor(rng() * 6)];
    const sp: Spacing3 = [0.3 + rng(), 0.3 + rng(), 0.5 + rng()];
    const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
    for (let k = 0; k < 4; k++) {
      // Random ellipsoids, so there are thick and thin parts and several ridge points.
      const c = shape.map((s) => rng() * s);
      const ax = shape.map((s) => 1 + rng() * s * 0.6);
      for (let i = 0; i < m.length; i++) {
        const p = [i % shape[0], Math.floor(i / shape[0]) % shape[1], Math.floor(i / (shape[0] * shape[1]))];
        if (p.reduce((s, v, a) => s + ((v - c[a]!) / ax[a]!) ** 2, 0) < 1) m[i] = 1;
      }
    }
    if (m.every((v) => v === 1)) m[0] = 0;
    const want = bruteLocalThickness(m, shape, sp);
    for (const method of ['auto', 'largest-first', 'painting'] as const) {
      const got = localThicknessOnGrid(m, shape, sp, method);
      for (let i = 0; i < m.length; i++)
        assert.ok(
          Math.abs(got[i]! - want[i]!) < 1e-5,
          `trial ${trial} ${method} voxel ${i}: ${got[i]} vs ${want[i]}`,
        );
    }
  }
});

/**
 * The definition in float64 with typed arrays, for grids of thousands of voxels: r^2(c) by brute
 * force over the background, then tau(p) = max 2 r(c) over c with |p - c|^2 < r^2(c) (the 1e-9 keeps
 * points on a sphere, ties up to rounding, outside it). Also returns the largest r.
 */
function definitionOracle(
  mask: Uint8Array,
  shape: Shape3,
  sp: Spacing3,
): { tau: Float64Array; rMax: number } {
  const n = mask.length;
  const [fg, bg] = [[] as number[], [] as number[]];
  for (let i = 0; i < n; i++) (mask[i] ? fg : bg).push(i);
  const coords = (list: number[]) => {
    const c = new Float64Array(3 * list.length);
    list.forEach((i, k) => {
      c[3 * k] = (i % shape[0]) * sp[0];
      c[3 * k + 1] = (Math.floor(i / shape[0]) % shape[1]) * sp[1];
      c[3 * k + 2] = Math.floor(i / (shape[0] * shape[1])) * sp[2];
    });
    return c;
  };
  const [F, B] = [coords(fg), coords(bg)];
  const d2 = (P: Float64Array, a: number, Q: Float64Array, b: number) =>
    (P[3 * a]! - Q[3 * b]!) ** 2 +
    (P[3 * a + 1]! - Q[3 * b + 1]!) ** 2 +
    (P[3 * a + 2]! - Q[3 * b + 2]!) ** 2;
  const r2 = new Float64Array(fg.length).fill(Infinity);
  for (let a = 0; a < fg.length; a++)
    for (let b = 0; b < bg.length; b++) r2[a] = Math.min(r2[a]!, d2(F, a, B, b));
  const tau = new Float64Array(n);
  let rMax = 0;
  for (let c = 0; c < fg.length; c++) {
    rMax = Math.max(rMax, Math.sqrt(r2[c]!));
    for (let p = 0; p < fg.length; p++)
      if (d2(F, p, F, c) < r2[c]! * (1 - 1e-9)) tau[fg[p]!] = Math.max(tau[fg[p]!]!, 2 * Math.sqrt(r2[c]!));
  }
  return { tau, rMax };
}

/** Random plates (tilted, bent, of varying thickness) and blobs (ellipsoids, some hollowed). */
function randomShape(rng: () => number, shape: Shape3, kind: 'plate' | 'blob'): Uint8Array {
  const [nx, ny, nz] = shape;
  const m = new Uint8Array(nx * ny * nz);
  if (kind === 'plate') {
    const [a, b] = [rng() - 0.5, rng() - 0.5];
    const [t0, t1, bend] = [1.5 + rng() * 4, rng() * 0.2, rng() * 0.05];
    return make(shape, (x, y, z) => {
      const mid = nz / 2 + a * (x - nx / 2) + b * (y - ny / 2) + bend * (x - nx / 2) ** 2;
      return Math.abs(z - mid) < (t0 + t1 * x) / 2;
    });
  }
  for (let k = 0; k < 1 + Math.floor(rng() * 3); k++) {
    const c = shape.map((s) => s * (0.25 + 0.5 * rng()));
    const ax = shape.map((s) => 2 + rng() * s * 0.45);
    const hollow = rng() < 0.3;
    for (let i = 0; i < m.length; i++) {
      const p = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
      const q = p.reduce((s, v, e) => s + ((v - c[e]!) / ax[e]!) ** 2, 0);
      if (q < 1) m[i] = hollow && q < 0.2 ? m[i]! : 1;
    }
  }
  return m;
}

test('largest-first equals the definition on random plates and blobs, anisotropic spacing, large balls included', () => {
  const rng = mulberry32(21);
  let largeBalls = 0;
  for (let trial = 0; trial < 10; trial++) {
    // x finely sampled, so that balls a few mm wide span more than 16 voxels along it
    const shape: Shape3 = [
      24 + Math.floor(rng() * 9),
      14 + Math.floor(rng() * 7),
      10 + Math.floor(rng() * 5),
    ];
    const sp: Spacing3 = [0.15 + 0.1 * rng(), 0.3 + 0.2 * rng(), 0.5 + 0.3 * rng()];
    const m = randomShape(rng, shape, trial % 2 ? 'blob' : 'plate');
    if (m.every((v) => v === 1)) m[0] = 0;
    const got = localThicknessOnGrid(m, shape, sp, 'largest-first');
    const { tau: want, rMax } = definitionOracle(m, shape, sp);
    // Balls wider than 16 voxels are cut by their processed neighbours (thickness.ts): make sure
    // some trials have them.
    if (2 * rMax > 16 * Math.min(...sp)) largeBalls++;
    for (let i = 0; i < m.length; i++)
      assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `trial ${trial} voxel ${i}: ${got[i]} vs ${want[i]}`);
  }
  assert.ok(largeBalls >= 3, `only ${largeBalls} trials with large balls`);
});

test('supersampled: each voxel the mean of the definition over its 2x2x2 sub-voxels, random plates and blobs', () => {
  const rng = mulberry32(23);
  for (let trial = 0; trial < 4; trial++) {
    const shape: Shape3 = [10 + Math.floor(rng() * 5), 8 + Math.floor(rng() * 5), 6 + Math.floor(rng() * 4)];
    const sp: Spacing3 = [0.7, 0.365 + 0.2 * rng(), 0.365];
    const m = randomShape(rng, shape, trial % 2 ? 'blob' : 'plate');
    const [nx, ny, nz] = shape;
    // the documented grid: the plate's bounding box grown by one voxel, each voxel split in 2x2x2
    const lo = [nx, ny, nz];
    const hi = [-1, -1, -1];
    m.forEach((v, i) => {
      if (!v) return;
      const p = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
      for (let a = 0; a < 3; a++) [lo[a], hi[a]] = [Math.min(lo[a]!, p[a]!), Math.max(hi[a]!, p[a]!)];
    });
    for (let a = 0; a < 3; a++)
      [lo[a], hi[a]] = [Math.max(0, lo[a]! - 1), Math.min(shape[a]! - 1, hi[a]! + 1)];
    const sub: Shape3 = [0, 1, 2].map((a) => 2 * (hi[a]! - lo[a]! + 1)) as unknown as Shape3;
    const fine = make(
      sub,
      (x, y, z) => m[lo[0]! + (x >> 1) + nx * (lo[1]! + (y >> 1) + ny * (lo[2]! + (z >> 1)))]! === 1,
    );
    const { tau } = definitionOracle(fine, sub, [sp[0] / 2, sp[1] / 2, sp[2] / 2]);
    const got = localThickness(m, shape, sp);
    for (let i = 0; i < m.length; i++) {
      const [x, y, z] = [
        (i % nx) - lo[0]!,
        (Math.floor(i / nx) % ny) - lo[1]!,
        Math.floor(i / (nx * ny)) - lo[2]!,
      ];
      let want = 0;
      if (m[i])
        for (let c = 0; c < 8; c++)
          want += tau[2 * x + (c & 1) + sub[0] * (2 * y + ((c >> 1) & 1) + sub[1] * (2 * z + (c >> 2)))]! / 8;
      assert.ok(Math.abs(got[i]! - want) < 1e-5, `trial ${trial} voxel ${i}: ${got[i]} vs ${want}`);
    }
  }
});

test('largest-first gives the painting it replaced, value for value, on larger random shapes', () => {
  const rng = mulberry32(22);
  for (let trial = 0; trial < 6; trial++) {
    const shape: Shape3 = [
      40 + Math.floor(rng() * 30),
      24 + Math.floor(rng() * 20),
      16 + Math.floor(rng() * 16),
    ];
    const sp: Spacing3 = [0.15 + 0.2 * rng(), 0.3 + 0.4 * rng(), 0.4 + 0.6 * rng()];
    const m = randomShape(rng, shape, trial % 2 ? 'blob' : 'plate');
    const got = localThicknessOnGrid(m, shape, sp, 'largest-first');
    const want = localThicknessByPainting(m, shape, sp);
    for (let i = 0; i < m.length; i++) assert.equal(got[i], want[i], `trial ${trial} voxel ${i}`);
    // Thin plates are painted ('auto'): the same map.
    assert.deepEqual(localThicknessOnGrid(m, shape, sp), want);
    assert.deepEqual(localThicknessOnGrid(m, shape, sp, 'painting'), want);
  }
  // Through the supersampled path too.
  const shape: Shape3 = [24, 20, 12];
  const m = randomShape(rng, shape, 'blob');
  const painted = localThickness(m, shape, [0.7, 0.365, 0.365], {}, localThicknessByPainting);
  assert.deepEqual(localThickness(m, shape, [0.7, 0.365, 0.365]), painted);
  const largestFirst = (mask: Uint8Array, s: Shape3, sp: Spacing3) =>
    localThicknessOnGrid(mask, s, sp, 'largest-first');
  assert.deepEqual(localThickness(m, shape, [0.7, 0.365, 0.365], {}, largestFirst), painted);
});

/**
 * A thick block with one to three ellipsoidal holes, reaching the grid's faces (a bad prediction
 * that labels nearly everything as one plate): nearly every voxel is a ridge centre and most balls
 * take nothing, the case UselessBalls (thickness.ts) drops them for.
 */
function holedBlock(rng: () => number, shape: Shape3): Uint8Array {
  const holes = Array.from({ length: 1 + Math.floor(rng() * 3) }, () => ({
    c: shape.map((s) => s * (0.15 + 0.7 * rng())),
    ax: shape.map((s) => 1.2 + rng() * s * 0.15),
  }));
  return make(shape, (...p) =>
    holes.every(({ c, ax }) => p.reduce((s, v, a) => s + ((v - c[a]!) / ax[a]!) ** 2, 0) >= 1),
  );
}

test('balls proved to take nothing are dropped, and the map stays the definition and the painting', () => {
  const rng = mulberry32(31);
  let dropped = 0;
  let centres = 0;
  for (let trial = 0; trial < 6; trial++) {
    // x fine, so that the balls (up to a few mm) are large enough to be tested (> 16 voxels across)
    const shape: Shape3 = [26 + Math.floor(rng() * 8), 10 + Math.floor(rng() * 5), 8 + Math.floor(rng() * 4)];
    const sp: Spacing3 = [0.08 + 0.04 * rng(), 0.25 + 0.1 * rng(), 0.3 + 0.2 * rng()];
    const m = holedBlock(rng, shape);
    const got = localThicknessOnGrid(m, shape, sp, 'largest-first');
    const painted = localThicknessByPainting(m, shape, sp);
    for (let i = 0; i < m.length; i++) assert.equal(got[i], painted[i], `trial ${trial} voxel ${i}`);
    if (trial < 2) {
      const { tau } = definitionOracle(m, shape, sp);
      for (let i = 0; i < m.length; i++)
        assert.ok(Math.abs(got[i]! - tau[i]!) < 1e-5, `trial ${trial} voxel ${i}: ${got[i]} vs ${tau[i]}`);
    }
    const r = ridgeCentres(m, shape, sp);
    dropped += r.dropped;
    centres += r.kept + r.dropped;
  }
  // The shortcut must be exercised: most centres of such maps are dropped.
  assert.ok(dropped > centres / 3, `dropped ${dropped} of ${centres} ridge centres`);
});

test('supersampled thickness is the mean over sub-voxels of the thickness of the upsampled mask', () => {
  const rng = mulberry32(9);
  const shape: Shape3 = [7, 6, 5];
  const sp: Spacing3 = [0.4, 0.6, 0.9];
  const m = new Uint8Array(7 * 6 * 5).map(() => (rng() < 0.6 ? 1 : 0));
  const up: Shape3 = [14, 12, 10];
  const mu = new Uint8Array(14 * 12 * 10);
  for (let z = 0; z < 10; z++)
    for (let y = 0; y < 12; y++)
      for (let x = 0; x < 14; x++) mu[x + 14 * (y + 12 * z)] = m[(x >> 1) + 7 * ((y >> 1) + 6 * (z >> 1))]!;
  const fine = localThicknessOnGrid(mu, up, [0.2, 0.3, 0.45]);
  const got = localThickness(m, shape, sp);
  for (let z = 0; z < 5; z++)
    for (let y = 0; y < 6; y++)
      for (let x = 0; x < 7; x++) {
        let s = 0;
        for (let c = 0; c < 8; c++)
          s += fine[2 * x + (c & 1) + 14 * (2 * y + ((c >> 1) & 1) + 12 * (2 * z + (c >> 2)))]!;
        const i = x + 7 * (y + 6 * z);
        assert.ok(Math.abs(got[i]! - (m[i] ? s / 8 : 0)) < 1e-5, `voxel ${i}`);
      }
});

test('stats: known values, empty plate gives NaN, full image has no background (NaN)', () => {
  const map = Float32Array.from([0, 1, 2, 3, 4, 9]);
  const mask = Uint8Array.from([0, 1, 1, 1, 1, 1]);
  const s = thicknessStats(map, mask);
  assert.deepEqual([s.meanMm, s.medianMm, s.maxMm, s.voxels], [19 / 5, 3, 9, 5]);
  assert.ok(Math.abs(s.p95Mm - (4 + 0.8 * 5)) < 1e-12);
  const empty = plateThickness(new Uint8Array(27), [3, 3, 3], [1, 1, 1]);
  assert.ok(Number.isNaN(empty.stats.meanMm) && empty.map.every((v) => v === 0));
  const full = plateThickness(new Uint8Array(27).fill(1), [3, 3, 3], [1, 1, 1]);
  assert.ok(Number.isNaN(full.stats.meanMm));
});

/**
 * Maps where nearly every voxel is a large ridge ball (the slow case, bench/thickness/ 98%-full):
 * very thick blobs, boxes all foreground but for one face, one voxel or a small hole (the balls on
 * the grid's faces have no uphill neighbour outside the grid).
 */
function thickShapes(rng: () => number, shape: Shape3): Uint8Array[] {
  const [nx, ny, nz] = shape;
  const c = shape.map((s) => (s - 1) / 2 + (rng() - 0.5));
  const hole = Math.floor(rng() * nx);
  return [
    make(shape, (...p) => p.reduce((s, v, a) => s + ((v - c[a]!) / (shape[a]! / 2 + 0.3)) ** 2, 0) < 1),
    make(shape, (x) => x > 0),
    make(shape, (x, y, z) => x !== hole || y !== ny >> 1 || z !== nz >> 1),
    holedBlock(rng, shape),
  ];
}

test('thick blobs and all-foreground boxes: the definition, the painting, any thread count', () => {
  const rng = mulberry32(41);
  for (let trial = 0; trial < 3; trial++) {
    // x fine, so that the balls are wide in voxels (cut by their neighbours, tested by UselessBalls)
    const shape: Shape3 = [18 + Math.floor(rng() * 6), 9 + Math.floor(rng() * 4), 7 + Math.floor(rng() * 3)];
    const sp: Spacing3 = [0.06 + 0.04 * rng(), 0.25 + 0.1 * rng(), 0.3 + 0.2 * rng()];
    thickShapes(rng, shape).forEach((m, k) => {
      const { tau } = definitionOracle(m, shape, sp);
      const painted = localThicknessByPainting(m, shape, sp);
      for (const method of ['auto', 'largest-first', 'painting'] as const)
        for (const threads of [1, 2, 3]) {
          const got = localThicknessOnGrid(m, shape, sp, method, threads);
          const what = `trial ${trial} shape ${k} ${method} ${threads} threads`;
          for (let i = 0; i < m.length; i++) {
            assert.ok(Math.abs(got[i]! - tau[i]!) < 1e-5, `${what} voxel ${i}: ${got[i]} vs ${tau[i]}`);
            assert.equal(got[i], painted[i], `${what} voxel ${i}`);
          }
        }
    });
  }
});

test('helper threads give the single-thread map value for value, on the grid and supersampled', () => {
  const rng = mulberry32(43);
  for (let trial = 0; trial < 3; trial++) {
    const shape: Shape3 = [
      24 + Math.floor(rng() * 12),
      16 + Math.floor(rng() * 8),
      10 + Math.floor(rng() * 8),
    ];
    const sp: Spacing3 = [0.1 + 0.2 * rng(), 0.3 + 0.3 * rng(), 0.4 + 0.4 * rng()];
    const shapes = [
      randomShape(rng, shape, 'plate'),
      randomShape(rng, shape, 'blob'),
      holedBlock(rng, shape),
    ];
    shapes.forEach((m, k) => {
      // (painting every ball of a holed block is slow, and its slabs are the same code as a plate's)
      for (const method of ['auto', 'largest-first', ...(k < 2 ? ['painting' as const] : [])] as const) {
        const one = localThicknessOnGrid(m, shape, sp, method, 1);
        for (const threads of [2, 4])
          assert.deepEqual(localThicknessOnGrid(m, shape, sp, method, threads), one);
      }
    });
    const m = shapes[trial]!;
    assert.deepEqual(
      localThickness(m, shape, sp, { threads: 2 }),
      localThickness(m, shape, sp, { threads: 1 }),
    );
  }
  const one = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
  assert.throws(() => localThickness(one, [2, 2, 2], [1, 1, 1], { threads: 0 }), RangeError);
});
