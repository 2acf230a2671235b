/** Small fixtures shared by the I/O tests (and the inference tests): volumes, a DICOM series writer. */
import dcmjs from 'dcmjs';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Geometry, Volume, VoxelArray } from '../../../src/data/volume.ts';
import { InputError } from '../../../src/errors.ts';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kneeseg-io-'));
}

/** Rotation by angle `t` about the unit axis (1, 2, 3)/sqrt(14): an oblique, non-symmetric direction. */
export function obliqueDirection(t = 0.3): Geometry['direction'] {
  const n = Math.hypot(1, 2, 3);
  const [x, y, z] = [1 / n, 2 / n, 3 / n];
  const c = Math.cos(t);
  const s = Math.sin(t);
  const C = 1 - c;
  // Rodrigues' formula, row-major.
  return [
    c + x * x * C,
    x * y * C - z * s,
    x * z * C + y * s,
    y * x * C + z * s,
    c + y * y * C,
    y * z * C - x * s,
    z * x * C - y * s,
    z * y * C + x * s,
    c + z * z * C,
  ];
}

export function obliqueVolume<T extends VoxelArray>(
  make: (n: number) => T,
  shape: Geometry['shape'] = [7, 5, 4],
): Volume<T> {
  const data = make(shape[0] * shape[1] * shape[2]);
  return {
    shape,
    spacing: [0.365, 0.42, 0.7],
    origin: [-12.5, 33.25, 7.125],
    direction: obliqueDirection(),
    data,
  };
}

const { DicomDict, DicomMetaDictionary } = dcmjs.data;
const MR_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/** Ways to make a series that is not a clean one, for the tests of what the reader refuses. */
export interface DicomSeriesOptions {
  /** slice k's distance from `origin` along the slice normal, in mm (default k * spacing[2]) */
  readonly offsets?: readonly number[];
  /** SeriesInstanceUID (default one fixed UID); files of other series may share the folder */
  readonly seriesUid?: string;
  readonly description?: string;
  /** file names start with this (default IM) */
  readonly prefix?: string;
  /** Rows and Columns written into the header instead of the true ones (pixel data unchanged) */
  readonly declared?: { readonly rows: number; readonly columns: number };
}

/**
 * Writes `vol` as an MR series, one file per slice, with dcmjs: slice k at origin + k * dz * (column 2
 * of direction), rows along column 0, columns along column 1. File names are shuffled so a reader must
 * sort by position. Returns the files written, by slice.
 */
export function writeDicomSeries(
  dir: string,
  vol: Volume<Int16Array>,
  options: DicomSeriesOptions = {},
): string[] {
  const [nx, ny, nz] = vol.shape;
  const d = vol.direction;
  const col = (j: number) => [d[j]!, d[3 + j]!, d[6 + j]!];
  const uid = '1.2.826.0.1.3680043.8.498.4242';
  const series = options.seriesUid ?? `${uid}.2`;
  const offset = (k: number) => options.offsets?.[k] ?? k * vol.spacing[2];
  const files: string[] = [];
  mkdirSync(dir, { recursive: true });
  for (let k = 0; k < nz; k++) {
    const px = vol.data.slice(k * nx * ny, (k + 1) * nx * ny);
    const sop = `${series}.3.${k + 1}`;
    const meta = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: MR_STORAGE,
      MediaStorageSOPInstanceUID: sop,
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
      ImplementationClassUID: '1.2.826.0.1.3680043.8.498.1',
    };
    const ds = {
      SOPClassUID: MR_STORAGE,
      SOPInstanceUID: sop,
      Modality: 'MR',
      PatientID: 'KNEE1',
      StudyInstanceUID: `${uid}.1`,
      SeriesInstanceUID: series,
      ...(options.description !== undefined ? { SeriesDescription: options.description } : {}),
      FrameOfReferenceUID: `${uid}.4`,
      SeriesNumber: 1,
      InstanceNumber: k + 1,
      // decimal strings hold 16 characters at most in DICOM: round so dcmjs need not truncate
      ImagePositionPatient: vol.origin.map((o, a) => +(o + offset(k) * col(2)[a]!).toFixed(8)),
      ImageOrientationPatient: [...col(0), ...col(1)].map((v) => +v.toFixed(12)),
      // DICOM PixelSpacing is [row spacing (y), column spacing (x)].
      PixelSpacing: [vol.spacing[1], vol.spacing[0]],
      SliceThickness: vol.spacing[2],
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: options.declared?.rows ?? ny,
      Columns: options.declared?.columns ?? nx,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 1,
      PixelData: px.buffer,
      _vrMap: { PixelData: 'OW' },
    };
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
    const file = join(dir, `${options.prefix ?? 'IM'}${(k * 7) % nz}_${k}.dcm`);
    writeFileSync(file, Buffer.from(dict.write()));
    files.push(file);
  }
  return files;
}

export function assertClose(
  actual: readonly number[],
  expected: readonly number[],
  tol: number,
  what: string,
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => {
    if (!(Math.abs(a - expected[i]!) <= tol))
      throw new Error(`${what}[${i}]: ${a} vs ${expected[i]} (tol ${tol})`);
  });
}

/** `p` rejects with one line, an InputError naming `file`, matching `problem`, with a fix. */
export async function rejectsNaming(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    assert.match(err.message, problem);
    assert.match(err.message, /Fix: /);
    return true;
  });
}
