/**
 * `kneeseg predict` as a library call: every scan of an input (a file, a DICOM series folder or a
 * folder of scans, see scans.ts) is read, segmented, measured and written to the output folder:
 *
 *   DIR/{case}.nii.gz                       label map on the scan's own grid (ending selectable)
 *   DIR/probabilities/{case}_{structure}.nii.gz  float32 probability per structure (--probabilities)
 *   DIR/thickness/{case}_{plate}.png        thickness map per cartilage plate
 *   DIR/measurements.csv, measurements.json volumes and thickness of every case done
 *   DIR/uncertainty.json                    with --tta flip: per case, the fraction of foreground
 *                                           voxels whose label the left-right flip changes
 *
 * Probability maps are one 3-D file per structure rather than one 4-D file: kneeseg's Volume and its
 * writers are 3-D, and a 3-D map loads as an overlay in any viewer. They sit in a sub-folder so DIR
 * itself holds only label maps, the layout `kneeseg evaluate --pred DIR` expects.
 * A scan that fails (unreadable, 2-D, ...) is reported through the listener and skipped; the others
 * go on. An output that cannot be written (a full disk: OutputError naming it) ends the run; every
 * file is written atomically (src/output/atomic.ts), so what is there is whole. The output folder is
 * locked while the run writes to it (src/output/lock.ts). The library never prints.
 */
import { join } from 'node:path';
import { readVolume, writeLabelMap, writeVolume } from '../data/io/index.ts';
import { outOfMemoryBytes } from '../engine/index.ts';
import { InputError, KneesegError, OutputError } from '../errors.ts';
import { writeFileAtomic } from '../output/atomic.ts';
import { withFolderLock } from '../output/lock.ts';
import type { LoadedModel } from './load-model.ts';
import type { CaseMeasurements } from './measure.ts';
import { predictVolume, type FlipDisagreement, type PredictOptions } from './predict.ts';
import { measureCase, writeMeasurements } from './run-measure.ts';
import { listScans, type ScanInput } from './scans.ts';
import type { KneeSide } from './volume.ts';

export const OUTPUT_ENDINGS = ['.nii.gz', '.nii', '.mha', '.nrrd'] as const;
export type OutputEnding = (typeof OUTPUT_ENDINGS)[number];

export interface PredictRunOptions extends PredictOptions {
  readonly output: string;
  /** label-map file ending (default .nii.gz) */
  readonly ending?: OutputEnding;
  readonly side?: KneeSide;
  /** volumes, thickness and thickness maps (default true) */
  readonly measure?: boolean;
}

export type PredictEvent =
  | { type: 'start'; total: number; ignored: readonly string[] }
  | { type: 'case-start'; index: number; total: number; scan: ScanInput }
  | { type: 'slices'; scan: ScanInput; done: number; total: number }
  | { type: 'case-done'; index: number; total: number; scan: ScanInput; output: string; seconds: number }
  | { type: 'case-failed'; index: number; total: number; scan: ScanInput; error: KneesegError };

interface CaseOutput {
  output: string;
  measurements?: CaseMeasurements;
  flip?: FlipDisagreement;
}

export interface PredictRunResult {
  readonly done: readonly ({ scan: ScanInput } & CaseOutput)[];
  readonly failed: readonly { scan: ScanInput; error: KneesegError }[];
  /** measurements.csv and .json, when measured and at least one case was done */
  readonly measurementFiles: readonly string[];
  /** uncertainty.json, with tta 'flip' when at least one case was done */
  readonly uncertaintyFile?: string;
}

