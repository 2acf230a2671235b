// Free functions: forward values against brute-force JS in float64, creation, seeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/engine/index.ts';
import { assertClose, f64, randomArrays } from './helpers.ts';

const randArray = randomArrays(2);

/** Direct convolution (cross-correlation, as PyTorch) with stride, zero padding, dilation, groups. */
function conv2dLoop(
  x: Float64Array,
  [n, c, h, w]: number[],
  k: Float64Array,
  [o, cg, kh, kw]: number[],
  bias: Float64Array | null,
  s: number,
  p: number,
  d: number,
  groups: number,
): { out: number[]; shape: number[] } {
  const oh = Math.floor((h + 2 * p - d * (kh - 1) - 1) / s) + 1;
  const ow = Math.floor((w + 2 * p - d * (kw - 1) - 1) / s) + 1;
  const out: number[] = [];
  const og = o / groups;
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          let acc = bias ? bias[oc]! : 0;
          const g = Math.floor(oc / og);
          for (let ic = 0; ic < cg; ic++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const yy = y * s - p + i * d;
                const xx = xo * s - p + j * d;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                acc += x[((b * c + g * cg + ic) * h + yy) * w + xx]! * k[((oc * cg + ic) * kh + i) * kw + j]!;
              }
          out.push(acc);
        }
  return { out, shape: [n, o, oh, ow] };
}

test('conv2d matches a direct loop (padding, stride, dilation, groups, bias)', () => {
  const xs = [2, 4, 7, 6];
  const x = randArray(2 * 4 * 7 * 6);
  for (const [s, p, d, groups] of [
    [1, 1, 1, 1],
    [2, 0, 1, 1],
    [1, 2, 2, 2],
    [2, 1, 1, 4],
  ] as const) {
    const ks = [4, 4 / groups, 3, 3];
    const k = randArray(ks.reduce((a, b) => a * b, 1));
    const bias = randArray(4);
    const ref = conv2dLoop(x, xs, k, ks, bias, s, p, d, groups);
    const y = E.conv2d(f64(x, xs), f64(k, ks), f64(bias, [4]), {
      stride: s,
      padding: p,
      dilation: d,
      groups,
    });
    assert.deepEqual(y.shape, ref.shape);
    assertClose(y.toArray(), ref.out, 1e-13, `conv2d s${s} p${p} d${d} g${groups}`);
  }
});

test('conv2d in float32 agrees with the float64 loop to float32 precision', () => {
  const xs = [1, 3, 9, 9];
  const ks = [5, 3, 3, 3];
  const x = randArray(243);
  const k = randArray(135);
  const ref = conv2dLoop(x, xs, k, ks, null, 1, 1, 1, 1);
  const y = E.conv2d(E.tensor(Float32Array.from(x), xs), E.tensor(Float32Array.from(k), ks), null, {
    padding: 1,
  });
  assert.equal(y.dtype, 'float32');
  assertClose(y.toArray(), ref.out, 2e-5, 'conv2d float32');
});

test('conv1d is conv2d over a height-1 image', () => {
  const x = randArray(2 * 3 * 9);
  const k = randArray(4 * 3 * 3);
  const ref = conv2dLoop(x, [2, 3, 1, 9], k, [4, 3, 1, 3], null, 2, 0, 1, 1);
  const y = E.conv1d(f64(x, [2, 3, 9]), f64(k, [4, 3, 3]), null, { stride: 2 });
  assertClose(y.toArray(), ref.out, 1e-13, 'conv1d');
});

test('convTranspose2d scatters each input pixel through the kernel', () => {
  const [n, ci, h, w, co, kk, s] = [1, 2, 3, 2, 3, 3, 2];
  const p = 1;
  const op = 1;
  const x = randArray(n * ci * h * w);
  const k = randArray(ci * co * kk * kk);
  const oh = (h - 1) * s - 2 * p + kk + op;
  const ow = (w - 1) * s - 2 * p + kk + op;
  const out = new Float64Array(n * co * oh * ow);
  for (let c = 0; c < ci; c++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let o = 0; o < co; o++)
          for (let i = 0; i < kk; i++)
            for (let j = 0; j < kk; j++) {
              const yy = y * s - p + i;
              const xo = xx * s - p + j;
              if (yy < 0 || yy >= oh || xo < 0 || xo >= ow) continue;
              out[(o * oh + yy) * ow + xo]! +=
                x[(c * h + y) * w + xx]! * k[((c * co + o) * kk + i) * kk + j]!;
            }
  const y = E.convTranspose2d(f64(x, [n, ci, h, w]), f64(k, [ci, co, kk, kk]), null, {
    stride: s,
    padding: p,
    outputPadding: op,
  });
  assert.deepEqual(y.shape, [n, co, oh, ow]);
  assertClose(y.toArray(), out, 1e-13, 'convTranspose2d');
});

