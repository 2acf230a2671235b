import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { structureColors } from '../../../src/data/palette.ts';
import type { Geometry, Volume } from '../../../src/data/volume.ts';
import { InputError } from '../../../src/errors.ts';
import { summarizeEvaluation } from '../../../src/eval/evaluate.ts';
import { evaluationJson } from '../../../src/eval/evaluation-json.ts';
import { structureMetrics } from '../../../src/eval/metrics.ts';
import { diceBoxPlot } from '../../../src/eval/report/dice-box.ts';
import { writeFigure, type Figure } from '../../../src/eval/report/figure.ts';
import { htmlReport, writeHtmlReport } from '../../../src/eval/report/html.ts';
import { labelEfficiencyPlot } from '../../../src/eval/report/label-efficiency.ts';
import { lossCurves } from '../../../src/eval/report/loss-curves.ts';
import { planeGrid, sliceAxisOf } from '../../../src/eval/report/plane.ts';
import type { PlottedLogEntry } from '../../../src/eval/report/run-log.ts';
import { sliceMontage } from '../../../src/eval/report/slice-montage.ts';
import { renderSurface, surfaceRendering } from '../../../src/eval/report/surface-render.ts';
import { kneeseg } from '../../helpers/cli.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decodes a figure's PNG, checking the signature and that the header matches the stated size. */
function checkPng(fig: Figure): PNG {
  assert.ok(fig.png.subarray(0, 8).equals(PNG_SIGNATURE), 'PNG signature');
  const png = PNG.sync.read(fig.png);
  assert.deepEqual([png.width, png.height], [fig.width, fig.height]);
  assert.ok(png.width > 100 && png.height > 100, `size ${png.width}x${png.height}`);
  return png;
}

/** Number of pixels of exactly colour c. */
function countColor(png: PNG, c: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < png.width * png.height; i++)
    if (png.data[4 * i] === c[0] && png.data[4 * i + 1] === c[1] && png.data[4 * i + 2] === c[2]) n++;
  return n;
}

function distinctColors(png: PNG): number {
  const set = new Set<number>();
  for (let i = 0; i < png.width * png.height; i++)
    set.add((png.data[4 * i]! << 16) | (png.data[4 * i + 1]! << 8) | png.data[4 * i + 2]!);
  return set.size;
}

function logEntries(): PlottedLogEntry[] {
  const out: PlottedLogEntry[] = [];
  for (let i = 10; i <= 200; i += 10) {
    out.push({
      type: 'train',
      iteration: i,
      epoch: Math.floor(i / 50),
      stage: 1,
      lr: 1e-3,
      losses: { ce_loss: 1 / i + 0.1, level_set_loss: 0.5 / Math.sqrt(i) },
    });
    if (i % 50 === 0)
      out.push({
        type: 'validation',
        iteration: i,
        epoch: i / 50,
        val_loss: 2 / i,
        ema_vl: 2.2 / i,
        best: i !== 150,
        dice: { femoral_cartilage: 0.5 + i / 1000, femur: 0.9 },
      });
  }
  return out;
}

const DICE = (names: string[], k: number) =>
  Object.fromEntries(names.map((s, j) => [s, { dice: 0.6 + 0.05 * j + 0.02 * Math.sin(k + j) }]));

test('charts: loss curves, Dice box plot and label-efficiency plot are PNGs with their SVG', async () => {
  const curves = await lossCurves(logEntries());
  checkPng(curves);
  for (const word of ['ce_loss', 'level_set_loss', 'Validation Dice', 'femoral_cartilage', 'EMA'])
    assert.ok(curves.svg!.includes(word), word);
  await assert.rejects(lossCurves([]), RangeError);

  const names = ['femoral_cartilage', 'tibial_cartilage', 'femur'];
  const cases = Array.from({ length: 6 }, (_, k) => ({ case: `c${k}`, structures: DICE(names, k) }));
  const box = await diceBoxPlot(cases, { structures: names });
  assert.ok(distinctColors(checkPng(box)) > 10);
  for (const s of names) assert.ok(box.svg!.includes(s), s);
  const two = await diceBoxPlot([
    ...cases.map((c) => ({ ...c, method: 'SSHCPS' })),
    ...cases.map((c) => ({ ...c, method: 'supervised' })),
  ]);
  assert.ok(two.svg!.includes('supervised'));

  const le = await labelEfficiencyPlot(
    [7, 14, 70].flatMap((n, i) => [
      { method: 'SSHCPS', labelled: n, mean: 0.7 + 0.05 * i, sd: 0.02 },
      { method: 'supervised', labelled: n, mean: 0.6 + 0.08 * i, sd: NaN },
    ]),
  );
  checkPng(le);
  assert.ok(le.svg!.includes('labelled training scans') && le.svg!.includes('SSHCPS'));
});

