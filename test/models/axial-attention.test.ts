import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, scope, type Tensor } from '../../src/engine/index.ts';
import { AxialAttention } from '../../src/models/medt/axial-attention.ts';
import type { AttentionKind } from '../../src/models/medt/config.ts';

/**
 * Brute force of one axial attention on one sequence x [C][L] in float64, straight from the paper's
 * Eq. 2 and the official code's batch norms (eval mode: running statistics), loop by loop.
 */
function bruteForce(a: AxialAttention, x: number[][], kind: AttentionKind): number[][] {
  const v = (t: Tensor) => Array.from(t.data() as Float32Array, Number);
  const C = x.length;
  const L = x[0]!.length;
  const G = a.opts.heads;
  const gp = C / G;
  const K = a.opts.maxLength;
  const bn = (m: { weight: Tensor; bias: Tensor; runningMean: Tensor; runningVar: Tensor }) => {
    const [w, b, rm, rv] = [v(m.weight), v(m.bias), v(m.runningMean), v(m.runningVar)];
    return (ch: number, val: number) => ((val - rm[ch]!) / Math.sqrt(rv[ch]! + 1e-5)) * w[ch]! + b[ch]!;
  };
  const W = v(a.qkv_transform.weight); // [2C, C, 1]
  const bnQkv = bn(a.bn_qkv);
  const qkv = Array.from({ length: 2 * C }, (_, o) =>
    Array.from({ length: L }, (_, i) =>
      bnQkv(
        o,
        x.reduce((s, row, c) => s + W[o * C + c]! * row[i]!, 0),
      ),
    ),
  );
  const rel = a.relative ? v(a.relative) : [];
  const emb = (c: number, i: number, j: number) => rel[c * (2 * K - 1) + (i - j + K - 1)]!;
  const gate = (n: 'f_qr' | 'f_kr' | 'f_sv' | 'f_sve') => (a.gates ? v(a.gates[n])[0]! : 1);
  const bnSim = bn(a.bn_similarity);
  const bnOut = bn(a.bn_output);
  const out = Array.from({ length: C }, () => new Array<number>(L).fill(0));
  for (let g = 0; g < G; g++) {
    const q = (c: number, i: number) => qkv[g * 2 * gp + c]![i]!;
    const k = (c: number, i: number) => qkv[g * 2 * gp + gp / 2 + c]![i]!;
    const val = (c: number, i: number) => qkv[g * 2 * gp + gp + c]![i]!;
    for (let i = 0; i < L; i++) {
      const logits: number[] = [];
      for (let j = 0; j < L; j++) {
        let qk = 0;
        let qr = 0;
        let kr = 0;
        for (let c = 0; c < gp / 2; c++) {
          qk += q(c, i) * k(c, j);
          qr += q(c, i) * emb(c, i, j);
          kr += k(c, j) * emb(gp / 2 + c, j, i);
        }
        logits.push(
          kind === 'plain'
            ? bnSim(g, qk)
            : bnSim(g, qk) + bnSim(G + g, gate('f_qr') * qr) + bnSim(2 * G + g, gate('f_kr') * kr),
        );
      }
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const z = e.reduce((s, t) => s + t, 0);
      const sim = e.map((t) => t / z);
      for (let c = 0; c < gp; c++) {
        let sv = 0;
        let sve = 0;
        for (let j = 0; j < L; j++) {
          sv += sim[j]! * val(c, j);
          sve += sim[j]! * emb(gp + c, i, j);
        }
        const ch = g * gp + c;
        out[ch]![i] =
          kind === 'plain'
            ? bnOut(ch, sv)
            : bnOut(2 * ch, gate('f_sv') * sv) + bnOut(2 * ch + 1, gate('f_sve') * sve);
      }
    }
  }
  return out;
}

/** Random batch-norm statistics and affine parameters, and random gates, so none is a no-op. */
function randomize(a: AxialAttention): void {
  noGrad(() => {
    for (const m of [a.bn_qkv, a.bn_similarity, a.bn_output]) {
      m.weight.uniform_(0.5, 1.5);
      m.bias.uniform_(-0.3, 0.3);
      m.runningMean.uniform_(-0.3, 0.3);
      m.runningVar.uniform_(0.5, 2);
    }
    if (a.gates) for (const g of Object.values(a.gates)) g.uniform_(0.2, 1.2);
  });
}

for (const kind of ['gated', 'positional', 'plain'] as const)
  for (const axis of ['height', 'width'] as const)
    test(`axial attention (${kind}, ${axis}) matches a brute-force loop, sequence shorter than the table`, () => {
      manualSeed(7);
      scope(() => {
        const a = new AxialAttention({ channels: 8, heads: 2, maxLength: 7, kind, axis, stride: 1 });
        randomize(a);
        a.eval();
        const [H, W] = axis === 'height' ? [5, 3] : [3, 6];
        const x = randn([2, 8, H, W]);
        const y = noGrad(() => a.forward(x));
        assert.deepEqual(y.shape, [2, 8, H, W]);
        const xv = x.data() as Float32Array;
        const yv = y.data() as Float32Array;
        const at = (n: number, c: number, h: number, w: number) => ((n * 8 + c) * H + h) * W + w;
        let maxErr = 0;
        for (let n = 0; n < 2; n++)
          for (let m = 0; m < (axis === 'height' ? W : H); m++) {
            const L = axis === 'height' ? H : W;
            const pos = (i: number): [number, number] => (axis === 'height' ? [i, m] : [m, i]);
            const seq = Array.from({ length: 8 }, (_, c) =>
              Array.from({ length: L }, (_, i) => xv[at(n, c, ...pos(i))]!),
            );
            const ref = bruteForce(a, seq, kind);
            for (let c = 0; c < 8; c++)
              for (let i = 0; i < L; i++)
                maxErr = Math.max(maxErr, Math.abs(ref[c]![i]! - yv[at(n, c, ...pos(i))]!));
          }
        assert.ok(maxErr < 1e-4, `max error ${maxErr}`);
        a.dispose();
      });
    });

test('axial attention rejects a sequence longer than its table, naming the fix', () => {
  const a = new AxialAttention({
    channels: 4,
    heads: 2,
    maxLength: 4,
    kind: 'gated',
    axis: 'width',
    stride: 1,
  });
  assert.throws(() => scope(() => a.forward(randn([1, 4, 2, 5]))), /width 5 .* exceeds the 4.*imageSize/);
  a.dispose();
});

test('stride 2 pools in ceil mode (odd sizes match a stride-2 1x1 conv)', () => {
  const a = new AxialAttention({
    channels: 4,
    heads: 2,
    maxLength: 7,
    kind: 'plain',
    axis: 'width',
    stride: 2,
  });
  scope(() => assert.deepEqual(a.forward(randn([2, 4, 5, 7])).shape, [2, 4, 3, 4]));
  a.dispose();
});

test('gates start at the official values and can be frozen', () => {
  const a = new AxialAttention({
    channels: 4,
    heads: 2,
    maxLength: 4,
    kind: 'gated',
    axis: 'height',
    stride: 1,
  });
  const g = a.gates!;
  assert.deepEqual(
    [g.f_qr, g.f_kr, g.f_sve, g.f_sv].map((t) => Number(t.item().toFixed(6))),
    [0.1, 0.1, 0.1, 1],
  );
  a.setGatesTrainable(false);
  assert.ok(Object.values(g).every((t) => !t.requiresGrad));
  a.setGatesTrainable(true);
  assert.ok(Object.values(g).every((t) => t.requiresGrad));
  a.dispose();
});
