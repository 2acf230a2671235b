/**
 * The loop's decisions one at a time (src/train/schedule-rules.ts, log-window.ts, validation.ts): the
 * validation, log and checkpoint cadence, the stage switch, the non-finite skip, the time budget and
 * the validation verdict, each on hand-made states, without training.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/train/config.ts';
import { closeWindow, foldStep, type StepOutcome } from '../../src/train/log-window.ts';
import {
  emptyWindow,
  initialLoopState,
  resumedLoopState,
  type LoopState,
} from '../../src/train/loop-state.ts';
import {
  cadenceOf,
  checkpointDue,
  decideIterationEnd,
  endsEpoch,
  headLr,
  logDue,
  progressTotal,
  scheduledSwitchDue,
  validationDue,
  type Cadence,
  type IterationFacts,
} from '../../src/train/schedule-rules.ts';
import { judgeValidation, type ValidationRules } from '../../src/train/validation.ts';

const cadence = (over: Partial<Cadence> = {}): Cadence => ({
  iterationsPerEpoch: 5,
  totalIterations: 30,
  validateEvery: 1,
  logEvery: 5,
  checkpointEvery: 5,
  ...over,
});

/** The iterations at which the loop validates, as src/train/phases.ts walks epochs. */
function validatedAt(c: Cadence): number[] {
  const st = { iteration: 0, epoch: 0 };
  const out: number[] = [];
  while (st.iteration < c.totalIterations) {
    st.iteration++;
    if (!endsEpoch(st, c)) continue;
    st.epoch++;
    if (validationDue(st, c)) out.push(st.iteration);
  }
  return out;
}

test('validation cadence: every validateEvery epochs, and always after the last iteration', () => {
  assert.deepEqual(validatedAt(cadence()), [5, 10, 15, 20, 25, 30]);
  assert.deepEqual(validatedAt(cadence({ validateEvery: 3 })), [15, 30]);
  assert.deepEqual(validatedAt(cadence({ validateEvery: 4 })), [20, 30], 'the last epoch is not a 4th');
  // a partial last epoch (18 = 4 x 4 + 2, the 5th) still ends in a validation
  assert.deepEqual(
    validatedAt(cadence({ iterationsPerEpoch: 4, validateEvery: 2, totalIterations: 18 })),
    [8, 16, 18],
  );
  // an epoch longer than the run: only the final validation
  assert.deepEqual(validatedAt(cadence({ iterationsPerEpoch: 100000, totalIterations: 50 })), [50]);
});

test('cadenceOf: an epoch is the labelled slices over the labelled batch, the budget maxEpochs of them', () => {
  const c = cadenceOf(parseConfig({ batch: { labelled: 4 }, schedule: { maxEpochs: 3 } }), 10);
  assert.deepEqual([c.iterationsPerEpoch, c.totalIterations], [3, 9]);
  const fixed = cadenceOf(parseConfig({ schedule: { iterationsPerEpoch: 7, maxIterations: 20 } }), 10);
  assert.deepEqual([fixed.iterationsPerEpoch, fixed.totalIterations], [7, 20]);
  assert.equal(cadenceOf(parseConfig({}), 0).iterationsPerEpoch, 1);
});

test('log and checkpoint cadence: every N iterations; a checkpoint also when stopping and at the end', () => {
  const c = cadence({ checkpointEvery: 7, logEvery: 3, totalIterations: 26 });
  const iterations = Array.from({ length: 26 }, (_, i) => i + 1);
  assert.deepEqual(
    iterations.filter((iteration) => checkpointDue({ iteration, stopped: null }, c)),
    [7, 14, 21, 26],
  );
  assert.ok(checkpointDue({ iteration: 9, stopped: 'interrupted' }, c));
  assert.deepEqual(
    iterations.filter((iteration) => logDue({ iteration }, c)),
    [3, 6, 9, 12, 15, 18, 21, 24],
  );
});

const good = (total: number): StepOutcome => ({ values: { ce: total / 2, total }, bad: [] });
const bad: StepOutcome = { values: { ce: NaN, total: NaN }, bad: ['ce', 'total'] };
const timing = { stepSeconds: 2, waitSeconds: 1 };