test('maxPool2d and avgPool2d match window loops (avg counts zero padding, as PyTorch by default)', () => {
  const [h, w] = [5, 6];
  const x = randArray(2 * h * w);
  const pool = (f: (xs: number[], count: number) => number, k: number, s: number, p: number) => {
    const oh = Math.floor((h + 2 * p - k) / s) + 1;
    const ow = Math.floor((w + 2 * p - k) / s) + 1;
    const out: number[] = [];
    for (let c = 0; c < 2; c++)
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          const vals: number[] = [];
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const yy = y * s - p + i;
              const xx = xo * s - p + j;
              if (yy >= 0 && yy < h && xx >= 0 && xx < w) vals.push(x[(c * h + yy) * w + xx]!);
            }
          out.push(f(vals, k * k));
        }
    return out;
  };
  const t = f64(x, [1, 2, h, w]);
  assertClose(
    E.maxPool2d(t, 2).toArray(),
    pool((v) => Math.max(...v), 2, 2, 0),
    0,
    'maxPool 2',
  );
  assertClose(
    E.maxPool2d(t, 3, 2, 1).toArray(),
    pool((v) => Math.max(...v), 3, 2, 1),
    0,
    'maxPool 3/2/1',
  );
  const mean = (v: number[], count: number) => v.reduce((a, b) => a + b, 0) / count;
  assertClose(E.avgPool2d(t, 2).toArray(), pool(mean, 2, 2, 0), 1e-14, 'avgPool 2');
  assertClose(E.avgPool2d(t, 3, 2, 1).toArray(), pool(mean, 3, 2, 1), 1e-14, 'avgPool 3/2/1');
});

test('interpolate bilinear (align_corners false and true) and nearest match their formulas', () => {
  const [h, w, oh, ow] = [3, 4, 5, 7];
  const x = randArray(h * w);
  const at = (y: number, xx: number) => x[y * w + xx]!;
  const bilinear = (alignCorners: boolean) => {
    const out: number[] = [];
    // PyTorch's source coordinate: align_corners=false maps pixel centres, clamped at 0
    const src = (d: number, inn: number, outn: number) =>
      alignCorners ? (d * (inn - 1)) / (outn - 1) : Math.max(0, (d + 0.5) * (inn / outn) - 0.5);
    for (let y = 0; y < oh; y++)
      for (let xo = 0; xo < ow; xo++) {
        const sy = src(y, h, oh);
        const sx = src(xo, w, ow);
        const y0 = Math.min(Math.floor(sy), h - 1);
        const x0 = Math.min(Math.floor(sx), w - 1);
        const y1 = Math.min(y0 + 1, h - 1);
        const x1 = Math.min(x0 + 1, w - 1);
        const ly = sy - y0;
        const lx = sx - x0;
        out.push(
          (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
            ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1)),
        );
      }
    return out;
  };
  const t = f64(x, [1, 1, h, w]);
  assertClose(E.interpolate(t, { size: [oh, ow] }).toArray(), bilinear(false), 1e-14, 'bilinear');
  assertClose(
    E.interpolate(t, { size: [oh, ow], alignCorners: true }).toArray(),
    bilinear(true),
    1e-14,
    'bilinear ac',
  );
  const nearest: number[] = [];
  for (let y = 0; y < 2 * h; y++)
    for (let xo = 0; xo < 2 * w; xo++) nearest.push(at(Math.floor(y / 2), Math.floor(xo / 2)));
  assertClose(E.interpolate(t, { scale: 2, mode: 'nearest' }).toArray(), nearest, 0, 'nearest');
});

test('pad: constant, reflect and replicate borders', () => {
  const t = f64([1, 2, 3, 4, 5, 6], [1, 1, 2, 3]);
  assert.deepEqual(E.pad(t, [1, 0, 0, 1], 'constant', 9).toArray(), [9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9]);
  assert.deepEqual(E.pad(t, [2, 1, 0, 0], 'reflect').toArray(), [3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5]);
  assert.deepEqual(
    E.pad(t, [1, 1, 1, 0], 'replicate').toArray(),
    [1, 1, 2, 3, 3, 1, 1, 2, 3, 3, 4, 4, 5, 6, 6],
  );
});

