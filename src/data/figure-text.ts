/**
 * The one text path of every figure: text is written as SVG and rasterised by resvg in DejaVu Sans
 * (report charts and grids in src/eval/report/, thickness maps in src/infer/). Kept in data, beside
 * the palette, so that both can use it without importing each other.
 */
import { Resvg } from '@resvg/resvg-js';

/** The family of all figure text: DejaVu Sans, the font Debian installs with fontconfig. */
export const FIGURE_FONT = 'DejaVu Sans';

/** A rasterised SVG: PNG bytes (RGBA, transparent where the SVG draws nothing) and their size. */
export interface RasterImage {
  readonly png: Buffer;
  readonly width: number;
  readonly height: number;
}

/**
 * SVG to PNG: resvg with the system fonts and FIGURE_FONT as the default and sans-serif family, at
 * `zoom` times the SVG's size.
 */
export function rasterizeSvg(svg: string, zoom = 1): RasterImage {
  const rendered = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: zoom },
    font: { loadSystemFonts: true, defaultFontFamily: FIGURE_FONT, sansSerifFamily: FIGURE_FONT },
  }).render();
  return { png: rendered.asPng(), width: rendered.width, height: rendered.height };
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An SVG text element in the figure font; `attrs` places, sizes and colours it. */
export function svgText(attrs: string, s: string): string {
  return `<text ${attrs} font-family="${FIGURE_FONT}, sans-serif">${escapeXml(s)}</text>`;
}
