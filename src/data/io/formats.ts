import { statSync } from 'node:fs';
import { InputError } from '../../errors.ts';

/** The image formats kneeseg reads; a folder is a DICOM series. */
export type ImageFormat = 'nifti' | 'metaimage' | 'nrrd' | 'hdf5' | 'dicom';

const ENDINGS: readonly (readonly [string, Exclude<ImageFormat, 'dicom'>])[] = [
  ['.nii.gz', 'nifti'],
  ['.nii', 'nifti'],
  ['.mhd', 'metaimage'],
  ['.mha', 'metaimage'],
  ['.nrrd', 'nrrd'],
  ['.h5', 'hdf5'],
  ['.hdf5', 'hdf5'],
];

/** Endings `writeVolume` accepts (HDF5 and DICOM are read only). */
export const WRITABLE_ENDINGS = ['.nii.gz', '.nii', '.mhd', '.mha', '.nrrd'] as const;

/** The file ending that decides the format, e.g. '.nii.gz'; undefined when none is known. */
export function knownEnding(path: string): string | undefined {
  const lower = path.toLowerCase();
  return ENDINGS.find(([e]) => lower.endsWith(e))?.[0];
}

/** Format of a file by its ending, or 'dicom' for a folder; InputError for anything else. */
export function formatOf(path: string): ImageFormat {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new InputError(path, 'does not exist', 'check the path');
  if (stat.isDirectory()) return 'dicom';
  const lower = path.toLowerCase();
  const hit = ENDINGS.find(([e]) => lower.endsWith(e));
  if (!hit) {
    throw new InputError(
      path,
      'unsupported file ending',
      `use one of ${ENDINGS.map(([e]) => e).join(', ')} or a folder holding a DICOM series`,
    );
  }
  return hit[1];
}
