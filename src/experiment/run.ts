/**
 * `kneeseg experiment`: trains every run a table needs, predicts the test split with each model,
 * evaluates, and writes RESULTS.md, RESULTS.json, the figures and one HTML page. Each step of each
 * run leaves a file behind (summary.json, pred/, evaluation.json) and is skipped when that file is
 * there (a summary.json that says the run was interrupted excepted: that run resumes), so an
 * interrupted experiment resumes where it stopped.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.ts';
import { datasetSplit } from '../data/splits.ts';
import { readVolume, writeLabelMap } from '../data/io/index.ts';
import { mergeConfig, parseConfig } from '../train/config.ts';
import { runTraining, type RunSummary } from '../train/run.ts';
import { INTERRUPTED } from '../train/schedule-rules.ts';
import { openDatasetCases, runSplit, splitOptionsOf, type RunSplit } from '../train/run-split.ts';
import type { TrainListener } from '../train/events.ts';
import { loadModel } from '../infer/load-model.ts';
import { predictVolume } from '../infer/predict.ts';
import { evaluateFolders } from '../eval/evaluate.ts';
import { evaluationJson, EvaluationJsonSchema, type EvaluationJson } from '../eval/evaluation-json.ts';
import { KneesegError } from '../errors.ts';
import { writeFileAtomic } from '../output/atomic.ts';
import {
  defaultSeeds,
  labelledCount,
  rowsOf,
  runKey,
  sameRow,
  type ExperimentKind,
  type RowSpec,
} from './plan.ts';
import {
  groupRows,
  markdownTable,
  meanCartilageDice,
  referenceRow,
  type RunResult,
  type TableRow,
} from './results.ts';
import { writeExperimentReport } from './report.ts';

export interface ExperimentOptions {
  kind: ExperimentKind;
  data: string;
  out: string;
  backbone?: 'medt' | 'unet';
  /** seeds per run (default: 1; 3 for 'options') */
  seeds?: number;
  /** first seed (default 0) */
  seed?: number;
  minutesPerRun?: number;
  /** iteration cap per run (null: the schedule's) */
  maxIterations?: number;
  /** extra configuration merged under every run's (a parsed --config file) */
  baseConfig?: Record<string, unknown>;
  /** label share of the "20%" rows */
  low?: number;
  fractions?: readonly number[];
  /** only these methods (default: all the table needs) */
  methods?: readonly string[];
  /** these rows instead of the table's (the demo's short comparison) */
  rows?: readonly RowSpec[];
  /**
   * Trains the unfinished runs (no summary.json, or one of an interrupted run), any way it likes (the
   * CLI's process pool trains several at once); each must leave its run folder with the summary.json
   * of a finished run. Default: one after another in this process, reporting to `listener`.
   */
  trainRuns?: RunTrainer;
  listener?: TrainListener;
  log?: (line: string) => void;
}

/** A training run of an experiment: its key (runs/KEY), folder and whole configuration. */
export interface TrainJob {
  key: string;
  dir: string;
  config: Record<string, unknown>;
}

export type RunTrainer = (jobs: readonly TrainJob[]) => Promise<void>;

export interface ExperimentResult {
  resultsMarkdown: string;
  resultsPath: string;
  htmlPath: string;
  runs: RunResult[];
}

interface PlannedRun {
  spec: RowSpec;
  labelled: number;
  available: number;
  /** training cases in all, labelled or not */
  trainCases: number;
  seed: number;
  key: string;
  dir: string;
}

/**
 * The ground truth of a run's test split (RUN/splits.json) as one folder of copies from the dataset,
 * for `evaluateFolders`; the folder is shared by the runs of one seed and holds exactly this test split.
 */
