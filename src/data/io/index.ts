/**
 * The one entry point for scans and label maps on disk: `readVolume` picks the reader from the file
 * ending (or a folder for a DICOM series), `writeVolume` writes NIfTI / MetaImage / NRRD without
 * ever leaving a partial file. Geometry is kept exactly (within the file format's precision: NIfTI
 * stores it as float32), so a label map written for a scan overlays it in ITK-SNAP or 3D Slicer.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../../errors.ts';
import { voxelCount, type Volume } from '../volume.ts';
import { writeAtomically } from '../../output/atomic.ts';
import { readDicomSeries } from './dicom.ts';
import { formatOf, knownEnding, WRITABLE_ENDINGS } from './formats.ts';
import { readFastmriHdf5 } from './hdf5.ts';
import {
  checkGeometry,
  checkMetaImageHeader,
  checkNifti,
  checkNrrdHeader,
  explainNrrdFailure,
  nonFiniteError,
} from './integrity.ts';
import { readItkFile, writeItkFile } from './itk.ts';
import type { ReadOptions } from './limits.ts';
import { resolveLinks, splitSeriesPath } from './paths.ts';

export { formatOf, WRITABLE_ENDINGS, type ImageFormat } from './formats.ts';
export { DEFAULT_MAX_VOXELS, MAX_VOXELS_ENV, maxVoxels, type ReadOptions } from './limits.ts';

/** Throws InputError naming `file` when a floating-point volume holds NaN or infinite voxels. */
export function checkFinite(vol: Volume, file: string): void {
  const data = vol.data;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw nonFiniteError(file, i, data[i]!, vol.shape);
  }
}

/**
 * Reads a scan or label map: .nii/.nii.gz, .mhd(+.raw)/.mha, .nrrd, fastMRI .h5, or a DICOM series
 * folder (`FOLDER#SeriesInstanceUID`: one series of a folder holding several). Symbolic links are
 * followed (the format is decided by the name given). Refused, with an InputError naming `path` (or the
 * slice file) and the fix: a link loop or dangling link, a header declaring more voxels than the limit
 * (`options.maxVoxels`, else KNEESEG_MAX_VOXELS, else 2^28; checked before anything is decompressed or
 * allocated), a non-physical geometry (spacing zero, negative, NaN or infinite; non-finite origin or
 * direction), a NIfTI file whose magic is not NIfTI's, truncated data, NaN or infinite voxels; for
 * DICOM also several series in one folder, slices sharing a position, uneven slice gaps, a single
 * slice, and Rows x Columns declaring more pixels than a file holds (dicom.ts).
 */
export async function readVolume(path: string, options: ReadOptions = {}): Promise<Volume> {
  const { dir, series } = splitSeriesPath(path); // FOLDER#UID: one series of a DICOM folder
  resolveLinks(dir); // a link loop or a dangling link is named as such, not as a missing or corrupt file
  const format = series === undefined ? formatOf(path) : 'dicom';
  let vol: Volume;
  switch (format) {
    case 'dicom':
      vol = await readDicomSeries(path, options);
      break;
    case 'hdf5':
      vol = await readFastmriHdf5(path, options);
      break;
    case 'nifti':
      await checkNifti(path, options);
      vol = await readItkFile(path);
      break;
    case 'metaimage':
      checkMetaImageHeader(path, options);
      vol = await readItkFile(path);
      break;
    case 'nrrd':
      checkNrrdHeader(path, options);
      vol = await readItkFile(path).catch((err: unknown) => {
        explainNrrdFailure(path); // a truncated data section, by name, rather than the reader's silence
        throw err;
      });
      break;
  }
  checkGeometry(vol, path);
  checkFinite(vol, path);
  return vol;
}

/**
 * Writes `vol` to `path` (.nii.gz, .nii, .mhd, .mha, .nrrd) in its own voxel type. The file appears
 * complete or not at all: it is written in a temporary folder next to `path` and then renamed
 * (src/output/atomic.ts); a write that fails is an OutputError naming `path` and the cause.
 */
export async function writeVolume(path: string, vol: Volume): Promise<void> {
  const ending = knownEnding(path);
  if (!ending || !(WRITABLE_ENDINGS as readonly string[]).includes(ending)) {
    throw new InputError(
      path,
      'unsupported file ending for writing',
      `use one of ${WRITABLE_ENDINGS.join(', ')}`,
    );
  }
  if (vol.data.length !== voxelCount(vol.shape)) {
    throw new InputError(
      path,
      `volume has ${vol.data.length} voxels for shape ${vol.shape.join('x')}`,
      'fix the volume before writing',
    );
  }
  checkFinite(vol, path);
  await writeAtomically(
    path,
    (tmp) => writeItkFile(tmp, vol),
    (tmp) => checkWritten(tmp, vol),
  );
}

/**
 * Throws when the image file(s) written at `tmp` hold fewer bytes than `vol`'s voxels (a .nii.gz must
 * also decompress whole): itk-wasm's NIfTI writer leaves a short file on a full disk and says nothing.
 */
function checkWritten(tmp: string, vol: Volume): void {
  const expected = vol.data.length * vol.data.BYTES_PER_ELEMENT;
  let bytes: number;
  if (tmp.toLowerCase().endsWith('.gz')) {
    try {
      bytes = gunzipSync(readFileSync(tmp)).length;
    } catch (err) {
      throw new Error(`the image writer left a damaged file (${(err as Error).message})`, { cause: err });
    }
  } else {
    const dir = dirname(tmp);
    bytes = readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  }
  if (bytes < expected)
    throw new Error(
      `the image writer left an incomplete file (${bytes} bytes for ${expected} bytes of voxels)`,
    );
}

/**
 * Writes a label map as integers: uint8 when every value fits 0..255, else int16 (nnU-Net's and
 * ITK-SNAP's usual label types). Non-integer or out-of-range values are an error, not rounded.
 */
export async function writeLabelMap(path: string, labels: Volume): Promise<void> {
  let min = 0;
  let max = 0;
  for (const v of labels.data) {
    if (!Number.isInteger(v))
      throw new InputError(path, `label map holds the non-integer value ${v}`, 'labels must be integers');
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min < -32768 || max > 32767)
    throw new InputError(path, `label values ${min}..${max} do not fit int16`, 'renumber the labels');
  const data = min >= 0 && max <= 255 ? Uint8Array.from(labels.data) : Int16Array.from(labels.data);
  await writeVolume(path, { ...labels, data });
}
