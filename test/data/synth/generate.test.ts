import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderCase, type SynthCase } from '../../../src/data/synth/generate.ts';
import { sampleSubject, type Subject } from '../../../src/data/synth/subject.ts';
import { SYNTH_LABELS as L, Tissue } from '../../../src/data/synth/tissues.ts';

const SMALL = { shape: [24, 64, 64], spacing: [4, 1.8, 1.8] } as const;
const c0 = renderCase(sampleSubject(11));

function meanIndex(c: SynthCase, label: number, axis: 0 | 1 | 2): number {
  const [nx, ny] = c.label.shape;
  let s = 0;
  let n = 0;
  c.label.data.forEach((l, i) => {
    if (l !== label) return;
    s += axis === 0 ? i % nx : axis === 1 ? Math.floor(i / nx) % ny : Math.floor(i / (nx * ny));
    n++;
  });
  return s / n;
}

test('subjects and volumes repeat from the seed and differ between seeds', () => {
  assert.deepEqual(sampleSubject(4), sampleSubject(4));
  assert.notDeepEqual(sampleSubject(4), sampleSubject(5));
  const a = renderCase(sampleSubject(4), SMALL);
  const b = renderCase(sampleSubject(4), SMALL);
  const c = renderCase(sampleSubject(5), SMALL);
  assert.deepEqual(a.image.data, b.image.data);
  assert.deepEqual(a.label.data, b.label.data);
  assert.notDeepEqual(a.label.data, c.label.data);
  assert.deepEqual(a.image.shape, [24, 64, 64]);
  assert.deepEqual(a.image.spacing, [4, 1.8, 1.8]);
});

test('every structure is present and the anatomy is in place (femur above tibia, patella in front)', () => {
  for (const v of Object.values(L)) assert.ok(c0.label.data.includes(v), `label ${v} present`);
  const z = (l: number) => meanIndex(c0, l, 2);
  const y = (l: number) => meanIndex(c0, l, 1);
  assert.ok(z(L.femur) > z(L.femoral_cartilage) - 20 && z(L.femur) > z(L.tibia));
  assert.ok(z(L.tibial_cartilage) > z(L.tibia) && z(L.tibial_cartilage) < z(L.femur));
  // y grows posteriorly: the patella and its cartilage lie in front of the femur
  assert.ok(y(L.patella) < y(L.patellar_cartilage) && y(L.patellar_cartilage) < y(L.femur));
});

test('tibial cartilage sits on the tibia, is thickest centrally and tapers to nothing', () => {
  const [nx, ny, nz] = c0.label.shape;
  const d = c0.label.data;
  let onBone = 0;
  let total = 0;
  const column = new Map<number, number>();
  for (let z = 1; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const i = x + nx * (y + ny * z);
        if (d[i] !== L.tibial_cartilage) continue;
        total++;
        const below = d[i - nx * ny];
        if (below === L.tibia || below === L.tibial_cartilage) onBone++;
        column.set(x + nx * y, (column.get(x + nx * y) ?? 0) + 1);
      }
  assert.ok(onBone / total > 0.97, `${onBone}/${total} on bone`);
  const heights = [...column.values()];
  assert.ok(Math.max(...heights) >= 3, 'thick centre');
  assert.ok(heights.filter((h) => h === 1).length > heights.length / 10, 'thin rims');
});

test('intensities: fluid brightest, cartilage above marrow, and no threshold isolates cartilage', () => {
  const mean = (pred: (i: number) => boolean) => {
    let s = 0;
    let n = 0;
    for (let i = 0; i < c0.tissue.length; i++)
      if (pred(i)) {
        s += c0.image.data[i]!;
        n++;
      }
    return s / n;
  };
  const fluid = mean((i) => c0.tissue[i] === Tissue.fluid);
  const cart = mean((i) => c0.label.data[i] === L.femoral_cartilage);
  const marrow = mean((i) => c0.tissue[i] === Tissue.femurMarrow);
  assert.ok(fluid > cart && cart > marrow, `${fluid} > ${cart} > ${marrow}`);
  // voxels with intensity inside the cartilage interquartile range: most are not cartilage
  const cv = [...c0.image.data.filter((_, i) => c0.label.data[i] === L.femoral_cartilage)].sort(
    (a, b) => a - b,
  );
  const lo = cv[Math.floor(cv.length / 4)]!;
  const hi = cv[Math.floor((3 * cv.length) / 4)]!;
  let inside = 0;
  let other = 0;
  c0.image.data.forEach((v, i) => {
    if (v < lo || v > hi) return;
    if (c0.label.data[i] === L.femoral_cartilage) inside++;
    else other++;
  });
  assert.ok(other > 3 * inside, `${other} non-cartilage vs ${inside} cartilage voxels in the window`);
});

test('a left knee is the mirror image of the right knee', () => {
  const s = sampleSubject(21);
  const right: Subject = { ...s, side: 1, rotation: [0, 0, 0], translation: [0, 0, 0] };
  const left: Subject = { ...right, side: -1 };
  const a = renderCase(right, SMALL).label.data;
  const b = renderCase(left, SMALL).label.data;
  const [nx] = SMALL.shape;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    const x = i % nx;
    if (a[i] !== b[i - x + (nx - 1 - x)]) diff++;
  }
  assert.equal(diff, 0);
  assert.notDeepEqual(a, b);
});
