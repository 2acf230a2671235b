import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, manualSeed, noGrad, randn, scope, setNumThreads } from '../../src/engine/index.ts';
import { MedT, MedTConfigSchema } from '../../src/models/medt/index.ts';
import { gradientProblems, SMALL_MEDT, smallModel } from './helpers.ts';

// test files run two at a time on two cores
setNumThreads(1);

test('default MedT has the official network structure: its parameter count minus the unused layers', () => {
  // official MedT(img_size=128, imgchan=3, num_classes=2): 1,560,140 parameters (FACTS.md), of which
  // 35,536 in the never-called 1x1 `conv1` of each local block, 34 in the unused `adjust_p`, and 34
  // in `adjust` (our heads replace it); at 256 the relative tables add 4,096.
  for (const [size, official] of [
    [128, 1_560_140],
    [256, 1_564_236],
  ] as const) {
    const m = new MedT(3, [size, size], MedTConfigSchema.parse({}));
    assert.equal(m.parameterCount(), official - 35_536 - 34 - 34, `at ${size}`);
    m.dispose();
  }
});

test('MedT global tables follow H and W separately; local patches default to a 4 x 4 grid', () => {
  const m = new MedT(3, [288, 240], MedTConfigSchema.parse({}));
  const keys = new Map(m.namedParameters());
  assert.deepEqual(keys.get('layer1.0.hight_block.relative')!.shape, [4, 2 * 144 - 1]);
  assert.deepEqual(keys.get('layer1.0.width_block.relative')!.shape, [4, 2 * 120 - 1]);
  assert.deepEqual(keys.get('layer2.1.width_block.relative')!.shape, [8, 2 * 60 - 1]);
  assert.deepEqual(m.patchSize, [72, 60]);
  assert.ok(
    !keys.has('layer1_p.0.hight_block.relative'),
    'the official local branch has no positional terms',
  );
  assert.equal(m.gateParameters().length, 3 * 2 * 4);
  m.dispose();
});

test('MedT output shapes for square, non-square and non-multiple-of-patch inputs', () => {
  manualSeed(1);
  for (const [built, inputs] of [
    [
      [32, 48],
      [
        [32, 48],
        [31, 45],
      ],
    ],
    [[64, 64], [[64, 64]]],
  ] as [[number, number], [number, number][]][]) {
    const model = smallModel('medt', built);
    model.eval();
    for (const [h, w] of inputs)
      scope(() => {
        const out = noGrad(() => model.forward(randn([1, 2, h, w])));
        assert.deepEqual(out.logits.shape, [1, 3, h, w]);
        assert.deepEqual(out.features.shape, [1, 8, h, w]);
        assert.deepEqual(out.levelSet!.shape, [1, 3, h, w]);
      });
    model.dispose();
  }
});

test('MedT refuses inputs larger than it was built for, and patches too small for its depth', () => {
  const model = smallModel('medt', [32, 32]);
  assert.throws(() => scope(() => model.forward(randn([1, 2, 32, 48]))), /exceeds the 16 .*imageSize/);
  model.dispose();
  assert.throws(
    () => smallModel('medt', [32, 32], { medt: { ...SMALL_MEDT, patchSize: [8, 8] } }),
    /medt\.patchSize/,
  );
});

test('the batched local branch equals running the patches one at a time (eval mode)', () => {
  manualSeed(2);
  const model = smallModel('medt', [32, 48]);
  const medt = model.backbone as MedT;
  model.eval();
  noGrad(() =>
    scope(() => {
      const x = randn([1, 2, 32, 48]);
      const batched = medt.forward(x);
      // the official loop: each 16 x 16 patch through the local branch alone, pasted into place
      const rows = [0, 1].map((i) =>
        cat(
          [0, 1, 2].map((j) => medt.local.forward(x.narrow(2, 16 * i, 16).narrow(3, 16 * j, 16))),
          3,
        ),
      );
      const looped = medt.decoderf.forward(medt.global.forward(x).add(cat(rows, 2))).relu();
      const err = batched.sub(looped).abs().max().item();
      assert.ok(err < 1e-5, `max difference ${err}`);
    }),
  );
  model.dispose();
});

test('every MedT parameter gets a finite non-zero gradient; frozen gates get none', () => {
  manualSeed(3);
  const model = smallModel('medt', [32, 32]);
  const step = () =>
    scope(() => {
      for (const p of model.parameters()) p.grad = null;
      const out = model.forward(randn([2, 2, 32, 32]));
      const w = randn(out.logits.shape);
      out.logits.mul(w).sum().add(out.levelSet!.mul(w).sum()).backward();
    });
  step();
  assert.deepEqual(gradientProblems(model), []);
  model.setGatesTrainable(false);
  step();
  const gates = new Set((model.backbone as MedT).gateParameters());
  const gateNames = [...model.namedParameters()].filter(([, p]) => gates.has(p)).map(([n]) => n);
  assert.equal(gateNames.length, 24);
  assert.ok(gateNames.every((n) => /\.f_(qr|kr|sv|sve)$/.test(n)));
  for (const g of gates) assert.equal(g.grad, null);
  assert.deepEqual(
    gradientProblems(model, (n) => gateNames.includes(n)),
    [],
  );
  model.dispose();
});

test('gatesFrozen in the config starts MedT with frozen gates', () => {
  const model = smallModel('medt', [32, 32], { medt: { ...SMALL_MEDT, gatesFrozen: true } });
  assert.ok((model.backbone as MedT).gateParameters().every((g) => !g.requiresGrad));
  model.dispose();
});
