/**
 * Parity with PyTorch: bench/reference/ holds the same networks written in PyTorch; they load the
 * weights we save (safetensors) and must give the same outputs and parameter gradients on the same
 * input, in eval mode (running statistics) and in training mode (batch statistics). For MedT the
 * reference also runs the official one-patch-at-a-time local branch, which must agree in eval mode.
 * Runs wherever /usr/bin/python3 has torch (Debian's python3-torch); under CI its absence is a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadSafetensors,
  manualSeed,
  noGrad,
  randn,
  saveSafetensors,
  scope,
  setNumThreads,
  type Tensor,
} from '../../src/engine/index.ts';
import { buildModel, type ModelConfigInput } from '../../src/models/registry.ts';
import { needPythonTorch, PYTHON } from '../helpers/python-torch.ts';

setNumThreads(1);

const RUN = fileURLToPath(new URL('../../bench/reference/run.py', import.meta.url));

const CASES: { name: string; config: ModelConfigInput; input: [number, number] }[] = [
  {
    name: 'MedT (official kinds: gated global, plain local), odd input padded to the patch grid',
    config: {
      backbone: 'medt',
      imageSize: [32, 48],
      medt: { widthFactor: 0.0625, heads: 2, stemChannels: 16, patchSize: [16, 16] },
    },
    input: [31, 45],
  },
  {
    name: 'MedT (positional global, gated local, 2 local stages)',
    config: {
      backbone: 'medt',
      imageSize: [32, 32],
      medt: {
        widthFactor: 0.0625,
        heads: 2,
        stemChannels: 8,
        patchSize: [16, 16],
        global: { attention: 'positional' },
        local: { attention: 'gated', layers: [1, 2], bottleneck: true },
      },
      heads: { lsHidden: 4 },
    },
    input: [32, 32],
  },
  {
    name: 'U-Net (batch norm, bilinear), odd input',
    config: { backbone: 'unet', imageSize: [33, 47], unet: { baseChannels: 8, depth: 3 } },
    input: [33, 47],
  },
  {
    name: 'U-Net (group norm, transposed convs)',
    config: {
      backbone: 'unet',
      imageSize: [32, 32],
      unet: { baseChannels: 8, depth: 2, norm: 'group', groups: 4, upsample: 'transposed' },
    },
    input: [32, 32],
  },
];

const maxDiff = (a: Tensor, b: Tensor) => a.sub(b).abs().max().item();

interface Prepared {
  dir: string;
  ours: Map<string, Tensor>;
  grads: Map<string, Tensor>;
  medt: boolean;
}

/** Builds the model, saves weights and input, and computes our outputs and gradients. */
function prepare(root: string, c: (typeof CASES)[number], i: number): Prepared {
  const dir = join(root, String(i));
  mkdirSync(dir);
  manualSeed(21 + i);
  const model = buildModel({ inChannels: 2, outChannels: 3, ...c.config });
  const [h, w] = c.input;
  const ours = new Map<string, Tensor>();
  scope(() => {
    // two training passes move the running statistics away from (0, 1)
    noGrad(() => [0, 1].forEach(() => model.forward(randn([2, 2, h, w]).mul(2).add(0.5))));
    saveSafetensors(join(dir, 'weights.safetensors'), model.stateDict(), {
      config: JSON.stringify(model.config),
    });
    const x = randn([2, 2, h, w]);
    const wt = randn([2, 3, h, w]);
    saveSafetensors(join(dir, 'input.safetensors'), { x, w: wt });
    model.eval();
    const e = noGrad(() => model.forward(x));
    ours.set('eval.logits', e.logits.keep()).set('eval.level_set', e.levelSet!.keep());
    ours.set('eval.features', e.features.keep());
    model.train();
    const y = model.forward(x);
    y.logits.mul(wt).sum().add(y.levelSet!.mul(wt).sum()).backward();
    ours.set('train.logits', y.logits.detach().keep()).set('train.level_set', y.levelSet!.detach().keep());
  });
  const grads = new Map([...model.namedParameters()].map(([n, p]) => [n, p.grad!.keep()] as const));
  model.dispose();
  return { dir, ours, grads, medt: c.config.backbone === 'medt' };
}

test('parity with PyTorch: outputs and gradients of the reference networks on our weights', async (t) => {
  if (!needPythonTorch(t, 'the parity check')) return;
  const root = mkdtempSync(join(tmpdir(), 'kneeseg-parity-'));
  try {
    const prepared = CASES.map((c, i) => prepare(root, c, i));
    // one Python process for all cases: importing torch is the slow part
    const r = spawnSync(PYTHON, [RUN, 'parity', ...prepared.map((p) => p.dir), '--threads', '1'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    for (const [i, c] of CASES.entries())
      await t.test(c.name, () => {
        const p = prepared[i]!;
        const ref = loadSafetensors(join(p.dir, 'out.safetensors')).tensors;
        scope(() => {
          for (const [k, v] of p.ours)
            assert.ok(maxDiff(v, ref.get(k)!) < 1e-4, `${k}: max difference ${maxDiff(v, ref.get(k)!)}`);
          if (p.medt)
            for (const k of ['logits', 'level_set', 'features'])
              assert.ok(
                maxDiff(p.ours.get(`eval.${k}`)!, ref.get(`loop.eval.${k}`)!) < 1e-4,
                `official loop: ${k}`,
              );
          for (const [name, g] of p.grads) {
            const pg = ref.get(`grad.${name}`);
            assert.ok(pg, `PyTorch has no gradient for ${name}`);
            const scale = Math.max(1, pg.abs().max().item());
            assert.ok(
              maxDiff(g, pg) < 1e-4 * scale,
              `grad.${name}: max difference ${maxDiff(g, pg)} (scale ${scale})`,
            );
          }
          assert.ok(p.grads.size > 20);
        });
        for (const v of [...ref.values(), ...p.ours.values(), ...p.grads.values()]) v.dispose();
      });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
