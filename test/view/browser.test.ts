/**
 * The page in a real headless Chromium (Debian's `chromium`, WebGL through SwiftShader), driven by
 * playwright-core: loading a predicted case, structure toggles, the thickness overlay, a brush stroke
 * saved into labelsTr, undo, the thickness recompute after a stroke, "review next", and two runs of
 * an experiment side by side with their disagreement.
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
import { measureLabelMap } from '../../src/infer/measure.ts';
import { structuresOf } from '../../src/infer/run-measure.ts';
import { buildPageBundle } from '../../src/view/bundle.ts';
import { startViewServer, type ViewServer } from '../../src/view/server.ts';
import {
  makeExperimentFixture,
  makeViewFixture,
  type ExperimentFixture,
  type ViewFixture,
} from './fixtures.ts';

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
/** The voxels a round brush of `size` voxels across covers at `hit`, in the plane of the slice (as the page's). */
function brushAt(hit: NonNullable<Hit>, size: number, shape: readonly number[]): number[] {
  const [u, v] = [0, 1, 2].filter((a) => a !== hit.normalAxis) as [number, number];
  const r = (size - 1) / 2;
  const out: number[] = [];
  for (let du = -Math.ceil(r); du <= r; du++)
    for (let dv = -Math.ceil(r); dv <= r; dv++) {
      if (du * du + dv * dv > r * r + 1e-9) continue;
      const p = [...hit.vox];
      p[u]! += du;
      p[v]! += dv;
      if (p.every((x, k) => x >= 0 && x < shape[k]!))
        out.push(p[0]! + shape[0]! * (p[1]! + shape[1]! * p[2]!));
    }
  return out;
}

/** The voxels a brush of 3 voxels across covers at `hit`: the centre and its 4 in-plane neighbours. */
const brush3 = (hit: NonNullable<Hit>, shape: readonly number[]): number[] => brushAt(hit, 3, shape);

/** Headless Chromium with software WebGL, and a page opened at `url` once it has loaded a case. */
async function openPage(url: string): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--ignore-gpu-blocklist',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 }).catch((e: Error) => {
    throw new Error(`${e.message}; page errors: ${errors.join('; ')}`);
  });
  return { browser, page };
}

/** `n` points of canvas A over distinct voxels of the slices, found on a coarse grid. */
async function pointsOnSlices(
  page: Page,
  n: number,
  wanted: (hit: NonNullable<Hit>) => boolean = () => true,
): Promise<{ x: number; y: number; hit: NonNullable<Hit> }[]> {
  const box = (await page.locator('#canvas-a').boundingBox())!;
  const points: { x: number; y: number; hit: NonNullable<Hit> }[] = [];
  for (let fy = 0.1; fy < 1 && points.length < n; fy += 0.1)
    for (let fx = 0.1; fx < 1 && points.length < n; fx += 0.1) {
      const [x, y] = [box.x + fx * box.width, box.y + fy * box.height];
      const hit = await page.evaluate(
        ([px, py]) =>
          (window as unknown as { kneesegView: { voxelAt(x: number, y: number): Hit } }).kneesegView.voxelAt(
            px!,
            py!,
          ),
        [x, y],
      );
      if (hit && wanted(hit) && !points.some((p) => p.hit.vox.join() === hit.vox.join()))
        points.push({ x, y, hit });
    }
  assert.equal(points.length, n, 'no slice under the canvas');
  return points;
}

