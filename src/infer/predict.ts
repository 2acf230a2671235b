/**
 * Prediction of one scan (METHOD.md section 5): the scan is cut into 2.5D slices exactly as the model
 * was trained (src/data/preprocess.ts with the model's own options), the slices run through the
 * network in batches without gradients, each pixel is decoded to a leaf label, and the label slices
 * are put back on the scan's grid (crop and pad undone), so the label map has the scan's shape,
 * spacing, origin and direction.
 *
 * Test-time augmentation `flip`: logits of the slice and of its left-right mirror image (columns
 * reversed, the flip training augments with), mirrored back, are averaged before decoding. The two
 * are also decoded on their own, and the pixels whose label differs between them counted: a cheap
 * per-case uncertainty (the viewer's "review next" ranks by it when there are no probability maps).
 */
import { inferenceMode, scope, tensor, type Tensor } from '../engine/index.ts';
import { prepareCase, restoreVolume, stackChannels, type PreparedCase } from '../data/preprocess.ts';
import type { Volume } from '../data/volume.ts';
import { InputError } from '../errors.ts';
import { channelsLast } from '../models/channels-last.ts';
import { keepLargestComponents } from './components.ts';
import type { LoadedModel } from './load-model.ts';

export type Tta = 'none' | 'flip';

export interface PredictOptions {
  /** slices per forward pass (default: defaultBatch of the slice size) */
  readonly batch?: number;
  /** test-time augmentation (default 'none') */
  readonly tta?: Tta;
  /** also return per-structure probability maps (default false) */
  readonly probabilities?: boolean;
  /** keep only the largest 3D connected component of each structure (default false, as the paper) */
  readonly largestComponent?: boolean;
}

/**
 * Slices per forward pass when none is asked for: about 64 Ki pixels per batch, 1 to 8 slices. On two
 * cores the network's time per slice depends on the batch, not the same way at every size
 * (bench/predict/batch.bench.ts, idle machine, ms per slice at batch 1 / 4 / 8 over four rounds): the
 * U-Net of 16 base channels at 288 x 240 101-133 / 118-139 / 121-142 (batch 1 ahead of batch 8 in every
 * round: bigger batches leave the caches); the demo's U-Net of 8 at 128 x 128 17-22 / 12.4-13.4 /
 * 11.4-13.8 (small batches leave the cores idle); MedT at 288 x 240 1290-1400 at batch 1 or 2 against
 * 1500-1560 at 4 (after the inference logits of src/models/medt/similarity.ts, backbone alone, best of
 * three: 803 / 796 / 871 at batch 1 / 2 / 4).
 */
export function defaultBatch(size: readonly [number, number]): number {
  return Math.min(8, Math.max(1, Math.round(65536 / (size[0] * size[1]))));
}

/** Label values: uint8 unless the tree uses values above 255. */
export type LabelArray = Uint8Array | Int16Array;

/** How much the labels change under the left-right flip (tta 'flip' only). */
export interface FlipDisagreement {
  /** slice pixels (the network's crop window) whose label differs between the two predictions */
  readonly changed: number;
  /** slice pixels that are foreground in either prediction */
  readonly foreground: number;
  /** changed / foreground (0 when there is no foreground) */
  readonly fraction: number;
}

export interface Prediction {
  /** leaf label values on the scan's grid */
  readonly labels: Volume<LabelArray>;
  readonly flip?: FlipDisagreement;
  /** structure name -> probability map on the scan's grid (0 outside the crop window) */
  readonly probabilities?: ReadonlyMap<string, Volume<Float32Array>>;
}

/** InputError unless `image` is a 3D scan the model can take. */
export function checkScan(image: Volume, file: string): void {
  const extent = image.shape.filter((n) => n >= 2).length;
  if (extent < 3)
    throw new InputError(
      file,
      `is ${['a single voxel', 'a 1D line of voxels', 'a 2D image'][extent]} (shape ${image.shape.join('x')}), not a 3D scan`,
      'give a 3D scan: a volume file or a DICOM series folder',
    );
  if (image.data.length !== image.shape[0] * image.shape[1] * image.shape[2])
    throw new InputError(
      file,
      `holds ${image.data.length} voxels for shape ${image.shape.join('x')}`,
      'export the scan again',
    );
}

/** Logits of a batch [N, C, H, W]: the pixel-wise head only (the level-set head is not needed to predict). */
function logitsOf(m: LoadedModel, x: Tensor): Tensor {
  const input = m.channelsLast ? channelsLast(x) : x;
  return m.model.pw_head.forward(m.model.backbone.forward(input));
}

/** Logits averaged over the slice and its column-mirrored copy (mirrored back). */
export function flipAveragedLogits(m: LoadedModel, x: Tensor): Tensor {
  return flipLogits(m, x).averaged;
}

