/**
 * configs/paper.json is the paper's method: with its `tree` section every hierarchical method's loss
 * terms are exactly the paper's equations, assembled here from the loss functions themselves
 * (stage 1: cond + cp; stage 2: cp + up = L_CTU; + beta(t) L_LS + alpha L_C with DTC's SDF targets).
 * The defaults add the Dice term and reduce the conditional BCE per node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { manualSeed, noGrad, setNumThreads } from '../../src/engine/index.ts';
import { conditionalBceLoss } from '../../src/hierarchy/conditional-loss.ts';
import { cpLoss } from '../../src/hierarchy/cp-loss.ts';
import { stateDiceLoss } from '../../src/hierarchy/state-dice.ts';
import { unconditionalProbability } from '../../src/hierarchy/marginals.ts';
import { labelsToObservations, nodeTargets } from '../../src/hierarchy/targets.ts';
import { upLoss } from '../../src/hierarchy/up-loss.ts';
import { consistencyLoss, levelSetLoss } from '../../src/levelset/losses.ts';
import { sshcpsBeta } from '../../src/levelset/schedule.ts';
import { DEFAULT_TRANSFORM_K } from '../../src/levelset/transform.ts';
import { sdfFromMasks } from '../../src/levelset/sdf-targets.ts';
import { createMethod } from '../../src/methods/registry.ts';
import type { StepContext } from '../../src/methods/method.ts';
import { PAPER_TREE_OPTIONS, TreeOptionsSchema, type TreeOptions } from '../../src/methods/tree-options.ts';
import { parseConfig, readConfigFile } from '../../src/train/config.ts';
import { fixedBatch, standInContext } from './stand-in.ts';

setNumThreads(1);

const paper = parseConfig(
  readConfigFile(fileURLToPath(new URL('../../configs/paper.json', import.meta.url))),
);

/** The paper's terms, from the loss functions, for a batch and the network's outputs. */
function expectedTerms(
  method: ReturnType<typeof createMethod>,
  batch: ReturnType<typeof fixedBatch>,
  ctx: StepContext,
  o: TreeOptions,
): Record<string, number> {
  const tree = standInContext().tree;
  const out = method.predictor.forward(batch.image);
  const L = batch.numLabelled;
  const logits = out.logits.narrow(0, 0, L);
  const obs = labelsToObservations(batch.label, tree);
  const t: Record<string, number> = { cp: cpLoss(logits, obs, tree).item() };
  if (ctx.stage === 1) t.cond = conditionalBceLoss(logits, obs, tree, o.condReduction).item();
  else t.up = upLoss(logits, obs, tree).item();
  if (o.diceWeight > 0) t.dice = stateDiceLoss(logits, obs, tree).item();
  const { target, known } = nodeTargets(obs, tree);
  const sdf = sdfFromMasks(target, batch.spacing, o.sdfForm);
  t.ls = levelSetLoss(out.levelSet!.narrow(0, 0, L), sdf, known).item();
  t.consistency = consistencyLoss(
    unconditionalProbability(out.logits, tree),
    out.levelSet!,
    DEFAULT_TRANSFORM_K,
    o.consistencyNodes,
  ).item();
  return t;
}

for (const stage of [1, 2] as const)
  test(`configs/paper.json: sshcps stage ${stage} terms are the paper's equations, no more`, () => {
    assert.deepEqual(paper.tree, PAPER_TREE_OPTIONS);
    const ctx: StepContext = { iteration: 40, maxIterations: 100, epoch: 0, stage };
    manualSeed(21);
    const method = createMethod('sshcps', { ...standInContext(), treeOptions: paper.tree });
    const batch = fixedBatch(2, 2);
    noGrad(() => {
      const got = method.step(batch, ctx);
      const want = expectedTerms(method, batch, ctx, paper.tree);
      assert.deepEqual(Object.keys(got).sort(), [...Object.keys(want), 'total'].sort());
      for (const [k, v] of Object.entries(want)) assert.equal(got[k]!.item(), v, k);
      const pixel = stage === 1 ? want.cp! + want.cond! : want.cp! + want.up!;
      const total = pixel + sshcpsBeta(40, 100) * want.ls! + 1 * want.consistency!;
      assert.ok(Math.abs(got.total.item() - total) < 1e-6, `${got.total.item()} vs ${total}`);
    });
  });

test('the defaults add the weighted state Dice and reduce the conditional BCE per node', () => {
  const o = TreeOptionsSchema.parse({ diceWeight: 0.5 });
  const ctx: StepContext = { iteration: 40, maxIterations: 100, epoch: 0, stage: 1 };
  manualSeed(21);
  const method = createMethod('seg-ls', { ...standInContext(), treeOptions: o });
  const batch = fixedBatch(2, 2);
  noGrad(() => {
    const got = method.step(batch, ctx);
    const want = expectedTerms(method, batch, ctx, o);
    for (const k of ['cp', 'cond', 'dice', 'ls']) assert.equal(got[k]!.item(), want[k], k);
    const total = want.cp! + want.cond! + 0.5 * want.dice! + sshcpsBeta(40, 100) * want.ls!;
    assert.ok(Math.abs(got.total.item() - total) < 1e-6);
    // and the per-node BCE is not the per-entry one on this batch
    const entries = expectedTerms(method, batch, ctx, { ...o, condReduction: 'entries' }).cond!;
    assert.ok(Math.abs(entries - want.cond!) > 1e-3);
  });
});

test("L_C: the defaults average the nodes' squared gaps, the paper (Eq. 14) sums them", () => {
  const ctx: StepContext = { iteration: 40, maxIterations: 100, epoch: 0, stage: 2 };
  const batch = fixedBatch(2, 2);
  const lc = (o: TreeOptions) => {
    manualSeed(21);
    const method = createMethod('sshcps', { ...standInContext(), treeOptions: o });
    return noGrad(() => method.step(batch, ctx).consistency!.item());
  };
  const mean = lc(TreeOptionsSchema.parse({}));
  const sum = lc(TreeOptionsSchema.parse({ consistencyNodes: 'sum' }));
  assert.ok(mean > 0);
  assert.ok(Math.abs(sum - standInContext().tree.size * mean) < 1e-6 * sum, `${sum} vs ${mean}`);
});
