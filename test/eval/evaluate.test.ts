import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { writeLabelMap } from '../../src/data/io/index.ts';
import type { Geometry, Volume } from '../../src/data/volume.ts';
import { InputError } from '../../src/errors.ts';
import { evaluateFolders, orderStructures, readLabels } from '../../src/eval/evaluate.ts';
import { evaluationCsv, evaluationJson } from '../../src/eval/evaluation-json.ts';
import { labelMask, structureMetrics } from '../../src/eval/metrics.ts';
import type { CaseJob, CaseResult } from '../../src/eval/evaluate-case.ts';
import { runWorkerPool } from '../../src/eval/worker-pool.ts';
import { kneeseg } from '../helpers/cli.ts';

// Spacings exactly representable in float32, so NIfTI round-trips them and direct metrics match.
const G: Geometry = {
  shape: [14, 12, 9],
  spacing: [0.5, 0.75, 1.25],
  origin: [-3, 4, 10],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};
const NAMES = ['femoral_cartilage', 'tibial_cartilage', 'patellar_cartilage', 'femur', 'tibia', 'patella'];
const VALUE: Record<string, number> = {
  femur: 1,
  femoral_cartilage: 2,
  tibia: 3,
  tibial_cartilage: 4,
  patella: 5,
  patellar_cartilage: 6,
};

type Box = [number, number, number, number, number, number]; // x0 y0 z0 x1 y1 z1 inclusive

/** Label map painting one box per structure (later boxes overwrite earlier ones). */
function paint(boxes: Partial<Record<string, Box>>): Volume<Uint8Array> {
  const [nx, ny, nz] = G.shape;
  const data = new Uint8Array(nx * ny * nz);
  for (const [name, b] of Object.entries(boxes)) {
    if (!b) continue;
    for (let z = b[2]; z <= b[5]; z++)
      for (let y = b[1]; y <= b[4]; y++)
        for (let x = b[0]; x <= b[3]; x++) data[x + nx * (y + ny * z)] = VALUE[name]!;
  }
  return { ...G, data };
}

const GT_BOXES: Record<string, Box> = {
  femur: [1, 1, 1, 5, 4, 3],
  femoral_cartilage: [1, 5, 1, 5, 5, 3],
  tibia: [7, 1, 1, 12, 4, 3],
  tibial_cartilage: [7, 5, 1, 12, 5, 3],
  patella: [2, 7, 5, 6, 10, 7],
  patellar_cartilage: [7, 7, 5, 8, 10, 7],
};
const shift = (b: Box, dx: number, dy: number, dz: number): Box => [
  b[0] + dx,
  b[1] + dy,
  b[2] + dz,
  b[3] + dx,
  b[4] + dy,
  b[5] + dz,
];

/** Three cases: a perfect prediction, a shifted one, and one that misses the patella. */
function cases(): { id: string; gt: Volume<Uint8Array>; pred: Volume<Uint8Array> }[] {
  const gt = paint(GT_BOXES);
  const shifted = Object.fromEntries(
    Object.entries(GT_BOXES).map(([n, b]) => [n, n === 'tibia' ? shift(b, 0, 0, 1) : shift(b, 1, 0, 0)]),
  );
  const noPatella = { ...GT_BOXES, patella: undefined, femur: [1, 1, 1, 6, 4, 3] as Box };
  return [
    { id: 'knee_a', gt, pred: paint(GT_BOXES) },
    { id: 'knee_b', gt, pred: paint(shifted) },
    { id: 'knee_c', gt, pred: paint(noPatella) },
  ];
}

async function folders(predEnding = '.nii.gz'): Promise<{ root: string; pred: string; gt: string }> {
  const root = mkdtempSync(join(tmpdir(), 'kneeseg-eval-'));
  const pred = join(root, 'pred');
  const gt = join(root, 'gt');
  mkdirSync(pred);
  mkdirSync(gt);
  for (const c of cases()) {
    await writeLabelMap(join(gt, `${c.id}.nii.gz`), c.gt);
    await writeLabelMap(join(pred, `${c.id}${c.id === 'knee_b' ? predEnding : '.nii.gz'}`), c.pred);
  }
  writeFileSync(join(pred, 'plans.json'), '{}'); // nnU-Net's extra files are ignored
  return { root, pred, gt };
}

// The form the issue asks for, written out independently of the code's own schema.
const stat = z.strictObject({
  mean: z.number().nullable(),
  sd: z.number().nullable(),
  n: z.number().int(),
  n_undefined: z.number().int(),
});
const metricNames = ['dice', 'hd95_mm', 'hd95_vox', 'assd_mm', 'volume_error_pct'] as const;
const IssueSchema = z.object({
  structures: z.record(z.string(), z.object(Object.fromEntries(metricNames.map((m) => [m, stat])))),
  cases: z.array(
    z.object({
      case: z.string(),
      structures: z.record(
        z.string(),
        z.object(Object.fromEntries(metricNames.map((m) => [m, z.number().nullable()]))),
      ),
    }),
  ),
});

