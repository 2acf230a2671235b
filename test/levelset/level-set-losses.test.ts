import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.ts';
import { levelSetToProbability } from '../../src/levelset/transform.ts';
import { consistencyLoss, levelSetLoss } from '../../src/levelset/losses.ts';
import { levelSetWeights, sigmoidRampup, sshcpsBeta } from '../../src/levelset/schedule.ts';
import { sdfFromMasks } from '../../src/levelset/sdf-targets.ts';
import { normalizedSdf2d } from '../../src/levelset/sdf.ts';

test('S^-1 maps the inside (negative SDF) to 1, the outside to 0, the boundary to 1/2', () => {
  const p = levelSetToProbability(tensor([-0.1, 0, 0.1, -0.001], [4], { dtype: 'float64' })).toArray();
  assert.ok(p[0]! > 0.999999 && p[2]! < 1e-6);
  assert.equal(p[1], 0.5);
  assert.ok(Math.abs(p[3]! - 1 / (1 + Math.exp(-1.5))) < 1e-12);
  assert.ok(
    Math.abs(
      levelSetToProbability(tensor([-0.001], [1], { dtype: 'float64' }), 100).item() -
        1 / (1 + Math.exp(-0.1)),
    ) < 1e-12,
  );
});

test('L_LS is the MSE on the weighted entries; L_C the mean squared gap to S^-1(f_LS)', () => {
  const f = tensor([0.5, -0.5, 0.2, 0], [1, 1, 2, 2], { dtype: 'float64' });
  const g = tensor([0, 0, 0, 1], [1, 1, 2, 2], { dtype: 'float64' });
  assert.ok(Math.abs(levelSetLoss(f, g).item() - (0.25 + 0.25 + 0.04 + 1) / 4) < 1e-12);
  const w = tensor([1, 1, 0, 0], [1, 1, 2, 2], { dtype: 'float64' });
  assert.ok(Math.abs(levelSetLoss(f, g, w).item() - 0.25) < 1e-12);
  const p = tensor([0, 1, 0, 0.5], [1, 1, 2, 2], { dtype: 'float64' });
  // S^-1(f) = [~0, ~1, ~0, 0.5] -> gap 0
  assert.ok(consistencyLoss(p, f).item() < 1e-12);
  const q = tensor([1, 1, 1, 1], [1, 1, 2, 2], { dtype: 'float64' });
  assert.ok(Math.abs(consistencyLoss(q, f).item() - (1 + 0 + 1 + 0.25) / 4) < 1e-9);
});

test("L_C over several nodes: Eq. 14's squared norm sums the nodes, 'mean' averages them", () => {
  // brute force in float64: sum over nodes k of the mean over (n, h, w) of (p - sigmoid(-kk f))^2
  const [N, K, H, W] = [2, 3, 2, 3];
  const count = N * K * H * W;
  const pv = Array.from({ length: count }, (_, i) => (Math.sin(i * 1.7) + 1) / 2);
  const fv = Array.from({ length: count }, (_, i) => Math.cos(i * 2.3) * 0.01);
  const kk = 300;
  const perNode = new Array<number>(K).fill(0);
  for (let i = 0; i < count; i++) {
    const node = Math.floor(i / (H * W)) % K;
    perNode[node]! += (pv[i]! - 1 / (1 + Math.exp(kk * fv[i]!))) ** 2 / (N * H * W);
  }
  const sum = perNode.reduce((a, b) => a + b, 0);
  const p = tensor(pv, [N, K, H, W], { dtype: 'float64' });
  const f = tensor(fv, [N, K, H, W], { dtype: 'float64' });
  assert.ok(Math.abs(consistencyLoss(p, f, kk, 'sum').item() - sum) < 1e-12);
  assert.ok(Math.abs(consistencyLoss(p, f, kk, 'mean').item() - sum / K) < 1e-12);
  assert.ok(Math.abs(consistencyLoss(p, f, kk).item() - sum / K) < 1e-12, 'the default is the mean');
});

test('beta(t) of Eq. 18 and the DTC convention', () => {
  assert.ok(Math.abs(sshcpsBeta(0, 100) - 0.1 * Math.exp(-5)) < 1e-15);
  assert.ok(Math.abs(sshcpsBeta(50, 100) - 0.1 * Math.exp(-1.25)) < 1e-15);
  assert.equal(sshcpsBeta(100, 100), 0.1);
  assert.equal(sshcpsBeta(200, 100), 0.1);
  assert.equal(sigmoidRampup(3, 0), 1);
  assert.deepEqual(levelSetWeights({ convention: 'sshcps', alpha: 1, betaScale: 0.1 }, 100, 100), {
    levelSet: 0.1,
    consistency: 1,
  });
  const dtc = {
    convention: 'dtc',
    levelSetWeight: 0.3,
    consistencyWeight: 1,
    rampupEpochs: 40,
    iterationsPerEpoch: 150,
  } as const;
  assert.equal(levelSetWeights(dtc, 0, 6000).levelSet, 0.3);
  assert.ok(Math.abs(levelSetWeights(dtc, 150 * 20 + 149, 6000).consistency - Math.exp(-5 * 0.25)) < 1e-15);
  assert.equal(levelSetWeights(dtc, 150 * 40, 6000).consistency, 1);
});

test('SDF targets from tensors follow sdf.ts with the [row, col] spacing of a batch', () => {
  const [H, W] = [5, 7];
  const mask = new Uint8Array(H * W);
  for (let y = 1; y < 4; y++) for (let x = 2; x < 6; x++) mask[x + W * y] = 1;
  const masks = tensor(Array.from(mask).concat(new Array(H * W).fill(0)), [1, 2, H, W]);
  const got = sdfFromMasks(masks, [0.5, 2]).toArray();
  const ref = normalizedSdf2d(mask, W, H, [2, 0.5]);
  ref.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-6));
  assert.ok(
    got.slice(H * W).every((v) => v === 0),
    'empty mask gives zeros',
  );
  // the spacing matters: swapping it changes the map
  const swapped = sdfFromMasks(masks, [2, 0.5]).toArray();
  assert.ok(swapped.some((v, i) => Math.abs(v - got[i]!) > 1e-3));
});
