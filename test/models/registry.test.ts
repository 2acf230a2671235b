import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadSafetensors,
  manualSeed,
  noGrad,
  randn,
  saveSafetensors,
  scope,
  setNumThreads,
} from '../../src/engine/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { buildModel, ModelConfigSchema } from '../../src/models/registry.ts';
import { summarizeModel } from '../../src/models/summary.ts';
import { smallModel } from './helpers.ts';

// test files run two at a time on two cores
setNumThreads(1);

test('a model is backbone + heads with PyTorch-style keys; the level-set head is optional', () => {
  const m = smallModel('unet', [32, 32]);
  const prefixes = new Set([...m.stateDict().keys()].map((k) => k.split('.')[0]));
  assert.deepEqual([...prefixes].sort(), ['backbone', 'ls_head', 'pw_head']);
  const p = new Map(m.namedParameters());
  assert.deepEqual(p.get('pw_head.0.weight')!.shape, [8, 8, 1, 1]);
  assert.deepEqual(p.get('pw_head.2.weight')!.shape, [3, 8, 1, 1]);
  assert.deepEqual(p.get('ls_head.0.weight')!.shape, [3, 8, 1, 1]);
  assert.equal(m.featureChannels, 8);
  assert.equal(m.outChannels, 3);
  m.dispose();
  const noLs = smallModel('medt', [32, 32], { levelSet: false });
  assert.ok(![...noLs.stateDict().keys()].some((k) => k.startsWith('ls_head')));
  scope(() => assert.equal(noGrad(() => noLs.forward(randn([1, 2, 32, 32]))).levelSet, undefined));
  noLs.dispose();
});

test('the level-set head is a tanh: outputs inside (-1, 1)', () => {
  const m = smallModel('unet', [32, 32], { heads: { lsHidden: 4 } });
  scope(() => {
    const ls = noGrad(() => m.forward(randn([2, 2, 32, 32]).mul(50)).levelSet!);
    assert.ok(ls.abs().max().item() < 1);
  });
  assert.ok(new Map(m.namedParameters()).has('ls_head.2.weight'));
  m.dispose();
});

test('config: defaults are the paper setting; bad values name their key', () => {
  const c = ModelConfigSchema.parse({});
  assert.equal(c.backbone, 'medt');
  assert.deepEqual(c.imageSize, [288, 240]);
  assert.equal(c.outChannels, 9);
  assert.equal(c.medt.widthFactor, 0.125);
  assert.deepEqual(c.medt.local.layers, [1, 2, 4, 1]);
  assert.deepEqual(c.medt.global.layers, [1, 2]);
  assert.throws(
    () => buildModel({ backbone: 'resnet' }),
    (e: unknown) => e instanceof ConfigError && /backbone/.test(e.message),
  );
  assert.throws(() => buildModel({ medt: { heads: 0 } }), /medt\.heads/);
  assert.throws(() => buildModel({ unet: { norm: 'layer' } }), /unet\.norm/);
  assert.throws(() => buildModel({ imageSize: [288] }), /imageSize/);
  assert.throws(() => buildModel({ medt: { typo: 1 } }), /medt/);
});

for (const backbone of ['medt', 'unet'] as const)
  test(`${backbone}: saving then loading safetensors gives identical outputs`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'kneeseg-model-'));
    try {
      manualSeed(4);
      const a = smallModel(backbone, [32, 32]);
      // move the batch-norm running statistics away from their initial values
      scope(() => void noGrad(() => a.forward(randn([2, 2, 32, 32]))));
      saveSafetensors(join(dir, 'w.safetensors'), a.stateDict());
      manualSeed(5);
      const b = smallModel(backbone, [32, 32]);
      const file = loadSafetensors(join(dir, 'w.safetensors'));
      b.loadStateDict(file.tensors);
      for (const t of file.tensors.values()) t.dispose();
      scope(() => {
        const x = randn([2, 2, 32, 32]);
        for (const mode of ['eval', 'train'] as const) {
          a.train(mode === 'train');
          b.train(mode === 'train');
          const [ya, yb] = noGrad(() => [a.forward(x), b.forward(x)]);
          assert.equal(ya.logits.sub(yb.logits).abs().max().item(), 0, mode);
          assert.equal(ya.levelSet!.sub(yb.levelSet!).abs().max().item(), 0, mode);
        }
      });
      a.dispose();
      b.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

for (const backbone of ['medt', 'unet'] as const)
  test(`${backbone}: train mode uses batch statistics and updates running ones; eval uses and keeps them`, () => {
    manualSeed(6);
    const m = smallModel(backbone, [32, 32]);
    const running = [...m.namedBuffers()].filter(([k]) => k.endsWith('running_mean'));
    assert.ok(running.length > 0);
    scope(() => {
      const x = randn([2, 2, 32, 32]).mul(3).add(1);
      const snapshot = () => running.map(([, t]) => t.clone());
      const changed = (before: ReturnType<typeof snapshot>) =>
        running.filter(([, t], i) => t.sub(before[i]!).abs().max().item() > 0).length;
      m.eval();
      let before = snapshot();
      const e1 = noGrad(() => m.forward(x).logits);
      assert.equal(changed(before), 0, 'eval leaves running statistics alone');
      m.train();
      before = snapshot();
      const t1 = noGrad(() => m.forward(x).logits);
      assert.equal(changed(before), running.length, 'every batch norm updates in training');
      assert.ok(t1.sub(e1).abs().max().item() > 1e-3, 'batch statistics differ from running ones');
      m.eval();
      const e2 = noGrad(() => m.forward(x).logits);
      assert.ok(e2.sub(e1).abs().max().item() > 1e-6, 'the updated running statistics are used in eval');
    });
    m.dispose();
  });

test('summary: parameter count per part adds up; FLOPs are counted and grow with the size', () => {
  const m = buildModel({ backbone: 'unet', imageSize: [64, 64], unet: { baseChannels: 8, depth: 2 } });
  const s64 = summarizeModel(m, [64, 64]);
  const s32 = summarizeModel(m, [32, 32]);
  assert.equal(
    s64.parts.reduce((a, p) => a + p.params, 0),
    m.parameterCount(),
  );
  assert.deepEqual(
    s64.parts.map((p) => p.name),
    ['backbone.encoder', 'backbone.decoder', 'pw_head', 'ls_head'],
  );
  // the first conv alone: 2 * 64 * 64 * 8 * (3 * 3 * 3) FLOPs
  assert.ok(s64.flopsPerSlice > 2 * 64 * 64 * 8 * 27);
  // convolutions scale with the pixel count
  assert.ok(Math.abs(s64.flopsPerSlice / s32.flopsPerSlice - 4) < 1e-9);
  assert.ok(m.training, 'summarizing leaves the mode as it was');
  m.dispose();
});
