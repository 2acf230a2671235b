/**
 * Messages for inputs that used to get a vague one: a truncated NRRD and a non-image DICOM series
 * ("unknown error" before), a broken HDF5 file (a screen of HDF5 diagnostics on stderr before), a
 * 1x1x1 volume ("a 2D image"), an image named without `_0000` ("channel 1").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dcmjs from 'dcmjs';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDataset } from '../../../src/data/dataset.ts';
import { readVolume, writeVolume } from '../../../src/data/io/index.ts';
import { checkScan } from '../../../src/infer/predict.ts';
import { syntheticScan } from '../../infer/helpers.ts';
import { rejectsNaming, tempDir } from './helpers.ts';

test('a truncated NRRD (raw or gzip) says it is truncated, not "unknown error"', async () => {
  const dir = tempDir();
  const vol = syntheticScan([6, 20, 18]);
  const raw = join(dir, 'raw.nrrd');
  await writeVolume(raw, vol);
  const bytes = readFileSync(raw);
  const cut = join(dir, 'cut.nrrd');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 1000));
  await rejectsNaming(
    readVolume(cut),
    cut,
    /is truncated: its voxel data holds \d+ bytes, its header declares 4320 \(sizes 6 20 18 of short\)/,
  );
  // the same header with gzip-encoded data cut short
  const text = bytes.toString('latin1');
  const start = text.indexOf('\n\n') + 2;
  const header = text.slice(0, start).replace(/^encoding: .*$/m, 'encoding: gzip');
  const { gzipSync } = await import('node:zlib');
  const gz = gzipSync(bytes.subarray(start));
  const cutGz = join(dir, 'cut-gz.nrrd');
  writeFileSync(cutGz, Buffer.concat([Buffer.from(header, 'latin1'), gz.subarray(0, gz.length - 40)]));
  const err = await readVolume(cutGz).catch((e: unknown) => e as Error);
  assert.doesNotMatch(String(err), /unknown error/);
  assert.match(String(err), /cut-gz\.nrrd: (is truncated|is truncated or damaged)/);
});

test('a DICOM folder without image slices says what its files are, not "unknown error"', async () => {
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dir = join(tempDir(), 'report');
  mkdirSync(dir);
  const sr = '1.2.840.10008.5.1.4.1.1.88.11'; // Basic Text SR: a report, no pixels
  for (const k of [1, 2]) {
    const uid = `1.2.826.0.1.3680043.8.498.77.${k}`;
    const meta = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: sr,
      MediaStorageSOPInstanceUID: uid,
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
      ImplementationClassUID: '1.2.826.0.1.3680043.8.498.1',
    };
    const ds = {
      SOPClassUID: sr,
      SOPInstanceUID: uid,
      Modality: 'SR',
      PatientID: 'KNEE1',
      SeriesInstanceUID: '1.2.3.4',
    };
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
    writeFileSync(join(dir, `SR${k}.dcm`), Buffer.from(dict.write()));
  }
  await rejectsNaming(
    readVolume(dir),
    dir,
    /all 2 files are DICOM objects without pixel data \(PixelData 7FE0,0010\)/,
  );
  const notDicom = join(tempDir(), 'texts');
  mkdirSync(notDicom);
  writeFileSync(join(notDicom, 'a.txt'), 'hello');
  await rejectsNaming(
    readVolume(notDicom),
    notDicom,
    /cannot be read as a DICOM series \(all 1 files are not DICOM files \(no "DICM" marker at byte 128\)\)/,
  );
});

test('a broken HDF5 file: one reason in the error, nothing printed on stderr', async () => {
  const dir = tempDir();
  const file = join(dir, 'broken.h5');
  writeFileSync(file, Buffer.alloc(4000, 7));
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  const errorBefore = console.error;
  console.error = (...a: unknown[]) => void written.push(a.join(' '));
  try {
    await rejectsNaming(readVolume(file), file, /is not a readable HDF5 file \(file signature not found\)/);
  } finally {
    process.stderr.write = write;
    console.error = errorBefore;
  }
  assert.deepEqual(written, []);
});

test('a 1x1x1 or 1-D volume is not called a 2D image', () => {
  const one = {
    ...syntheticScan([2, 2, 2]),
    shape: [1, 1, 1] as [number, number, number],
    data: new Int16Array(1),
  };
  assert.throws(
    () => checkScan(one, 'one.nii.gz'),
    /^InputError: one\.nii\.gz: is a single voxel \(shape 1x1x1\), not a 3D scan\. Fix: /,
  );
  const line = { ...one, shape: [1, 5, 1] as [number, number, number], data: new Int16Array(5) };
  assert.throws(() => checkScan(line, 'line.nii.gz'), /is a 1D line of voxels \(shape 1x5x1\)/);
  const flat = { ...one, shape: [4, 5, 1] as [number, number, number], data: new Int16Array(20) };
  assert.throws(() => checkScan(flat, 'flat.nii.gz'), /is a 2D image \(shape 4x5x1\)/);
});

test('an image named without _0000 whose name ends in digits is not called "channel 1" without saying why', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'imagesTr'));
  writeFileSync(
    join(dir, 'dataset.json'),
    JSON.stringify({
      channel_names: { '0': 'MRI' },
      labels: { background: 0, femur: 1 },
      numTraining: 1,
      file_ending: '.nii.gz',
    }),
  );
  const file = join(dir, 'imagesTr', 'knee_0001.nii.gz');
  await writeVolume(file, syntheticScan([4, 8, 8]));
  assert.throws(
    () => openDataset(dir),
    (e: unknown) =>
      String(e).includes(
        `${file}: ends in _0001, which nnU-Net names read as channel 1 of case "knee", but dataset.json declares 1 channel(s). Fix: name every image {case}_0000.nii.gz (the channel suffix; e.g. knee_0001_0000.nii.gz), or add the channel to channel_names`,
      ),
  );
});
