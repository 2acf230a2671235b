/**
 * What a scan's header may declare before anything is allocated or decompressed. A 4 MB .nii.gz can
 * declare 1000^3 voxels (a "decompression bomb", or just a corrupt header): read blindly it runs for
 * minutes and takes gigabytes before failing. Every reader checks the declared size against a limit
 * first, and a header that describes no physical grid (zero, negative, NaN or infinite spacing) is
 * refused instead of silently becoming 1 mm, which would make every volume and thickness wrong.
 */
import { ConfigError, InputError } from '../../errors.ts';

/**
 * Default largest voxel count of one scan: 2^28 = 268,435,456 (e.g. 1024 x 1024 x 256; 1 GiB as
 * float32). A knee MRI is far below it (OAI DESS: 384 x 384 x 160 = 23.6 M voxels).
 */
export const DEFAULT_MAX_VOXELS = 2 ** 28;

/** The environment variable that raises (or lowers) the limit. */
export const MAX_VOXELS_ENV = 'KNEESEG_MAX_VOXELS';

export interface ReadOptions {
  /** largest voxel count a scan may declare (default: KNEESEG_MAX_VOXELS, else DEFAULT_MAX_VOXELS) */
  readonly maxVoxels?: number;
}

/** The voxel limit in force: the option, else KNEESEG_MAX_VOXELS, else DEFAULT_MAX_VOXELS. */
export function maxVoxels(options: ReadOptions = {}): number {
  if (options.maxVoxels !== undefined) {
    if (!(Number.isSafeInteger(options.maxVoxels) && options.maxVoxels > 0))
      throw new ConfigError('maxVoxels', `${options.maxVoxels} is not a positive integer`);
    return options.maxVoxels;
  }
  const text = process.env[MAX_VOXELS_ENV];
  if (text === undefined || text.trim() === '') return DEFAULT_MAX_VOXELS;
  const n = Number(text);
  if (!(Number.isSafeInteger(n) && n > 0))
    throw new ConfigError(
      MAX_VOXELS_ENV,
      `"${text}" is not a positive integer (a voxel count, e.g. 500000000)`,
    );
  return n;
}

const count = (n: number) => n.toLocaleString('en-US');

/**
 * Throws InputError naming `file` when `dims` (the header's sizes, any number of axes) hold a size
 * below 1 or more voxels than the limit. `bytesPerVoxel` only makes the message concrete.
 */
export function checkDeclaredSize(
  file: string,
  dims: readonly number[],
  bytesPerVoxel: number,
  options: ReadOptions = {},
): void {
  const bad = dims.findIndex((n) => !(Number.isInteger(n) && n >= 1));
  if (bad >= 0)
    throw new InputError(
      file,
      `its header declares a size of ${dims[bad]} along axis ${bad} (sizes ${dims.join(' x ')})`,
      'the header is corrupt: copy or export the scan again',
    );
  const limit = maxVoxels(options);
  const voxels = dims.reduce((a, b) => a * b, 1);
  if (voxels > limit) {
    const gb = (voxels * bytesPerVoxel) / 1e9;
    throw new InputError(
      file,
      `its header declares ${dims.join(' x ')} = ${count(voxels)} voxels (${gb.toFixed(1)} GB), ` +
        `more than the limit of ${count(limit)}`,
      `if the scan really is this large, raise the limit with ${MAX_VOXELS_ENV}=${voxels}; ` +
        'otherwise the header is corrupt: copy or export the scan again',
    );
  }
}

/**
 * Throws InputError naming `file` unless every spacing is a finite number above 0 (mm).
 * `where` names the header field, e.g. 'pixdim'.
 */
export function checkSpacing(file: string, spacing: readonly number[], where: string): void {
  const i = spacing.findIndex((s) => typeof s !== 'number' || !Number.isFinite(s) || s <= 0);
  if (i < 0) return;
  throw new InputError(
    file,
    `voxel spacing along axis ${i} is ${String(spacing[i])} (${where}: ${spacing.map(String).join(', ')}); ` +
      'spacing must be a finite number above 0 mm',
    'write the true voxel size in mm into the header (e.g. convert the DICOM series again with dcm2niix)',
  );
}
