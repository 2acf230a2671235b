/**
 * How the hierarchical methods (sshcps, hcps and the seg-* ablations) train: the `tree` section of the
 * training configuration; flat methods ignore it. Each key departs from the paper, measured in the
 * README ("Defaults that differ from the paper"); configs/paper.json sets the paper's value of each.
 */
import { z } from 'zod';
import { NODE_REDUCTIONS } from '../levelset/losses.ts';

export const TreeOptionsSchema = z.strictObject({
  /** weight of a soft Dice on the legal-state posteriors (src/hierarchy/state-dice.ts), both stages; paper: 0 */
  diceWeight: z.number().min(0).default(1),
  /** conditional BCE averaged over all entries (paper, Chen et al.) or per node first */
  condReduction: z.enum(['entries', 'node']).default('node'),
  /**
   * level-set targets: DTC's normalised SDF (paper, METHOD.md section 6) or 'thin', which keeps plates
   * 1-3 pixels thick strictly inside and absent structures at +1 (src/levelset/sdf.ts)
   */
  sdfForm: z.enum(['dtc', 'thin']).default('thin'),
  /**
   * L_C over the nodes: the mean of the per-node squared gaps, as DTC's code takes it over channels,
   * or their sum (paper: Eq. 14's squared norm of the whole vector; K times stronger against L_CTU)
   */
  consistencyNodes: z.enum(NODE_REDUCTIONS).default('mean'),
});
export type TreeOptions = z.infer<typeof TreeOptionsSchema>;

/** The paper's reading of every key (configs/paper.json). */
export const PAPER_TREE_OPTIONS: TreeOptions = {
  diceWeight: 0,
  condReduction: 'entries',
  sdfForm: 'dtc',
  consistencyNodes: 'sum',
};