test('losses match their definitions: crossEntropy (weights, ignoreIndex, smoothing), bceWithLogits, mse', () => {
  const [n, c] = [5, 4];
  const z = randArray(n * c, -3, 3);
  const labels = [3, 0, 2, 2, 1];
  const weight = [0.5, 1, 2, 0.25];
  const logp = (i: number) => {
    const row = Array.from(z.subarray(i * c, i * c + c));
    const m = Math.max(...row);
    const l = m + Math.log(row.reduce((s, a) => s + Math.exp(a - m), 0));
    return row.map((a) => a - l);
  };
  const logits = f64(z, [n, c]);
  const target = E.tensor(labels, [n], { dtype: 'int64' });
  // weighted mean: sum(w_y * -log p_y) / sum(w_y)
  let num = 0;
  let den = 0;
  labels.forEach((y, i) => {
    num += weight[y]! * -logp(i)[y]!;
    den += weight[y]!;
  });
  assertClose(
    [E.crossEntropy(logits, target, { weight: f64(weight, [c]) }).item()],
    [num / den],
    1e-14,
    'ce weighted',
  );
  // ignoreIndex drops samples from numerator and denominator
  const ign = E.tensor([3, -100, 2, -100, 1], [n], { dtype: 'int64' });
  const kept = [0, 2, 4];
  assertClose(
    [E.crossEntropy(logits, ign).item()],
    [kept.reduce((s, i) => s - logp(i)[labels[i]!]!, 0) / 3],
    1e-14,
    'ignore',
  );
  // label smoothing eps: (1 - eps) * nll + eps * mean over classes of -log p
  const eps = 0.2;
  const smooth =
    labels.reduce(
      (s, y, i) => s + (1 - eps) * -logp(i)[y]! + (eps / c) * -logp(i).reduce((a, b) => a + b, 0),
      0,
    ) / n;
  assertClose([E.crossEntropy(logits, target, { labelSmoothing: eps }).item()], [smooth], 1e-14, 'smoothing');

  // BCE with logits: -(pw * t * log s(z) + (1 - t) log(1 - s(z))) * w
  const t = randArray(n * c, 0, 1);
  const pw = [2, 1, 0.5, 3];
  const bce = Array.from(z, (zi, i) => {
    const ls = -Math.log1p(Math.exp(-zi));
    const l1s = -Math.log1p(Math.exp(zi));
    return -(pw[i % c]! * t[i]! * ls + (1 - t[i]!) * l1s) * weight[i % c]!;
  });
  const got = E.bceWithLogits(logits, f64(t, [n, c]), {
    weight: f64(weight, [c]),
    posWeight: f64(pw, [c]),
    reduction: 'none',
  });
  assertClose(got.toArray(), bce, 1e-14, 'bce');
  const mse = Array.from(z, (zi, i) => (zi - t[i]!) ** 2).reduce((a, b) => a + b, 0) / z.length;
  assertClose([E.mseLoss(logits, f64(t, [n, c])).item()], [mse], 1e-14, 'mse');
});

