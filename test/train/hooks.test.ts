/**
 * The data-parallel hooks of train() (src/train/hooks.ts): gradients pass through `afterBackward` once
 * per applied step, and every decision through `decide`, whose answer, not the rank's own, is applied.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { parseConfig } from '../../src/train/config.ts';
import type { TrainHooks } from '../../src/train/hooks.ts';
import type { IterationDecision } from '../../src/train/schedule-rules.ts';
import { openTrainingData } from '../../src/train/slice-data.ts';
import { train } from '../../src/train/trainer.ts';
import type { ValidationVerdict } from '../../src/train/validation.ts';
import { methodFor, readLog, tempDir, tinyCohort, tinyConfig, validationEntries } from './helpers.ts';

const root = tempDir('train-hooks');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

type Decision = IterationDecision | ValidationVerdict | { stop: string | null };
const isIterationEnd = (d: Decision): d is IterationDecision => 'validateLast' in d;
const isVerdict = (d: Decision): d is ValidationVerdict => 'improves' in d;

test('train() reduces gradients at the hook and applies the decisions `decide` returns', async () => {
  const config = parseConfig(
    tinyConfig(data, {
      method: { name: 'supervised' },
      schedule: { maxIterations: 30 },
      checkpointEvery: 100,
    }),
  );
  const opened = await openTrainingData(config, defaultKneeTree());
  try {
    const method = methodFor('supervised', config, opened.channels);
    const trained = method.modules.model!.parameters();
    let reduced = 0;
    const seen = { iterationEnd: 0, verdict: 0, stepStop: 0 };
    const hooks: TrainHooks = {
      afterBackward: (params) => {
        reduced++;
        assert.deepEqual(params, trained);
        assert.ok(params.every((p) => p.grad !== null));
      },
      decide: <D>(decision: D): D => {
        const d = decision as Decision;
        if (isIterationEnd(d)) {
          // "rank 0" stops the run at its 12th iteration, whatever this rank thinks
          return (++seen.iterationEnd === 12 ? { ...d, stop: 'rank 0 says stop' } : d) as D;
        }
        if (isVerdict(d)) {
          seen.verdict++;
          return { ...d, improves: false } as D; // "rank 0" keeps no model
        }
        seen.stepStop++;
        return decision;
      },
    };
    const out = join(root, 'run');
    const result = await train({
      config,
      method,
      data: opened,
      tree: defaultKneeTree(),
      structureNames: opened.structureNames,
      out,
      hooks,
      modelMetadata: {},
    });
    assert.equal(result.state.iteration, 12);
    assert.equal(result.state.stopped, 'rank 0 says stop');
    assert.equal(reduced, 12);
    assert.deepEqual(seen, { iterationEnd: 12, verdict: 2, stepStop: 12 });
    const validations = validationEntries(readLog(out));
    assert.deepEqual(
      validations.map((v) => [v.iteration, v.best]),
      [
        [5, false],
        [10, false],
      ],
    );
    assert.equal(result.state.bestIteration, -1);
    // the stop was applied like any other: a checkpoint at the stopping iteration
    assert.ok(existsSync(join(out, 'checkpoints', 'last.safetensors')));
  } finally {
    await opened.close();
  }
});
