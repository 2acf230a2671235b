/**
 * A DICOM series (a folder of slice files) as one Volume, through @itk-wasm/dicom, which sorts the
 * slices by position and derives spacing, origin and direction from the DICOM tags (ImagePositionPatient,
 * ImageOrientationPatient, PixelSpacing) in ITK's LPS convention.
 */
import { readImageDicomFileSeriesNode } from '@itk-wasm/dicom';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import type { Volume } from '../volume.ts';
import { volumeFromItk } from './itk.ts';
import { resolveLinks, statFollowing } from './paths.ts';
import { diagnostics, quietly } from './quiet.ts';

/** Reads every regular, non-hidden file in `dir` (links followed) as one series. */
export async function readDicomSeries(dir: string): Promise<Volume> {
  // The reader needs absolute paths (relative ones fail inside its virtual file system; FACTS.md),
  // and real ones: it mounts each file's folder and cannot follow a link out of it.
  const files = readdirSync(resolveLinks(dir))
    .filter((f) => !f.startsWith('.'))
    .map((f) => join(dir, f))
    .filter((f) => statFollowing(f)?.isFile())
    .sort()
    .map(resolveLinks);
  if (files.length === 0) {
    throw new InputError(
      dir,
      'is an empty folder, expected the files of a DICOM series',
      'point to the folder holding the .dcm slices',
    );
  }
  const { value, error, printed } = await quietly(() => readImageDicomFileSeriesNode({ inputImages: files }));
  if (!value) {
    throw new InputError(
      dir,
      `cannot be read as a DICOM series (${diagnostics(printed, error) || 'unknown error'})`,
      'the folder must hold the slice files of one DICOM series, complete and uncorrupted',
    );
  }
  return volumeFromItk(value.outputImage, dir);
}
