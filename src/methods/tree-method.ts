/**
 * The hierarchical methods (SSHCPS and its ablations) as one step with switches; each method file
 * fixes the switches (METHOD.md sections 4-6, Eq. 6, 7, 14-18).
 *
 *   stage 1 (conditional):    cond + cp
 *   stage 2 (unconditional):  cp + up                         = L_CTU (Eq. 16)
 *   level set (labelled):     + w_LS(t) * ls                  (beta(t) of Eq. 18, or DTC's 0.3)
 *   consistency (all pixels): + w_C(t) * consistency          (alpha of Eq. 17, or DTC's ramp)
 *   Dice (labelled, both stages): + tree.diceWeight * dice    (not in the paper: tree-options.ts)
 */
import { noGrad, type Tensor } from '../engine/index.ts';
import { conditionalBceLoss } from '../hierarchy/conditional-loss.ts';
import { cpLoss } from '../hierarchy/cp-loss.ts';
import { stateDiceLoss } from '../hierarchy/state-dice.ts';
import { stateScores } from '../hierarchy/states.ts';
import { decodeTree } from '../hierarchy/decode.ts';
import { unconditionalProbability } from '../hierarchy/marginals.ts';
import { labelsToObservations, nodeTargets } from '../hierarchy/targets.ts';
import { upLoss } from '../hierarchy/up-loss.ts';
import { consistencyLoss, levelSetLoss } from '../levelset/losses.ts';
import { levelSetWeights, type LevelSetSchedule } from '../levelset/schedule.ts';
import { sdfFromMasks } from '../levelset/sdf-targets.ts';
import { treeLevelSetTargets } from '../levelset/target-spec.ts';
import type { Batch, LossTerms, Method, MethodContext, StepContext } from './method.ts';
import { splitBatch, weightedTotal } from './common.ts';
import { TreeOptionsSchema } from './tree-options.ts';

export interface TreeMethodSwitches {
  name: string;
  /** conditional stage 1, then unconditional stage 2 (false: stage 1 losses throughout) */
  twoStage: boolean;
  /** level-set head and L_LS on labelled slices */
  levelSet: boolean;
  /** L_C on labelled and unlabelled slices (needs `levelSet`) */
  consistency: boolean;
  schedule: LevelSetSchedule;
  /** k of S^-1(z) = sigmoid(-k z) */
  transformK: number;
  /** how log(1 - p_d) is computed in L_UP */
  upForm: 'lse' | 'log1mexp';
}

export function createTreeMethod(ctx: MethodContext, s: TreeMethodSwitches): Method {
  const { tree } = ctx;
  const opt = ctx.treeOptions ?? TreeOptionsSchema.parse({});
  const model = ctx.buildModel({ outChannels: tree.size, levelSet: s.levelSet });

  /**
   * The pixel-wise terms of the labelled slices for the current stage. The state scores feed L_CP and
   * the Dice term, the node targets the conditional BCE and L_LS: each is computed once per step.
   */
  function pixelTerms(
    logits: Tensor,
    obs: Tensor,
    targets: { target: Tensor; known: Tensor },
    stage: 1 | 2,
  ): Record<string, Tensor> {
    const scores = stateScores(logits, tree);
    const terms: Record<string, Tensor> = { cp: cpLoss(logits, obs, tree, scores) };
    if (s.twoStage && stage === 2) terms.up = upLoss(logits, obs, tree, s.upForm);
    else terms.cond = conditionalBceLoss(logits, obs, tree, opt.condReduction, targets);
    if (opt.diceWeight > 0) terms.dice = stateDiceLoss(logits, obs, tree, scores);
    return terms;
  }
  const targetsOf = (obs: Tensor, dtype: Tensor['dtype']) => noGrad(() => nodeTargets(obs, tree, dtype));

  /** L_CTU (or stage 1's cond + cp) plus the weighted Dice term */
  const pixelTotal = (terms: Record<string, Tensor>): Tensor =>
    weightedTotal(Object.entries(terms).map(([k, t]) => [t, k === 'dice' ? opt.diceWeight : 1]));

  return {
    name: s.name,
    twoStage: s.twoStage,
    // the SDF targets come with the batch (computed in the batch worker), one channel per node
    ...(s.levelSet ? { levelSetTargets: treeLevelSetTargets(tree, opt.sdfForm) } : {}),
    modules: { model },
    predictor: model,
    decoding: 'tree',
    decode: (logits) => decodeTree(logits, tree),

    step(batch: Batch, c: StepContext): LossTerms {
      const out = model.forward(batch.image);
      const L = batch.numLabelled;
      const obs = labelsToObservations(batch.label, tree);
      const logitsL = splitBatch(out.logits, L).labelled;
      const targets = targetsOf(obs, logitsL.dtype);
      const terms = pixelTerms(logitsL, obs, targets, c.stage);
      let total = pixelTotal(terms);
      if (s.levelSet) {
        if (!out.levelSet) throw new Error(`${s.name}: the model has no level-set head`);
        const w = levelSetWeights(s.schedule, c.iteration, c.maxIterations);
        const { target, known } = targets;
        const sdf = batch.sdf ?? noGrad(() => sdfFromMasks(target, batch.spacing, opt.sdfForm));
        terms.ls = levelSetLoss(splitBatch(out.levelSet, L).labelled, sdf, known);
        total = total.add(terms.ls.mul(w.levelSet));
        if (s.consistency) {
          terms.consistency = consistencyLoss(
            unconditionalProbability(out.logits, tree),
            out.levelSet,
            s.transformK,
            opt.consistencyNodes,
          );
          total = total.add(terms.consistency.mul(w.consistency));
        }
      }
      return { ...terms, total };
    },

    validationLoss(batch: Batch, c: StepContext): Tensor {
      return noGrad(() => {
        const logits = splitBatch(model.forward(batch.image).logits, batch.numLabelled).labelled;
        const obs = labelsToObservations(batch.label, tree);
        const terms = pixelTerms(logits, obs, targetsOf(obs, logits.dtype), c.stage);
        return pixelTotal(terms);
      });
    },
  };
}