test('non-finite skip: a skipped step counts in time but not in the losses, and lengthens the streak', () => {
  const st = { window: emptyWindow(), nanStreak: 0 };
  assert.equal(foldStep(st, { outcome: good(4), timing, nanTolerance: 2 }), null);
  assert.equal(foldStep(st, { outcome: bad, timing, nanTolerance: 2 }), null);
  assert.equal(st.nanStreak, 1);
  assert.deepEqual(st.window, {
    losses: { ce: 2, total: 4 },
    good: 1,
    steps: 2,
    stepSeconds: 4,
    waitSeconds: 2,
  });
  // a good step ends the streak
  foldStep(st, { outcome: good(2), timing, nanTolerance: 2 });
  assert.equal(st.nanStreak, 0);
  assert.equal(foldStep(st, { outcome: bad, timing, nanTolerance: 2 }), null);
  assert.equal(
    foldStep(st, { outcome: bad, timing, nanTolerance: 2 }),
    '2 consecutive non-finite losses (term ce, total); the last good checkpoint is kept',
  );
});

test('log window: the mean of the finite steps at a log point, then a new window', () => {
  const st = { window: emptyWindow(), nanStreak: 0 };
  for (const o of [good(4), bad, good(2)]) foldStep(st, { outcome: o, timing, nanTolerance: 5 });
  assert.equal(closeWindow(st, false), null);
  assert.equal(st.window.steps, 3, 'not a log point: the window goes on');
  assert.deepEqual(closeWindow(st, true), {
    losses: { ce: 1.5, total: 3 },
    secondsPerStep: 2,
    dataWaitSeconds: 1,
  });
  assert.deepEqual(st.window, emptyWindow());
  // a window of skipped steps only writes no entry but still starts over
  foldStep(st, { outcome: bad, timing, nanTolerance: 5 });
  assert.equal(closeWindow(st, true), null);
  assert.deepEqual(st.window, emptyWindow());
});

const stageSwitch = (over: Record<string, unknown>) =>
  parseConfig({ schedule: { stageSwitch: over } }).schedule.stageSwitch;
const at = (over: Partial<LoopState>) => ({ ...initialLoopState(1e-3), ...over });

test('stage switch by epoch or fraction: two-stage methods in stage 1 only, guarded by minDice', () => {
  const byEpoch = {
    twoStage: true,
    stageSwitch: stageSwitch({ mode: 'epoch', epoch: 2, minDice: 0 }),
    progressTotal: 30,
  };
  assert.equal(scheduledSwitchDue(at({ epoch: 1, iteration: 5 }), byEpoch), false);
  assert.equal(scheduledSwitchDue(at({ epoch: 2, iteration: 10 }), byEpoch), true);
  assert.equal(scheduledSwitchDue(at({ epoch: 3, iteration: 15, stage: 2 }), byEpoch), false);
  assert.equal(scheduledSwitchDue(at({ epoch: 2 }), { ...byEpoch, twoStage: false }), false);
  const byFraction = {
    twoStage: true,
    stageSwitch: stageSwitch({ mode: 'fraction', fraction: 0.5, minDice: 0 }),
  };
  assert.equal(scheduledSwitchDue(at({ iteration: 14 }), { ...byFraction, progressTotal: 30 }), false);
  assert.equal(scheduledSwitchDue(at({ iteration: 15 }), { ...byFraction, progressTotal: 30 }), true);
  assert.equal(scheduledSwitchDue(at({ iteration: 15 }), { ...byFraction, progressTotal: 40 }), false);
  const guarded = { ...byEpoch, stageSwitch: stageSwitch({ mode: 'epoch', epoch: 2, minDice: 0.5 }) };
  assert.equal(scheduledSwitchDue(at({ epoch: 2, lastDice: null }), guarded), false);
  assert.equal(scheduledSwitchDue(at({ epoch: 2, lastDice: { a: 0.9, b: 0.4 } }), guarded), false);
  assert.equal(scheduledSwitchDue(at({ epoch: 2, lastDice: { a: 0.9, b: 0.5 } }), guarded), true);
  // the plateau mode is the validation's decision, never this one
  const plateau = { ...byEpoch, stageSwitch: stageSwitch({ mode: 'plateau', minDice: 0 }) };
  assert.equal(scheduledSwitchDue(at({ epoch: 500, iteration: 29 }), plateau), false);
});