/** The text of the table cell of case `id` in the column `key`. */
function cellText(page: Page, id: string, key: string): Promise<string> {
  return page.evaluate(
    ([caseId, colKey]) => {
      const heads = [...document.querySelectorAll('#case-table thead th')] as HTMLElement[];
      const col = heads.findIndex((h) => h.dataset.key === colKey);
      const row = document.querySelector(`#case-table tbody tr[data-case="${caseId}"]`);
      return col < 0 || !row ? 'missing' : (row.children[col]?.textContent ?? 'missing');
    },
    [id, key],
  );
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
    ({ browser, page } = await openPage(`${server.url}?case=knee_0001`));
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

  it('shows the thickness map over the labels when toggled, and hides it again', async () => {
    const before = await canvasShot();
    await page.locator('#thickness').check();
    await page.waitForSelector('body[data-thickness-shown="true"]');
    await settle();
    const shown = await canvasShot();
    assert.ok(
      differingPixels(before.pixels, shown.pixels) > 100,
      `the thickness overlay changed only ${differingPixels(before.pixels, shown.pixels)} pixels`,
    );
    assert.match((await page.locator('#thickness-scale').textContent()) ?? '', /local thickness, mm/);
    await page.locator('#thickness').uncheck();
    await settle();
    const hidden = await canvasShot();
    assert.ok(
      differingPixels(before.pixels, hidden.pixels) < differingPixels(before.pixels, shown.pixels) / 10,
    );
  });

  it('saves exactly the voxels of a scripted brush stroke, and undo restores them', async () => {
    const points = await pointsOnSlices(page, 2);
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

  it("marks thickness stale after a brush stroke; Recompute shows the edited labels' numbers", async () => {
    const key = 'th:femoral_cartilage/all';
    const old = await cellText(page, 'knee_0001', key);
    assert.match(old, /^\d+\.\d\d$/);
    // the strokes and undos of the test before left it stale; the labels are the prediction again
    assert.ok(await page.locator('#thickness-recompute').isVisible());
    await page.locator('#thickness-recompute').click();
    await page.waitForSelector('body[data-thickness="fresh"]', { timeout: 60_000 });
    assert.ok(await page.locator('#thickness-stale').isHidden());
    assert.equal(await cellText(page, 'knee_0001', key), old);
    await page.locator('#thickness').check();
    await page.waitForSelector('body[data-thickness-shown="true"]');
    // a disc of cartilage 7 voxels across in a sagittal slice (6 mm thick along x): thicker than
    // the fixture's plate (one 2.88 mm voxel), so the mean changes
    const points = await pointsOnSlices(page, 1, (hit) => hit.normalAxis === 0);
    await page.locator('input[name=mode][value=paint]').check();
    await page.locator('#pen-structure').selectOption(String(SYNTH_LABELS.femoral_cartilage));
    await page.locator('#brush').fill('7');
    for (const p of points) {
      await page.mouse.move(p.x, p.y);
      await page.mouse.down();
      await page.mouse.up();
    }
    await page.locator('input[name=mode][value=view]').check();
    await page.waitForSelector('body[data-thickness="stale"]');
    assert.ok(await page.locator('#thickness-recompute').isVisible());
    const stale = await canvasShot();
    await page.locator('#thickness-recompute').click();
    await page.waitForSelector('body[data-thickness="fresh"]', { timeout: 60_000 });
    await settle();
    assert.ok(await page.locator('#thickness-stale').isHidden());
    const pred = fx.predicted.get('knee_0001')!;
    const edited = Uint8Array.from(pred.data);
    for (const i of points.flatMap((p) => brushAt(p.hit, 7, pred.shape)))
      edited[i] = SYNTH_LABELS.femoral_cartilage;
    const m = measureLabelMap('x', { ...pred, data: edited }, structuresOf(SYNTH_LABELS)).measurements;
    const mean = m.thickness.find((t) => t.plate === 'femoral_cartilage' && t.region === 'all')!.meanMm;
    assert.equal(await cellText(page, 'knee_0001', key), mean.toFixed(2));
    assert.notEqual(mean.toFixed(2), old, 'the stroke changed the mean thickness');
    const fresh = await canvasShot();
    assert.ok(differingPixels(stale.pixels, fresh.pixels) > 0, 'the recomputed map is drawn');
    await page.locator('#thickness').uncheck();
  });

  it('"review next" opens the most uncertain case', async () => {
    await page.waitForSelector('body[data-review="ready"]');
    await page.locator('#review-next').click();
    await page.waitForSelector('body[data-state="ready"][data-case="knee_0002"]');
    assert.match((await page.locator('#review-info').textContent()) ?? '', /rank 1\/3/);
    // knee_0001 was on screen when "review next" was first clicked: it counts as reviewed
    await page.locator('#review-next').click();
    await page.waitForSelector('body[data-state="ready"][data-case="knee_0000"]');
  });
});

describe('kneeseg view of an experiment in headless Chromium', () => {
  let dir: string;
  let ex: ExperimentFixture;
  let server: ViewServer;
  let browser: Browser;
  let page: Page;
  const shot = async (id: string) => pixelStats(await page.locator(id).screenshot());
  /**
   * Pixels the disagreement overlay turned magenta (a colour no structure has): blue up by more than
   * 60 against the same pane without it, red high and green low.
   */
  const turnedMagenta = (drawn: Uint8Array, plain: Uint8Array) => {
    let n = 0;
    for (let i = 0; i < drawn.length; i += 4)
      if (drawn[i + 2]! - plain[i + 2]! > 60 && drawn[i]! > 150 && drawn[i + 1]! < drawn[i]! - 60) n++;
    return n;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kneeseg-view-browser-exp-'));
    ex = await makeExperimentFixture(await makeViewFixture(dir));
    await buildPageBundle(join(dir, 'bundle'));
    server = await startViewServer({ path: ex.root, port: 0, bundleDir: join(dir, 'bundle') });
    ({ browser, page } = await openPage(`${server.url}?case=knee_0000`));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows two runs side by side, the voxels where they disagree in magenta', async () => {
    const [a, b] = ex.runs;
    assert.equal(await page.locator('#caption-a').textContent(), `run ${a}`);
    await page.locator('#run-b').selectOption(b);
    await page.locator('#side-by-side').check();
    await page.waitForSelector(`body[data-pane-b="${a}|${b}|disagreement"]`, { timeout: 60_000 });
    assert.ok(await page.locator('#view-b').isVisible());
    assert.equal(await page.locator('#caption-b').textContent(), `run ${b}`);
    const [left, right] = [await shot('#canvas-a'), await shot('#canvas-b')];
    assert.ok(left.lit > 0.1 && right.lit > 0.1, 'both panes show the scan');
    await page.locator('#disagreement').uncheck();
    await page.waitForSelector(`body[data-pane-b="${a}|${b}|plain"]`);
    const plain = await shot('#canvas-b');
    assert.ok(
      turnedMagenta(right.pixels, plain.pixels) > 20,
      `pixels turned magenta by the disagreement overlay: ${turnedMagenta(right.pixels, plain.pixels)}`,
    );
    await page.locator('#disagreement').check();
  });

  it('"review next" without probability maps opens the case the flip disagrees on most', async () => {
    await page.waitForSelector('body[data-review="ready"]');
    await page.locator('#review-next').click();
    const top = [...ex.flip].sort((x, y) => y[1] - x[1])[0]![0];
    await page.waitForSelector(`body[data-state="ready"][data-case="${top}"]`);
  });
});
