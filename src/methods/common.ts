/**
 * Pieces several methods share: splitting a batch, flat (softmax) class targets, the Dice loss of
 * SSL4MIS, EMA teachers (the consistency ramp is levelset/schedule.ts's rampedWeight).
 */
import {
  crossEntropy,
  noGrad,
  oneHot,
  softDiceLoss,
  tensor,
  type Module,
  type Tensor,
} from '../engine/index.ts';
import { InputError } from '../errors.ts';
import type { LabelTree } from '../hierarchy/tree.ts';

/** The first `numLabelled` slices along dim 0, and the rest. */
export function splitBatch(t: Tensor, numLabelled: number): { labelled: Tensor; unlabelled: Tensor } {
  const n = t.size(0);
  return { labelled: t.narrow(0, 0, numLabelled), unlabelled: t.narrow(0, numLabelled, n - numLabelled) };
}

/** Number of flat classes: background + one per leaf. */
export function flatClassCount(tree: LabelTree): number {
  return 1 + tree.leaves.length;
}

/**
 * Leaf label map -> flat class indices (0 background, c = c-th leaf). Flat methods cannot use a label
 * that observes only an inner node; they say so.
 *
 * @param labels  [L, H, W] int64
 * @returns       [L, H, W] int64
 */
export function flatClasses(labels: Tensor, tree: LabelTree, source = 'label map'): Tensor {
  const table = new Array<number>(tree.maxLabel + 1).fill(-1);
  tree.flatClassLabels().forEach((v, c) => (table[v] = c));
  if (labels.numel > 0 && (labels.min().item() < 0 || labels.max().item() > tree.maxLabel))
    throw new InputError(
      source,
      'label values outside the label tree',
      'map the dataset labels onto tree leaves',
    );
  const cls = tensor(table, [table.length], { dtype: 'int64' })
    .indexSelect(0, labels.flatten())
    .reshape(...labels.shape);
  if (cls.lt(0).any().item())
    throw new InputError(
      source,
      'a label marks an inner tree node, which flat (softmax) methods cannot train on',
      'use a tree method (sshcps, hcps, seg-th...) for partially labelled data',
    );
  return cls;
}

/** [L, H, W] class indices -> [L, C, H, W] one-hot in `dtype`. */
export function oneHotClasses(cls: Tensor, classes: number, dtype: Tensor['dtype'] = 'float32'): Tensor {
  return oneHot(cls, classes).permute(0, 3, 1, 2).to(dtype);
}

/** Copies every parameter and buffer of `src` into `dst` (same architecture). */
export function copyWeights(dst: Module, src: Module): void {
  dst.loadStateDict(src.stateDict());
}

/**
 * Mean-teacher update (Tarvainen & Valpola 2017; SSL4MIS `update_ema_variables`):
 * alpha = min(1 - 1 / (step + 1), decay); teacher = alpha teacher + (1 - alpha) student, parameters only.
 */
export function emaUpdate(teacher: Module, student: Module, decay: number, step: number): void {
  const alpha = Math.min(1 - 1 / (step + 1), decay);
  const s = new Map(student.namedParameters());
  noGrad(() => {
    for (const [name, t] of teacher.namedParameters()) t.mul_(alpha).add_(s.get(name)!, 1 - alpha);
  });
}

/** Sums weighted loss terms into `total`; weights of 0 are skipped (their term is still logged). */
export function weightedTotal(parts: readonly [Tensor, number][]): Tensor {
  let total: Tensor | null = null;
  for (const [t, w] of parts) {
    if (w === 0) continue;
    const term = w === 1 ? t : t.mul(w);
    total = total ? total.add(term) : term;
  }
  if (!total) throw new RangeError('weightedTotal: every weight is 0');
  return total;
}

/** Softmax cross-entropy and SSL4MIS Dice of flat logits against class indices. */
export function ceAndDice(logits: Tensor, cls: Tensor): { ce: Tensor; dice: Tensor } {
  const C = logits.size(1);
  return {
    ce: crossEntropy(logits, cls),
    dice: softDiceLoss(logits.softmax(1), oneHotClasses(cls, C, logits.dtype)),
  };
}