/** The logits of the slice, of its mirrored copy (mirrored back), and their average. */
function flipLogits(m: LoadedModel, x: Tensor): { plain: Tensor; mirrored: Tensor; averaged: Tensor } {
  const plain = logitsOf(m, x);
  const mirrored = logitsOf(m, x.flip(3)).flip(3);
  return { plain, mirrored, averaged: plain.add(mirrored).div(2) };
}

/** Adds to `count` the pixels whose decoded label differs between two logits, and the foreground ones. */
function countFlipChanges(
  m: LoadedModel,
  a: Tensor,
  b: Tensor,
  count: { changed: number; foreground: number },
) {
  const la = m.decode(a).to('int16').data() as Int16Array;
  const lb = m.decode(b).to('int16').data() as Int16Array;
  for (let i = 0; i < la.length; i++) {
    if (la[i] !== 0 || lb[i] !== 0) count.foreground++;
    if (la[i] !== lb[i]) count.changed++;
  }
}

export interface SlicePrediction {
  /** [count, H, W] leaf label values */
  readonly labels: LabelArray;
  /** per structure (order of model.structures): [count, H, W] probabilities */
  readonly probabilities?: Float32Array[];
  /** tta 'flip': pixels whose label the flip changes, and foreground pixels */
  readonly flip?: { readonly changed: number; readonly foreground: number };
}

/**
 * Runs the prepared slices of a case through the network.
 * @param onBatch called after each batch with slices done and total
 */
export function predictSlices(
  m: LoadedModel,
  p: PreparedCase,
  o: PredictOptions = {},
  onBatch?: (done: number, total: number) => void,
): SlicePrediction {
  const batch = o.batch ?? defaultBatch(p.layout.size);
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`batch must be a whole number >= 1, got ${batch}`);
  const [H, W] = p.layout.size;
  const plane = H * W;
  const C = 2 * p.neighbours + 1;
  const count = p.layout.count;
  const wide = m.tree.maxLabel > 255;
  const labels: LabelArray = wide ? new Int16Array(count * plane) : new Uint8Array(count * plane);
  const S = m.structures.size;
  const probs = o.probabilities
    ? Array.from({ length: S }, () => new Float32Array(count * plane))
    : undefined;
  const x = new Float32Array(batch * C * plane);
  const flip = o.tta === 'flip' ? { changed: 0, foreground: 0 } : undefined;
  for (let s0 = 0; s0 < count; s0 += batch) {
    const n = Math.min(batch, count - s0);
    for (let i = 0; i < n; i++) stackChannels(p, s0 + i, x.subarray(i * C * plane, (i + 1) * C * plane));
    // inference mode: the predictor (loadModel's copy) is never trained, so the tensors of its forward
    // need no autograd or version bookkeeping
    inferenceMode(() =>
      scope(() => {
        const input = tensor(x.subarray(0, n * C * plane), [n, C, H, W]);
        let logits: Tensor;
        if (flip) {
          const f = flipLogits(m, input);
          countFlipChanges(m, f.plain, f.mirrored, flip);
          logits = f.averaged;
        } else logits = logitsOf(m, input);
        labels.set(
          m
            .decode(logits)
            .to(wide ? 'int16' : 'uint8')
            .data() as LabelArray,
          s0 * plane,
        );
        if (probs) {
          const pr = m.probabilities(logits).contiguous().data() as Float32Array;
          for (let i = 0; i < n; i++)
            for (let k = 0; k < S; k++)
              probs[k]!.set(pr.subarray((i * S + k) * plane, (i * S + k + 1) * plane), (s0 + i) * plane);
        }
      }),
    );
    onBatch?.(s0 + n, count);
  }
  return { labels, ...(probs ? { probabilities: probs } : {}), ...(flip ? { flip } : {}) };
}

/**
 * Label map (and optionally probability maps) of one scan on its own grid.
 * @param file    named in errors
 * @param onBatch progress: slices done, total
 */
export function predictVolume(
  m: LoadedModel,
  image: Volume,
  file: string,
  o: PredictOptions = {},
  onBatch?: (done: number, total: number) => void,
): Prediction {
  checkScan(image, file);
  const p = prepareCase(file, image, undefined, m.preprocessing);
  const sp = predictSlices(m, p, o, onBatch);
  const geometry = {
    shape: image.shape,
    spacing: image.spacing,
    origin: image.origin,
    direction: image.direction,
  };
  const data = restoreVolume(p.layout, sp.labels);
  if (o.largestComponent) keepLargestComponents(data, image.shape);
  const labels = { ...geometry, data };
  const flip = sp.flip && {
    ...sp.flip,
    fraction: sp.flip.foreground > 0 ? sp.flip.changed / sp.flip.foreground : 0,
  };
  if (!sp.probabilities) return flip ? { labels, flip } : { labels };
  const names = [...m.structures.values()];
  const probabilities = new Map<string, Volume<Float32Array>>(
    sp.probabilities.map((slices, k) => [names[k]!, { ...geometry, data: restoreVolume(p.layout, slices) }]),
  );
  return flip ? { labels, probabilities, flip } : { labels, probabilities };
}