test('batchNorm, groupNorm and layerNorm normalise with the biased variance', () => {
  const [n, c, hw] = [3, 4, 5];
  const x = randArray(n * c * hw, -2, 3);
  const stats = (vals: number[]) => {
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    return [m, vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length] as const;
  };
  const t = f64(x, [n, c, hw, 1]);
  // batch norm in training: per channel over N, H, W
  const bn = new Float64Array(x.length);
  for (let ch = 0; ch < c; ch++) {
    const idx: number[] = [];
    for (let b = 0; b < n; b++) for (let k = 0; k < hw; k++) idx.push((b * c + ch) * hw + k);
    const [m, v] = stats(idx.map((i) => x[i]!));
    for (const i of idx) bn[i] = (x[i]! - m) / Math.sqrt(v + 1e-5);
  }
  const rm = E.zeros([c], { dtype: 'float64' });
  const rv = E.ones([c], { dtype: 'float64' });
  assertClose(E.batchNorm(t, rm, rv, null, null, true, 0.1).toArray(), bn, 1e-12, 'batchNorm');
  // running stats: (1 - momentum) * old + momentum * batch stat, with the unbiased variance
  const [m0, v0] = stats(
    Array.from({ length: n * hw }, (_, j) => x[Math.floor(j / hw) * c * hw + (j % hw)]!),
  );
  assertClose(
    [rm.toArray()[0]!, rv.toArray()[0]!],
    [0.1 * m0, 0.9 + 0.1 * v0 * ((n * hw) / (n * hw - 1))],
    1e-13,
    'running',
  );
  // group norm with 2 groups: per sample over (channels of the group, H, W)
  const gn = new Float64Array(x.length);
  for (let b = 0; b < n; b++)
    for (let g = 0; g < 2; g++) {
      const start = (b * c + g * 2) * hw;
      const [m, v] = stats(Array.from(x.subarray(start, start + 2 * hw)));
      for (let i = start; i < start + 2 * hw; i++) gn[i] = (x[i]! - m) / Math.sqrt(v + 1e-5);
    }
  assertClose(E.groupNorm(t, 2, null, null).toArray(), gn, 1e-12, 'groupNorm');
  // layer norm over the last two dims [c, hw]
  const ln = new Float64Array(x.length);
  for (let b = 0; b < n; b++) {
    const start = b * c * hw;
    const [m, v] = stats(Array.from(x.subarray(start, start + c * hw)));
    for (let i = start; i < start + c * hw; i++) ln[i] = (x[i]! - m) / Math.sqrt(v + 1e-5);
  }
  assertClose(E.layerNorm(f64(x, [n, c, hw]), [c, hw], null, null).toArray(), ln, 1e-12, 'layerNorm');
});

test('creation: zeros, ones, full, arange, linspace, eye, oneHot, cat, stack', () => {
  assert.deepEqual(E.zeros([2, 2]).toArray(), [0, 0, 0, 0]);
  assert.equal(E.ones([3], { dtype: 'int32' }).dtype, 'int32');
  assert.deepEqual(E.full([2], 7.5, { dtype: 'float64' }).toArray(), [7.5, 7.5]);
  assert.deepEqual(E.arange(1, 7, 2).toArray(), [1, 3, 5]);
  assert.equal(E.arange(0, 3).dtype, 'int64');
  assertClose(E.linspace(0, 1, 5, { dtype: 'float64' }).toArray(), [0, 0.25, 0.5, 0.75, 1], 0, 'linspace');
  assert.deepEqual(E.eye(2).toArray(), [1, 0, 0, 1]);
  assert.deepEqual(E.oneHot(E.tensor([2, 0], [2], { dtype: 'int64' }), 3).toArray(), [0, 0, 1, 1, 0, 0]);
  const a = f64([1, 2], [1, 2]);
  const b = f64([3, 4], [1, 2]);
  assert.deepEqual(E.cat([a, b], 0).toArray(), [1, 2, 3, 4]);
  assert.deepEqual(E.cat([a, b], 1).shape, [1, 4]);
  assert.deepEqual(E.stack([a, b], 0).shape, [2, 1, 2]);
  assert.deepEqual(E.zerosLike(a).toArray(), [0, 0]);
  assert.deepEqual(E.onesLike(a).dtype, 'float64');
});

test('manualSeed makes randn, rand, randint and dropout reproducible; samples have the right law', () => {
  const draw = () => [
    E.randn([1000]),
    E.rand([5]),
    E.randint(0, 10, [5]),
    E.dropout(E.ones([20]), 0.5, true),
  ];
  E.manualSeed(123);
  const first = draw().map((t) => t.toArray());
  E.manualSeed(123);
  const second = draw().map((t) => t.toArray());
  assert.deepEqual(first, second);
  const z = first[0]!;
  const mean = z.reduce((a, b) => a + b, 0) / z.length;
  const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
  assert.ok(Math.abs(mean) < 0.15 && Math.abs(sd - 1) < 0.1, `randn mean ${mean} sd ${sd}`);
  assert.ok(first[1]!.every((u) => u >= 0 && u < 1));
  assert.ok(first[2]!.every((k) => Number.isInteger(k) && k >= 0 && k < 10));
  // dropout keeps elements scaled by 1 / (1 - p) or zeroes them
  assert.ok(first[3]!.every((v) => v === 0 || v === 2));
  assert.ok(first[3]!.some((v) => v === 0) && first[3]!.some((v) => v === 2));
});
