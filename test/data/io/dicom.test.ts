import { test } from 'node:test';
import assert from 'node:assert/strict';
import dcmjs from 'dcmjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readVolume } from '../../../src/data/io/index.ts';
import { InputError } from '../../../src/errors.ts';
import { assertClose, obliqueDirection, tempDir } from './helpers.ts';

const { DicomDict, DicomMetaDictionary } = dcmjs.data;
const MR_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/**
 * Writes an MR series slice by slice with dcmjs: slice k at origin + k * dz * (column 2 of direction),
 * rows along column 0, columns along column 1. File names are shuffled so the reader must sort by position.
 */
function writeSeries(
  dir: string,
  shape: [number, number, number],
  spacing: [number, number, number],
  origin: number[],
  dir9: readonly number[],
): Int16Array {
  const [nx, ny, nz] = shape;
  const col = (j: number) => [dir9[j]!, dir9[3 + j]!, dir9[6 + j]!];
  const all = new Int16Array(nx * ny * nz);
  const uid = '1.2.826.0.1.3680043.8.498.4242';
  for (let k = 0; k < nz; k++) {
    const px = Int16Array.from({ length: nx * ny }, (_, i) => ((i * 31 + k * 977) % 4000) - 1000);
    all.set(px, k * nx * ny);
    const sop = `${uid}.3.${k + 1}`;
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
      SeriesInstanceUID: `${uid}.2`,
      FrameOfReferenceUID: `${uid}.4`,
      SeriesNumber: 1,
      InstanceNumber: k + 1,
      ImagePositionPatient: origin.map((o, a) => o + k * spacing[2] * col(2)[a]!),
      ImageOrientationPatient: [...col(0), ...col(1)],
      // DICOM PixelSpacing is [row spacing (y), column spacing (x)].
      PixelSpacing: [spacing[1], spacing[0]],
      SliceThickness: spacing[2],
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: ny,
      Columns: nx,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 1,
      PixelData: px.buffer,
      _vrMap: { PixelData: 'OW' },
    };
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
    writeFileSync(join(dir, `IM${(k * 7) % nz}_${k}.dcm`), Buffer.from(dict.write()));
  }
  return all;
}

test('a DICOM series folder reads as one volume with voxels, spacing, origin and oblique direction', async () => {
  const dir = tempDir();
  const direction = obliqueDirection(0.4);
  const origin = [-80.5, 12.25, 40];
  const voxels = writeSeries(dir, [6, 5, 4], [0.4, 0.55, 3], origin, direction);
  const vol = await readVolume(dir);
  assert.deepEqual([...vol.shape], [6, 5, 4]);
  assert.ok(vol.data instanceof Int16Array);
  assert.deepEqual(vol.data, voxels);
  assertClose(vol.spacing, [0.4, 0.55, 3], 1e-5, 'spacing');
  assertClose(vol.origin, origin, 1e-4, 'origin');
  assertClose(vol.direction, direction, 1e-5, 'direction');
});

test('an empty folder and a folder of non-DICOM files are InputErrors naming the folder', async () => {
  const dir = tempDir();
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(
    readVolume(empty),
    (e: unknown) => e instanceof InputError && e.file === empty && /empty folder/.test(e.message),
  );
  const junk = join(dir, 'junk');
  mkdirSync(junk);
  writeFileSync(join(junk, 'a.dcm'), Buffer.alloc(500, 1));
  const exitBefore = process.exitCode;
  await assert.rejects(
    readVolume(junk),
    (e: unknown) => e instanceof InputError && e.file === junk && /DICOM series/.test(e.message),
  );
  assert.equal(process.exitCode, exitBefore);
});
