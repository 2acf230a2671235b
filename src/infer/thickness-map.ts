/**
 * Thickness-map figure of one plate: local thickness (mm) projected along the patient's left-right
 * axis onto the sagittal plane, i.e. the plate seen from the side, each pixel the largest thickness
 * on its left-right line, coloured with viridis and a labelled colour bar. Superior is up and
 * anterior left (the sagittal view of ITK-SNAP and 3D Slicer); pixels are square in mm.
 * The pixels are written with pngjs; the scale's labels take the figures' one text path (SVG
 * rasterised by resvg in DejaVu Sans, src/data/figure-text.ts) and are blended in.
 */
import { PNG } from 'pngjs';
import { rasterizeSvg, svgText } from '../data/figure-text.ts';
import { sagittalAxis } from '../data/preprocess.ts';
import type { Geometry } from '../data/volume.ts';

export interface ThicknessProjection {
  readonly width: number;
  readonly height: number;
  /** row-major [height, width], mm; 0 where no plate voxel projects */
  readonly values: Float32Array;
  /** mm per pixel along both axes */
  readonly pixelMm: number;
}

/** Projects a thickness map along the left-right axis, cropped to the plate with a small margin. */
export function projectThickness(map: Float32Array, g: Geometry, longSidePx = 320): ThicknessProjection {
  const lr = sagittalAxis(g.direction);
  const others = ([0, 1, 2] as const).filter((a) => a !== lr);
  // vertical: the remaining axis closer to world z (inferior-superior)
  const zc = (a: number) => Math.abs(g.direction[6 + a]!);
  const [vAxis, hAxis] =
    zc(others[0]!) >= zc(others[1]!) ? [others[0]!, others[1]!] : [others[1]!, others[0]!];
  const [nx, ny] = g.shape;
  const nv = g.shape[vAxis];
  const nh = g.shape[hAxis];
  const proj = new Float32Array(nv * nh);
  let lo = [nv, nh];
  let hi = [-1, -1];
  for (let i = 0; i < map.length; i++) {
    const t = map[i]!;
    if (!(t > 0)) continue;
    const idx = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
    const v = idx[vAxis]!;
    const h = idx[hAxis]!;
    if (t > proj[v * nh + h]!) proj[v * nh + h] = t;
    lo = [Math.min(lo[0]!, v), Math.min(lo[1]!, h)];
    hi = [Math.max(hi[0]!, v), Math.max(hi[1]!, h)];
  }
  if (hi[0]! < 0) {
    lo = [0, 0];
    hi = [nv - 1, nh - 1];
  }
  const margin = 4;
  const v0 = Math.max(0, lo[0]! - margin);
  const v1 = Math.min(nv - 1, hi[0]! + margin);
  const h0 = Math.max(0, lo[1]! - margin);
  const h1 = Math.min(nh - 1, hi[1]! + margin);
  const sv = g.spacing[vAxis];
  const sh = g.spacing[hAxis];
  const heightMm = (v1 - v0 + 1) * sv;
  const widthMm = (h1 - h0 + 1) * sh;
  const pixelMm = Math.max(heightMm, widthMm) / longSidePx;
  const height = Math.max(1, Math.round(heightMm / pixelMm));
  const width = Math.max(1, Math.round(widthMm / pixelMm));
  // superior up: +z in LPS is superior; anterior left: -y in LPS is anterior
  const flipV = g.direction[6 + vAxis]! > 0;
  const flipH = g.direction[3 + hAxis]! < 0;
  const values = new Float32Array(width * height);
  for (let r = 0; r < height; r++) {
    let v = Math.min(v1 - v0, Math.floor(((r + 0.5) * pixelMm) / sv));
    if (flipV) v = v1 - v0 - v;
    for (let c = 0; c < width; c++) {
      let h = Math.min(h1 - h0, Math.floor(((c + 0.5) * pixelMm) / sh));
      if (flipH) h = h1 - h0 - h;
      values[r * width + c] = proj[(v0 + v) * nh + h0 + h]!;
    }
  }
  return { width, height, values, pixelMm };
}

/** viridis at 9 stops (matplotlib), interpolated linearly */
const VIRIDIS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + f * (b[k]! - a[k]!))) as [number, number, number];
}

/** Font size of the scale's labels, px. */
const LABEL_PX = 12;

interface Label {
  readonly text: string;
  /** left end and baseline, px */
  readonly x: number;
  readonly baseline: number;
}

/**
 * Draws `labels` in white over `png`: rasterised on a transparent canvas of the PNG's size and
 * blended in by their coverage, so the glyphs keep resvg's anti-aliasing.
 */
function drawLabels(png: PNG, labels: readonly Label[]): void {
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${png.width}" height="${png.height}">`,
    ...labels.map((l) =>
      svgText(`x="${l.x}" y="${l.baseline}" font-size="${LABEL_PX}" fill="white"`, l.text),
    ),
    '</svg>',
  ].join('');
  const text = PNG.sync.read(rasterizeSvg(svg).png);
  for (let i = 0; i < png.width * png.height; i++) {
    const a = text.data[4 * i + 3]! / 255;
    if (a === 0) continue;
    for (let k = 0; k < 3; k++) {
      const o = 4 * i + k;
      png.data[o] = Math.round((1 - a) * png.data[o]! + a * text.data[o]!);
    }
  }
}

function setPixel(png: PNG, x: number, y: number, rgb: readonly [number, number, number]): void {
  if (x < 0 || y < 0 || x >= png.width || y >= png.height) return;
  const o = 4 * (y * png.width + x);
  png.data[o] = rgb[0];
  png.data[o + 1] = rgb[1];
  png.data[o + 2] = rgb[2];
  png.data[o + 3] = 255;
}

/**
 * PNG bytes: the projection (black where there is no plate) and a colour bar from 0 to `maxMm`
 * (default: the projection's maximum rounded up to 0.5 mm), labelled in mm.
 */
export function thicknessPng(p: ThicknessProjection, maxMm?: number): Buffer {
  let top = maxMm ?? 0;
  if (maxMm === undefined) {
    for (const v of p.values) if (v > top) top = v;
    top = Math.max(0.5, Math.ceil(top * 2) / 2);
  }
  const pad = 8;
  const barW = 14;
  // room for "10.0 mm" at LABEL_PX
  const labelW = 72;
  const H = Math.max(p.height, 80) + 2 * pad;
  const W = p.width + 3 * pad + barW + labelW;
  const png = new PNG({ width: W, height: H });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  for (let r = 0; r < p.height; r++)
    for (let c = 0; c < p.width; c++) {
      const v = p.values[r * p.width + c]!;
      if (v > 0) setPixel(png, pad + c, pad + r, viridis(v / top));
    }
  const bx = pad * 2 + p.width;
  const bh = H - 2 * pad;
  for (let r = 0; r < bh; r++) {
    const rgb = viridis(1 - r / Math.max(1, bh - 1));
    for (let c = 0; c < barW; c++) setPixel(png, bx + c, pad + r, rgb);
  }
  const lx = bx + barW + 4;
  // the top label's digits start at the bar's top (cap height ~0.73 em), the 0 sits on its bottom
  drawLabels(png, [
    { text: `${top.toFixed(1)} mm`, x: lx, baseline: pad + Math.round(0.73 * LABEL_PX) },
    { text: '0', x: lx, baseline: H - pad },
  ]);
  return PNG.sync.write(png);
}