test('orderStructures puts cartilages first, then bones, each by label value', () => {
  assert.deepEqual(orderStructures({ background: 0, ...VALUE }), NAMES);
});

test('evaluate: per-case values equal structureMetrics, summaries equal hand means, JSON follows the schema', async () => {
  const { root, pred, gt } = await folders('.mha');
  try {
    const ev = await evaluateFolders({ predDir: pred, gtDir: gt, workers: 1 });
    assert.deepEqual(ev.structures, NAMES);
    assert.deepEqual(
      ev.cases.map((c) => c.case),
      ['knee_a', 'knee_b', 'knee_c'],
    );
    for (const [i, c] of cases().entries()) {
      for (const s of NAMES) {
        const want = structureMetrics(
          labelMask(c.pred.data, VALUE[s]!),
          labelMask(c.gt.data, VALUE[s]!),
          G.shape,
          G.spacing,
        );
        assert.deepEqual(ev.cases[i]!.structures[s], want, `${c.id} ${s}`);
      }
    }
    // Hand values: patella is perfect in a and b (shift only moves it in b: Dice of two 5x4x3 boxes
    // shifted by one voxel in x = 2*48/120), missed in c: Dice 0, HD95 undefined.
    const patDice = [1, (2 * 48) / 120, 0];
    const mean = (patDice[0]! + patDice[1]! + patDice[2]!) / 3;
    const sd = Math.sqrt(patDice.reduce((a, v) => a + (v - mean) ** 2, 0) / 2);
    const p = ev.summary.patella!;
    assert.ok(Math.abs(p.dice.mean - mean) < 1e-12 && Math.abs(p.dice.sd - sd) < 1e-12);
    assert.deepEqual([p.dice.n, p.dice.n_undefined], [3, 0]);
    assert.deepEqual([p.hd95_mm.n, p.hd95_mm.n_undefined], [2, 1]);
    // One-voxel shift along x (0.5 mm): HD95 0.5 mm, 1 voxel in b; 0 in a.
    assert.equal(ev.cases[1]!.structures.patella!.hd95Mm, 0.5);
    assert.ok(Math.abs(p.hd95_mm.mean - 0.25) < 1e-12);
    assert.ok(Math.abs(p.hd95_vox.mean - 0.5) < 1e-12);
    assert.deepEqual(ev.empty.patella, { pred: 1, gt: 0 });
    // Tibia shifted along z (1.25 mm) in b.
    assert.equal(ev.cases[1]!.structures.tibia!.hd95Mm, 1.25);
    assert.equal(ev.cases[1]!.structures.tibia!.hd95Vox, 1);

    const json = JSON.parse(JSON.stringify(evaluationJson(ev))) as unknown;
    const parsed = IssueSchema.parse(json);
    assert.deepEqual(Object.keys(parsed.structures), NAMES);
    assert.equal(parsed.cases[2]!.structures.patella!.hd95_mm, null);
    assert.equal(parsed.structures.patella!.hd95_mm!.n, 2);
    assert.deepEqual(Object.keys(parsed.structures.femur!), [...metricNames]);

    const csv = evaluationCsv(ev).trim().split('\n');
    assert.equal(csv.length, 1 + 3 * 6);
    assert.equal(
      csv[0],
      'case,structure,dice,hd95_mm,hd95_vox,assd_mm,volume_error_pct,hd_mm,pred_voxels,gt_voxels',
    );
    assert.match(
      csv.find((r) => r.startsWith('knee_c,patella,'))!,
      /^knee_c,patella,0,,,,-100,,0,60$/,
    );

    // The worker-thread entry gives the same result, NaNs included (one thread: each costs seconds
    // of start-up; the pool itself is tested in worker-pool.test.ts).
    const job: CaseJob = {
      id: 'knee_c',
      gt: join(gt, 'knee_c.nii.gz'),
      pred: join(pred, 'knee_c.nii.gz'),
      labels: NAMES.map((s) => [s, VALUE[s]!] as const),
    };
    const viaWorker: CaseResult[] = [];
    await runWorkerPool<CaseJob, CaseResult>(
      new URL('../../src/eval/evaluate-worker.ts', import.meta.url),
      [job],
      1,
      (r) => viaWorker.push(r),
    );
    assert.deepEqual(viaWorker, [ev.cases[2]]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('evaluate: a missing prediction is an error naming the case unless missingAsEmpty', async () => {
  const { root, pred, gt } = await folders();
  try {
    rmSync(join(pred, 'knee_b.nii.gz'));
    await assert.rejects(
      evaluateFolders({ predDir: pred, gtDir: gt, workers: 1 }),
      (e: unknown) =>
        e instanceof InputError && /knee_b/.test(e.message) && /--missing-as-empty/.test(e.message),
    );
    const ev = await evaluateFolders({ predDir: pred, gtDir: gt, missingAsEmpty: true, workers: 1 });
    assert.deepEqual(ev.missing, ['knee_b']);
    for (const s of NAMES) {
      assert.equal(ev.cases[1]!.structures[s]!.dice, 0);
      assert.ok(Number.isNaN(ev.cases[1]!.structures[s]!.hd95Mm));
    }
    assert.deepEqual(ev.empty.femur, { pred: 1, gt: 0 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('evaluate: geometry mismatch and undeclared labels are errors naming the files', async () => {
  const { root, pred, gt } = await folders();
  try {
    const moved = { ...cases()[1]!.pred, origin: [-3, 4, 11] as const };
    await writeLabelMap(join(pred, 'knee_b.nii.gz'), moved);
    await assert.rejects(evaluateFolders({ predDir: pred, gtDir: gt, workers: 1 }), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.ok(
        e.message.startsWith(join(pred, 'knee_b.nii.gz')) && e.message.includes(join(gt, 'knee_b.nii.gz')),
        e.message,
      );
      assert.match(e.message, /origin -3,4,11/);
      return true;
    });
    // A label value the labels do not declare points at --labels.
    const labels = { background: 0, femur: 1, femoral_cartilage: 2 };
    await assert.rejects(
      evaluateFolders({ predDir: gt, gtDir: gt, labels, workers: 1 }),
      /holds label value\(s\) 3, 4, 5, 6 .*--labels/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('kneeseg evaluate prints the table and writes JSON and CSV; --labels selects structures', async () => {
  const { root, pred, gt } = await folders();
  try {
    const jsonFile = join(root, 'out', 'evaluation.json');
    const csvFile = join(root, 'out', 'evaluation.csv');
    const r = await kneeseg(
      'evaluate',
      '--pred',
      pred,
      '--gt',
      gt,
      '--json',
      jsonFile,
      '--csv',
      csvFile,
      '--workers',
      '1',
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(
      lines[0]!,
      /^structure\s+cases\s+Dice \(%\)\s+HD95 \(mm\)\s+HD95 \(vox\)\s+ASSD \(mm\)\s+Vol\. err \(%\)$/,
    );
    assert.deepEqual(
      lines.slice(2, 8).map((l) => l.split(/\s+/)[0]),
      NAMES,
    );
    assert.match(
      lines.find((l) => l.startsWith('patella '))!,
      /^patella\s+3\s+60\.00 ± 52\.92\s+0\.25 ± 0\.35/,
    );
    assert.match(
      r.stdout,
      /note: patella: prediction empty in 1, ground truth empty in 0 of 3 case\(s\); HD95\/ASSD over the 2 case\(s\)/,
    );
    const json = IssueSchema.parse(JSON.parse(readFileSync(jsonFile, 'utf8')));
    assert.equal(json.cases.length, 3);
    assert.equal(readFileSync(csvFile, 'utf8').trim().split('\n').length, 19);

    const dsJson = join(root, 'dataset.json');
    writeFileSync(
      dsJson,
      JSON.stringify({
        channel_names: { 0: 'MRI' },
        labels: {
          background: 0,
          femur: 1,
          femoral_cartilage: 2,
          tibia: 3,
          tibial_cartilage: 4,
          patella: 5,
          kneecap_cartilage: 6,
        },
        file_ending: '.nii.gz',
      }),
    );
    assert.deepEqual(orderStructures(readLabels(dsJson)), [
      'femoral_cartilage',
      'tibial_cartilage',
      'kneecap_cartilage',
      'femur',
      'tibia',
      'patella',
    ]);
    const r2 = await kneeseg(
      'evaluate',
      '--pred',
      pred,
      '--gt',
      gt,
      '--labels',
      dsJson,
      '--json',
      jsonFile,
      '--workers',
      '1',
    );
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(
      Object.keys(IssueSchema.parse(JSON.parse(readFileSync(jsonFile, 'utf8'))).structures).includes(
        'kneecap_cartilage',
      ),
    );

    rmSync(join(pred, 'knee_a.nii.gz'));
    const bad = await kneeseg('evaluate', '--pred', pred, '--gt', gt, '--workers', '1');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /knee_a/);
    const ok = await kneeseg('evaluate', '--pred', pred, '--gt', gt, '--workers', '1', '--missing-as-empty');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /warning: no prediction for 1 case\(s\), scored as empty: knee_a/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
