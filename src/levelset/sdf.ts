/**
 * Ground truth of the level-set branch: the normalized signed distance map (SDM) of DTC
 * (Luo et al., "Semi-supervised Medical Image Segmentation through Dual-task Consistency", AAAI 2021,
 * Eq. 1; official code HiLab-git/DTC `compute_sdf`), per 2-D slice and per label-tree node
 * (METHOD.md section 6):
 *
 *   sdf(x) = -inside(x) / max(inside)    x in the mask, not on its boundary   (in [-1, 0))
 *          =  0                          x on the boundary
 *          =  outside(x) / max(outside)  x outside the mask                   (in (0, 1])
 *
 * with inside/outside the exact Euclidean distances to the nearest background/foreground pixel
 * (scipy's `distance_transform_edt(mask)` and `(~mask)`, honouring pixel spacing here), and the
 * boundary that of skimage's `find_boundaries(mask, mode='inner')`: mask pixels with a 4-connected
 * neighbour outside the mask, the image edge not counting as outside.
 * DTC subtracts each side's minimum first; that minimum is 0 whenever the other side exists, so the
 * formula above is the same.
 *
 * Degenerate slices: an empty mask gives all zeros (DTC skips it, leaving its zeros). A full mask has
 * no outside and no boundary, and DTC's code divides 0 by 0 (NaN); here it gives all -1, the value of
 * "deep inside", so that the transform layer sigmoid(-k z) maps it to probability 1 as the mask says.
 *
 * Form 'thin' (an option; 'dtc' is the default and the paper's): the distance to the boundary *between*
 * pixel centres rather than to the boundary pixels themselves,
 *
 *   sdf(x) = -(inside(x) - s/2) / max(inside - s/2)     x in the mask       (in [-1, 0), never 0)
 *          =  (outside(x) - s/2) / max(outside - s/2)   x outside the mask  (in (0, 1], never 0)
 *
 * with s the smaller of the two pixel spacings (inside/outside are at least s, so both sides keep
 * their sign). Why: a cartilage plate 2-3 pixels thick is nearly all boundary, so DTC's target there
 * is ~0, which the transform sigmoid(-k z) reads as probability 0.5; here every mask pixel is strictly
 * inside (a 1-2 pixel plate is -1 throughout) and every background pixel strictly outside. An empty
 * mask gives +1 everywhere (the structure is absent: far outside, probability 0 after the transform)
 * instead of DTC's 0 ("boundary everywhere", probability 0.5); a full mask gives -1 as in 'dtc'.
 */
import { insideOutsideDistances, type Mask } from '../image/edt.ts';

/**
 * Pixels of a 2-D mask on its inner boundary (skimage `find_boundaries(mode='inner')`, connectivity 1):
 * foreground pixels with a 4-neighbour inside the image that is background.
 *
 * @param mask  [h, w] slice, w fastest (x), nonzero = foreground
 */
export function innerBoundary2d(mask: Mask, w: number, h: number): Uint8Array {
  const b = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = x + w * y;
      if (!mask[i]) continue;
      if (
        (x > 0 && !mask[i - 1]) ||
        (x < w - 1 && !mask[i + 1]) ||
        (y > 0 && !mask[i - w]) ||
        (y < h - 1 && !mask[i + w])
      ) {
        b[i] = 1;
      }
    }
  }
  return b;
}

/** Which signed distance map: DTC's (zero on the inner boundary) or 'thin' (see the module comment). */
export type SdfForm = 'dtc' | 'thin';

/**
 * Normalized signed distance map of one 2-D mask (see the module comment), written into `out`.
 *
 * @param mask     [h, w], w fastest, nonzero = foreground
 * @param spacing  [sx, sy] pixel size in mm (default [1, 1]); only the ratio matters after normalization
 * @param form     'dtc' (default) or 'thin'
 */
export function normalizedSdf2d(
  mask: Mask,
  w: number,
  h: number,
  spacing: readonly [number, number] = [1, 1],
  form: SdfForm = 'dtc',
  out: Float32Array = new Float32Array(w * h),
): Float32Array {
  const n = w * h;
  let count = 0;
  for (let i = 0; i < n; i++) if (mask[i]) count++;
  if (count === 0) return out.fill(form === 'thin' ? 1 : 0);
  if (count === n) return out.fill(-1);

  const { inside, outside } = insideOutsideDistances(mask, [w, h], spacing);
  if (form === 'thin') return thinSdf(mask, inside, outside, Math.min(spacing[0], spacing[1]) / 2, out);
  let maxIn = 0;
  let maxOut = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]) maxIn = Math.max(maxIn, inside[i]!);
    else maxOut = Math.max(maxOut, outside[i]!);
  }
  const boundary = innerBoundary2d(mask, w, h);
  for (let i = 0; i < n; i++) {
    out[i] = boundary[i] ? 0 : mask[i] ? -inside[i]! / maxIn : outside[i]! / maxOut;
  }
  return out;
}

/** The 'thin' form from both one-sided distances of a mask with both sides present; `half` = s / 2. */
function thinSdf(
  mask: Mask,
  inside: Float64Array,
  outside: Float64Array,
  half: number,
  out: Float32Array,
): Float32Array {
  const n = mask.length;
  let maxIn = 0;
  let maxOut = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]) maxIn = Math.max(maxIn, inside[i]! - half);
    else maxOut = Math.max(maxOut, outside[i]! - half);
  }
  for (let i = 0; i < n; i++) {
    out[i] = mask[i] ? -(inside[i]! - half) / maxIn : (outside[i]! - half) / maxOut;
  }
  return out;
}

/**
 * Normalized signed distance maps for a batch of 2-D node masks.
 *
 * @param masks    [N, H, W] (W fastest), one binary mask per node (or per slice and node), nonzero = inside
 * @param shape    [N, H, W]
 * @param spacing  [sx, sy] in-plane pixel size (along W, along H), default [1, 1]
 * @param form     'dtc' (default) or 'thin' (see the module comment)
 * @returns        Float32Array [N, H, W] in [-1, 1]
 */
export function normalizedSdfBatch(
  masks: Mask,
  shape: readonly [number, number, number],
  spacing: readonly [number, number] = [1, 1],
  form: SdfForm = 'dtc',
): Float32Array {
  const [nb, h, w] = shape;
  const plane = h * w;
  if (masks.length !== nb * plane) {
    throw new RangeError(
      `normalizedSdfBatch: masks hold ${masks.length} values, shape [${shape.join(', ')}]`,
    );
  }
  const out = new Float32Array(nb * plane);
  for (let b = 0; b < nb; b++) {
    normalizedSdf2d(
      masks.subarray(b * plane, (b + 1) * plane),
      w,
      h,
      spacing,
      form,
      out.subarray(b * plane, (b + 1) * plane),
    );
  }
  return out;
}
