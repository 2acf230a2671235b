/**
 * A DICOM series (a folder of slice files) as one Volume, through @itk-wasm/dicom, which sorts the
 * slices by position and derives spacing, origin and direction from the DICOM tags (ImagePositionPatient,
 * ImageOrientationPatient, PixelSpacing) in ITK's LPS convention.
 */
import { readImageDicomFileSeriesNode } from '@itk-wasm/dicom';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../errors.ts';
import type { Volume } from '../volume.ts';
import { volumeFromItk } from './itk.ts';
import { diagnostics, quietly } from './quiet.ts';

/** Reads every regular, non-hidden file in `dir` as one series. */
export async function readDicomSeries(dir: string): Promise<Volume> {
  // The reader needs absolute paths (relative ones fail inside its virtual file system; FACTS.md).
  const abs = resolve(dir);
  const files = readdirSync(abs)
    .filter((f) => !f.startsWith('.'))
    .map((f) => join(abs, f))
    .filter((f) => statSync(f).isFile())
    .sort();
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
