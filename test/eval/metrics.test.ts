import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMask, structureMetrics } from '../../src/eval/metrics.ts';
import { dice } from '../../src/image/dice.ts';
import { percentile } from '../../src/image/percentile.ts';
import { hd95, surfaceDistances, surfaceVoxels } from '../../src/eval/surface-distance.ts';
import { mulberry32 } from '../../src/data/random.ts';
import type { Shape3, Spacing3 } from '../../src/data/volume.ts';

const idx = (shape: Shape3, x: number, y: number, z: number) => x + shape[0] * (y + shape[1] * z);

function box(shape: Shape3, lo: [number, number, number], hi: [number, number, number]): Uint8Array {
  const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let z = lo[2]; z <= hi[2]; z++)
    for (let y = lo[1]; y <= hi[1]; y++) for (let x = lo[0]; x <= hi[0]; x++) m[idx(shape, x, y, z)] = 1;
  return m;
}

/** Physical sphere voxelized at voxel centres. */
function sphere(shape: Shape3, spacing: Spacing3, centre: [number, number, number], r: number): Uint8Array {
  const m = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let z = 0; z < shape[2]; z++)
    for (let y = 0; y < shape[1]; y++)
      for (let x = 0; x < shape[0]; x++) {
        const d2 =
          (x * spacing[0] - centre[0]) ** 2 +
          (y * spacing[1] - centre[1]) ** 2 +
          (z * spacing[2] - centre[2]) ** 2;
        if (d2 <= r * r) m[idx(shape, x, y, z)] = 1;
      }
  return m;
}

test('identical masks: Dice 1, all distances 0, volume error 0', () => {
  const shape: Shape3 = [12, 10, 8];
  const m = sphere(shape, [1, 1, 1], [5.5, 4.5, 3.5], 3.2);
  const r = structureMetrics(m, m.slice(), shape, [0.4, 0.4, 0.8]);
  assert.equal(r.dice, 1);
  assert.equal(r.hdMm, 0);
  assert.equal(r.hd95Mm, 0);
  assert.equal(r.hd95Vox, 0);
  assert.equal(r.assdMm, 0);
  assert.equal(r.volumeErrorPct, 0);
  assert.equal(r.distancesDefined, true);
});

test('a 3x3x3 cube shifted by one voxel along z, spacing [0.5, 1, 2]: hand-computed answers', () => {
  // Surfaces are the 26 non-centre voxels of each cube. pred -> gt: 16 shared voxels at 0, pred's
  // bottom-face centre (gt's centre) at 0.5 (one x step), its top face (9 voxels) at 2 (one z step);
  // gt -> pred the same by symmetry. Union: 32 x 0, 2 x 0.5, 18 x 2 -> HD95 = 2 mm = 1 voxel.
  const shape: Shape3 = [7, 7, 8];
  const gt = box(shape, [2, 2, 1], [4, 4, 3]);
  const pred = box(shape, [2, 2, 2], [4, 4, 4]);
  const r = structureMetrics(pred, gt, shape, [0.5, 1, 2]);
  assert.equal(r.dice, (2 * 18) / 54);
  assert.equal(r.hd95Mm, 2);
  assert.equal(r.hd95Vox, 1);
  assert.equal(r.hdMm, 2);
  assert.ok(Math.abs(r.assdMm - (0.5 + 9 * 2) / 26) < 1e-12);
  assert.equal(r.volumeErrorPct, 0);
  const d = surfaceDistances(pred, gt, shape, [0.5, 1, 2])!;
  assert.deepEqual(
    Array.from(d.predToGt).sort((a, b) => a - b),
    [...Array<number>(16).fill(0), 0.5, ...Array<number>(9).fill(2)],
  );
});

test('two spheres at a known offset: distances bounded by the offset, Dice near the analytic lens', () => {
  const spacing: Spacing3 = [0.5, 0.5, 1];
  const shape: Shape3 = [40, 40, 24];
  const R = 7;
  const off = 2; // mm along z = 2 voxels, so the second sphere is an exact translate of the first
  const a = sphere(shape, spacing, [10, 10, 10], R);
  const b = sphere(shape, spacing, [10, 10, 10 + off], R);
  const r = structureMetrics(a, b, shape, spacing);
  // Every surface voxel of one has its translate on the other's surface, so no distance exceeds 2 mm.
  assert.ok(r.hdMm <= off + 1e-12 && r.hdMm >= off - 0.5, `hd ${r.hdMm}`);
  assert.ok(r.hd95Mm <= off + 1e-12 && r.hd95Mm >= 1, `hd95 ${r.hd95Mm}`);
  assert.ok(r.assdMm > 0.3 && r.assdMm < off, `assd ${r.assdMm}`);
  // Lens of two balls of radius R at distance d: pi (4R + d)(2R - d)^2 / 12; Dice = lens / ball.
  const lens = (Math.PI * (4 * R + off) * (2 * R - off) ** 2) / 12;
  const analytic = lens / ((4 / 3) * Math.PI * R ** 3);
  assert.ok(Math.abs(r.dice - analytic) < 0.01, `dice ${r.dice} vs ${analytic}`);
  // Symmetric in its arguments.
  const s = structureMetrics(b, a, shape, spacing);
  assert.equal(s.hd95Mm, r.hd95Mm);
  assert.equal(s.assdMm, r.assdMm);
});

