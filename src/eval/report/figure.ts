/**
 * A rendered figure: PNG bytes (what the report embeds and writes beside it) and, for charts, the
 * SVG they were rasterised from. Charts are drawn with vega-lite + vega (SVG, no browser needed) and
 * rasterised with resvg; image figures (montages, surface renderings) are drawn into pixels directly.
 */
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../../output/atomic.ts';

export interface Figure {
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
  /** the vector original of charts */
  readonly svg?: string;
}

/** Rasterisation scale of charts: 2 keeps text sharp on high-density screens and in print. */
const CHART_SCALE = 2;

/** The family of all figure text: DejaVu Sans, the font Debian installs with fontconfig. */
export const FIGURE_FONT = 'DejaVu Sans';

/**
 * The one path from SVG (charts, and the titles and legends of image grids) to PNG: resvg with the
 * system fonts and FIGURE_FONT as the default and sans-serif family, at `zoom` times the SVG's size.
 */
export function rasterizeSvg(svg: string, zoom = 1): Figure {
  const rendered = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: zoom },
    font: { loadSystemFonts: true, defaultFontFamily: FIGURE_FONT, sansSerifFamily: FIGURE_FONT },
  }).render();
  return { png: rendered.asPng(), width: rendered.width, height: rendered.height };
}

/** Renders a vega-lite spec to SVG (vega's headless renderer) and PNG (resvg). */
export async function renderVegaLite(spec: TopLevelSpec): Promise<Figure> {
  const { spec: vgSpec } = compile({ background: 'white', ...spec } as TopLevelSpec);
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return { ...rasterizeSvg(svg, CHART_SCALE), svg };
}

/** Writes DIR/NAME.png (and NAME.svg for charts); returns the PNG path. */
export function writeFigure(dir: string, name: string, fig: Figure): string {
  const png = join(dir, `${name}.png`);
  writeFileAtomic(png, fig.png);
  if (fig.svg) writeFileAtomic(join(dir, `${name}.svg`), fig.svg);
  return png;
}
