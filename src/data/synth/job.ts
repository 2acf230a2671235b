/**
 * One case of a synthetic cohort: render it and write its image (and label map when it is to be
 * labelled). Runs in a worker thread (worker.ts) or, for a single case, in the caller's thread.
 */
import { join } from 'node:path';
import { writeLabelMap, writeVolume } from '../io/index.ts';
import { hashSeed } from '../random.ts';
import { renderCase, type SynthGrid } from './generate.ts';
import { sampleSubject } from './subject.ts';

export interface SynthJob {
  /** output folder (the cohort's temporary folder) */
  readonly dir: string;
  readonly id: string;
  /** index of the case in the cohort; with the cohort seed it fixes the subject */
  readonly index: number;
  readonly seed: number;
  readonly grid: SynthGrid;
  /** imagesTr + labelsTr, imagesTr only (unlabelled), or imagesTs + labelsTs */
  readonly kind: 'labelled' | 'unlabelled' | 'test';
}

export interface SynthJobResult {
  readonly id: string;
  /** voxels per label value 0..6 */
  readonly counts: number[];
}

/** A failed job as a worker thread reports it: an OutputError's fields, or an error's message and code. */
export interface SynthFailure {
  readonly message: string;
  /** the file that could not be written (in the cohort's temporary folder) */
  readonly output?: string;
  readonly problem?: string;
  readonly fix?: string;
  readonly code?: string;
}

/** Subject seed of case `index` in a cohort: independent of how many cases the cohort has. */
export function caseSeed(seed: number, index: number): number {
  return hashSeed(seed, index);
}

export async function runSynthJob(job: SynthJob): Promise<SynthJobResult> {
  const c = renderCase(sampleSubject(caseSeed(job.seed, job.index)), job.grid);
  const [images, labels] = job.kind === 'test' ? ['imagesTs', 'labelsTs'] : ['imagesTr', 'labelsTr'];
  await writeVolume(join(job.dir, images, `${job.id}_0000.nii.gz`), c.image);
  if (job.kind !== 'unlabelled') await writeLabelMap(join(job.dir, labels, `${job.id}.nii.gz`), c.label);
  const counts = new Array<number>(7).fill(0);
  for (const l of c.label.data) counts[l]!++;
  return { id: job.id, counts };
}
