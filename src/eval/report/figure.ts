/**
 * A rendered figure: PNG bytes (what the report embeds and writes beside it) and, for charts, the
 * SVG they were rasterised from. Charts are drawn with vega-lite + vega (SVG, no browser needed) and
 * rasterised with resvg (src/data/figure-text.ts, the one text path of the figures); image figures
 * (montages, surface renderings) are drawn into pixels directly.
 */
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { rasterizeSvg, type RasterImage } from '../../data/figure-text.ts';
import { writeFileAtomic } from '../../output/atomic.ts';

export interface Figure extends RasterImage {
  /** the vector original of charts */
  readonly svg?: string;
}

/** Rasterisation scale of charts: 2 keeps text sharp on high-density screens and in print. */
const CHART_SCALE = 2;

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
