import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  Adam,
  full,
  manualSeed,
  noGrad,
  randn,
  scope,
  setNumThreads,
  tensor,
  zeros,
} from '../../src/engine/index.ts';
import { createMethod } from '../../src/methods/registry.ts';
import {
  aggregateDecoders,
  dcAndCe,
  Difficulty,
  gaussianSmoothing,
  genericSslOptionsSchema,
  genericSslParts,
  muAt,
} from '../../src/methods/generic-ssl.ts';
import { ConfigError } from '../../src/errors.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { runTraining } from '../../src/train/run.ts';
import { readLog, tempDir, tinyCohort, tinyConfig, trainEntries } from '../train/helpers.ts';
import { fixedBatch, segmentationNetContext, standInContext } from './stand-in.ts';

setNumThreads(1);

const ctx = (iteration: number, maxIterations = 100) => ({
  iteration,
  maxIterations,
  epoch: 0,
  stage: 1 as const,
});

test('DC_and_CE: a confident right answer gives CE ~ 0 and Dice ~ -1 (- mean foreground weight)', () => {
  const cls = tensor([0, 1, 2, 2], [1, 2, 2], { dtype: 'int64' });
  const logits = zeros([1, 3, 2, 2]).add(tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1], [1, 3, 2, 2]).mul(40));
  const plain = dcAndCe(logits, cls);
  assert.ok(plain.ce.item() < 1e-6);
  assert.ok(Math.abs(plain.dice.item() + 1) < 1e-6);
  const weighted = dcAndCe(logits, cls, tensor([5, 2, 4], [3]));
  assert.ok(Math.abs(weighted.dice.item() + 3) < 1e-5, 'background weight unused by the Dice');
  // uniform logits: CE = log 3; Dice of class c = (2 tp + 1) / (2 tp + fp + fn + 1) on p = 1/3
  const u = dcAndCe(zeros([1, 3, 2, 2]), cls, null, 1);
  assert.ok(Math.abs(u.ce.item() - Math.log(3)) < 1e-6);
  const dc1 = (2 / 3 + 1) / (2 / 3 + 1 + 2 / 3 + 1);
  const dc2 = (4 / 3 + 1) / (4 / 3 + 2 / 3 + 2 * (2 / 3) + 1);
  assert.ok(Math.abs(u.dice.item() + (dc1 + dc2) / 2) < 1e-6);
});

test('Difficulty: the running weights follow the float64 formula of train_diffusion_2d.py over updates', () => {
  const K = 3;
  const d = new Difficulty(K, 4, 0.2, 1e-8);
  const cls = tensor([0, 1, 2, 2, 1, 0], [1, 2, 3], { dtype: 'int64' });
  const preds = [
    [0, 0, 2, 1, 1, 0],
    [0, 1, 2, 2, 0, 0],
    [1, 1, 2, 2, 1, 0],
  ];
  const m = 3 / 4;
  let last = [1e-8, 1e-8, 1e-8];
  const learn = [0, 0, 0];
  const unlearn = [0, 0, 0];
  const dw = [1, 1, 1];
  const labels = cls.toArray();
  for (const p of preds) {
    const logits = tensor(Array.from({ length: K }, (_, c) => p.map((v) => (v === c ? 5 : 0))).flat(), [
      1,
      K,
      2,
      3,
    ]);
    const got = d.update(logits, cls).toArray();
    const dice = [0, 1, 2].map((c) => {
      let tp = 0;
      let fp = 0;
      let fn = 0;
      p.forEach((v, i) => {
        const x = v === c ? 1 : 0;
        const y = labels[i] === c ? 1 : 0;
        tp += x * y;
        fp += x * (1 - y);
        fn += (1 - x) * y;
      });
      return (2 * tp + 1e-8) / (2 * tp + fp + fn + 1e-8 + 1e-8);
    });
    const want = dice.map((dc, c) => {
      const delta = dc - last[c]!;
      const lr = Math.log(dc / last[c]!);
      learn[c] = m * learn[c]! + (1 - m) * (delta > 0 ? delta * lr : 0);
      unlearn[c] = m * unlearn[c]! + (1 - m) * (delta <= 0 ? delta * lr : 0);
      dw[c] = m * dw[c]! + (1 - m) * (1 - dc);
      return ((unlearn[c]! + 1e-8) / (learn[c]! + 1e-8)) ** 0.2 * dw[c]! * K;
    });
    last = dice;
    got.forEach((g, c) =>
      assert.ok(Math.abs(g - want[c]!) < 1e-4 * Math.max(1, want[c]!), `${g} vs ${want[c]}`),
    );
  }
  assert.deepEqual([...d.stateDict().keys()].sort(), [
    'cls_learn',
    'cls_unlearn',
    'dice_weight',
    'last_dice',
  ]);
});

