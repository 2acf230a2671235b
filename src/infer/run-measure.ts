/**
 * `kneeseg measure` as a library call: volumes and cartilage thickness of label maps that already
 * exist, without a model. The input is a label-map file or a folder of them ({case}{ending}, any
 * ending readVolume reads, as `kneeseg evaluate` lists them); the files written are those
 * `kneeseg predict` writes beside its label maps, from the same code (measureCase):
 *
 *   DIR/thickness/{case}_{plate}.png        thickness map per cartilage plate
 *   DIR/measurements.csv, measurements.json volumes and thickness of every case done
 *
 * A label map holds 0 (background) and the label values of the structures (by default kneeseg's,
 * METHOD.md section 2; else the `labels` of a dataset.json). One that fails (unreadable, an unknown
 * label value) is reported through the listener and skipped; the others go on. An output that cannot
 * be written (OutputError) ends the run. The output folder is locked while it runs (src/output/lock.ts).
 * The library never prints.
 */
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { READABLE_ENDINGS } from '../data/dataset-json.ts';
import { DEFAULT_LABELS } from '../data/dataset.ts';
import { readVolume } from '../data/io/index.ts';
import type { Volume } from '../data/volume.ts';
import { InputError, KneesegError, OutputError } from '../errors.ts';
import { listLabelMaps } from '../data/case-files.ts';
import { writeFileAtomic } from '../output/atomic.ts';
import { withFolderLock } from '../output/lock.ts';
import { measureLabelMap, measurementsCsv, measurementsJson, type CaseMeasurements } from './measure.ts';
import { projectThickness, thicknessPng } from './thickness-map.ts';
import type { KneeSide } from './volume.ts';

/**
 * Measures one label map and draws its plates' thickness maps into DIR/thickness/ (what predict and
 * measure do for every case).
 */
export function measureCase(
  id: string,
  labels: Volume,
  structures: ReadonlyMap<number, string>,
  output: string,
  side?: KneeSide,
): CaseMeasurements {
  const { measurements, maps } = measureLabelMap(id, labels, structures, { side });
  for (const [plate, map] of maps)
    writeFileAtomic(
      join(output, 'thickness', `${id}_${plate}.png`),
      thicknessPng(projectThickness(map, labels)),
    );
  return measurements;
}

/**
 * Writes DIR/measurements.csv and .json for the cases measured so far; returns the two paths.
 * Called after every case, so an interrupted run keeps what it measured.
 */
export function writeMeasurements(
  output: string,
  cases: readonly CaseMeasurements[],
  structures: ReadonlyMap<number, string>,
  extra: Record<string, unknown>,
): string[] {
  const files = [join(output, 'measurements.csv'), join(output, 'measurements.json')];
  writeFileAtomic(files[0]!, measurementsCsv(cases));
  writeFileAtomic(files[1]!, measurementsJson(cases, structures, extra));
  return files;
}

/** Label value -> structure name, background left out, ordered by value (as a model's structures). */
export function structuresOf(labels: Readonly<Record<string, number>> = DEFAULT_LABELS): Map<number, string> {
  return new Map(
    Object.entries(labels)
      .filter(([name]) => name !== 'background')
      .sort((a, b) => a[1] - b[1])
      .map(([name, value]) => [value, name]),
  );
}

export interface LabelMapInput {
  /** case id the outputs are named after: the file name without its ending */
  readonly id: string;
  readonly path: string;
}

/** The label maps of `path`: the file itself, or every label map in the folder, sorted by case id. */
export function listLabelMapInputs(path: string): LabelMapInput[] {
  const stat = statSync(path, { throwIfNoEntry: false });
  const endings = READABLE_ENDINGS.join(', ');
  if (!stat)
    throw new InputError(path, 'does not exist', `give a label map (${endings}) or a folder of label maps`);
  if (!stat.isDirectory()) {
    const name = basename(path);
    const ending = READABLE_ENDINGS.find((e) => name.toLowerCase().endsWith(e));
    return [{ id: ending ? name.slice(0, -ending.length) : name, path }];
  }
  const maps = [...listLabelMaps(path)].map(([id, p]) => ({ id, path: p }));
  if (maps.length === 0)
    throw new InputError(
      path,
      `holds no label maps (${endings})`,
      'give a label map or a folder of label maps',
    );
  return maps;
}

