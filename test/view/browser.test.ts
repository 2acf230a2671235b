/**
 * The page in a real headless Chromium (Debian's `chromium`, WebGL through SwiftShader), driven by
 * playwright-core: loading a predicted case, structure toggles, a brush stroke saved into labelsTr,
 * and undo.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readVolume } from '../../src/data/io/index.ts';
import { SYNTH_LABELS } from '../../src/data/synth/index.ts';
import { buildPageBundle } from '../../src/view/bundle.ts';
import { startViewServer, type ViewServer } from '../../src/view/server.ts';
import { makeViewFixture, type ViewFixture } from './fixtures.ts';

const CHROMIUM = process.env.KNEESEG_CHROMIUM ?? '/usr/bin/chromium';

interface PixelStats {
  /** fraction of pixels that are not (near) black */
  lit: number;
  /** standard deviation of the luminance */
  spread: number;
  pixels: Uint8Array;
}

function pixelStats(png: Buffer): PixelStats {
  const img = PNG.sync.read(png);
  let lit = 0;
  let sum = 0;
  let sum2 = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const y = 0.299 * img.data[4 * i]! + 0.587 * img.data[4 * i + 1]! + 0.114 * img.data[4 * i + 2]!;
    if (y > 8) lit++;
    sum += y;
    sum2 += y * y;
  }
  const mean = sum / n;
  return {
    lit: lit / n,
    spread: Math.sqrt(Math.max(0, sum2 / n - mean * mean)),
    pixels: new Uint8Array(img.data),
  };
}

function differingPixels(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i += 4)
    if (Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!) > 30) d++;
  return d;
}

type Hit = { vox: [number, number, number]; normalAxis: number } | null;

/** The voxels a brush of 3 voxels across covers at `hit`: the centre and its 4 in-plane neighbours. */
function brush3(hit: NonNullable<Hit>, shape: readonly number[]): number[] {
  const [u, v] = [0, 1, 2].filter((a) => a !== hit.normalAxis) as [number, number];
  const out: number[] = [];
  for (const [du, dv] of [
    [0, 0],
    [1, 0],
    [-1, 0],
    [0, 1],
    [0, -1],
  ] as const) {
    const p = [...hit.vox];
    p[u]! += du;
    p[v]! += dv;
    if (p.every((x, i) => x >= 0 && x < shape[i]!)) out.push(p[0]! + shape[0]! * (p[1]! + shape[1]! * p[2]!));
  }
  return out;
}

describe('kneeseg view page in headless Chromium', () => {
  let dir: string;
  let fx: ViewFixture;
  let server: ViewServer;
  let browser: Browser;
  let page: Page;
  const canvasShot = async () => pixelStats(await page.locator('#canvas-a').screenshot());
  const settle = () =>
    page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kneeseg-view-browser-'));
    fx = await makeViewFixture(dir);
    await buildPageBundle(join(dir, 'bundle'));
    server = await startViewServer({
      path: fx.pred,
      dataset: fx.dataset,
      port: 0,
      bundleDir: join(dir, 'bundle'),
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--use-angle=swiftshader',
        '--enable-unsafe-swiftshader',
        '--ignore-gpu-blocklist',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}?case=knee_0001`);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 }).catch((e: Error) => {
      throw new Error(`${e.message}; page errors: ${errors.join('; ')}`);
    });
    await settle();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a predicted case: the table and a canvas that is not blank', async () => {
    assert.equal(await page.locator('body').getAttribute('data-case'), 'knee_0001');
    assert.equal(await page.locator('#case-table tbody tr').count(), 3);
    assert.equal(await page.locator('#caption-a').textContent(), 'prediction');
    const s = await canvasShot();
    assert.ok(s.lit > 0.1, `only ${(100 * s.lit).toFixed(1)} % of the canvas is lit`);
    assert.ok(s.spread > 10, `luminance spread ${s.spread.toFixed(1)}: a flat image`);
  });

  it('sorts the table by a column', async () => {
    await page.locator('th[data-key="case"]').click();
    const ids = await page
      .locator('#case-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.case));
    assert.deepEqual(ids, ['knee_0002', 'knee_0001', 'knee_0000']);
  });

  it('changes the rendering when a structure is toggled, and back', async () => {
    const before = await canvasShot();
    await page.locator('input[data-structure="femur"]').click();
    await settle();
    const hidden = await canvasShot();
    assert.ok(differingPixels(before.pixels, hidden.pixels) > 200, 'hiding the femur changed too few pixels');
    await page.locator('input[data-structure="femur"]').click();
    await settle();
    const shown = await canvasShot();
    assert.ok(
      differingPixels(before.pixels, shown.pixels) < differingPixels(before.pixels, hidden.pixels) / 10,
    );
  });

  it('saves exactly the voxels of a scripted brush stroke, and undo restores them', async () => {
    const box = (await page.locator('#canvas-a').boundingBox())!;
    // points on the slices: scan a coarse grid of the canvas for ones that hit a voxel
    const points: { x: number; y: number; hit: NonNullable<Hit> }[] = [];
    for (let fy = 0.1; fy < 1 && points.length < 2; fy += 0.1)
      for (let fx2 = 0.1; fx2 < 1 && points.length < 2; fx2 += 0.1) {
        const [x, y] = [box.x + fx2 * box.width, box.y + fy * box.height];
        const hit = await page.evaluate(
          ([px, py]) =>
            (
              window as unknown as { kneesegView: { voxelAt(x: number, y: number): Hit } }
            ).kneesegView.voxelAt(px!, py!),
          [x, y],
        );
        if (hit && !points.some((p) => p.hit.vox.join() === hit.vox.join())) points.push({ x, y, hit });
      }
    assert.equal(points.length, 2, 'no slice under the canvas');
    await page.locator('input[name=mode][value=paint]').check();
    await page.locator('#pen-structure').selectOption(String(SYNTH_LABELS.patella));
    await page.locator('#brush').fill('3');
    for (const p of points) {
      await page.mouse.move(p.x, p.y);
      await page.mouse.down();
      await page.mouse.up();
    }
    await page.locator('#save').click();
    await page.waitForSelector('body[data-saved="knee_0001"]');
    const pred = fx.predicted.get('knee_0001')!;
    const saved = await readVolume(join(fx.dataset, 'labelsTr', 'knee_0001.nii.gz'));
    const expected = new Set(
      points.flatMap((p) => brush3(p.hit, pred.shape)).filter((i) => pred.data[i] !== SYNTH_LABELS.patella),
    );
    assert.ok(expected.size > 0);
    const changed = new Set<number>();
    for (let i = 0; i < pred.data.length; i++) if (saved.data[i] !== pred.data[i]) changed.add(i);
    assert.deepEqual(
      [...changed].sort((a, b) => a - b),
      [...expected].sort((a, b) => a - b),
    );
    for (const i of changed) assert.equal(saved.data[i], SYNTH_LABELS.patella);

    await page.evaluate(() => document.body.removeAttribute('data-saved'));
    await page.locator('#undo').click();
    await page.locator('#undo').click();
    assert.ok(await page.locator('#undo').isDisabled());
    await page.locator('#save').click();
    await page.waitForSelector('body[data-saved="knee_0001"]');
    const restored = await readVolume(join(fx.dataset, 'labelsTr', 'knee_0001.nii.gz'));
    assert.deepEqual([...restored.data], [...pred.data]);
  });
});
