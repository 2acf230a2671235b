/**
 * Parity of GenericSSL with PyTorch: bench/reference/generic_ssl.py is the method written in PyTorch
 * after the official 2-D code (on bench/reference's U-Net). It loads our weights, replays the same
 * random draws (diffusion steps, noises, Gumbel noise) on the same batch, and must give the same
 * D_xi / D_psi / D_theta outputs, difficulty weights, DDIM samples, pseudo labels, loss terms, the
 * aggregated D_theta and the gradients of the total, over two steps (the second with the difficulty
 * state the first left). Runs wherever /usr/bin/python3 has torch (Debian's python3-torch); under CI
 * its absence is a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadSafetensors,
  manualSeed,
  randint,
  randn,
  saveSafetensors,
  setNumThreads,
  tensor,
  type Tensor,
} from '../../src/engine/index.ts';
import {
  aggregateDecoders,
  genericSslOptionsSchema,
  genericSslParts,
  genericSslStep,
  gumbelNoise,
  type GenericSslDraws,
  type GenericSslStep,
} from '../../src/methods/generic-ssl.ts';
import { buildModel, type SegmentationNet } from '../../src/models/registry.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';

setNumThreads(1);

const PYTHON = '/usr/bin/python3';
const REFERENCE = fileURLToPath(new URL('../../bench/reference/generic_ssl.py', import.meta.url));

function pythonTorch(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

const maxDiff = (a: Tensor, b: Tensor) => a.float().sub(b.float()).abs().max().item();

test('parity with PyTorch: GenericSSL forward values, losses and gradients on a fixed batch', (t) => {
  if (!pythonTorch()) {
    if (process.env.CI) assert.fail(`${PYTHON} cannot import torch: apt-get install -y python3-torch`);
    t.diagnostic(`${PYTHON} has no torch: parity not checked (install python3-torch)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-generic-ssl-'));
  try {
    manualSeed(11);
    const [L, U, H, W, C] = [2, 2, 16, 16, 2];
    const o = genericSslOptionsSchema.parse({ samplingSteps: 4, difficultyWindow: 3 });
    const parts = genericSslParts(
      {
        tree: defaultKneeTree(),
        buildModel: ({ outChannels, levelSet }) =>
          buildModel({
            backbone: 'unet',
            inChannels: C,
            outChannels,
            levelSet,
            imageSize: [H, W],
            unet: { baseChannels: 4, depth: 2 },
          }),
      },
      o,
    );
    const K = parts.model.outChannels;
    const image = randn([L + U, C, H, W]);
    const cls = randint(0, K, [L, H, W]);
    const draws = (): GenericSslDraws => ({
      t: randint(0, o.timesteps, [L]).toArray().map(Number),
      noise: randn([L, K, H, W]),
      sampleNoise: randn([U, K, H, W]),
      gumbel: gumbelNoise([U, K, H, W]),
    });
    const d = { a: draws(), b: draws() };
    const mu = 1.3;

    const state: Record<string, Tensor> = {};
    for (const [name, m] of Object.entries({ ...parts }))
      for (const [k, v] of m.stateDict()) state[`${name}.${k}`] = v;
    saveSafetensors(join(dir, 'weights.safetensors'), state, {
      config: JSON.stringify((parts.model as SegmentationNet).config),
      options: JSON.stringify(o),
    });
    const inputs: Record<string, Tensor> = { image, cls };
    for (const [s, x] of Object.entries(d)) {
      inputs[`${s}.t`] = tensor(x.t, [L], { dtype: 'int64' });
      inputs[`${s}.noise`] = x.noise;
      inputs[`${s}.sample_noise`] = x.sampleNoise;
      inputs[`${s}.gumbel`] = x.gumbel;
    }
    saveSafetensors(join(dir, 'input.safetensors'), inputs, { mu: String(mu) });

    const ours: Record<string, GenericSslStep> = {};
    for (const s of ['a', 'b'] as const) {
      aggregateDecoders(parts, o.emaWeight);
      ours[s] = genericSslStep(parts, o, image, cls, d[s], mu);
    }
    ours.b!.terms.total.backward();

    const r = spawnSync(PYTHON, [REFERENCE, dir, '--threads', '1'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ref = loadSafetensors(join(dir, 'out.safetensors')).tensors;
    const get = (k: string) => {
      const t = ref.get(k);
      assert.ok(t, `the reference wrote no ${k}`);
      return t;
    };
    let worst = 0;
    const close = (k: string, t: Tensor, tol = 1e-4) => {
      const e = maxDiff(t, get(k));
      worst = Math.max(worst, e);
      assert.ok(e < tol, `${k}: max difference ${e}`);
    };
    for (const [s, x] of Object.entries(ours)) {
      close(`${s}.xi_l`, x.xiLabelled!);
      close(`${s}.psi_l`, x.psiLabelled!);
      close(`${s}.weights`, x.weights!);
      close(`${s}.sampled`, x.sampled!);
      close(`${s}.theta_u`, x.thetaUnlabelled!);
      assert.equal(maxDiff(x.pseudo!, get(`${s}.pseudo`)), 0, `${s}: pseudo labels differ`);
      for (const k of ['deno', 'diff', 'unsup', 'total']) close(`${s}.${k}`, x.terms[k]!);
      // the terms are not degenerate: every part of the batch counts
      for (const k of ['deno', 'diff', 'unsup']) assert.notEqual(x.terms[k]!.item(), 0, k);
    }
    for (const [n, p] of parts.model.pw_head.namedParameters()) close(`agg.${n}`, p);
    let grads = 0;
    for (const [name, m] of Object.entries({ ...parts }))
      for (const [n, p] of m.namedParameters()) {
        const g = get(`grad.${name}.${n}`);
        const scale = Math.max(1, g.abs().max().item());
        const e = maxDiff(p.grad!, g);
        assert.ok(e < 1e-4 * scale, `grad.${name}.${n}: max difference ${e} (scale ${scale})`);
        grads++;
      }
    assert.ok(grads > 20, `${grads} gradients compared`);
    t.diagnostic(`max difference of values and losses: ${worst.toExponential(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
