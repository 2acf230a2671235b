/**
 * `kneeseg view` on an experiment folder (runs' predictions, scores from evaluation.json, two runs'
 * disagreement), "review next" by predict --tta flip's disagreement, and the thickness recompute of
 * an edited label map.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readVolume } from '../../src/data/io/index.ts';
import { SYNTH_LABELS } from '../../src/data/synth/index.ts';
import { measureLabelMap } from '../../src/infer/measure.ts';
import { structuresOf } from '../../src/infer/run-measure.ts';
import type { CaseList, ReviewOrder, Scores, ThicknessResult } from '../../src/view/api.ts';
import { measurementRows } from '../../src/view/catalog.ts';
import { scoreCase } from '../../src/view/derived.ts';
import { startViewServer, type ViewServer } from '../../src/view/server.ts';
import {
  makeExperimentFixture,
  makeViewFixture,
  type ExperimentFixture,
  type ViewFixture,
} from './fixtures.ts';

async function get(server: ViewServer, path: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${server.port}${path}`);
}

async function volumeOf(res: Response, dir: string, name: string) {
  const file = join(dir, name);
  writeFileSync(file, new Uint8Array(await res.arrayBuffer()));
  return readVolume(file);
}

describe('kneeseg view on an experiment folder', () => {
  let dir: string;
  let fx: ViewFixture;
  let ex: ExperimentFixture;
  let server: ViewServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kneeseg-view-experiment-'));
    fx = await makeViewFixture(dir);
    ex = await makeExperimentFixture(fx);
    server = await startViewServer({ path: ex.root, port: 0 });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists every run's predictions of every case, with the dataset of the runs", async () => {
    const list = (await (await get(server, '/api/cases')).json()) as CaseList;
    assert.equal(list.kind, 'experiment');
    assert.deepEqual(list.runs, ex.runs);
    const c = list.cases.find((x) => x.id === 'knee_0000')!;
    assert.equal(c.groundTruth, '/files/dataset/labelsTr/knee_0000.nii.gz');
    assert.deepEqual(Object.keys(c.runs), ex.runs);
    const url = c.runs[ex.runs[1]]!;
    assert.equal(url, `/files/run.${ex.runs[1]}/knee_0000.nii.gz`);
    const served = Buffer.from(await (await get(server, url)).arrayBuffer());
    assert.deepEqual(served, readFileSync(join(ex.root, 'runs', ex.runs[1], 'pred', 'knee_0000.nii.gz')));
    assert.equal(c.prediction, `/files/predictions/knee_0000.nii.gz`, "the first run's is the prediction");
  });

  it("scores a run from its evaluation.json, and computes a run's that has none", async () => {
    const stored = (await (await get(server, `/api/scores?run=${ex.runs[0]}`)).json()) as Scores;
    assert.equal(stored['knee_0000']!['femur']!.dice, ex.storedDice);
    const computed = (await (await get(server, `/api/scores?run=${ex.runs[1]}`)).json()) as Scores;
    const gt = join(fx.dataset, 'labelsTr', 'knee_0000.nii.gz');
    const pred = join(ex.root, 'runs', ex.runs[1], 'pred', 'knee_0000.nii.gz');
    assert.deepEqual(computed['knee_0000'], await scoreCase(pred, gt, SYNTH_LABELS));
    assert.equal(computed['knee_0001'], undefined, 'knee_0001 has no ground truth');
    assert.equal((await get(server, '/api/scores?run=nobody')).status, 404);
  });

  it('derives the disagreement of two runs on a case', async () => {
    const [a, b] = ex.runs;
    const res = await get(server, `/derived/disagreement/knee_0001.nii.gz?a=${a}&b=${b}`);
    assert.equal(res.status, 200);
    const d = await volumeOf(res, dir, 'd.nii.gz');
    const [pa, pb] = [ex.predicted.get(a)!.get('knee_0001')!, ex.predicted.get(b)!.get('knee_0001')!];
    let differing = 0;
    for (let i = 0; i < d.data.length; i++) {
      assert.equal(d.data[i], pa.data[i] !== pb.data[i] ? 1 : 0);
      differing += d.data[i]!;
    }
    assert.ok(differing > 0);
    assert.equal((await get(server, `/derived/disagreement/knee_0001.nii.gz?a=${a}&b=nobody`)).status, 404);
    assert.equal((await get(server, `/derived/disagreement/knee_0001.nii.gz?a=${a}&b=truth`)).status, 404);
  });

  it('orders review by the flip disagreement of predict --tta flip when there are no probability maps', async () => {
    const list = (await (await get(server, '/api/cases')).json()) as CaseList;
    assert.ok(list.cases.every((c) => c.reviewable && !c.hasProbabilities));
    const review = (await (await get(server, '/api/review')).json()) as ReviewOrder;
    assert.match(review.measure, /flip/);
    assert.deepEqual(
      review.cases.map((c) => [c.id, c.uncertainty]),
      [...ex.flip].sort((x, y) => y[1] - x[1]),
    );
  });

  it('recomputes thickness and measurements of edited, unsaved labels', async () => {
    const pred = fx.predicted.get('knee_0000')!;
    const edited = Uint8Array.from(pred.data);
    // a block of femoral cartilage in a corner: a new, thick piece of plate
    const [nx, ny] = pred.shape;
    for (let z = 0; z < 6; z++)
      for (let y = 0; y < 6; y++)
        for (let x = 0; x < 6; x++) edited[x + nx * (y + ny * z)] = SYNTH_LABELS.femoral_cartilage;
    const res = await fetch(`http://127.0.0.1:${server.port}/api/cases/knee_0000/thickness`, {
      method: 'POST',
      headers: { 'x-kneeseg-shape': pred.shape.join(','), 'x-kneeseg-dtype': 'uint8' },
      body: edited,
    });
    assert.equal(res.status, 200);
    const r = (await res.json()) as ThicknessResult;
    const expected = measureLabelMap('x', { ...pred, data: edited }, structuresOf(SYNTH_LABELS));
    // the server's labels have the scan file's spacing (float32 in NIfTI): equal to 1e-6
    const want = measurementRows(expected.measurements);
    assert.equal(r.measurements.length, want.length);
    r.measurements.forEach((row, k) => {
      const w = want[k]!;
      assert.deepEqual([row.structure, row.region], [w.structure, w.region]);
      for (const key of ['volumeMm3', 'meanThicknessMm'] as const) {
        const [x, y] = [row[key], w[key]];
        assert.ok(x === y || Math.abs(x! - y!) <= 1e-6 * Math.abs(y!), `${w.structure} ${w.region} ${key}`);
      }
    });
    const before = measurementRows(measureLabelMap('x', pred, structuresOf(SYNTH_LABELS)).measurements);
    assert.notEqual(r.measurements[1]!.meanThicknessMm, before[1]!.meanThicknessMm, 'the edit changed it');
    const map = await volumeOf(await get(server, r.url), dir, 't.nii.gz');
    const femoral = expected.maps.get('femoral_cartilage')!;
    for (let i = 0; i < edited.length; i++)
      if (edited[i] === SYNTH_LABELS.femoral_cartilage)
        assert.ok(Math.abs(map.data[i]! - femoral[i]!) < 1e-4);
    const get405 = await get(server, '/api/cases/knee_0000/thickness');
    assert.equal(get405.status, 405);
    const bad = await fetch(`http://127.0.0.1:${server.port}/api/cases/knee_0000/thickness`, {
      method: 'POST',
      headers: { 'x-kneeseg-shape': '1,2,3', 'x-kneeseg-dtype': 'uint8' },
      body: new Uint8Array(6),
    });
    assert.equal(bad.status, 422);
  });
});
