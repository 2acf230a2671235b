/**
 * Real training of a two-stage tree method (seg-th-up) on a tiny cohort with scripted validation
 * losses or decodings, so that a schedule rule (selection, stage switch), not the network, is under test.
 */
import { join } from 'node:path';
import { full, scalar, type Tensor } from '../../src/engine/index.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import type { Method } from '../../src/methods/method.ts';
import { parseConfig, type TrainConfig } from '../../src/train/config.ts';
import { openTrainingData } from '../../src/train/slice-data.ts';
import type { TrainResult } from '../../src/train/trainer.ts';
import { methodFor, tinyConfig, trainOn } from './helpers.ts';

export interface Script {
  /** validation loss by iteration */
  loss?: (iteration: number) => number;
  /** label value every pixel is decoded to, by the stage of the last training step */
  decodeTo?: (stage: 1 | 2) => number;
}

/** seg-th-up trained into ROOT/NAME on the cohort `data` with the given schedule and scripted validation. */
export async function scriptedRun(
  root: string,
  data: string,
  name: string,
  schedule: Record<string, unknown>,
  script: Script,
): Promise<{ result: TrainResult; out: string; config: TrainConfig }> {
  const out = join(root, name);
  const config = parseConfig(tinyConfig(data, { method: { name: 'seg-th-up' }, schedule }));
  const opened = await openTrainingData(config, defaultKneeTree());
  try {
    const base = methodFor('seg-th-up', config, opened.channels);
    let stage: 1 | 2 = 1;
    const method: Method = {
      ...base,
      step: (batch, ctx) => {
        stage = ctx.stage;
        return base.step(batch, ctx);
      },
      validationLoss: script.loss
        ? (_batch, ctx) => scalar(script.loss!(ctx.iteration))
        : base.validationLoss,
      decode: script.decodeTo
        ? (logits: Tensor) =>
            full([logits.size(0), logits.size(2), logits.size(3)], script.decodeTo!(stage), {
              dtype: 'int64',
            })
        : base.decode,
    };
    const result = await trainOn(opened, config, method, out, { modelMetadata: { format: 'kneeseg-model' } });
    return { result, out, config };
  } finally {
    await opened.close();
  }
}
