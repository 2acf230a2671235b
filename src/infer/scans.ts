/**
 * What `kneeseg predict --input PATH` means by PATH, and what each scan's output is called.
 *
 * - a file: one scan (any ending readVolume knows; others are an InputError when read);
 * - a folder holding image files (.nii.gz, .nii, .mha, .mhd, .nrrd, .h5, .hdf5) and/or sub-folders:
 *   a folder of scans, every image file one scan and every sub-folder one DICOM series;
 * - any other folder: one DICOM series;
 * - `FOLDER#SeriesInstanceUID`: that series of a DICOM folder holding several (the reader refuses such
 *   a folder without it, listing its series).
 * A symbolic link counts as what it points to.
 * Case ids follow nnU-Net v2: the file name without its ending and without the `_0000` channel
 * suffix (`knee_0003_0000.nii.gz` -> `knee_0003`); a DICOM series is named after its folder.
 */
import { readdirSync, statSync, type Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { splitSeriesPath, statFollowing } from '../data/io/paths.ts';
import { InputError } from '../errors.ts';

/** Endings of single-file scans (DICOM series are folders). */
export const SCAN_ENDINGS = ['.nii.gz', '.nii', '.mha', '.mhd', '.nrrd', '.h5', '.hdf5'] as const;

/** Files that sit beside scans without being scans (MetaImage data, nnU-Net's json, our outputs). */
const NOT_SCANS = /\.(raw|zraw|json|csv|txt|md|png)$/i;

export interface ScanInput {
  /** case id the outputs are named after */
  readonly id: string;
  /** the file or DICOM folder to read */
  readonly path: string;
}

/** Case id of a scan path: ending and nnU-Net channel suffix `_0000` dropped. */
export function caseIdOf(path: string): string {
  let name = basename(path.replace(/[\\/]+$/, ''));
  const ending = SCAN_ENDINGS.find((e) => name.toLowerCase().endsWith(e));
  if (ending) name = name.slice(0, -ending.length);
  return name.replace(/_0000$/, '');
}

function isScanFile(name: string): boolean {
  const lower = name.toLowerCase();
  return SCAN_ENDINGS.some((e) => lower.endsWith(e));
}

/** What a symbolic link leads to; undefined for a dangling link, a loop or one without access. */
function followLink(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

export interface ScanList {
  readonly scans: readonly ScanInput[];
  /** files in a folder of scans that are neither scans nor known companions, skipped */
  readonly ignored: readonly string[];
}

/** The scans of `--input PATH`, sorted by case id; InputError for a missing path or clashing ids. */
export function listScans(path: string): ScanList {
  const { dir, series } = splitSeriesPath(path);
  if (series !== undefined) {
    if (!statFollowing(dir)?.isDirectory())
      throw new InputError(
        path,
        `names DICOM series ${series} of ${dir}, which is not a folder`,
        'give FOLDER#SeriesInstanceUID with the folder holding the series',
      );
    // one series, named after its folder
    return { scans: [{ id: caseIdOf(dir), path }], ignored: [] };
  }
  const stat = statFollowing(path);
  if (!stat)
    throw new InputError(
      path,
      'does not exist',
      'give a scan file, a DICOM series folder or a folder of scans',
    );
  if (!stat.isDirectory()) return { scans: [{ id: caseIdOf(path), path }], ignored: [] };
  // Entries are classified by what they lead to: a link to a scan is a scan, a link to a folder a
  // series. A broken link (dangling, loop) named like a scan is listed, so reading it names the fault.
  const entries = readdirSync(path, { withFileTypes: true })
    .filter((e) => !e.name.startsWith('.'))
    .map((e) => {
      const p = join(path, e.name);
      if (!e.isSymbolicLink()) return { name: e.name, path: p, file: e.isFile(), dir: e.isDirectory() };
      const target = followLink(p);
      return { name: e.name, path: p, file: !target || target.isFile(), dir: !!target?.isDirectory() };
    });
  const isFolderOfScans = entries.some((e) => (e.file && isScanFile(e.name)) || e.dir);
  if (!isFolderOfScans) return { scans: [{ id: caseIdOf(path), path }], ignored: [] };
  const scans: ScanInput[] = [];
  const ignored: string[] = [];
  for (const e of entries) {
    if (e.dir || isScanFile(e.name)) scans.push({ id: caseIdOf(e.path), path: e.path });
    else if (!NOT_SCANS.test(e.name)) ignored.push(e.path);
  }
  scans.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < scans.length; i++) {
    if (scans[i]!.id === scans[i - 1]!.id)
      throw new InputError(
        scans[i]!.path,
        `has the same case id "${scans[i]!.id}" as ${scans[i - 1]!.path}`,
        'keep one scan per case in the folder',
      );
  }
  if (scans.length === 0)
    throw new InputError(
      path,
      'holds no scans',
      `put scans (${SCAN_ENDINGS.join(', ')}) or DICOM series folders in it`,
    );
  return { scans, ignored: ignored.sort() };
}