test('Gaussian smoothing: normalized 3x3 kernel, sigma 1, zero padding', () => {
  const x = zeros([1, 2, 5, 5]);
  noGrad(() => x.narrow(2, 2, 1).narrow(3, 2, 1).fill_(1));
  const y = gaussianSmoothing(x, 3, 1).toArray();
  const g = [Math.exp(-0.5), 1, Math.exp(-0.5)];
  const s = g.reduce((a, b) => a + b) ** 2;
  assert.ok(Math.abs(y[12]! - 1 / s) < 1e-6, 'centre');
  assert.ok(Math.abs(y[6]! - Math.exp(-1) / s) < 1e-6, 'corner');
  assert.ok(Math.abs(y.slice(0, 25).reduce((a, b) => a + b) - 1) < 1e-6, 'mass kept away from the border');
  const c = gaussianSmoothing(full([1, 1, 4, 4], 2), 3, 1).toArray();
  assert.ok(Math.abs(c[5]! - 2) < 1e-6, 'a constant stays constant inside');
});

test('aggregation: D_theta <- w D_theta + (1 - w)(D_xi + D_psi) / 2 on the shared keys', () => {
  manualSeed(3);
  const o = genericSslOptionsSchema.parse({});
  const parts = genericSslParts(segmentationNetContext(), o);
  const before = new Map([...parts.model.pw_head.namedParameters()].map(([n, p]) => [n, p.clone().keep()]));
  const xi = new Map(parts.xi.namedParameters());
  const psi = new Map(parts.psi.namedParameters());
  aggregateDecoders(parts, 0.9);
  const names = [...parts.model.pw_head.namedParameters()].map(([n]) => n);
  assert.deepEqual(names.sort(), ['0.bias', '0.weight', '2.bias', '2.weight']);
  for (const [n, p] of parts.model.pw_head.namedParameters()) {
    const want = before
      .get(n)!
      .mul(0.9)
      .add(xi.get(n)!.add(psi.get(n)!).mul(0.05));
    assert.ok(p.sub(want).abs().max().item() < 1e-6, n);
  }
});

test('mu: 2 * sigmoid_rampup over the run, or over rampupIterations, or constant', () => {
  const o = genericSslOptionsSchema.parse({});
  assert.equal(o.mu, 2);
  assert.ok(Math.abs(muAt(o, ctx(0)) - 2 * Math.exp(-5)) < 1e-12);
  assert.ok(Math.abs(muAt(o, ctx(50)) - 2 * Math.exp(-5 * 0.25)) < 1e-12);
  assert.equal(muAt(o, ctx(100)), 2);
  assert.equal(muAt(genericSslOptionsSchema.parse({ rampupIterations: 10 }), ctx(20)), 2);
  assert.equal(muAt(genericSslOptionsSchema.parse({ muRampup: false }), ctx(0)), 2);
});

test('the registry validates its options by name; it needs a network with f_PW', () => {
  assert.throws(
    () => createMethod('generic-ssl', segmentationNetContext(), { samplingSteps: 20, timesteps: 10 }),
    /method\.options\.samplingSteps/,
  );
  assert.throws(
    () => createMethod('generic-ssl', segmentationNetContext(), { smoothingKernel: 4 }),
    /method\.options\.smoothingKernel/,
  );
  assert.throws(() => createMethod('generic-ssl', standInContext()), ConfigError);
});

test('the labelled and unlabelled parts both count: unsup is 0 without unlabelled slices; the total falls', () => {
  manualSeed(4);
  const method = createMethod('generic-ssl', segmentationNetContext(), { muRampup: false, samplingSteps: 3 });
  const only = scope(() => {
    manualSeed(9);
    const t = method.step(fixedBatch(2, 0), ctx(5));
    return [t.unsup!.item(), t.total.item(), t.deno!.item() + t.diff!.item()];
  });
  assert.equal(only[0], 0);
  assert.ok(Math.abs(only[1]! - only[2]!) < 1e-6);

  const batch = fixedBatch(2, 2);
  const opt = new Adam(
    Object.values(method.modules).flatMap((m) => m.parameters()),
    { lr: 0.01 },
  );
  const h: Record<string, number>[] = [];
  for (let i = 0; i < 12; i++)
    scope(() => {
      manualSeed(7); // the same draws every step: a fixed objective
      opt.zeroGrad();
      const t = method.step(batch, ctx(i, 12));
      t.total.backward();
      opt.step();
      h.push(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.item()])));
    });
  assert.ok(h[0]!.unsup! !== 0, 'pseudo labels of the unlabelled slices are learnt');
  // unsup chases pseudo labels that move as D_xi and D_psi learn; the supervised terms and the total fall
  for (const k of ['deno', 'diff', 'total'])
    assert.ok(h.at(-1)![k]! < h[0]![k]!, `${k}: ${h[0]![k]} -> ${h.at(-1)![k]}`);
});

test('a trained GenericSSL model file loads as a plain segmentation network and segments', async () => {
  const root = tempDir('generic-ssl');
  const data = await tinyCohort(root);
  const out = join(root, 'run');
  const input = tinyConfig(data, {
    method: { name: 'generic-ssl', options: { samplingSteps: 2 } },
    schedule: { maxIterations: 5 },
  });
  await runTraining(input, { out });
  assert.deepEqual(Object.keys(trainEntries(readLog(out)).at(-1)!.losses).sort(), [
    'deno',
    'diff',
    'total',
    'unsup',
  ]);
  const model = loadModel(out);
  assert.equal(model.decoding, 'softmax');
  const labels = noGrad(() => model.decode(model.model.forward(randn([1, 3, 32, 32])).logits));
  assert.deepEqual(labels.shape, [1, 32, 32]);
  assert.ok(labels.toArray().every((v) => v >= 0 && v <= 6));
});
