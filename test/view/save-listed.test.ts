/**
 * Save as labelled for a dataset whose dataset.json lists its cases (nnU-Net v2's `dataset` key):
 * a listed case is written where its entry says, an unlisted one to labelsTr with an entry added, so
 * that openDataset (what `kneeseg train` reads) sees the correction either way.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDataset, readDatasetJson, writeDatasetJson } from '../../src/data/dataset.ts';
import { readVolume } from '../../src/data/io/index.ts';
import { SYNTH_LABELS } from '../../src/data/synth/index.ts';
import type { CaseList } from '../../src/view/api.ts';
import { startViewServer, type ViewServer } from '../../src/view/server.ts';
import { makeViewFixture, type ViewFixture } from './fixtures.ts';

const STRUCTURES = Object.keys(SYNTH_LABELS).filter((n) => n !== 'background');

describe('kneeseg view saves into a dataset with a `dataset` listing', () => {
  let dir: string;
  let fx: ViewFixture;
  let server: ViewServer;
  const put = (id: string, body: Uint8Array<ArrayBuffer>) =>
    fetch(`http://127.0.0.1:${server.port}/api/cases/${id}/labels`, {
      method: 'PUT',
      headers: { 'x-kneeseg-shape': '16,40,40', 'x-kneeseg-dtype': 'uint8' },
      body,
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kneeseg-view-listed-'));
    fx = await makeViewFixture(dir);
    // knee_0000's label map moves to annotations/ and is listed there; knee_0001 is not listed
    mkdirSync(join(fx.dataset, 'annotations'));
    renameSync(
      join(fx.dataset, 'labelsTr', 'knee_0000.nii.gz'),
      join(fx.dataset, 'annotations', 'knee_0000.nii.gz'),
    );
    rmSync(join(fx.dataset, 'labelsTr'), { recursive: true });
    writeDatasetJson(fx.dataset, {
      ...readDatasetJson(fx.dataset),
      numTraining: 1,
      dataset: {
        knee_0000: { images: ['imagesTr/knee_0000_0000.nii.gz'], label: 'annotations/knee_0000.nii.gz' },
      },
    });
    server = await startViewServer({ path: fx.pred, dataset: fx.dataset, port: 0, user: 'tester' });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers both training cases for saving', async () => {
    const list = (await (await fetch(`http://127.0.0.1:${server.port}/api/cases`)).json()) as CaseList;
    assert.deepEqual(
      list.cases.map((c) => c.savable),
      [true, true, false],
    );
    assert.equal(list.cases[0]!.groundTruth, '/files/dataset/annotations/knee_0000.nii.gz');
  });

  it('writes a listed case to the label path of its entry and leaves dataset.json as it was', async () => {
    const jsonBefore = readFileSync(join(fx.dataset, 'dataset.json'), 'utf8');
    const corrected = Uint8Array.from(fx.predicted.get('knee_0000')!.data);
    corrected[3] = SYNTH_LABELS.patella;
    const r = await put('knee_0000', corrected);
    assert.equal(r.status, 200, await r.clone().text());
    const written = await readVolume(join(fx.dataset, 'annotations', 'knee_0000.nii.gz'));
    assert.deepEqual([...written.data], [...corrected]);
    assert.ok(!existsSync(join(fx.dataset, 'labelsTr', 'knee_0000.nii.gz')));
    assert.equal(readFileSync(join(fx.dataset, 'dataset.json'), 'utf8'), jsonBefore);
    const prov = JSON.parse(readFileSync(join(fx.dataset, 'provenance', 'knee_0000.json'), 'utf8')) as {
      file: string;
      dataset_json_entry: string;
    };
    assert.equal(prov.file, join('annotations', 'knee_0000.nii.gz'));
    assert.equal(prov.dataset_json_entry, 'listed');
  });

  it('writes an unlisted case to labelsTr and adds its entry, so the dataset reads it as labelled', async () => {
    const corrected = Uint8Array.from(fx.predicted.get('knee_0001')!.data);
    const r = await put('knee_0001', corrected);
    assert.equal(r.status, 200, await r.clone().text());
    const json = readDatasetJson(fx.dataset);
    assert.deepEqual(json.dataset!['knee_0001'], {
      images: ['imagesTr/knee_0001_0000.nii.gz'],
      label: 'labelsTr/knee_0001.nii.gz',
    });
    assert.equal(json.numTraining, 2);
    const ds = openDataset(fx.dataset, { structures: STRUCTURES });
    const c = ds.training.find((x) => x.id === 'knee_0001')!;
    assert.equal(c.label, join(fx.dataset, 'labelsTr', 'knee_0001.nii.gz'));
    assert.deepEqual([...(await readVolume(c.label)).data], [...corrected]);
    const prov = JSON.parse(readFileSync(join(fx.dataset, 'provenance', 'knee_0001.json'), 'utf8')) as {
      dataset_json_entry: string;
    };
    assert.equal(prov.dataset_json_entry, 'added');
    // saved again: the entry now exists, so it is written in place and not added twice
    const again = await put('knee_0001', corrected);
    assert.equal(again.status, 200);
    assert.equal(Object.keys(readDatasetJson(fx.dataset).dataset!).length, 2);
  });
});
