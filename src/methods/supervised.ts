/**
 * The paper's "MedT baseline" (Tables 2-3, Fig. 3): plain softmax cross-entropy + Dice on the flat
 * leaf classes (background + one class per leaf, K = 7 for the knee), labelled slices only.
 */
import { z } from 'zod';
import { noGrad, type Tensor } from '../engine/index.ts';
import { decodeFlat } from '../hierarchy/decode.ts';
import type { Batch, LossTerms, Method, MethodContext } from './method.ts';
import { ceAndDice, flatClassCount, flatClasses, splitBatch } from './common.ts';

export const supervisedOptionsSchema = z.strictObject({
  /** SSL4MIS code/train_fully_supervised_2D.py: loss = 0.5 * (loss_dice + loss_ce) */
  ceWeight: z.number().nonnegative().default(0.5),
  diceWeight: z.number().nonnegative().default(0.5),
});
export type SupervisedOptions = z.input<typeof supervisedOptionsSchema>;

export function createSupervised(ctx: MethodContext, options: SupervisedOptions = {}): Method {
  const o = supervisedOptionsSchema.parse(options);
  const { tree } = ctx;
  const model = ctx.buildModel({ outChannels: flatClassCount(tree), levelSet: false });
  const loss = (batch: Batch): LossTerms => {
    const logits = splitBatch(model.forward(batch.image).logits, batch.numLabelled).labelled;
    const { ce, dice } = ceAndDice(logits, flatClasses(batch.label, tree));
    return { ce, dice, total: ce.mul(o.ceWeight).add(dice.mul(o.diceWeight)) };
  };
  return {
    name: 'supervised',
    twoStage: false,
    modules: { model },
    predictor: model,
    decoding: 'softmax',
    decode: (logits) => decodeFlat(logits, tree),
    step: (batch) => loss(batch),
    validationLoss: (batch): Tensor => noGrad(() => loss(batch).total),
  };
}