const facts = (over: Partial<IterationFacts> = {}): IterationFacts => ({
  st: at({ iteration: 12, epoch: 2 }),
  cadence: cadence(),
  schedule: parseConfig({ schedule: { minutes: 0.5 } }).schedule,
  twoStage: false,
  epochEnded: false,
  progressTotal: 30,
  elapsedMs: 1000,
  budgetMs: 30_000,
  ...over,
});

test('time budget: the run stops when it is spent, validating its last weights between epoch ends', () => {
  assert.deepEqual(decideIterationEnd(facts()), { switchStage: false, stop: null, validateLast: false });
  assert.deepEqual(decideIterationEnd(facts({ elapsedMs: 30_000 })), {
    switchStage: false,
    stop: 'time budget of 0.5 min reached',
    validateLast: true,
  });
  // at an epoch's end the weights were just validated
  const atEpochEnd = decideIterationEnd(facts({ elapsedMs: 31_000, st: at({ iteration: 15, epoch: 3 }) }));
  assert.equal(atEpochEnd.validateLast, false);
  assert.equal(decideIterationEnd(facts({ elapsedMs: 1e12, budgetMs: Infinity })).stop, null);
});

test('stops at the end of an iteration: Ctrl-C before the budget; a run already stopped is left alone', () => {
  assert.deepEqual(decideIterationEnd(facts({ elapsedMs: 30_000, stopRequested: () => true })), {
    switchStage: false,
    stop: 'interrupted',
    validateLast: false,
  });
  const asked: boolean[] = [];
  const stopped = facts({
    st: at({ iteration: 12, stopped: 'EMA-VL has not improved for 4 epochs' }),
    elapsedMs: 30_000,
    stopRequested: () => asked.push(true) > 0,
  });
  assert.deepEqual(decideIterationEnd(stopped), { switchStage: false, stop: null, validateLast: false });
  assert.equal(asked.length, 0);
  // the scheduled switch is only looked at when an epoch ends
  const twoStage = {
    twoStage: true,
    schedule: parseConfig({ schedule: { stageSwitch: { mode: 'fraction', minDice: 0 } } }).schedule,
    st: at({ iteration: 15, epoch: 3 }),
  };
  assert.equal(decideIterationEnd(facts({ ...twoStage, epochEnded: false })).switchStage, false);
  assert.equal(decideIterationEnd(facts({ ...twoStage, epochEnded: true })).switchStage, true);
});

test('progressTotal: the budget in iterations, or under a time budget what the speed so far allows', () => {
  const p = { iteration: 40, totalIterations: 1000, elapsedMs: 10_000, budgetMs: Infinity };
  assert.equal(progressTotal(p), 1000);
  assert.equal(progressTotal({ ...p, budgetMs: 60_000 }), 240);
  assert.equal(progressTotal({ ...p, budgetMs: 600_000 }), 1000);
  assert.equal(progressTotal({ ...p, iteration: 19, budgetMs: 60_000 }), 1000, 'too early to tell');
  assert.equal(progressTotal({ ...p, budgetMs: 1 }), 41, 'never behind the iteration itself');
});

test('headLr: the level-set head lr falls by gamma every `every` iterations', () => {
  const s = { lr: 0.01, every: 200, gamma: 0.1 };
  assert.deepEqual(
    [0, 199, 200, 400].map((i) => headLr(s, i)),
    [0.01, 0.01, 0.01 * 0.1, 0.01 * 0.1 ** 2],
  );
});

const rules = (schedule: Record<string, unknown>, twoStage = true): ValidationRules => ({
  schedule: parseConfig({ schedule }).schedule,
  twoStage,
});
const dice = (d: number) => ({ femur: d, tibia: d });

/** Validates a flat loss `n` times from a fresh state, applying each verdict as the loop does. */
function validations(n: number, r: ValidationRules, d = dice(0.9), stage: 1 | 2 = 1) {
  let st = at({ stage });
  return Array.from({ length: n }, (_, i) => {
    const v = judgeValidation({ ...st, epoch: i + 1 }, { loss: 1, dice: d }, r);
    st = { ...st, plateau: v.plateau, bestScore: v.improves ? v.score : st.bestScore };
    return v;
  });
}

