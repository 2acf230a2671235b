/**
 * RUN/splits.json: the split a run trained on, case ids per role, written once by the run (src/train/
 * run.ts) and read by every later step (the experiment's prediction of the test split and its
 * evaluation), as nnU-Net writes splits_final.json once. The split is computed in one place,
 * `configSplit`, from the options a configuration sets (seed, `data.labelled`, `data.subjectPattern`).
 *
 *   { "seed": 0, "subjectPattern": null, "labelledCount": null,
 *     "labelled": [ids], "unlabelled": [ids], "validation": [ids], "test": [ids] }
 *
 * `labelled` and `unlabelled` are the training cases whose labels are used or not; ids are sorted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { openDataset, readDatasetJson, type Dataset } from '../data/dataset.ts';
import { datasetSplit, type Split, type SplitOptions } from '../data/splits.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../output/atomic.ts';
import { parseConfig, withLegacyKeys, type TrainConfig } from './config.ts';

export const SPLITS_FILE = 'splits.json';

const ids = z.array(z.string().min(1));

export const RunSplitSchema = z.strictObject({
  seed: z.number().int().min(0),
  subjectPattern: z.string().nullable(),
  labelledCount: z.number().int().positive().nullable(),
  labelled: ids,
  unlabelled: ids,
  validation: ids,
  test: ids,
});

export type RunSplit = z.infer<typeof RunSplitSchema>;

/** The split options a training configuration sets. */
export function splitOptionsOf(config: TrainConfig): SplitOptions {
  return {
    seed: config.seed,
    labelled: config.data.labelled ?? undefined,
    subjectPattern: config.data.subjectPattern ?? undefined,
  };
}

/** The split a run of `config` trains on (the one function training and experiments both call). */
export function configSplit(ds: Pick<Dataset, 'training' | 'test'>, config: TrainConfig): Split {
  return datasetSplit(ds, splitOptionsOf(config));
}

/** A split as RUN/splits.json holds it. */
export function runSplitOf(split: Split, config: TrainConfig): RunSplit {
  const of = (cases: Split['train']) => cases.map((c) => c.id);
  return {
    seed: config.seed,
    subjectPattern: config.data.subjectPattern,
    labelledCount: config.data.labelled,
    labelled: of(split.train.filter((c) => c.labelled)),
    unlabelled: of(split.train.filter((c) => !c.labelled)),
    validation: of(split.validation),
    test: of(split.test),
  };
}

const FIX = 'give a run folder written by `kneeseg train` (or delete the run folder and train it again)';

/** Reads and validates RUN/splits.json; InputError naming the file for a missing or invalid one. */
export function readRunSplit(runDir: string): RunSplit {
  const path = join(runDir, SPLITS_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    const problem = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : 'is not valid JSON';
    throw new InputError(path, problem, FIX);
  }
  // splits.json files written before the count was named labelledCount
  const r = RunSplitSchema.safeParse(withLegacyKeys(raw, { labeled: 'labelledCount' }));
  if (!r.success)
    throw new InputError(
      path,
      `is malformed: ${r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}`,
      FIX,
    );
  return r.data;
}

export function writeRunSplit(runDir: string, split: RunSplit): void {
  writeFileAtomic(join(runDir, SPLITS_FILE), `${JSON.stringify(RunSplitSchema.parse(split), null, 2)}\n`);
}

/**
 * A dataset's cases, whatever structures its labels name (a split needs only the cases; training
 * checks the names against its label tree).
 */
export function openDatasetCases(dir: string): Dataset {
  const names = Object.keys(readDatasetJson(dir).labels).filter((n) => n !== 'background');
  return openDataset(dir, { structures: names });
}

/**
 * The split of a run folder: RUN/splits.json, or for a run trained before runs wrote it, the split
 * its RUN/config.json gives (by `configSplit`, as the run computed it), written to RUN/splits.json.
 */
export function runSplit(runDir: string): RunSplit {
  if (existsSync(join(runDir, SPLITS_FILE)) || !existsSync(join(runDir, 'config.json')))
    return readRunSplit(runDir);
  const configPath = join(runDir, 'config.json');
  let config: TrainConfig;
  try {
    config = parseConfig(JSON.parse(readFileSync(configPath, 'utf8')) as unknown);
  } catch (e) {
    throw new InputError(configPath, `cannot be read as a run configuration (${(e as Error).message})`, FIX);
  }
  const split = runSplitOf(configSplit(openDatasetCases(config.data.dir), config), config);
  writeRunSplit(runDir, split);
  return split;
}

/**
 * Writes RUN/splits.json for a run starting or resuming. A resumed run must split as it did: a
 * dataset whose cases changed since is refused (the run would mix two splits).
 */
export function recordRunSplit(runDir: string, split: RunSplit, resume: boolean): void {
  const path = join(runDir, SPLITS_FILE);
  if (resume && existsSync(path)) {
    const before = readRunSplit(runDir);
    if (JSON.stringify(before) !== JSON.stringify(split))
      throw new InputError(
        path,
        'differs from the split of the dataset as it is now (its cases changed since the run started)',
        'resume with the dataset as it was, or start a new run folder',
      );
  }
  writeRunSplit(runDir, split);
}
