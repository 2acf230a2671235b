import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adjustIntensity,
  augmentSample,
  sampleAugmentParams,
  warp,
  type AugmentConfig,
  type AugmentParams,
} from '../../src/data/augment.ts';
import { mulberry32 } from '../../src/data/random.ts';

const H = 40;
const W = 32;
const shape = { channels: 2, height: H, width: W };
const STEP = 40;

/** A label map of a few blobs, and an image that is a deterministic function of it (two channels). */
function sample(): { image: Float32Array; label: Uint8Array } {
  const label = new Uint8Array(H * W);
  for (let r = 0; r < H; r++)
    for (let c = 0; c < W; c++) {
      if ((r - 14) ** 2 + (c - 10) ** 2 < 49) label[r * W + c] = 2;
      else if (r > 24 && r < 34 && c > 6 && c < 28) label[r * W + c] = 4;
      else if (c > 18 && r < 16) label[r * W + c] = 1;
    }
  const image = new Float32Array(2 * H * W);
  for (let i = 0; i < H * W; i++) {
    image[i] = STEP * label[i]!;
    image[H * W + i] = STEP * label[i]! + 7;
  }
  return { image, label };
}

function base(over: Partial<AugmentParams> = {}): AugmentParams {
  return {
    scale: 1,
    shiftRow: 0,
    shiftCol: 0,
    flipCols: false,
    flipRows: false,
    contrast: 1,
    gamma: 1,
    noiseStd: 0,
    noiseSeed: 1,
    ...over,
  };
}

/** Pixels whose 5x5 neighbourhood in `label` is not one value. */
function boundary(label: Uint8Array, r: number, c: number): boolean {
  const v = label[r * W + c];
  for (let dr = -2; dr <= 2; dr++)
    for (let dc = -2; dc <= 2; dc++) {
      const rr = r + dr;
      const cc = c + dc;
      if (rr >= 0 && rr < H && cc >= 0 && cc < W && label[rr * W + cc] !== v) return true;
    }
  return false;
}

function checkAligned(p: AugmentParams): void {
  const s = sample();
  const out = warp(s.image, s.label, shape, p);
  let checked = 0;
  for (let r = 0; r < H; r++)
    for (let c = 0; c < W; c++) {
      const fromImage = Math.round(out.image[r * W + c]! / STEP);
      const fromImage2 = Math.round((out.image[H * W + r * W + c]! - 7) / STEP);
      const lab = out.label![r * W + c]!;
      if (boundary(out.label!, r, c)) continue;
      checked++;
      assert.equal(fromImage, lab, `pixel ${r},${c} with ${JSON.stringify(p)}`);
      assert.equal(fromImage2, lab);
    }
  assert.ok(checked > H * W * 0.4, `${checked} interior pixels checked`);
}

test('each geometric augmentation keeps image and label aligned', () => {
  checkAligned(base({ flipCols: true }));
  checkAligned(base({ flipRows: true }));
  checkAligned(base({ scale: 1.27 }));
  checkAligned(base({ scale: 0.8 }));
  checkAligned(base({ shiftRow: 3.4, shiftCol: -2.2 }));
  checkAligned(base({ scale: 0.9, shiftRow: -1.7, shiftCol: 2.5, flipCols: true }));
});

test('a flip is exact: label and image mirrored column by column', () => {
  const s = sample();
  const out = warp(s.image, s.label, shape, base({ flipCols: true }));
  for (let r = 0; r < H; r++)
    for (let c = 0; c < W; c++) {
      assert.equal(out.label![r * W + c], s.label[r * W + (W - 1 - c)]);
      assert.equal(out.image[r * W + c], s.image[r * W + (W - 1 - c)]);
    }
});

test('zoom moves a blob the expected way (brute force centroid)', () => {
  const s = sample();
  const out = warp(s.image, s.label, shape, base({ scale: 1.2 }));
  const centroid = (l: Uint8Array) => {
    let n = 0;
    let sr = 0;
    for (let i = 0; i < l.length; i++) {
      if (l[i] !== 2) continue;
      n++;
      sr += Math.floor(i / W);
    }
    return { n, r: sr / n };
  };
  const a = centroid(s.label);
  const b = centroid(out.label!);
  const cy = (H - 1) / 2;
  assert.ok(Math.abs(b.r - (cy + (a.r - cy) * 1.2)) < 0.6, `${b.r}`);
  assert.ok(Math.abs(b.n / a.n - 1.44) < 0.15, `area ratio ${b.n / a.n}`);
});

test('intensity changes keep the label, keep order (contrast, gamma) and add noise of the asked size', () => {
  const s = sample();
  const img = Float32Array.from(s.image);
  adjustIntensity(img, base({ contrast: 1.2, gamma: 0.8 }));
  for (let i = 0; i < img.length; i++)
    for (const j of [i + 1, i + 37])
      if (j < img.length && s.image[i]! < s.image[j]!) assert.ok(img[i]! <= img[j]!);
  const flat = new Float32Array(1000).fill(5);
  flat[0] = 0;
  flat[1] = 10; // range 10
  adjustIntensity(flat, base({ noiseStd: 0.1 }));
  let sd = 0;
  for (let i = 2; i < 1000; i++) sd += (flat[i]! - 5) ** 2;
  sd = Math.sqrt(sd / 998);
  assert.ok(Math.abs(sd - 1) < 0.1, `noise sd ${sd}`);
});

test('augmentSample is reproducible from its seed, differs across seeds, and keeps alignment', () => {
  const cfg: AugmentConfig = {
    scale: [0.85, 1.15],
    flip: true,
    noiseStd: 0,
    contrast: [1, 1],
    gamma: [1, 1],
  };
  const a = sample();
  const b = sample();
  const c = sample();
  augmentSample(a.image, a.label, shape, cfg, 42);
  augmentSample(b.image, b.label, shape, cfg, 42);
  augmentSample(c.image, c.label, shape, cfg, 43);
  assert.deepEqual(a.image, b.image);
  assert.deepEqual(a.label, b.label);
  assert.notDeepEqual(a.image, c.image);
  for (let seed = 0; seed < 10; seed++) checkAligned(sampleAugmentParams(mulberry32(seed), cfg, shape));
  const noisy: AugmentConfig = { ...cfg, noiseStd: 0.05, contrast: [0.8, 1.2], gamma: [0.8, 1.25] };
  const d = sample();
  const e = sample();
  augmentSample(d.image, d.label, shape, noisy, 7);
  augmentSample(e.image, null, shape, noisy, 7);
  assert.deepEqual(d.image, e.image); // the label does not change the image's draws
});
