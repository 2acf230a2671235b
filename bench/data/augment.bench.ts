/**
 * Time to prepare one training batch: 4 slices (2 labelled + 2 unlabelled) of 3 x 288 x 240, each
 * stacked from cached planes and augmented (scale, shift, flip, contrast, gamma, noise).
 * Run: node --import tsx bench/data/augment.bench.ts [batches]
 */
import { augmentSample, type AugmentConfig } from '../../src/data/augment.ts';
import { stackChannels, type PreparedCase } from '../../src/data/preprocess.ts';
import { mulberry32 } from '../../src/data/random.ts';

const [H, W] = [288, 240];
const count = 40;
const rng = mulberry32(1);
const planes = new Float32Array(count * H * W).map(() => 255 * rng());
const labels = new Uint8Array(count * H * W).map(() => Math.floor(7 * rng()));
const prepared: PreparedCase = {
  id: 'bench',
  layout: { axis: 0, rowAxis: 2, colAxis: 1, shape: [count, W, H], size: [H, W], start: [0, 0], count },
  geometry: {
    shape: [count, W, H],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  },
  scaling: 'minmax255',
  neighbours: 1,
  planes,
  labels,
};
const cfg: AugmentConfig = {
  scale: [0.85, 1.15],
  flip: true,
  noiseStd: 0.03,
  contrast: [0.8, 1.2],
  gamma: [0.8, 1.25],
};
const shape = { channels: 3, height: H, width: W };

function batch(step: number): void {
  for (let k = 0; k < 4; k++) {
    const s = (step * 4 + k) % count;
    const img = stackChannels(prepared, s);
    const lab = k < 2 ? labels.slice(s * H * W, (s + 1) * H * W) : null;
    augmentSample(img, lab, shape, cfg, step * 4 + k);
  }
}

const n = Number(process.argv[2] ?? 30);
for (let i = 0; i < 3; i++) batch(i); // warm-up
const times: number[] = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  batch(i);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(
  `batch of 4 x 3 x ${H} x ${W}, augmented: median ${times[n >> 1]!.toFixed(1)} ms, min ${times[0]!.toFixed(1)} ms (1 thread)`,
);
