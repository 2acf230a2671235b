import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readVolume } from '../../src/data/io/index.ts';
import { sameGeometry } from '../../src/data/volume.ts';
import { SYNTH_LABELS } from '../../src/data/synth/index.ts';
import type { CaseList, ReviewOrder, Scores } from '../../src/view/api.ts';
import { isLoopback, startViewServer, type ViewServer } from '../../src/view/server.ts';
import { makeViewFixture, type ViewFixture } from './fixtures.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request with the path sent exactly as given (fetch would normalise "..", even "%2e%2e"). */
function raw(
  server: ViewServer,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: Uint8Array; host?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: o.method ?? 'GET',
        headers: { host: o.host ?? `127.0.0.1:${server.port}`, ...o.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const json = <T>(r: Reply): T => JSON.parse(r.body.toString('utf8')) as T;

function saveRequest(shape: readonly number[], dtype: string, body: Uint8Array) {
  return {
    method: 'PUT',
    headers: {
      'x-kneeseg-shape': shape.join(','),
      'x-kneeseg-dtype': dtype,
      'content-type': 'application/octet-stream',
    },
    body,
  };
}

describe('kneeseg view server', () => {
  let dir: string;
  let fx: ViewFixture;
  let server: ViewServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kneeseg-view-server-'));
    fx = await makeViewFixture(dir);
    writeFileSync(join(dir, 'secret.txt'), 'SECRET-CONTENT');
    symlinkSync(join(dir, 'secret.txt'), join(fx.dataset, 'escape.txt'));
    mkdirSync(join(dir, 'elsewhere'));
    writeFileSync(join(dir, 'elsewhere', 'x.txt'), 'SECRET-CONTENT');
    symlinkSync(join(dir, 'elsewhere'), join(fx.dataset, 'linked-folder'));
    server = await startViewServer({
      path: fx.pred,
      dataset: fx.dataset,
      port: 0,
      maxBodyBytes: 60_000,
      user: 'tester',
    });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds the loopback address by default, without a token, and prints its URL', () => {
    assert.equal(server.host, '127.0.0.1');
    assert.equal(server.token, undefined);
    assert.equal(server.url, `http://127.0.0.1:${server.port}/`);
    assert.ok(isLoopback('127.0.0.1') && isLoopback('localhost') && isLoopback('::1'));
    assert.ok(!isLoopback('0.0.0.0') && !isLoopback('192.168.1.4'));
  });

  it('refuses a request naming a non-loopback host (DNS rebinding)', async () => {
    const r = await raw(server, '/api/cases', { host: 'evil.example:80' });
    assert.equal(r.status, 403);
  });

  it('lists the cases with files, measurements and whether they can be saved', async () => {
    const list = json<CaseList>(await raw(server, '/api/cases'));
    assert.equal(list.kind, 'predictions');
    assert.deepEqual(
      list.cases.map((c) => c.id),
      ['knee_0000', 'knee_0001', 'knee_0002'],
    );
    const [a, b, c] = list.cases;
    assert.equal(a!.image, '/files/dataset/imagesTr/knee_0000_0000.nii.gz');
    assert.equal(a!.groundTruth, '/files/dataset/labelsTr/knee_0000.nii.gz');
    assert.equal(a!.prediction, '/files/predictions/knee_0000.nii.gz');
    assert.equal(b!.groundTruth, undefined);
    assert.deepEqual([a!.savable, b!.savable, c!.savable], [true, true, false]);
    assert.match(c!.notSavable!, /imagesTs/);
    assert.deepEqual(list.labels, SYNTH_LABELS);
    const fc = a!.measurements.find((m) => m.structure === 'femoral_cartilage' && m.region === 'all');
    const voxels = [...fx.predicted.get('knee_0000')!.data].filter(
      (v) => v === SYNTH_LABELS.femoral_cartilage,
    ).length;
    assert.ok(fc && Math.abs(fc.volumeMm3! - voxels * 6 * 2.88 * 2.88) < 1e-3 * fc.volumeMm3!);
    assert.ok(fc.meanThicknessMm! > 0);
  });

  it('serves a case file byte for byte', async () => {
    const r = await raw(server, '/files/predictions/knee_0000.nii.gz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, readFileSync(join(fx.pred, 'knee_0000.nii.gz')));
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  });

  it('refuses path traversal: "..", encoded, backslashes and links out of the folder', async () => {
    for (const path of [
      '/files/dataset/../../secret.txt',
      '/files/dataset/%2e%2e/%2e%2e/secret.txt',
      '/files/dataset/%2E%2E%2F%2E%2E%2Fsecret.txt',
      '/files/dataset/imagesTr%2f..%2f..%2f..%2fsecret.txt',
      '/files/dataset/..%5c..%5csecret.txt',
      '/files/dataset/%252e%252e/secret.txt',
      '/files/dataset/bad%zzencoding',
      '/files/dataset/escape.txt',
      '/files/dataset/linked-folder/x.txt',
      '/files/cache/anything',
      '/files/nowhere/secret.txt',
      '/files/dataset/imagesTr',
    ]) {
      const r = await raw(server, path);
      assert.equal(r.status, 404, path);
      assert.ok(!r.body.toString().includes('SECRET'), path);
    }
  });

  it('refuses an oversize body and writes nothing', async () => {
    const target = join(fx.dataset, 'labelsTr', 'knee_0001.nii.gz');
    const r = await raw(
      server,
      '/api/cases/knee_0001/labels',
      saveRequest([16, 40, 40], 'int16', new Uint8Array(70_000)),
    );
    assert.equal(r.status, 413);
    assert.match(json<{ error: string }>(r).error, /limit/);
    assert.ok(!existsSync(target));
  });

  it('refuses a save of the wrong shape, voxel type, length or label values, writing nothing', async () => {
    const target = join(fx.dataset, 'labelsTr', 'knee_0001.nii.gz');
    const good = Uint8Array.from(fx.predicted.get('knee_0001')!.data);
    const wrongValue = Uint8Array.from(good);
    wrongValue[5] = 9;
    const cases: [number[], string, Uint8Array, number, RegExp][] = [
      [[16, 40, 39], 'uint8', good.subarray(0, 16 * 40 * 39), 422, /shape 16x40x39 refused.*16x40x40/],
      [[40, 40, 16], 'uint8', good, 422, /shape/],
      [[16, 40, 40], 'float32', new Uint8Array(16 * 40 * 40), 400, /voxel type "float32"/],
      [[16, 40, 40], 'uint8', good.subarray(1), 422, /bytes refused/],
      [[16, 40, 40], 'uint8', wrongValue, 422, /label value\(s\) 9 refused/],
      [[16, 40], 'uint8', good, 400, /nx,ny,nz/],
    ];
    for (const [shape, dtype, body, status, message] of cases) {
      const r = await raw(server, '/api/cases/knee_0001/labels', saveRequest(shape, dtype, body));
      assert.equal(r.status, status, `${shape} ${dtype}`);
      assert.match(json<{ error: string }>(r).error, message);
      assert.ok(!existsSync(target), 'nothing written');
      assert.ok(!existsSync(join(fx.dataset, 'provenance')), 'no provenance written');
    }
  });

  it('refuses to save a test case and a case that does not exist', async () => {
    const body = Uint8Array.from(fx.predicted.get('knee_0002')!.data);
    const r = await raw(server, '/api/cases/knee_0002/labels', saveRequest([16, 40, 40], 'uint8', body));
    assert.equal(r.status, 409);
    assert.ok(!existsSync(join(fx.dataset, 'labelsTr', 'knee_0002.nii.gz')));
    const none = await raw(server, '/api/cases/nobody/labels', saveRequest([16, 40, 40], 'uint8', body));
    assert.equal(none.status, 404);
    const get = await raw(server, '/api/cases/knee_0001/labels');
    assert.equal(get.status, 405);
  });

  it('saves a corrected label map into labelsTr with the scan geometry and a provenance record', async () => {
    const pred = fx.predicted.get('knee_0001')!;
    const corrected = new Int16Array(pred.data);
    corrected[0] = SYNTH_LABELS.patella;
    corrected[1] = SYNTH_LABELS.patella;
    const bytes = new Uint8Array(corrected.buffer);
    const r = await raw(server, '/api/cases/knee_0001/labels', saveRequest([16, 40, 40], 'int16', bytes));
    assert.equal(r.status, 200, r.body.toString());
    const target = join(fx.dataset, 'labelsTr', 'knee_0001.nii.gz');
    const written = await readVolume(target);
    const scan = await readVolume(join(fx.dataset, 'imagesTr', 'knee_0001_0000.nii.gz'));
    assert.ok(sameGeometry(written, scan));
    assert.deepEqual([...written.data], [...corrected]);
    const prov = JSON.parse(readFileSync(join(fx.dataset, 'provenance', 'knee_0001.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(prov.case, 'knee_0001');
    assert.equal(prov.saved_by, 'tester');
    assert.equal(prov.model, '/runs/fixture-model');
    assert.equal(prov.changed_voxels, [0, 1].filter((i) => pred.data[i] !== SYNTH_LABELS.patella).length);
    assert.equal(prov.corrected_from, join(fx.pred, 'knee_0001.nii.gz'));
    const list = json<CaseList>(await raw(server, '/api/cases'));
    assert.equal(list.cases[1]!.groundTruth, '/files/dataset/labelsTr/knee_0001.nii.gz');
  });

  it('scores predictions against ground truth with Dice and HD95', async () => {
    const scores = json<Scores>(await raw(server, '/api/scores'));
    const p = fx.predicted.get('knee_0000')!.data;
    const g = fx.truth.get('knee_0000')!.data;
    const v = SYNTH_LABELS.femoral_cartilage;
    let inter = 0;
    let sum = 0;
    for (let i = 0; i < p.length; i++) {
      inter += p[i] === v && g[i] === v ? 1 : 0;
      sum += (p[i] === v ? 1 : 0) + (g[i] === v ? 1 : 0);
    }
    assert.ok(Math.abs(scores['knee_0000']!['femoral_cartilage']!.dice! - (2 * inter) / sum) < 1e-9);
    assert.equal(scores['knee_0000']!['femur']!.dice, 1);
    assert.equal(scores['knee_0000']!['femur']!.hd95Mm, 0);
    assert.ok(scores['knee_0002'], 'test cases with labelsTs are scored');
  });

  it('orders cases for review by uncertainty, most uncertain first', async () => {
    const review = json<ReviewOrder>(await raw(server, '/api/review'));
    assert.deepEqual(
      review.cases.map((c) => c.id),
      ['knee_0002', 'knee_0001', 'knee_0000'],
    );
    assert.ok(review.cases[0]!.uncertainty > review.cases[1]!.uncertainty);
  });

  it('derives the thickness map (cartilage only) and the disagreement map', async () => {
    const t = await raw(server, '/derived/thickness/knee_0000.nii.gz');
    assert.equal(t.status, 200);
    const tfile = join(dir, 'thickness.nii.gz');
    writeFileSync(tfile, t.body);
    const thickness = await readVolume(tfile);
    const pred = fx.predicted.get('knee_0000')!.data;
    const plates = new Set([
      SYNTH_LABELS.femoral_cartilage,
      SYNTH_LABELS.tibial_cartilage,
      SYNTH_LABELS.patellar_cartilage,
    ]);
    let inside = 0;
    for (let i = 0; i < pred.length; i++) {
      if (plates.has(pred[i] as 2 | 4 | 6)) inside += thickness.data[i]! > 0 ? 1 : 0;
      else assert.equal(thickness.data[i], 0);
    }
    assert.ok(inside > 0);
    const d = await raw(server, '/derived/disagreement/knee_0000.nii.gz');
    const dfile = join(dir, 'disagreement.nii.gz');
    writeFileSync(dfile, d.body);
    const dis = await readVolume(dfile);
    const gt = fx.truth.get('knee_0000')!.data;
    for (let i = 0; i < gt.length; i++) assert.equal(dis.data[i], pred[i] !== gt[i] ? 1 : 0);
    assert.equal((await raw(server, '/derived/thickness/nobody.nii.gz')).status, 404);
  });
});

describe('kneeseg view server on a non-loopback address', () => {
  let dir: string;
  let server: ViewServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kneeseg-view-token-'));
    const fx = await makeViewFixture(dir);
    server = await startViewServer({ path: fx.dataset, host: '0.0.0.0', port: 0 });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('requires the printed token, then a same-site cookie carries it', async () => {
    assert.ok(server.token && server.token.length >= 32);
    assert.equal(server.url, `http://0.0.0.0:${server.port}/?token=${server.token}`);
    assert.equal((await raw(server, '/api/cases')).status, 401);
    assert.equal((await raw(server, '/api/cases?token=wrong')).status, 401);
    assert.equal(
      (await raw(server, '/api/cases', { headers: { 'x-kneeseg-token': server.token } })).status,
      200,
    );
    const page = await raw(server, `/?token=${server.token}`);
    assert.equal(page.status, 200);
    const cookie = String(page.headers['set-cookie']).split(';')[0]!;
    assert.match(String(page.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    const list = await raw(server, '/api/cases', { headers: { cookie } });
    assert.equal(list.status, 200);
    assert.equal(json<CaseList>(list).kind, 'dataset');
  });
});