function groundTruthFolder(
  out: string,
  ds: Dataset,
  split: RunSplit,
): { gt: string; images: Map<string, string> } {
  const all = new Map([...ds.training, ...ds.test].map((c) => [c.id, c]));
  const gt = join(out, 'ground-truth', `split-${split.seed}`);
  const images = new Map<string, string>();
  mkdirSync(gt, { recursive: true });
  const names = new Set<string>();
  for (const id of split.test) {
    const files = all.get(id);
    if (!files)
      throw new KneesegError(`the test case ${id} of the run's splits.json is not in the dataset ${ds.dir}`);
    if (!files.label) continue; // an unlabelled test case cannot be scored
    images.set(id, files.images[0]!);
    const name = `${id}${ds.json.file_ending}`;
    names.add(name);
    const link = join(gt, name);
    if (!existsSync(link)) copyFileSync(files.label, link); // a copy: the image readers do not follow links out of their folder
  }
  // another test split of this seed (another subjectPattern) left its cases here: they are not scored
  for (const f of readdirSync(gt)) if (!names.has(f)) rmSync(join(gt, f), { force: true });
  return { gt, images };
}

function rowSpecs(o: ExperimentOptions): RowSpec[] {
  const all = o.rows ? [...o.rows] : rowsOf(o.kind, { low: o.low, fractions: o.fractions });
  return all.filter((s) => !o.methods || o.methods.includes(s.method));
}

function plan(o: ExperimentOptions, ds: Dataset): PlannedRun[] {
  const seeds = Array.from({ length: o.seeds ?? defaultSeeds(o.kind) }, (_, k) => (o.seed ?? 0) + k);
  const specs = rowSpecs(o);
  const runs: PlannedRun[] = [];
  for (const seed of seeds) {
    for (const spec of specs) {
      // the split the run will train on (its subjectPattern included), before its labels are thinned
      const config = parseConfig(mergeConfig(mergeConfig(o.baseConfig ?? {}, spec.config ?? {}), { seed }));
      const split = datasetSplit(ds, { ...splitOptionsOf(config), labelled: undefined });
      const available = split.train.filter((c) => c.labelled).length;
      const labelled = labelledCount(spec.fraction, available);
      const key = runKey(spec.method, labelled, seed, spec.variant);
      runs.push({
        spec,
        labelled,
        available,
        trainCases: split.train.length,
        seed,
        key,
        dir: join(o.out, 'runs', key),
      });
    }
  }
  return runs;
}

/** The whole configuration of a planned run: base, row variant, then the run's own keys. */
function runConfig(o: ExperimentOptions, r: PlannedRun): Record<string, unknown> {
  const schedule: Record<string, unknown> = {};
  if (o.minutesPerRun !== undefined) schedule.minutes = o.minutesPerRun;
  if (o.maxIterations !== undefined) schedule.maxIterations = o.maxIterations;
  return mergeConfig(mergeConfig(o.baseConfig ?? {}, r.spec.config ?? {}), {
    data: { dir: o.data, labelled: r.labelled < r.available ? r.labelled : null },
    method: { name: r.spec.method },
    seed: r.seed,
    ...(o.backbone ? { model: { backbone: o.backbone } } : {}),
    ...(Object.keys(schedule).length ? { schedule } : {}),
  });
}

const summaryPath = (r: PlannedRun) => join(r.dir, 'summary.json');

const readSummary = (r: PlannedRun): RunSummary =>
  JSON.parse(readFileSync(summaryPath(r), 'utf8')) as RunSummary;

/** A run is done when it wrote summary.json and was not stopped by Ctrl-C (that one resumes). */
const finished = (r: PlannedRun): boolean =>
  existsSync(summaryPath(r)) && readSummary(r).stopped !== INTERRUPTED;

/** Trains every unfinished run: with `o.trainRuns` when given, else here, one by one. */
async function trainRuns(o: ExperimentOptions, runs: readonly PlannedRun[]): Promise<void> {
  const todo = runs.filter((r) => !finished(r));
  const jobs = todo.map((r) => ({ key: r.key, dir: r.dir, config: runConfig(o, r) }));
  for (const j of jobs) parseConfig(j.config); // fail before any training on a bad configuration
  if (o.trainRuns) {
    if (jobs.length) await o.trainRuns(jobs);
    const missing = todo.filter((r) => !finished(r));
    if (missing.length)
      throw new KneesegError(
        `training did not finish ${missing.map((r) => r.dir).join(', ')} (no summary.json, or one of an interrupted run). ` +
          'Fix: run the same command again; finished runs are reused and the others resume from their checkpoints',
      );
    return;
  }
  for (const j of jobs) await runTraining(j.config, { out: j.dir, resume: true, listener: o.listener });
}