/** Segments (and measures) one scan and writes its files; throws InputError for a scan that does not fit. */
export async function predictCase(
  m: LoadedModel,
  scan: ScanInput,
  o: PredictRunOptions,
  onSlices?: (done: number, total: number) => void,
): Promise<CaseOutput> {
  const image = await readVolume(scan.path);
  const pred = predictVolume(m, image, scan.path, o, onSlices);
  const output = join(o.output, `${scan.id}${o.ending ?? '.nii.gz'}`);
  await writeLabelMap(output, pred.labels);
  for (const [name, vol] of pred.probabilities ?? [])
    await writeVolume(join(o.output, 'probabilities', `${scan.id}_${name}.nii.gz`), vol);
  const flip = pred.flip ? { flip: pred.flip } : {};
  if (o.measure === false) return { output, ...flip };
  return { output, ...flip, measurements: measureCase(scan.id, pred.labels, m.structures, o.output, o.side) };
}

/** DIR/uncertainty.json: the flip disagreement of every case done so far (rewritten after each). */
function writeUncertainty(output: string, done: readonly ({ scan: ScanInput } & CaseOutput)[]): string {
  const file = join(output, 'uncertainty.json');
  const body = {
    measure:
      'flip_disagreement: fraction of the foreground pixels of the network slices (foreground in either prediction) whose label differs between the scan and its left-right mirror image (predict --tta flip)',
    cases: done
      .filter((d) => d.flip)
      .map((d) => ({
        case: d.scan.id,
        flip_disagreement: d.flip!.fraction,
        changed_voxels: d.flip!.changed,
        foreground_voxels: d.flip!.foreground,
      })),
  };
  writeFileAtomic(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}

/** An error of one scan as an InputError naming it (readers of broken files may throw plain errors). */
function asInputError(e: unknown, path: string): KneesegError {
  if (e instanceof KneesegError) return e;
  const bytes = outOfMemoryBytes(e);
  if (bytes !== undefined)
    return new KneesegError(
      `${path}: out of memory segmenting it${Number.isNaN(bytes) ? '' : ` (${(bytes / 2 ** 30).toFixed(1)} GiB for one tensor)`}. ` +
        'Fix: give a smaller --batch (slices per forward pass), or use a machine with more memory',
    );
  const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  return new InputError(
    path,
    `could not be segmented (${msg})`,
    'check that the file is a complete, readable scan',
  );
}

/** Runs every scan of `input`; see the module comment for the files written. */
export async function predictScans(
  m: LoadedModel,
  input: string,
  o: PredictRunOptions,
  listener: (e: PredictEvent) => void = () => {},
): Promise<PredictRunResult> {
  const { scans, ignored } = listScans(input);
  return withFolderLock(o.output, 'predict', () => predictInto(m, scans, ignored, o, listener));
}

async function predictInto(
  m: LoadedModel,
  scans: readonly ScanInput[],
  ignored: readonly string[],
  o: PredictRunOptions,
  listener: (e: PredictEvent) => void,
): Promise<PredictRunResult> {
  listener({ type: 'start', total: scans.length, ignored });
  const done: ({ scan: ScanInput } & CaseOutput)[] = [];
  const failed: { scan: ScanInput; error: KneesegError }[] = [];
  const measured: CaseMeasurements[] = [];
  let files: string[] = [];
  let uncertainty: string | undefined;
  for (const [index, scan] of scans.entries()) {
    listener({ type: 'case-start', index, total: scans.length, scan });
    const t0 = performance.now();
    try {
      const r = await predictCase(m, scan, o, (d, t) =>
        listener({ type: 'slices', scan, done: d, total: t }),
      );
      done.push({ scan, ...r });
      if (r.measurements) {
        measured.push(r.measurements);
        files = writeMeasurements(o.output, measured, m.structures, { model: m.file });
      }
      if (r.flip) uncertainty = writeUncertainty(o.output, done);
      listener({
        type: 'case-done',
        index,
        total: scans.length,
        scan,
        output: r.output,
        seconds: (performance.now() - t0) / 1000,
      });
    } catch (e) {
      if (e instanceof OutputError) throw e; // the output folder fails every scan alike
      const error = asInputError(e, scan.path);
      failed.push({ scan, error });
      listener({ type: 'case-failed', index, total: scans.length, scan, error });
    }
  }
  return { done, failed, measurementFiles: files, uncertaintyFile: uncertainty };
}