test('validation verdict: the plateau switch waits for patience and minDice; stopPatience ends stage 1', () => {
  const r = rules({
    stopPatience: 4,
    lrPatience: 100,
    stageSwitch: { mode: 'plateau', patience: 2, minDice: 0.5 },
  });
  // best at the first validation, then 2 without improvement: switch (every structure found)
  assert.deepEqual(
    validations(3, r).map((v) => v.switchStage),
    [false, false, true],
  );
  // not found: stage 1 goes on until stopPatience (4 validations without improvement)
  const unfound = validations(5, r, dice(0.1));
  assert.ok(unfound.every((v) => !v.switchStage));
  assert.deepEqual(
    unfound.map((v) => v.stop),
    [null, null, null, null, 'EMA-VL has not improved for 4 epochs'],
  );
  // in stage 2, or for a one-stage method, the plateau is early stopping after stopPatience
  const stage2 = validations(5, r, dice(0.9), 2);
  assert.deepEqual(
    stage2.map((v) => [v.switchStage, v.stop !== null]),
    [
      [false, false],
      [false, false],
      [false, false],
      [false, false],
      [false, true],
    ],
  );
  assert.equal(
    validations(5, rules({ stopPatience: 4 }, false)).at(-1)!.stop,
    'EMA-VL has not improved for 4 epochs',
  );
  // the epoch and fraction modes do not switch here
  const byEpoch = rules({ stopPatience: 4, stageSwitch: { mode: 'epoch', patience: 2, minDice: 0 } });
  assert.deepEqual(
    validations(3, byEpoch).map((v) => [v.switchStage, v.stop]),
    [
      [false, null],
      [false, null],
      [false, 'EMA-VL has not improved for 4 epochs'],
    ],
  );
});

test('validation verdict: lr halving after lrPatience, selection by Dice or EMA-VL, a NaN never best', () => {
  const r = rules({ lrPatience: 2, stopPatience: 100, stageSwitch: { patience: 100 } });
  assert.deepEqual(
    validations(5, r).map((v) => v.halveLr),
    [false, false, true, false, true],
  );
  const st = at({ epoch: 1, bestScore: 0.5 });
  const byDice = judgeValidation(st, { loss: 9, dice: { a: 0.8, b: 0.4 } }, rules({ selection: 'dice' }));
  assert.ok(Math.abs(byDice.score - 0.4) < 1e-12);
  assert.equal(byDice.improves, true);
  assert.equal(
    judgeValidation(st, { loss: 9, dice: { a: 0.2, b: 0.4 } }, rules({ selection: 'dice' })).improves,
    false,
  );
  const byEma = judgeValidation(st, { loss: 0.25, dice: {} }, rules({ selection: 'ema-vl' }));
  assert.deepEqual([byEma.score, byEma.ema, byEma.improves], [0.25, 0.25, true]);
  const diverged = judgeValidation(at({ epoch: 1 }), { loss: NaN, dice: {} }, rules({ selection: 'ema-vl' }));
  assert.equal(diverged.improves, false);
});

test('resumedLoopState: not stopped, and the fields older checkpoints lack filled in', () => {
  const legacy = { ...at({ iteration: 20, stopped: 'interrupted' }), bestEma: 0.7 } as LoopState & {
    bestEma?: number;
  };
  delete (legacy as Partial<LoopState>).bestScore;
  delete (legacy as Partial<LoopState>).lastDice;
  const st = resumedLoopState(legacy);
  assert.equal(st.stopped, null);
  assert.equal(st.bestScore, 0.7);
  assert.equal(st.lastDice, null);
});

test('resumedLoopState: a checkpoint written before any validation resumes with nothing kept yet, not a best of 0', () => {
  // checkpoints hold the state as JSON, where Infinity becomes null
  const fresh = initialLoopState(1e-3);
  const st = resumedLoopState(JSON.parse(JSON.stringify({ ...fresh, iteration: 4 })) as LoopState);
  assert.deepEqual(st, { ...fresh, iteration: 4 });
  const v = judgeValidation(
    { ...st, epoch: 1 },
    { loss: 1.3, dice: dice(0.2) },
    rules({ selection: 'ema-vl' }),
  );
  assert.equal(v.improves, true);
  assert.equal(v.plateau.bestEpoch, 1);
});
