import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { thicknessPng, viridis, type ThicknessProjection } from '../../src/infer/thickness-map.ts';

/** A 60 x 40 projection: a 2 mm band across the middle. */
function band(): ThicknessProjection {
  const width = 60;
  const height = 40;
  const values = new Float32Array(width * height);
  for (let r = 15; r < 25; r++) values.fill(2, r * width, (r + 1) * width);
  return { width, height, values, pixelMm: 0.5 };
}

test('thickness map PNG: the scale is labelled in real text at the top and bottom of the bar', () => {
  const p = band();
  const png = PNG.sync.read(thicknessPng(p, 2.5));
  const pad = 8;
  const barLeft = 2 * pad + p.width;
  const lx = barLeft + 14 + 4;
  const H = png.height;
  assert.equal(H, 80 + 2 * pad);
  const at = (x: number, y: number) => [
    ...png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3),
  ];
  /** the lit pixels of rows [y0, y1) right of the bar: their columns and the grey levels seen */
  const lit = (y0: number, y1: number) => {
    const xs: number[] = [];
    const levels = new Set<number>();
    for (let y = y0; y < y1; y++)
      for (let x = lx - 2; x < png.width; x++) {
        const [r, g, b] = at(x, y);
        if (r === 0) continue;
        assert.ok(r === g && g === b, `label pixel (${x}, ${y}) is grey: ${r},${g},${b}`);
        xs.push(x);
        levels.add(r!);
      }
    return { n: xs.length, left: Math.min(...xs), right: Math.max(...xs), levels };
  };
  // "2.5 mm" beside the top of the bar: about 46 px wide at 12 px, anti-aliased
  const top = lit(0, pad + 14);
  assert.ok(top.n > 60, `top label: ${top.n} lit pixels`);
  assert.ok(top.left >= lx - 1 && top.left <= lx + 3, `top label starts at x=${top.left}`);
  assert.ok(
    top.right - top.left > 35 && top.right - top.left < 60,
    `top label ${top.right - top.left} px wide`,
  );
  assert.ok(
    [...top.levels].some((v) => v > 0 && v < 255),
    'anti-aliased glyph edges',
  );
  assert.ok(top.levels.has(255) || Math.max(...top.levels) > 200, 'glyph cores are white');
  // "0" on the bottom of the bar: one digit
  const bottom = lit(H - pad - 14, H);
  assert.ok(bottom.n > 10, `bottom label: ${bottom.n} lit pixels`);
  assert.ok(bottom.right - bottom.left < 10, `bottom label ${bottom.right - bottom.left} px wide`);
  // nothing else beside the bar, and the map and bar are untouched by the text
  assert.equal(lit(pad + 14, H - pad - 14).n, 0);
  assert.deepEqual(at(pad + 30, pad + 20), viridis(2 / 2.5));
  assert.deepEqual(at(barLeft + 7, pad), viridis(1));
  assert.deepEqual(at(barLeft + 7, H - pad - 1), viridis(0));
});
