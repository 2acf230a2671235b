/**
 * The loop's one record builder (src/train/records.ts): RUN/log.jsonl lines keep their fields and
 * field order, and the Reporter writes each record once and tells the listener what the user sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TrainEvent } from '../../src/train/events.ts';
import { eventRecord, Reporter, trainRecord, validationRecord } from '../../src/train/records.ts';
import { RunLog } from '../../src/train/run-log.ts';
import { readLog, tempDir } from './helpers.ts';

const root = tempDir('train-records');
const at = { iteration: 10, epoch: 2, stage: 1 as const, lr: 0.001 };

test('log lines: the same fields in the same order as before the loop was split into phases', () => {
  const timing = { secondsPerStep: 0.5, dataWaitSeconds: 0.25 };
  assert.equal(
    JSON.stringify(trainRecord(at, { losses: { ce: 1, total: 2 }, ...timing })),
    '{"type":"train","iteration":10,"epoch":2,"stage":1,"lr":0.001,"losses":{"ce":1,"total":2},"seconds_per_step":0.5,"data_wait_seconds":0.25}',
  );
  assert.equal(
    JSON.stringify(trainRecord(at, { losses: { total: NaN }, ...timing, skipped: 'non-finite total' })),
    '{"type":"train","iteration":10,"epoch":2,"stage":1,"lr":0.001,"losses":{"total":null},"seconds_per_step":0.5,"data_wait_seconds":0.25,"skipped":"non-finite total"}',
  );
  assert.equal(
    JSON.stringify(validationRecord(at, { valLoss: 0.5, emaVl: 0.6, best: true, dice: { femur: 0.9 } })),
    '{"type":"validation","iteration":10,"epoch":2,"stage":1,"val_loss":0.5,"ema_vl":0.6,"best":true,"dice":{"femur":0.9},"lr":0.001}',
  );
  assert.equal(
    JSON.stringify(eventRecord(at, 'resumed')),
    '{"type":"event","iteration":10,"epoch":2,"message":"resumed"}',
  );
});

test('Reporter: a skipped step, a window, a validation and events, each logged once and announced as before', () => {
  const events: TrainEvent[] = [];
  const out = join(root, 'log.jsonl');
  const report = new Reporter(new RunLog(out), (e) => events.push(e));
  report.skipped(at, { losses: { total: NaN }, secondsPerStep: 1, dataWaitSeconds: 0 }, ['total']);
  report.window(at, { losses: { total: 2 }, secondsPerStep: 1, dataWaitSeconds: 0 }, 30);
  report.validation(at, { valLoss: 1, emaVl: 1, best: false, dice: {} }, 'dice');
  report.event(at, 'lr halved to 0.0005');
  report.event(at, 'stage 2', true);
  assert.deepEqual(
    readLog(root).map((e) => [
      e.type,
      e.type === 'train' ? (e.skipped ?? '') : e.type === 'event' ? e.message : '',
    ]),
    [
      ['train', 'non-finite total'],
      ['train', ''],
      ['validation', ''],
      ['event', 'lr halved to 0.0005'],
      ['event', 'stage 2'],
    ],
  );
  assert.deepEqual(
    events.map((e) => (e.type === 'message' ? e.text : e.type)),
    ['iteration 10: non-finite loss term(s) total; step skipped', 'step', 'validation', 'stage 2'],
  );
  const step = events.find((e) => e.type === 'step');
  assert.deepEqual(step, {
    type: 'step',
    iteration: 10,
    totalIterations: 30,
    epoch: 2,
    stage: 1,
    lr: 0.001,
    losses: { total: 2 },
    secondsPerStep: 1,
  });
});
