/**
 * Pixel images for the figures drawn voxel by voxel (slice montages, surface renderings), encoded
 * with pngjs, and their composition into a titled grid. The grid is laid out as SVG and rasterised
 * by resvg (src/data/figure-text.ts, the one text path of the figures), so titles and legends get
 * real text rendering without a canvas library.
 */
import { PNG } from 'pngjs';
import { rasterizeSvg, svgText as text } from '../../data/figure-text.ts';
import type { Rgb } from '../../data/palette.ts';
import type { Figure } from './figure.ts';

/** An RGB image, row-major from the top-left. */
export class RgbImage {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    fill: Rgb = [0, 0, 0],
  ) {
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(fill, 3 * i);
  }

  set(x: number, y: number, c: Rgb): void {
    this.data.set(c, 3 * (x + this.width * y));
  }

  png(): Buffer {
    const png = new PNG({ width: this.width, height: this.height, colorType: 2 });
    for (let i = 0; i < this.width * this.height; i++) {
      png.data[4 * i] = this.data[3 * i]!;
      png.data[4 * i + 1] = this.data[3 * i + 1]!;
      png.data[4 * i + 2] = this.data[3 * i + 2]!;
      png.data[4 * i + 3] = 255;
    }
    return PNG.sync.write(png, { colorType: 2 });
  }
}

export interface GridPanel {
  readonly image: RgbImage;
  readonly title: string;
}

export interface LegendEntry {
  readonly name: string;
  readonly color: Rgb;
}

const hex = (c: Rgb) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;

/** Panels in rows (each with a title above it), a figure title and an optional colour legend below. */
export function composeGrid(
  rows: readonly (readonly GridPanel[])[],
  title: string,
  legend: readonly LegendEntry[] = [],
): Figure {
  const gap = 10;
  const titleH = 28;
  const panelTitleH = 20;
  const cols = Math.max(...rows.map((r) => r.length));
  const colW = Array.from({ length: cols }, (_, j) => Math.max(...rows.map((r) => r[j]?.image.width ?? 0)));
  const rowH = rows.map((r) => Math.max(...r.map((p) => p.image.height)));
  const width = Math.max(gap + colW.reduce((a, w) => a + w + gap, 0), 200);
  // Legend entries flow into lines as wide as the panels (text width estimated at 7.5 px per character).
  const legendPos: { x: number; line: number }[] = [];
  let lx = gap;
  let line = 0;
  for (const e of legend) {
    const w = 16 + 7.5 * e.name.length + 14;
    if (lx > gap && lx + w > width) [lx, line] = [gap, line + 1];
    legendPos.push({ x: lx, line });
    lx += w;
  }
  const legendH = legend.length ? 20 * (line + 1) + 6 : 0;
  const height = titleH + rowH.reduce((a, h) => a + h + panelTitleH + gap, 0) + legendH + gap;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    text(`x="${width / 2}" y="19" font-size="15" font-weight="bold" text-anchor="middle"`, title),
  ];
  let y = titleH;
  for (const [i, row] of rows.entries()) {
    let x = gap;
    for (const [j, p] of row.entries()) {
      parts.push(
        text(`x="${x + p.image.width / 2}" y="${y + 14}" font-size="12" text-anchor="middle"`, p.title),
        `<image x="${x}" y="${y + panelTitleH}" width="${p.image.width}" height="${p.image.height}" image-rendering="optimizeSpeed" xlink:href="data:image/png;base64,${p.image.png().toString('base64')}"/>`,
      );
      x += colW[j]! + gap;
    }
    y += rowH[i]! + panelTitleH + gap;
  }
  for (const [k, e] of legend.entries()) {
    const { x, line: l } = legendPos[k]!;
    const ly = y + 20 * l;
    parts.push(
      `<rect x="${x}" y="${ly + 4}" width="12" height="12" fill="${hex(e.color)}"/>`,
      text(`x="${x + 16}" y="${ly + 14}" font-size="12"`, e.name),
    );
  }
  parts.push('</svg>');
  return rasterizeSvg(parts.join('\n'));
}