test('empty masks follow the documented conventions and are flagged', () => {
  const shape: Shape3 = [5, 5, 5];
  const empty = new Uint8Array(125);
  const one = box(shape, [1, 1, 1], [2, 2, 2]);
  const both = structureMetrics(empty, empty, shape, [1, 1, 1]);
  assert.equal(both.dice, 1);
  assert.ok(Number.isNaN(both.hd95Mm) && Number.isNaN(both.assdMm) && Number.isNaN(both.hd95Vox));
  assert.ok(Number.isNaN(both.volumeErrorPct));
  assert.deepEqual([both.predEmpty, both.gtEmpty, both.distancesDefined], [true, true, false]);
  const missed = structureMetrics(empty, one, shape, [1, 1, 1]);
  assert.equal(missed.dice, 0);
  assert.equal(missed.volumeErrorPct, -100);
  assert.ok(Number.isNaN(missed.hd95Mm));
  assert.deepEqual([missed.predEmpty, missed.gtEmpty, missed.distancesDefined], [true, false, false]);
  const spurious = structureMetrics(one, empty, shape, [1, 1, 1]);
  assert.equal(spurious.dice, 0);
  assert.ok(Number.isNaN(spurious.volumeErrorPct) && Number.isNaN(spurious.assdMm));
  assert.equal(spurious.distancesDefined, false);
});

test('surface voxels: the image edge counts as outside (scipy border_value = 0)', () => {
  const shape: Shape3 = [4, 4, 4];
  const s = surfaceVoxels(new Uint8Array(64).fill(1), shape);
  for (let z = 0; z < 4; z++)
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++) {
        const inner = x > 0 && x < 3 && y > 0 && y < 3 && z > 0 && z < 3;
        assert.equal(s[idx(shape, x, y, z)], inner ? 0 : 1);
      }
});

/** medpy's surface distances the slow way: explicit 6-neighbour test, all-pairs distances. */
function bruteDirected(a: Uint8Array, b: Uint8Array, shape: Shape3, sp: Spacing3): number[] {
  const surf = (m: Uint8Array): number[][] => {
    const pts: number[][] = [];
    for (let z = 0; z < shape[2]; z++)
      for (let y = 0; y < shape[1]; y++)
        for (let x = 0; x < shape[0]; x++) {
          if (!m[idx(shape, x, y, z)]) continue;
          const nb = [
            [x - 1, y, z],
            [x + 1, y, z],
            [x, y - 1, z],
            [x, y + 1, z],
            [x, y, z - 1],
            [x, y, z + 1],
          ];
          const out = nb.some(
            ([u, v, w]) =>
              u! < 0 ||
              v! < 0 ||
              w! < 0 ||
              u! >= shape[0] ||
              v! >= shape[1] ||
              w! >= shape[2] ||
              !m[idx(shape, u!, v!, w!)],
          );
          if (out) pts.push([x, y, z]);
        }
    return pts;
  };
  const sa = surf(a);
  const sb = surf(b);
  return sa.map((p) =>
    Math.min(
      ...sb.map((q) => Math.hypot((p[0]! - q[0]!) * sp[0], (p[1]! - q[1]!) * sp[1], (p[2]! - q[2]!) * sp[2])),
    ),
  );
}

test('HD95 and ASSD equal a brute-force all-pairs surface distance on random shapes', () => {
  const r = mulberry32(5);
  for (let trial = 0; trial < 25; trial++) {
    const shape: Shape3 = [3 + Math.floor(r() * 8), 3 + Math.floor(r() * 8), 2 + Math.floor(r() * 6)];
    const spacing: Spacing3 = [0.3 + r(), 0.3 + r(), 0.5 + 2 * r()];
    const n = shape[0] * shape[1] * shape[2];
    // Blobs: a few random boxes each, so masks have interiors as well as surfaces.
    const blob = (): Uint8Array => {
      const m = new Uint8Array(n);
      for (let k = 0; k < 3; k++) {
        const lo = shape.map((s) => Math.floor(r() * s)) as [number, number, number];
        const hi = lo.map((l, a) => Math.min(shape[a]! - 1, l + Math.floor(r() * 4))) as [
          number,
          number,
          number,
        ];
        m.set(box(shape, lo, hi).map((v, i) => v | m[i]!));
      }
      return m;
    };
    const a = blob();
    const b = blob();
    const ab = bruteDirected(a, b, shape, spacing);
    const ba = bruteDirected(b, a, shape, spacing);
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const got = structureMetrics(a, b, shape, spacing);
    assert.ok(Math.abs(got.hd95Mm - percentile([...ab, ...ba], 95)) < 1e-9, `trial ${trial} hd95`);
    assert.ok(Math.abs(got.assdMm - (mean(ab) + mean(ba)) / 2) < 1e-9, `trial ${trial} assd`);
    assert.ok(Math.abs(got.hdMm - Math.max(...ab, ...ba)) < 1e-9, `trial ${trial} hd`);
    const abVox = bruteDirected(a, b, shape, [1, 1, 1]);
    const baVox = bruteDirected(b, a, shape, [1, 1, 1]);
    assert.ok(Math.abs(got.hd95Vox - percentile([...abVox, ...baVox], 95)) < 1e-9, `trial ${trial} hd95 vox`);
    assert.equal(hd95(a, b, shape, spacing), got.hd95Mm);
  }
});

test('dice and labelMask on label maps', () => {
  const labels = Int16Array.from([0, 1, 2, 2, 1, 0]);
  assert.deepEqual(Array.from(labelMask(labels, 2)), [0, 0, 1, 1, 0, 0]);
  assert.deepEqual(Array.from(labelMask(labels, [1, 2])), [0, 1, 1, 1, 1, 0]);
  assert.equal(dice(labelMask(labels, 1), labelMask(labels, [1, 2])), (2 * 2) / 6);
  assert.throws(() => dice(new Uint8Array(2), new Uint8Array(3)), /voxels/);
});
