import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, setNumThreads, tensor } from '../../src/engine/index.ts';
import { levelSetTargets } from '../../src/levelset/target-spec.ts';
import { createMethod } from '../../src/methods/registry.ts';
import type { StepContext } from '../../src/methods/method.ts';
import { TreeOptionsSchema } from '../../src/methods/tree-options.ts';
import { fixedBatch, standInContext } from './stand-in.ts';

setNumThreads(1);

const ctx: StepContext = { iteration: 50, maxIterations: 100, epoch: 0, stage: 1 };

/** The stand-in context with the `tree` configuration's SDF form set. */
const withSdfForm = (sdfForm: 'dtc' | 'thin') => ({
  ...standInContext(),
  treeOptions: TreeOptionsSchema.parse({ sdfForm }),
});

test('level-set methods declare their targets; the others do not', () => {
  const tree = standInContext().tree;
  for (const name of ['sshcps', 'seg-ls'])
    assert.equal(createMethod(name, standInContext(), {}).levelSetTargets?.channels.length, tree.size);
  for (const form of ['thin', 'dtc'] as const)
    assert.equal(createMethod('sshcps', withSdfForm(form), {}).levelSetTargets?.form, form);
  assert.equal(
    createMethod('dtc', standInContext(), {}).levelSetTargets?.channels.length,
    tree.leaves.length + 1,
  );
  for (const name of ['seg-th', 'hcps', 'supervised'])
    assert.equal(createMethod(name, standInContext(), {}).levelSetTargets, undefined);
});

for (const [name, options, form] of [
  ['sshcps', {}, 'dtc'],
  ['sshcps', {}, 'thin'],
  ['seg-ls', {}, 'thin'],
  ['dtc', { consistencyRampup: 0 }, 'dtc'],
] as const)
  test(`${name} ${JSON.stringify(options)} (${form} targets): a step with the batch's SDF targets gives the same loss terms as computing them`, () => {
    manualSeed(3);
    const method = createMethod(name, withSdfForm(form), options);
    const batch = fixedBatch(2, 2);
    const [L, H, W] = batch.label.shape as [number, number, number];
    const spec = method.levelSetTargets!;
    const sdf = levelSetTargets(batch.label.to('uint8').data() as Uint8Array, [L, H, W], spec, batch.spacing);
    const run = (targets: Float32Array | null) =>
      noGrad(() => {
        manualSeed(9);
        const b = targets ? { ...batch, sdf: tensor(targets, [L, spec.channels.length, H, W]) } : batch;
        return Object.fromEntries(Object.entries(method.step(b, ctx)).map(([k, v]) => [k, v.item()]));
      });
    const computed = run(null);
    assert.ok('ls' in computed);
    assert.deepEqual(run(sdf), computed);
    // the batch's targets are the ones used
    assert.notEqual(run(new Float32Array(sdf.length)).ls, computed.ls);
  });