async function predictRun(r: PlannedRun, images: Map<string, string>, ending: string): Promise<string> {
  const pred = join(r.dir, 'pred');
  const done = join(pred, '.complete');
  if (existsSync(done)) return pred;
  rmSync(pred, { recursive: true, force: true });
  mkdirSync(pred, { recursive: true });
  const model = loadModel(r.dir);
  for (const [id, file] of images) {
    const image = await readVolume(file);
    const { labels } = predictVolume(model, image, file);
    await writeLabelMap(join(pred, `${id}${ending}`), labels);
  }
  writeFileAtomic(done, '');
  return pred;
}

async function evaluateRun(r: PlannedRun, pred: string, gt: string): Promise<EvaluationJson> {
  const path = join(r.dir, 'evaluation.json');
  if (existsSync(path)) return EvaluationJsonSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  const ev = evaluationJson(await evaluateFolders({ predDir: pred, gtDir: gt, workers: 1 }));
  writeFileAtomic(path, `${JSON.stringify(ev, null, 2)}\n`);
  return ev;
}

/** The schedule's iteration cap in the base configuration, if it sets one. */
function baseMaxIterations(o: ExperimentOptions): unknown {
  const schedule = o.baseConfig?.schedule;
  return schedule && typeof schedule === 'object'
    ? (schedule as Record<string, unknown>).maxIterations
    : undefined;
}

export async function runExperiment(o: ExperimentOptions): Promise<ExperimentResult> {
  const log = o.log ?? (() => {});
  if (
    o.kind === 'options' &&
    o.maxIterations === undefined &&
    o.minutesPerRun === undefined &&
    typeof baseMaxIterations(o) !== 'number'
  )
    throw new KneesegError(
      'experiment options compares the options at equal iterations, and no budget was given. ' +
        'Fix: add --max-iterations N (e.g. 2000), or --minutes-per-run M',
    );
  mkdirSync(o.out, { recursive: true });
  const ds = openDatasetCases(o.data);
  const ending = ds.json.file_ending;
  const runs = plan(o, ds);
  const unique = [...new Map(runs.map((r) => [r.key, r])).values()];
  const results: RunResult[] = [];
  const describe = (r: PlannedRun, i: number) =>
    `[${i + 1}/${unique.length}] ${r.key}: ${r.spec.row}, ${r.labelled} of ${r.available} labelled, seed ${r.seed}`;
  if (o.trainRuns) {
    for (const [i, r] of unique.entries()) log(describe(r, i));
    await trainRuns(o, unique);
  }
  for (const [i, r] of unique.entries()) {
    if (!o.trainRuns) {
      log(describe(r, i));
      await trainRuns(o, [r]);
    }
    const summary = readSummary(r);
    const { gt, images } = groundTruthFolder(o.out, ds, runSplit(r.dir));
    const pred = await predictRun(r, images, ending);
    const evaluation = await evaluateRun(r, pred, gt);
    const mean = [...meanCartilageDice(evaluation).values()];
    log(
      `    ${r.key}: mean cartilage Dice ${(100 * (mean.reduce((a, b) => a + b, 0) / mean.length)).toFixed(1)}% over ${mean.length} test scans`,
    );
    results.push({
      spec: r.spec,
      labelled: r.labelled,
      available: r.available,
      trainCases: r.trainCases,
      seed: r.seed,
      parameters: summary.predictor_parameters,
      iterations: summary.iterations,
      evaluation,
    });
  }
  const specs = rowSpecs(o);
  const rows = groupRows(
    specs,
    results.map((r) => ({
      ...r,
      spec: specs.find((s) => sameRow(s, r.spec)) ?? r.spec,
    })),
  );
  const md = resultsMarkdown(o, rows);
  const resultsPath = join(o.out, 'RESULTS.md');
  writeFileAtomic(resultsPath, md);
  writeFileAtomic(
    join(o.out, 'RESULTS.json'),
    `${JSON.stringify(
      results.map((r) => ({
        method: r.spec.method,
        ...(r.spec.variant === undefined ? {} : { variant: r.spec.variant }),
        row: r.spec.row,
        fraction: r.spec.fraction,
        labelled: r.labelled,
        seed: r.seed,
        parameters: r.parameters,
        structures: r.evaluation.structures,
      })),
      null,
      2,
    )}\n`,
  );
  const htmlPath = await writeExperimentReport(o, rows, md);
  return { resultsMarkdown: md, resultsPath, htmlPath, runs: results };
}