// A femur-like ball with a cartilage cap, on an anisotropic grid with z superior.
const G: Geometry = {
  shape: [20, 24, 10],
  spacing: [1, 1, 2.5],
  origin: [0, 0, 0],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
};
function phantom(shiftX = 0): { image: Volume<Float32Array>; labels: Volume<Uint8Array> } {
  const [nx, ny, nz] = G.shape;
  const image = new Float32Array(nx * ny * nz);
  const labels = new Uint8Array(nx * ny * nz);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const i = x + nx * (y + ny * z);
        const r = Math.hypot(x - 10 - shiftX, y - 12, (z - 4.5) * 2.5);
        image[i] = 100 + 50 * Math.sin(x + y);
        if (r <= 7) labels[i] = 1;
        else if (r <= 9 && y < 12) labels[i] = 2;
      }
  return { image: { ...G, data: image }, labels: { ...G, data: labels } };
}

test('sliceMontage: grey slices with the outlines of each structure, prediction beside ground truth', () => {
  const gt = phantom();
  const pred = phantom(1);
  assert.equal(sliceAxisOf(G), 2);
  const fig = sliceMontage(gt.image, pred.labels, gt.labels, [3, 5], { size: 120 });
  const png = checkPng(fig);
  const colors = structureColors({ background: 0, femur: 1, femoral_cartilage: 2 });
  // Both structures' outlines are drawn (plus their legend squares).
  for (const { color } of colors.values()) assert.ok(countColor(png, color) > 100, `colour ${color}`);
  // Two rows of two 120-px-high panels (24 x 20 voxels of 1 mm: 120 x 100 px) plus titles and legend.
  const grid = planeGrid(G, 2, 120);
  assert.deepEqual([grid.width, grid.height], [100, 120]);
  assert.ok(fig.height > 2 * 120 && fig.width > 2 * 100);
  assert.throws(() => sliceMontage(gt.image, pred.labels, gt.labels, [10]), RangeError);
  assert.throws(
    () => sliceMontage(gt.image, { ...pred.labels, shape: [10, 48, 10] }, gt.labels, [1]),
    InputError,
  );
});

test('renderSurface: Lambert shading from the depth map: lit side brighter, misses background', () => {
  const { labels } = phantom();
  const img = renderSurface(labels, {
    axis: 2,
    size: 96,
    labels: { background: 0, femur: 1, femoral_cartilage: 2 },
    structures: ['femur'],
  });
  const grid = planeGrid(G, 2, 96);
  assert.deepEqual([img.width, img.height], [grid.width, grid.height]);
  const px = (x: number, y: number) =>
    Array.from(img.data.subarray(3 * (x + img.width * y), 3 * (x + img.width * y) + 3));
  const bright = (x: number, y: number) => px(x, y).reduce((a, b) => a + b, 0);
  // Corner: no structure on the ray -> background.
  assert.deepEqual(px(0, 0), [245, 245, 245]);
  // The light comes from -u, -v (left, up) towards the viewer: the upper-left flank of the ball is
  // brighter than the lower-right one, the centre brighter than both flanks' average dark side.
  const cx = Math.round(img.width / 2);
  const cy = Math.round(img.height / 2);
  const d = Math.round(img.width * 0.15);
  assert.ok(
    bright(cx - d, cy - d) > bright(cx + d, cy + d),
    `${bright(cx - d, cy - d)} vs ${bright(cx + d, cy + d)}`,
  );
  // Femur colour in hue: red and green over blue (orange-yellow), scaled by the shade.
  const [r, g, b] = px(cx, cy);
  assert.ok(r! > b! && g! > b!);

  const fig = surfaceRendering(phantom(2).labels, labels, {
    size: 96,
    labels: { background: 0, femur: 1, femoral_cartilage: 2 },
  });
  assert.ok(distinctColors(checkPng(fig)) > 20);
});

