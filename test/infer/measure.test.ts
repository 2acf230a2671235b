import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { IDENTITY_DIRECTION, type Volume } from '../../src/data/volume.ts';
import { measureLabelMap, measurementsCsv, measurementsJson } from '../../src/infer/measure.ts';
import { projectThickness, thicknessPng, viridis } from '../../src/infer/thickness-map.ts';

const STRUCTURES = new Map([
  [1, 'femur'],
  [2, 'femoral_cartilage'],
  [3, 'tibia'],
  [4, 'tibial_cartilage'],
  [5, 'patella'],
  [6, 'patellar_cartilage'],
]);

function labelMap(
  shape: [number, number, number],
  spacing: [number, number, number],
  fill: (x: number, y: number, z: number) => number,
): Volume<Uint8Array> {
  const [nx, ny, nz] = shape;
  const data = new Uint8Array(nx * ny * nz);
  for (let z = 0, i = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++, i++) data[i] = fill(x, y, z);
  return { shape, spacing, origin: [10, -20, 5], direction: IDENTITY_DIRECTION, data };
}

const spacing: [number, number, number] = [0.4, 0.5, 0.7];

test('constant plates: thickness along z (0.7 mm voxels) and along x (0.4 mm voxels) recovered within half a voxel, also per half', () => {
  // femoral plate 4 voxels thick along z (2.8 mm); tibial plate 6 voxels thick along x (2.4 mm)
  const vol = labelMap([40, 36, 24], spacing, (x, y, z) =>
    z >= 3 && z < 7 && x >= 2 && x < 38 && y >= 2 && y < 34
      ? 2
      : x >= 15 && x < 21 && y >= 4 && y < 32 && z >= 9 && z < 22
        ? 4
        : 0,
  );
  for (const side of ['unknown', 'right'] as const) {
    const { measurements: m, maps } = measureLabelMap('plates', vol, STRUCTURES, { side });
    for (const [plate, expected, h] of [
      ['femoral_cartilage', 2.8, 0.7],
      ['tibial_cartilage', 2.4, 0.4],
    ] as const) {
      const rows = m.thickness.filter((t) => t.plate === plate);
      assert.deepEqual(
        rows.map((r) => r.region),
        side === 'right' ? ['all', 'lateral', 'medial'] : ['all', 'low', 'high'],
      );
      for (const r of rows) {
        for (const k of ['meanMm', 'medianMm', 'p95Mm', 'maxMm'] as const)
          assert.ok(Math.abs(r[k] - expected) <= h / 2, `${plate} ${r.region} ${k} ${r[k]} vs ${expected}`);
        assert.ok(r.voxels > 0);
      }
      assert.equal(rows[1]!.voxels + rows[2]!.voxels, rows[0]!.voxels);
      assert.ok(maps.has(plate));
    }
    // no patellar cartilage in the map: a row with undefined (NaN) thickness, zero voxels
    const pc = m.thickness.find((t) => t.plate === 'patellar_cartilage')!;
    assert.equal(pc.voxels, 0);
    assert.ok(Number.isNaN(pc.meanMm));
  }
});

test('a plate of varying thickness (2, 3, 4, 5 voxels in steps): each step and the maximum recovered within half a voxel', () => {
  const steps = [2, 3, 4, 5];
  const vol = labelMap([64, 20, 10], spacing, (x, y, z) =>
    y >= 2 && y < 18 && z >= 1 && z < 1 + steps[Math.floor(x / 16)]! ? 6 : 0,
  );
  const { measurements: m, maps } = measureLabelMap('steps', vol, STRUCTURES);
  const map = maps.get('patellar_cartilage')!;
  const [nx, ny] = vol.shape;
  steps.forEach((n, s) => {
    // the middle column of each step, far (>= 8 voxels = 3.2 mm) from the steps beside it
    const x = 16 * s + 8;
    const at = map[x + nx * (10 + ny * 1)]!;
    assert.ok(Math.abs(at - n * 0.7) <= 0.35, `step ${s}: ${at} vs ${n * 0.7}`);
  });
  const all = m.thickness.find((t) => t.plate === 'patellar_cartilage' && t.region === 'all')!;
  assert.ok(Math.abs(all.maxMm - 3.5) <= 0.35, `max ${all.maxMm}`);
  assert.ok(all.meanMm > 1.4 && all.meanMm < 3.5);
  assert.equal(
    m.thickness.filter((t) => t.plate === 'patellar_cartilage').length,
    1,
    'the patellar plate is not split',
  );
});