function resultsMarkdown(o: ExperimentOptions, rows: TableRow[]): string {
  const title: Record<ExperimentKind, string> = {
    ablation: 'Ablation (Table 1 of the paper)',
    compare: 'Comparison with other methods (Tables 2-3 of the paper)',
    'label-efficiency': 'Label efficiency (Figure 3 of the paper)',
    options: 'Ablation of the departures from the paper',
  };
  const parts = [
    `# ${title[o.kind]}`,
    '',
    `Data: \`${o.data}\`; backbone: ${o.backbone ?? 'medt'}; seeds: ${o.seeds ?? defaultSeeds(o.kind)}.`,
    '',
  ];
  if (o.kind === 'ablation') {
    for (const full of [false, true]) {
      const sub = rows.filter((r) => (r.spec.fraction === 1) === full);
      const ref = referenceRow(sub);
      parts.push(
        `## ${full ? '100%' : `${Math.round(100 * (o.low ?? 0.2))}%`} of the training labels`,
        '',
        markdownTable(sub, ref),
        '',
      );
    }
  } else if (o.kind === 'options') {
    parts.push(
      'SSHCPS with its defaults (the reference row) and with one departure from the paper set back at a time:',
      '"no state Dice" sets `tree.diceWeight` to 0 (BCE only on the hierarchy states); "per-entry cond. BCE"',
      "sets `tree.condReduction` to 'entries' (conditional BCE averaged over every entry, not per node);",
      '"DTC SDF targets" sets `tree.sdfForm` to \'dtc\' (the plain normalised SDF, not the thin-aware one);',
      "\"L_C summed over nodes\" sets `tree.consistencyNodes` to 'sum' (Eq. 14's squared norm, not the mean);",
      '"no foreground oversampling" sets `batch.foreground.share` to 0 (uniform slices); "paper preset" applies',
      "all of configs/paper.json: the five above plus the level-set head's own learning rate (0.01, x0.1 every",
      '200 iterations), EMA-VL model selection and the stage switch without a Dice guard.',
      `All rows run under the same budget: ${budget(o)}.`,
      '',
      markdownTable(rows, referenceRow(rows), 'p vs default'),
      '',
    );
  } else {
    parts.push(markdownTable(rows, referenceRow(rows)), '');
  }
  parts.push(
    'Dice in %, HD95 in mm: mean ± sd over seeds (over test scans with one seed). p: paired Wilcoxon signed-rank test of',
    `${o.kind === 'options' ? 'SSHCPS with its defaults' : 'SSHCPS'} against the row on the per-scan mean cartilage Dice.`,
    '',
  );
  return parts.join('\n');
}

/** The budget every run of the experiment had, in words. */
function budget(o: ExperimentOptions): string {
  const parts: string[] = [];
  const cap = o.maxIterations ?? baseMaxIterations(o);
  if (typeof cap === 'number')
    parts.push(`${cap} iterations each (fewer only where early stopping ends a run)`);
  if (o.minutesPerRun !== undefined) parts.push(`at most ${o.minutesPerRun} minutes per run`);
  return parts.join(', ');
}
