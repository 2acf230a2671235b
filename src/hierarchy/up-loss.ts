/**
 * The unconditional loss L_UP (Eq. 7-11; METHOD.md section 5) in the numerically stable form.
 *
 *   p_d = prod_{d' in U(d)} sigmoid(z_d')                                              (Eq. 8)
 *   L_UP = sum_d BCE(y_d, p_d)                                                          (Eq. 7)
 *   log p_d     = sum_{d'} log sigmoid(z_d')
 *   log(1 - p_d) = LSE over non-empty subsets S of U(d) of (sum_{i in S} -z_i)
 *                  - sum_{d'} softplus(-z_d')                                           (Eq. 11)
 *
 * The second line holds because prod(1 + e^{-z}) - 1 = sum over non-empty subsets of e^{sum -z}.
 * The product of probabilities is never formed, so logits of +-100 stay finite with finite
 * gradients. `log1mexpUnconditional` gives the same value as log1p(-exp(log p_d)) computed with a
 * stable log1mexp; it is exact but infinite when p_d rounds to 1, which the LSE form avoids.
 */
import { einsum, tensor, where, type Tensor } from '../engine/index.ts';
import { logUnconditionalProbability } from './marginals.ts';
import { ancestorMatrix } from './states.ts';
import { nodeTargets } from './targets.ts';
import type { LabelTree } from './tree.ts';

/**
 * For every node d the non-empty subsets of U(d) as 0/1 rows over the K nodes, padded to the same
 * count R = 2^(max depth + 1) - 1; `valid` marks real rows.
 */
export function ancestorSubsets(tree: LabelTree): { subsets: number[][][]; valid: number[][] } {
  const R = 2 ** (tree.maxDepth + 1) - 1;
  const subsets: number[][][] = [];
  const valid: number[][] = [];
  for (let d = 0; d < tree.size; d++) {
    const u = tree.ancestorsAndSelf(d);
    const rows: number[][] = [];
    const ok: number[] = [];
    for (let m = 1; m <= R; m++) {
      const row = new Array<number>(tree.size).fill(0);
      if (m < 2 ** u.length) u.forEach((n, b) => (row[n] = (m >> b) & 1));
      rows.push(row);
      ok.push(m < 2 ** u.length ? 1 : 0);
    }
    subsets.push(rows);
    valid.push(ok);
  }
  return { subsets, valid };
}

/** log(1 - p_d) by Eq. 11: [N, K, H, W]. */
export function logOneMinusUnconditional(logits: Tensor, tree: LabelTree): Tensor {
  const { subsets, valid } = ancestorSubsets(tree);
  const K = tree.size;
  const R = valid[0]!.length;
  const q = tensor(subsets.flat(2), [K, R, K], { dtype: logits.dtype });
  const pad = tensor(
    valid.flat().map((v) => (v ? 0 : Number.NEGATIVE_INFINITY)),
    [1, K, R, 1, 1],
    { dtype: logits.dtype },
  );
  const subsetSums = einsum('nkhw,drk->ndrhw', logits.neg(), q).add(pad);
  const ancestors = ancestorMatrix(tree, logits.dtype);
  const softplusSum = einsum('nkhw,dk->ndhw', logits.neg().softplus(), ancestors);
  return subsetSums.logsumexp(2).sub(softplusSum);
}

/** log(1 - exp(a)) for a <= 0, stable on both sides of -ln 2 (Maechler 2012). */
export function log1mexp(a: Tensor): Tensor {
  const near = a.gt(-Math.LN2);
  // each branch sees only inputs where it is accurate, so the unused branch cannot make NaN gradients
  const aNear = where(near, a, -1);
  const aFar = where(near, -1, a);
  return where(near, aNear.expm1().neg().log(), aFar.exp().neg().log1p());
}

/** log(1 - p_d) via log1mexp(log p_d): the same value as Eq. 11 for moderate logits. */
export function log1mexpUnconditional(logits: Tensor, tree: LabelTree): Tensor {
  return log1mexp(logUnconditionalProbability(logits, tree));
}

/**
 * L_UP (Eq. 7): the per-node BCE of the unconditional probabilities, summed over nodes and averaged
 * over labelled pixels; unknown entries (below a parent-only observation) are skipped.
 *
 * @param logits  [N, K, H, W]
 * @param obs     [N, H, W] int64 observations
 * @param form    'lse' (Eq. 11, default) or 'log1mexp' (same value, for checking)
 */
export function upLoss(
  logits: Tensor,
  obs: Tensor,
  tree: LabelTree,
  form: 'lse' | 'log1mexp' = 'lse',
): Tensor {
  const { target, known } = nodeTargets(obs, tree, logits.dtype);
  const logP = logUnconditionalProbability(logits, tree);
  const log1mP =
    form === 'lse' ? logOneMinusUnconditional(logits, tree) : log1mexpUnconditional(logits, tree);
  // y log p + (1 - y) log(1 - p), with the unused term selected away (not multiplied by 0, which
  // would turn an infinite log into NaN in the log1mexp form)
  const ll = where(target.gt(0.5), logP, log1mP);
  const labelled = obs.ge(0).to(logits.dtype);
  return ll.mul(known).sum().neg().div(labelled.sum().clamp(1, null));
}
