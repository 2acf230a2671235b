/**
 * A DICOM series (a folder of slice files) as one Volume, through @itk-wasm/dicom, which sorts the
 * slices by position and derives spacing, origin and direction from the DICOM tags (ImagePositionPatient,
 * ImageOrientationPatient, PixelSpacing) in ITK's LPS convention.
 */
import { readImageDicomFileSeriesNode } from '@itk-wasm/dicom';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import type { Volume } from '../volume.ts';
import { volumeFromItk } from './itk.ts';
import { resolveLinks, statFollowing } from './paths.ts';
import { diagnostics, quietly } from './quiet.ts';

/** PixelData (7FE0,0010) as its tag bytes appear in little- and big-endian DICOM. */
const PIXEL_DATA_TAGS = [Buffer.from([0xe0, 0x7f, 0x10, 0x00]), Buffer.from([0x7f, 0xe0, 0x00, 0x10])];

/**
 * Why the DICOM reader found no image series in `files` when it gave no reason itself: files that are
 * not DICOM at all (no `DICM` at byte 128), or DICOM objects without pixel data (reports, presentation
 * states, raw data).
 */
function whyNoSeries(files: readonly string[]): string {
  let notDicom = 0;
  let noPixels = 0;
  for (const f of files) {
    const bytes = readFileSync(f);
    if (bytes.length < 132 || bytes.toString('latin1', 128, 132) !== 'DICM') notDicom++;
    else if (PIXEL_DATA_TAGS.every((t) => bytes.indexOf(t, 132) < 0)) noPixels++;
  }
  const of = (n: number) => (n === files.length ? `all ${n} files` : `${n} of ${files.length} files`);
  if (noPixels)
    return `${of(noPixels)} are DICOM objects without pixel data (PixelData 7FE0,0010), e.g. reports or presentation states, not image slices`;
  if (notDicom) return `${of(notDicom)} are not DICOM files (no "DICM" marker at byte 128)`;
  return 'the DICOM reader stopped without giving a reason';
}

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
      `cannot be read as a DICOM series (${diagnostics(printed, error) || whyNoSeries(files)})`,
      'the folder must hold the slice files of one DICOM series, complete and uncorrupted',
    );
  }
  return volumeFromItk(value.outputImage, dir);
}