test('htmlReport embeds PNGs as data URIs and SVGs inline, renders Markdown tables', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-report-'));
  try {
    const fig = await labelEfficiencyPlot([
      { method: 'a', labelled: 1, mean: 0.5, sd: 0.1 },
      { method: 'a', labelled: 2, mean: 0.6, sd: 0.1 },
    ]);
    const png = writeFigure(dir, 'le', fig);
    assert.ok(existsSync(join(dir, 'le.svg')));
    const file = join(dir, 'sub', 'report.html');
    const html = writeHtmlReport(file, {
      title: 'Test <report>',
      sections: [
        {
          heading: 'Table',
          markdownOrHtmlTable: '| a | b |\n|---|---:|\n| x | 1.5 |',
          images: [{ path: png, caption: 'curve & bars' }],
        },
        {
          heading: 'Raw',
          markdownOrHtmlTable: '<table><tr><td>raw</td></tr></table>',
          images: [{ path: join(dir, 'le.svg'), caption: 'vector' }],
        },
      ],
    });
    assert.equal(readFileSync(file, 'utf8'), html);
    assert.ok(html.startsWith('<!DOCTYPE html>'));
    assert.ok(html.includes('<title>Test &lt;report&gt;</title>'));
    assert.ok(html.includes(`data:image/png;base64,${readFileSync(png).toString('base64')}`));
    assert.match(html, /<table>\s*<thead>\s*<tr>\s*<th>a<\/th>/);
    assert.ok(html.includes('<td>raw</td>') && html.includes('<figcaption>curve &amp; bars</figcaption>'));
    assert.ok(html.includes('<svg') && !html.includes('src="le.png"'), 'self-contained');
    assert.throws(
      () =>
        htmlReport({
          title: 't',
          sections: [{ heading: 'h', images: [{ path: join(dir, 'nope.png'), caption: '' }] }],
        }),
      InputError,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kneeseg report RUN writes report.html with the curves, and the box plot when evaluation.json exists', async () => {
  const run = mkdtempSync(join(tmpdir(), 'kneeseg-run-'));
  try {
    writeFileSync(
      join(run, 'log.jsonl'),
      `${logEntries()
        .map((e) => JSON.stringify(e))
        .join('\n')}\n{"type":"event","iteration":200,"epoch":4,"message":"done"}\n{"type":"tra`,
    );
    assert.equal((await kneeseg('report', run)).code, 0);
    let html = readFileSync(join(run, 'report.html'), 'utf8');
    assert.equal(html.match(/data:image\/png;base64,/g)?.length, 1);
    assert.ok(existsSync(join(run, 'loss_curves.png')) && !existsSync(join(run, 'dice_boxplot.png')));
    assert.match(html, /best checkpoint<\/td>\s*<td>iteration 200/);

    // An evaluation of three cases of two structures from direct metrics.
    const m = (a: number[], b: number[]) =>
      structureMetrics(Uint8Array.from(a), Uint8Array.from(b), [4, 1, 1], [1, 1, 1]);
    const cases = [0, 1, 2].map((k) => ({
      case: `k${k}`,
      structures: {
        femoral_cartilage: m([1, 1, k > 0 ? 1 : 0, 0], [1, 1, 1, 0]),
        femur: m([0, 0, 0, 1], [0, 0, 0, k < 2 ? 1 : 0]),
      },
    }));
    const ev = summarizeEvaluation(cases, { background: 0, femur: 1, femoral_cartilage: 2 });
    writeFileSync(join(run, 'evaluation.json'), JSON.stringify(evaluationJson(ev)));
    const second = await kneeseg('report', run);
    assert.equal(second.code, 0);
    html = readFileSync(join(run, 'report.html'), 'utf8');
    assert.equal(html.match(/data:image\/png;base64,/g)?.length, 2);
    assert.ok(existsSync(join(run, 'dice_boxplot.png')));
    // femoral cartilage Dice: 0.8, 1, 1 -> 93.33 ± 11.55; femur HD95 undefined in one case.
    assert.match(html, /<td>femoral_cartilage<\/td>\s*<td[^>]*>93\.33 ± 11\.55<\/td>/);
    assert.match(
      html,
      /<td>femur<\/td>\s*<td[^>]*>[\d.]+ ± [\d.]+<\/td>\s*<td[^>]*>0\.00 ± 0\.00 \(n=2\)<\/td>/,
    );
    assert.ok(second.stdout.split('\n').some((l) => l.endsWith('report.html')));

    rmSync(join(run, 'log.jsonl'));
    const missing = await kneeseg('report', run);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /log\.jsonl: is missing/);
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
});
