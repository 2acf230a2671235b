/** Fixtures for the inference tests: a tiny untrained model file, small scans, a DICOM series writer. */
import dcmjs from 'dcmjs';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, saveSafetensors } from '../../src/engine/index.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { buildModel } from '../../src/models/registry.ts';
import type { Geometry, Volume } from '../../src/data/volume.ts';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kneeseg-infer-'));
}

export interface TinyModelOptions {
  decoding?: 'tree' | 'softmax';
  size?: [number, number];
  neighbours?: number;
  seed?: number;
}

/**
 * Writes DIR/model.safetensors as src/train/run.ts does, for an untrained U-Net (base 4, depth 2).
 * Its BatchNorm layers are in eval mode with running stats 0/1, so outputs vary with the input.
 */
export function writeTinyModel(dir: string, o: TinyModelOptions = {}): string {
  const tree = defaultKneeTree();
  const decoding = o.decoding ?? 'tree';
  const size = o.size ?? [32, 32];
  const neighbours = o.neighbours ?? 1;
  manualSeed(o.seed ?? 7);
  const config = {
    backbone: 'unet' as const,
    inChannels: 2 * neighbours + 1,
    outChannels: decoding === 'tree' ? tree.size : tree.leaves.length + 1,
    levelSet: decoding === 'tree',
    imageSize: size,
    unet: { baseChannels: 4, depth: 2 },
  };
  const model = buildModel(config);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'model.safetensors');
  saveSafetensors(file, model.stateDict(), {
    format: 'kneeseg-model',
    model: JSON.stringify(config),
    decoding,
    tree: JSON.stringify(tree.definition),
    preprocessing: JSON.stringify({
      dir: '',
      labeled: null,
      subjectPattern: null,
      axis: 'auto',
      size,
      neighbours,
      intensity: 'minmax255',
    }),
    structures: JSON.stringify({ 1: 'femur', 2: 'femoral_cartilage', 3: 'tibia', 4: 'tibial_cartilage' }),
    training: '{}',
  });
  model.dispose();
  return file;
}

/** Rotation by `t` about (1, 2, 3)/sqrt(14): an oblique direction (as test/data/io/helpers.ts). */
export function obliqueDirection(t = 0.3): Geometry['direction'] {
  const n = Math.hypot(1, 2, 3);
  const [x, y, z] = [1 / n, 2 / n, 3 / n];
  const c = Math.cos(t);
  const s = Math.sin(t);
  const C = 1 - c;
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

/** A scan with structure (a bright ellipsoid and a gradient), int16, oblique and anisotropic. */
export function syntheticScan(shape: [number, number, number] = [9, 30, 40], seed = 1): Volume<Int16Array> {
  const [nx, ny, nz] = shape;
  const data = new Int16Array(nx * ny * nz);
  for (let z = 0, i = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        const r =
          ((x - nx / 2) / nx) ** 2 + ((y - ny / 2) / (ny / 2)) ** 2 + ((z - nz / 2) / (nz / 2.5)) ** 2;
        data[i] = Math.round((r < 0.5 ? 900 : 100) + 7 * y + 3 * z + ((i * seed * 2654435761) % 97));
      }
  return {
    shape,
    spacing: [0.7, 0.365, 0.42],
    origin: [-12.5, 33.25, 7.125],
    direction: obliqueDirection(0.35),
    data,
  };
}

const { DicomDict, DicomMetaDictionary } = dcmjs.data;
const MR_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/**
 * Writes an MR series slice by slice with dcmjs (the writer of test/data/io/dicom.test.ts): slice k
 * at origin + k * dz * (column 2 of direction), rows along column 0, columns along column 1.
 */
export function writeDicomSeries(dir: string, vol: Volume<Int16Array>): void {
  const [nx, ny, nz] = vol.shape;
  const d = vol.direction;
  const col = (j: number) => [d[j]!, d[3 + j]!, d[6 + j]!];
  const uid = '1.2.826.0.1.3680043.8.498.4343';
  mkdirSync(dir, { recursive: true });
  for (let k = 0; k < nz; k++) {
    const px = vol.data.slice(k * nx * ny, (k + 1) * nx * ny);
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
      PatientID: 'KNEE2',
      StudyInstanceUID: `${uid}.1`,
      SeriesInstanceUID: `${uid}.2`,
      FrameOfReferenceUID: `${uid}.4`,
      SeriesNumber: 1,
      InstanceNumber: k + 1,
      // decimal strings hold 16 characters at most in DICOM: round so dcmjs need not truncate
      ImagePositionPatient: vol.origin.map((o, a) => +(o + k * vol.spacing[2] * col(2)[a]!).toFixed(8)),
      ImageOrientationPatient: [...col(0), ...col(1)].map((v) => +v.toFixed(12)),
      PixelSpacing: [vol.spacing[1], vol.spacing[0]],
      SliceThickness: vol.spacing[2],
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
    writeFileSync(join(dir, `IM${k}.dcm`), Buffer.from(dict.write()));
  }
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
