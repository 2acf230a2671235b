/**
 * Thickness-map figure of one plate: local thickness (mm) projected along the patient's left-right
 * axis onto the sagittal plane, i.e. the plate seen from the side, each pixel the largest thickness
 * on its left-right line, coloured with viridis and a labelled colour bar. Superior is up and
 * anterior left (the sagittal view of ITK-SNAP and 3D Slicer); pixels are square in mm.
 * Written with pngjs; the few glyphs of the scale come from a 3x5 bitmap font below because no font
 * can be assumed on the machine.
 */
import { PNG } from 'pngjs';
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

/** 3x5 glyphs, rows top to bottom, bits left to right */
const FONT: Readonly<Record<string, readonly number[]>> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  m: [0, 0, 7, 7, 5],
  ' ': [0, 0, 0, 0, 0],
};

function drawText(png: PNG, text: string, x0: number, y0: number, scale: number): void {
  let x = x0;
  for (const ch of text) {
    const rows = FONT[ch] ?? FONT[' ']!;
    for (let r = 0; r < 5; r++)
      for (let b = 0; b < 3; b++) {
        if (!((rows[r]! >> (2 - b)) & 1)) continue;
        for (let dy = 0; dy < scale; dy++)
          for (let dx = 0; dx < scale; dx++)
            setPixel(png, x + b * scale + dx, y0 + r * scale + dy, [255, 255, 255]);
      }
    x += 4 * scale;
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
  const scale = 2;
  const barW = 14;
  const labelW = 4 * scale * 8;
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
  drawText(png, `${top.toFixed(1)} mm`, lx, pad, scale);
  drawText(png, '0', lx, H - pad - 5 * scale, scale);
  return PNG.sync.write(png);
}
