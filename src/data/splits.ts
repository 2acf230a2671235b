/**
 * Deterministic splits of a dataset's cases by seed. Without imagesTs, imagesTr is split into
 * train : test : validation = 7 : 2 : 1 (the paper's ratio); with imagesTs, imagesTr is split into
 * train : validation = 7 : 1 and imagesTs is the test set. Cases of one subject (the part of the case
 * id matched by `subjectPattern`, e.g. `^(\w+?)_` keeps subj1_left and subj1_right together) always
 * land in one split, so no subject is both trained and tested on. Only subjects with at least one
 * labelled case can go to validation or test (they need labels to be scored); unlabelled-only
 * subjects always train. `labelled: N` keeps the labels of N training cases and makes the rest unlabelled.
 */
import { ConfigError } from '../errors.ts';
import type { Dataset } from './dataset.ts';
import { hashSeed, mulberry32, shuffle } from './random.ts';

export interface SplitInput {
  readonly id: string;
  readonly labelled: boolean;
}

export interface SplitCase {
  readonly id: string;
  /** true when this case's label is used (in train: counts toward `labelled`) */
  readonly labelled: boolean;
}

export interface Split {
  readonly train: readonly SplitCase[];
  readonly validation: readonly SplitCase[];
  readonly test: readonly SplitCase[];
}

export interface SplitOptions {
  readonly seed: number;
  /** keep the labels of this many training cases (default: all) */
  readonly labelled?: number;
  /** regex on the case id; group 1 (or the whole match) names the subject; default: the whole id */
  readonly subjectPattern?: string;
  /** train : test : validation ratio (default 7 : 2 : 1) */
  readonly ratio?: readonly [number, number, number];
}

/** The subject of a case id: group 1 of the pattern's match, else the whole match, else the id itself. */
export function subjectOf(id: string, pattern: RegExp | undefined): string {
  if (!pattern) return id;
  const m = pattern.exec(id);
  if (!m) return id;
  return m[1] ?? m[0];
}

/**
 * Splits imagesTr cases (`training`) and imagesTs cases (`test`, may be empty) as described above.
 * Cases in each list of the result are sorted by id; the result depends only on the ids, labels and options.
 */
export function makeSplit(
  training: readonly SplitInput[],
  test: readonly SplitInput[],
  options: SplitOptions,
): Split {
  let pattern: RegExp | undefined;
  if (options.subjectPattern !== undefined) {
    try {
      pattern = new RegExp(options.subjectPattern);
    } catch (err) {
      throw new ConfigError(
        'subjectPattern',
        `is not a valid regular expression (${(err as Error).message})`,
      );
    }
  }
  const [rTrain, rTest, rVal] = options.ratio ?? [7, 2, 1];
  if (![rTrain, rTest, rVal].every((r) => Number.isFinite(r) && r >= 0) || rTrain <= 0) {
    throw new ConfigError('ratio', 'needs three non-negative numbers, train > 0');
  }
  const subjects = new Map<string, SplitInput[]>();
  for (const c of [...training].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const s = subjectOf(c.id, pattern);
    subjects.set(s, [...(subjects.get(s) ?? []), c]);
  }
  const names = [...subjects.keys()].sort();
  const eligible = names.filter((s) => subjects.get(s)!.some((c) => c.labelled));
  const rng = mulberry32(hashSeed(options.seed, 0x5b117));
  shuffle(eligible, rng);
  const hasTest = test.length > 0;
  // The ratio applies to the labelled subjects: only they can be scored in validation and test.
  const total = eligible.length;
  const share = (r: number) => r / (rTrain + (hasTest ? 0 : rTest) + rVal);
  // At least one subject in each held-out split when the ratio asks for it and enough labelled subjects exist.
  const count = (r: number) => (r > 0 ? Math.max(1, Math.round(total * share(r))) : 0);
  let nVal = count(rVal);
  let nTest = hasTest ? 0 : count(rTest);
  // Keep at least one labelled subject for training.
  while (nVal + nTest > Math.max(0, eligible.length - 1) && nVal + nTest > 0) {
    if (nTest >= nVal && nTest > 0) nTest--;
    else nVal--;
  }
  const testSubjects = new Set(eligible.slice(0, nTest));
  const valSubjects = new Set(eligible.slice(nTest, nTest + nVal));
  const byId = (a: SplitCase, b: SplitCase) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const take = (set: Set<string>) =>
    names
      .filter((s) => set.has(s))
      .flatMap((s) => subjects.get(s)!)
      .sort(byId);
  const trainCases = names
    .filter((s) => !testSubjects.has(s) && !valSubjects.has(s))
    .flatMap((s) => subjects.get(s)!);
  const labelledTrain = trainCases.filter((c) => c.labelled).map((c) => c.id);
  let keep = new Set(labelledTrain);
  if (options.labelled !== undefined) {
    if (!Number.isInteger(options.labelled) || options.labelled < 0)
      throw new ConfigError('labelled', 'must be a whole number >= 0');
    if (options.labelled > labelledTrain.length) {
      throw new ConfigError(
        'labelled',
        `asks for ${options.labelled} labelled training cases, the training split has ${labelledTrain.length}`,
      );
    }
    keep = new Set(
      shuffle([...labelledTrain], mulberry32(hashSeed(options.seed, 0x1abe1))).slice(0, options.labelled),
    );
  }
  return {
    train: trainCases.map((c) => ({ id: c.id, labelled: keep.has(c.id) })).sort(byId),
    validation: take(valSubjects),
    test: hasTest
      ? [...test].map((c) => ({ id: c.id, labelled: c.labelled })).sort(byId)
      : take(testSubjects),
  };
}

/** The split of a dataset: its imagesTr and imagesTs cases (labelled where they have a label map) through makeSplit. */
export function datasetSplit(ds: Pick<Dataset, 'training' | 'test'>, options: SplitOptions): Split {
  const inputs = (cases: Dataset['training']) =>
    cases.map((c) => ({ id: c.id, labelled: c.label !== undefined }));
  return makeSplit(inputs(ds.training), inputs(ds.test), options);
}