/** InputError naming `file` when a voxel is neither background (0) nor a structure's label value. */
export function checkLabelValues(vol: Volume, file: string, structures: ReadonlyMap<number, string>): void {
  const unknown = new Set<number>();
  // Nine are enough to tell (and to stop early on a scan given as a label map).
  for (const v of vol.data) if (v !== 0 && !structures.has(v) && unknown.add(v).size > 8) break;
  if (unknown.size === 0) return;
  const shown = [...unknown].sort((a, b) => a - b).slice(0, 8);
  const known = [...structures].map(([v, name]) => `${v} ${name}`).join(', ');
  throw new InputError(
    file,
    `holds label value(s) ${shown.join(', ')}${unknown.size > 8 ? ', ...' : ''} that are not structures (0 background, ${known})` +
      (unknown.size > 8 ? '; is it a scan rather than a label map?' : ''),
    'give a label map numbered as kneeseg writes them, or pass --labels with the dataset.json that numbers its structures',
  );
}

export interface MeasureRunOptions {
  /** output folder (default: the folder of the label maps) */
  readonly output?: string;
  readonly side?: KneeSide;
  /** label value -> structure (default: kneeseg's, structuresOf()) */
  readonly structures?: ReadonlyMap<number, string>;
}

export type MeasureEvent =
  | { type: 'start'; total: number; output: string }
  | { type: 'case-done'; index: number; total: number; input: LabelMapInput; seconds: number }
  | { type: 'case-failed'; index: number; total: number; input: LabelMapInput; error: KneesegError };

export interface MeasureRunResult {
  readonly done: readonly { input: LabelMapInput; measurements: CaseMeasurements }[];
  readonly failed: readonly { input: LabelMapInput; error: KneesegError }[];
  /** measurements.csv and .json, when at least one case was done */
  readonly measurementFiles: readonly string[];
}

/** Measures every label map of `input`; see the module comment for the files written. */
export async function measureLabelMaps(
  input: string,
  o: MeasureRunOptions = {},
  listener: (e: MeasureEvent) => void = () => {},
): Promise<MeasureRunResult> {
  const inputs = listLabelMapInputs(input);
  const output = o.output ?? (statSync(input).isDirectory() ? input : dirname(input));
  const structures = o.structures ?? structuresOf();
  return withFolderLock(output, 'measure', () => measureInto(output, input, inputs, structures, o, listener));
}

async function measureInto(
  output: string,
  input: string,
  inputs: readonly LabelMapInput[],
  structures: ReadonlyMap<number, string>,
  o: MeasureRunOptions,
  listener: (e: MeasureEvent) => void,
): Promise<MeasureRunResult> {
  listener({ type: 'start', total: inputs.length, output });
  const done: { input: LabelMapInput; measurements: CaseMeasurements }[] = [];
  const failed: { input: LabelMapInput; error: KneesegError }[] = [];
  let files: string[] = [];
  for (const [index, item] of inputs.entries()) {
    const t0 = performance.now();
    try {
      const labels = await readVolume(item.path);
      checkLabelValues(labels, item.path, structures);
      const measurements = measureCase(item.id, labels, structures, output, o.side);
      done.push({ input: item, measurements });
      files = writeMeasurements(
        output,
        done.map((d) => d.measurements),
        structures,
        { label_maps: input },
      );
      const seconds = (performance.now() - t0) / 1000;
      listener({ type: 'case-done', index, total: inputs.length, input: item, seconds });
    } catch (e) {
      if (e instanceof OutputError) throw e; // the output folder fails every case alike
      const error =
        e instanceof KneesegError
          ? e
          : new InputError(
              item.path,
              `could not be measured (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`,
              'check that the file is a complete, readable label map',
            );
      failed.push({ input: item, error });
      listener({ type: 'case-failed', index, total: inputs.length, input: item, error });
    }
  }
  return { done, failed, measurementFiles: files };
}
