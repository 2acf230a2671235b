import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { fileURLToPath } from 'node:url';
import { mergeConfig, parseConfig, readConfigFile, withLegacyKeys } from '../../src/train/config.ts';
import { PAPER_TREE_OPTIONS } from '../../src/methods/tree-options.ts';
import { flagsToConfig } from '../../src/cli/train.ts';

function configError(input: unknown): ConfigError {
  try {
    parseConfig(input);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('the configuration was accepted');
}

test('defaults are the paper protocol where the README does not list a departure', () => {
  const c = parseConfig({});
  assert.deepEqual(c.optim, {
    lr: 1e-3,
    lrStage2: 1e-4,
    betas: [0.9, 0.99],
    weightDecay: 1e-5,
    levelSetHead: null,
  });
  assert.deepEqual(c.batch, { labelled: 2, unlabelled: 2, foreground: { share: 0.33, structures: null } });
  // the departures (README, "Defaults that differ from the paper")
  assert.deepEqual(c.tree, {
    diceWeight: 1,
    condReduction: 'node',
    sdfForm: 'thin',
    consistencyNodes: 'mean',
  });
  assert.equal(c.schedule.selection, 'dice');
  assert.equal(c.schedule.stageSwitch.minDice, 0.5);
  assert.deepEqual(c.data.size, [288, 240]);
  assert.equal(c.data.neighbours, 1); // 3 input channels
  assert.equal(c.schedule.lrPatience, 40);
  assert.equal(c.schedule.stopPatience, 60);
  assert.equal(c.schedule.maxEpochs, 500);
});

test('configs/paper.json turns every departure back to the paper', () => {
  const c = parseConfig(readConfigFile(fileURLToPath(new URL('../../configs/paper.json', import.meta.url))));
  assert.deepEqual(c.tree, PAPER_TREE_OPTIONS);
  assert.equal(c.batch.foreground.share, 0);
  assert.equal(c.schedule.selection, 'ema-vl');
  assert.equal(c.schedule.stageSwitch.mode, 'plateau');
  assert.equal(c.schedule.stageSwitch.minDice, 0);
  // section 3.2: the semi-supervised branch starts at 0.01 and decays x0.1 every 200 iterations
  assert.deepEqual(c.optim.levelSetHead, { lr: 0.01, every: 200, gamma: 0.1 });
  // and the rest is the default protocol
  assert.deepEqual(
    { ...c, tree: null, batch: null, schedule: null, optim: null },
    {
      ...parseConfig({}),
      tree: null,
      batch: null,
      schedule: null,
      optim: null,
    },
  );
});

test('an unknown key is rejected with its full path named', () => {
  const top = configError({ learningRate: 0.1 });
  assert.equal(top.key, 'learningRate');
  assert.match(top.message, /learningRate.*unknown key/);
  const nested = configError({ optim: { lr: 1e-3, momentum: 0.9 } });
  assert.equal(nested.key, 'optim.momentum');
  assert.match(nested.message, /"optim\.momentum": unknown key/);
});

test('bad values are rejected with the key named', () => {
  const lr = configError({ optim: { lr: -0.001 } });
  assert.equal(lr.key, 'optim.lr');
  assert.match(lr.message, /optim\.lr/);
  assert.equal(configError({ schedule: { emaDecay: 1.5 } }).key, 'schedule.emaDecay');
  assert.equal(configError({ data: { size: [288] } }).key, 'data.size');
  assert.equal(configError({ checkpointEvery: 0 }).key, 'checkpointEvery');
  assert.equal(configError({ batch: { labelled: 1.5 } }).key, 'batch.labelled');
});

test('flags override the config file, which overrides the defaults', () => {
  const file = {
    optim: { lr: 0.005 },
    seed: 3,
    schedule: { maxIterations: 100, emaDecay: 0.5 },
    data: { size: [64, 64] },
  };
  const flags = flagsToConfig({ data: '/d', out: '/r', seed: '9', maxIterations: '20', size: '32x48' });
  const c = parseConfig(mergeConfig(file, flags));
  assert.equal(c.seed, 9); // flag
  assert.equal(c.schedule.maxIterations, 20); // flag
  assert.deepEqual(c.data.size, [32, 48]); // flag
  assert.equal(c.data.dir, '/d'); // flag
  assert.equal(c.optim.lr, 0.005); // file
  assert.equal(c.schedule.emaDecay, 0.5); // file, a sibling of a flag-set key survives the merge
  assert.equal(c.optim.lrStage2, 1e-4); // default
  assert.equal(c.data.neighbours, 1); // default
  assert.equal(c.method.name, 'sshcps'); // default
});

test('mergeConfig replaces arrays and scalars and merges objects', () => {
  assert.deepEqual(mergeConfig({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: { e: 2 } }), {
    a: { b: 1, c: [3] },
    d: { e: 2 },
  });
});

test('configurations, flags and splits.json of the `labeled` spelling read as `labelled`', () => {
  const c = parseConfig({ data: { dir: 'd', labeled: 3 }, batch: { labeled: 4, unlabeled: 1 } });
  assert.equal(c.data.labelled, 3);
  assert.equal(c.batch.labelled, 4);
  assert.equal(c.batch.unlabelled, 1);
  // both spellings at once: the new one wins, the old one is an unknown key
  assert.throws(() => parseConfig({ data: { dir: 'd', labeled: 3, labelled: 2 } }), /data\.labeled/);
  assert.deepEqual(flagsToConfig({ data: 'd', out: 'r', labeled: '5' }).data, { dir: 'd', labelled: 5 });
  assert.deepEqual(withLegacyKeys({ labeled: null, labelled: ['a'] }, { labeled: 'labelledCount' }), {
    labelled: ['a'],
    labelledCount: null,
  });
});
