/**
 * Fixtures for the inference tests: a tiny untrained model file and small scans (the DICOM series
 * writer is test/data/io/helpers.ts's).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, saveSafetensors } from '../../src/engine/index.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { buildModel } from '../../src/models/registry.ts';
import { encodeModelMetadata, MODEL_FILE_FORMAT } from '../../src/train/model-file.ts';
import type { Volume } from '../../src/data/volume.ts';
import { obliqueDirection } from '../data/io/helpers.ts';

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
  saveSafetensors(
    file,
    model.stateDict(),
    encodeModelMetadata({
      format: MODEL_FILE_FORMAT,
      model: config,
      decoding,
      tree: tree.definition,
      preprocessing: {
        dir: '',
        labelled: null,
        subjectPattern: null,
        axis: 'auto',
        size,
        neighbours,
        intensity: 'minmax255',
      },
      structures: { 1: 'femur', 2: 'femoral_cartilage', 3: 'tibia', 4: 'tibial_cartilage' },
      training: {},
    }),
  );
  model.dispose();
  return file;
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