test('volumes equal voxel counts times voxel volume for every structure', () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const vol = labelMap([17, 13, 11], [0.31, 0.47, 1.3], () => Math.floor(rnd() * 7));
  const { measurements } = measureLabelMap('rand', vol, STRUCTURES, { supersample: 1 });
  for (const v of measurements.volumes) {
    let count = 0;
    for (const x of vol.data) if (x === v.label) count++;
    assert.equal(v.voxels, count);
    assert.ok(
      Math.abs(v.volumeMm3 - count * 0.31 * 0.47 * 1.3) < 1e-9 * Math.max(1, v.volumeMm3),
      v.structure,
    );
  }
  const csv = measurementsCsv([measurements]).trim().split('\n');
  assert.equal(
    csv[0],
    'case,side,structure,region,voxels,volume_mm3,mean_thickness_mm,median_thickness_mm,p95_thickness_mm,max_thickness_mm',
  );
  const femur = csv.find((l) => l.startsWith('rand,unknown,femur,all,'))!.split(',');
  assert.equal(Number(femur[4]), measurements.volumes.find((v) => v.structure === 'femur')!.voxels);
  assert.equal(femur[6], '', 'no thickness for a bone');
  assert.equal(csv.length, 1 + 6 + 4, 'six structures and two halves of two plates');
  const json = JSON.parse(measurementsJson([measurements], STRUCTURES)) as {
    labels: Record<string, number>;
    cases: { volumes: { voxels: number }[] }[];
  };
  assert.equal(json.labels.femoral_cartilage, 2);
  assert.equal(json.cases[0]!.volumes.length, 6);
});

test('thickness map PNG: the thickest line of the projection is brightest, superior at the top', () => {
  // identity direction: x is left-right (projected), z superior (up), y anterior-posterior
  const vol = labelMap([6, 30, 20], [0.5, 0.5, 0.5], (_x, y, z) =>
    y >= 5 && y < 25 && z >= 12 && z < 16 ? 2 : 0,
  );
  const map = new Float32Array(vol.data.length);
  const [nx, ny] = vol.shape;
  for (let i = 0; i < map.length; i++) if (vol.data[i]) map[i] = Math.floor(i / nx) % ny < 15 ? 1 : 3; // thicker at higher y
  const p = projectThickness(map, vol, 100);
  assert.ok(Math.abs(p.pixelMm - ((20 + 8) * 0.5) / 100) < 1e-9);
  const row = p.values.subarray(Math.floor(p.height / 2) * p.width, (Math.floor(p.height / 2) + 1) * p.width);
  assert.equal(Math.max(...row), 3);
  // anterior (low y in LPS means anterior is -y: index 0 side) on the left: thin part left, thick part right
  assert.ok(row.indexOf(1) < row.indexOf(3));
  // superior up: a second band low in z (thickness 2) comes out below the first
  const two = map.slice();
  for (let i = 0; i < two.length; i++)
    if (Math.floor(i / (nx * ny)) === 2 && Math.floor(i / nx) % ny === 10) two[i] = 2;
  const q = projectThickness(two, vol, 100);
  const rowsWith = (v: number) =>
    [...Array(q.height).keys()].filter((r) => q.values.subarray(r * q.width, (r + 1) * q.width).includes(v));
  assert.ok(Math.max(...rowsWith(3)) < Math.min(...rowsWith(2)), 'the band at higher z is drawn above');
  const png = PNG.sync.read(thicknessPng(p, 3));
  const px = (x: number, y: number) => [
    ...png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3),
  ];
  const y = 8 + Math.floor(p.height / 2);
  assert.deepEqual(px(8 + row.indexOf(3), y), viridis(1));
  assert.deepEqual(px(8 + row.indexOf(1), y), viridis(1 / 3));
  assert.deepEqual(px(0, 0), [0, 0, 0]);
});
