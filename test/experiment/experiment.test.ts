import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runExperiment, type ExperimentOptions, type RunTrainer } from '../../src/experiment/run.ts';
import { runTraining, type RunSummary } from '../../src/train/run.ts';
import { tempDir, tinyCohort } from '../train/helpers.ts';
import { trainPool } from '../../src/cli/train-pool.ts';

const root = tempDir('experiment');
let data = '';
before(async () => {
  data = await tinyCohort(root);
});

const TINY = {
  data: { size: [32, 32] },
  model: { unet: { baseChannels: 4, depth: 2 } },
  schedule: { iterationsPerEpoch: 3, validationSlices: 4 },
  logEvery: 3,
  checkpointEvery: 3,
  threads: 1,
};

test('an experiment of two tiny runs writes RESULTS.md, the plots and the HTML page, then reuses its runs', async () => {
  const out = join(root, 'exp');
  const started: string[] = [];
  const o: ExperimentOptions = {
    kind: 'compare',
    data,
    out,
    backbone: 'unet',
    maxIterations: 6,
    baseConfig: TINY,
    rows: [
      { row: 'Supervised', method: 'supervised', fraction: 1 },
      { row: 'SSHCPS', method: 'sshcps', fraction: 0.5 },
    ],
    listener: (e) => {
      if (e.type === 'start') started.push(String(e.totalIterations));
    },
  };
  const first = await runExperiment(o);
  assert.equal(started.length, 2, 'both runs trained');
  assert.equal(first.runs.length, 2);
  const md = readFileSync(join(out, 'RESULTS.md'), 'utf8');
  assert.match(md, /\| Supervised \| 2 \(100%\)/);
  assert.match(md, /\| SSHCPS \| 1 \(50%\) \+ 3 unlabelled/);
  assert.match(md, /Dice TC \(%\)/);
  assert.match(md, /\| ref\. \|/);
  const results = JSON.parse(readFileSync(join(out, 'RESULTS.json'), 'utf8')) as { method: string }[];
  assert.deepEqual(results.map((r) => r.method).sort(), ['sshcps', 'supervised']);
  for (const f of ['dice-boxplot.png', 'surface-rendering.png', 'slice-montage.png']) {
    const png = readFileSync(join(out, 'figures', f));
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${f} is a PNG`);
  }
  const html = readFileSync(first.htmlPath, 'utf8');
  assert.match(html, /<table>/);
  assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 3);

  const files = first.runs.map((r) => join(out, 'runs', `${r.spec.method}-l${r.labelled}-s0`));
  const stamps = files.flatMap((d) =>
    ['summary.json', 'evaluation.json', 'model.safetensors'].map((f) => statSync(join(d, f)).mtimeMs),
  );
  started.length = 0;
  const second = await runExperiment(o);
  assert.equal(started.length, 0, 'no run trained again');
  assert.deepEqual(
    files.flatMap((d) =>
      ['summary.json', 'evaluation.json', 'model.safetensors'].map((f) => statSync(join(d, f)).mtimeMs),
    ),
    stamps,
  );
  assert.equal(second.resultsMarkdown, first.resultsMarkdown);
  assert.ok(existsSync(join(out, 'report.html')));
});

test('runs trained side by side in `kneeseg train` processes equal the same runs trained here, bit for bit', async () => {
  const rows = [
    { row: 'Supervised', method: 'supervised', fraction: 1 },
    { row: 'SSHCPS', method: 'sshcps', fraction: 0.5 },
  ];
  const base = { kind: 'compare', data, backbone: 'unet', maxIterations: 6, baseConfig: TINY, rows } as const;
  const here = await runExperiment({ ...base, out: join(root, 'here') });
  const lines: string[] = [];
  const pooled = await runExperiment({
    ...base,
    out: join(root, 'pooled'),
    trainRuns: trainPool({ processes: 2, threadsEach: 1, log: (l) => lines.push(l) }),
  });
  assert.deepEqual(lines, []);
  assert.deepEqual(
    pooled.runs.map((r) => [r.spec.method, r.iterations]),
    [
      ['supervised', 6],
      ['sshcps', 6],
    ],
  );
  for (const r of here.runs) {
    const key = `${r.spec.method}-l${r.labelled}-s0`;
    const weights = (out: string) => readFileSync(join(root, out, 'runs', key, 'model.safetensors'));
    assert.ok(weights('here').equals(weights('pooled')), `${key}: the same weights`);
  }
  assert.deepEqual(
    pooled.runs.map((r) => r.evaluation),
    here.runs.map((r) => r.evaluation),
  );
});

test('an experiment whose trainer leaves a run unfinished says which and how to resume', async () => {
  await assert.rejects(
    runExperiment({
      kind: 'compare',
      data,
      out: join(root, 'unfinished'),
      backbone: 'unet',
      maxIterations: 6,
      baseConfig: TINY,
      rows: [{ row: 'Supervised', method: 'supervised', fraction: 1 }],
      trainRuns: async () => {},
    }),
    /training did not finish .*supervised-l2-s0 \(no summary\.json, or one of an interrupted run\)\. Fix: run the same command again/,
  );
});

test('a run stopped by Ctrl-C (summary.json says interrupted) is not taken as finished: the next experiment resumes it', async () => {
  const base = {
    kind: 'compare',
    data,
    out: join(root, 'interrupted'),
    backbone: 'unet',
    maxIterations: 6,
    baseConfig: TINY,
    rows: [{ row: 'Supervised', method: 'supervised', fraction: 1 }],
  } as const;
  // a trainer whose run is stopped as Ctrl-C stops `kneeseg train`: after its first iterations
  let asked = 0;
  const stopped: RunTrainer = async (jobs) => {
    for (const j of jobs)
      await runTraining(j.config, { out: j.dir, resume: true, stopRequested: () => ++asked > 3 });
  };
  await assert.rejects(
    runExperiment({ ...base, trainRuns: stopped }),
    /training did not finish .*interrupted run/,
  );
  const dir = join(base.out, 'runs', 'supervised-l2-s0');
  const first = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
  assert.equal(first.stopped, 'interrupted');
  assert.ok(first.iterations < 6);
  const starts: number[] = [];
  const r = await runExperiment({
    ...base,
    listener: (e) => {
      if (e.type === 'start') starts.push(e.startIteration);
    },
  });
  assert.deepEqual(starts, [first.iterations], 'resumed where it stopped');
  assert.equal(r.runs[0]!.iterations, 6);
});
