/**
 * Conversion between itk-wasm images and our Volume, and file reading/writing through
 * @itk-wasm/image-io (NIfTI, MetaImage, NRRD). itk-wasm stores `direction` row-major with the axis
 * directions as columns (element [row * 3 + col], as its getMatrixElement does) — measured by writing
 * an oblique image to NRRD, whose "space directions" list each axis vector explicitly. That is the
 * same convention as Volume, so the matrix is copied, not transposed (test/data/io/itk.test.ts).
 */
import { readImageNode, writeImageNode } from '@itk-wasm/image-io';
import { Image, ImageType, type TypedArray } from 'itk-wasm';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../../errors.ts';
import { voxelCount, type Geometry, type Volume, type VoxelArray } from '../volume.ts';
import { knownEnding } from './formats.ts';
import { metaImageDataFile } from './integrity.ts';
import { resolveLinks } from './paths.ts';
import { diagnostics, quietly } from './quiet.ts';

type ComponentType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

function componentTypeOf(data: VoxelArray): ComponentType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

function toVoxelArray(data: TypedArray): VoxelArray {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float64Array.from(data, Number);
  if (data instanceof Uint8ClampedArray) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  return data;
}

/** An itk-wasm image as a Volume: 2D images become one slice, a 4D image with one time point is squeezed. */
export function volumeFromItk(image: Image, file: string): Volume {
  if (image.imageType.components !== 1) {
    throw new InputError(
      file,
      `has ${image.imageType.components} components per voxel`,
      'give a scalar (grey-value) image',
    );
  }
  const d = image.imageType.dimension;
  if (d < 2 || d > 4 || (d === 4 && image.size[3] !== 1)) {
    throw new InputError(
      file,
      `is a ${d}D image of size ${image.size.join('x')}`,
      'give a 3D scan (or a 4D one with one time point)',
    );
  }
  const at = (i: number, fallback: number, arr: readonly number[]) => (i < d ? arr[i]! : fallback);
  const shape = [0, 1, 2].map((i) => at(i, 1, image.size)) as unknown as Geometry['shape'];
  const spacing = [0, 1, 2].map((i) => at(i, 1, image.spacing)) as unknown as Geometry['spacing'];
  const origin = [0, 1, 2].map((i) => at(i, 0, image.origin)) as unknown as Geometry['origin'];
  const direction = [0, 1, 2].flatMap((r) =>
    [0, 1, 2].map((c) => (r < d && c < d ? image.direction[r * d + c]! : r === c ? 1 : 0)),
  ) as unknown as Geometry['direction'];
  if (!image.data) throw new InputError(file, 'holds no voxel data', 'export the scan again');
  const data = toVoxelArray(image.data);
  if (data.length !== voxelCount(shape)) {
    throw new InputError(
      file,
      `holds ${data.length} voxels, its header says ${voxelCount(shape)}`,
      'export the scan again',
    );
  }
  return { shape, spacing, origin, direction, data };
}

/** A Volume as an itk-wasm 3D scalar image (voxel data shared, not copied). */
export function itkFromVolume(vol: Volume): Image {
  const image = new Image(new ImageType(3, componentTypeOf(vol.data), 'Scalar', 1));
  image.size = [...vol.shape];
  image.spacing = [...vol.spacing];
  image.origin = [...vol.origin];
  image.direction = Float64Array.from(vol.direction);
  image.data = vol.data;
  return image;
}

/**
 * The file to give itk-wasm for `path`, and how to clean up after. itk-wasm can only open a file
 * inside the folder it mounts, and picks its reader by the file ending: so `path` is resolved through
 * its links, and read from there when the real file keeps the ending (and a .mhd header its data file
 * beside it). A link whose target is named otherwise (a content-addressed store such as DVC's cache)
 * or a .mhd whose data file lies elsewhere is copied, under the link's name, into a private temporary
 * folder first.
 */
function itkReadable(path: string): { file: string; dispose(): void } {
  const real = resolveLinks(path);
  const ending = knownEnding(path);
  const data = ending === '.mhd' ? metaImageDataFile(path) : undefined;
  const dataInPlace = !data || data.file === join(dirname(real), data.name);
  if (knownEnding(real) === ending && dataInPlace) return { file: real, dispose: () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-read-'));
  try {
    const file = join(dir, basename(path));
    copyFileSync(real, file);
    if (data) {
      mkdirSync(dirname(join(dir, data.name)), { recursive: true });
      copyFileSync(data.file, join(dir, data.name));
    }
    return { file, dispose: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new InputError(
      path,
      `cannot be staged for reading (${(err as Error).message})`,
      'check that the temporary folder has space, or link to a file named like the link',
    );
  }
}

/**
 * Reads NIfTI / MetaImage / NRRD through itk-wasm, following symbolic links; failures become
 * InputError naming `path` (the name given, not the link's target).
 */
export async function readItkFile(path: string): Promise<Volume> {
  const readable = itkReadable(path);
  try {
    const { value, error, printed } = await quietly(() => readImageNode(readable.file));
    if (!value) {
      throw new InputError(
        path,
        `cannot be read (${diagnostics(printed, error) || `the ${knownEnding(path) ?? 'image'} reader stopped without giving a reason`})`,
        'the file is incomplete or corrupt: copy or export it again',
      );
    }
    return volumeFromItk(value, path);
  } finally {
    readable.dispose();
  }
}

/**
 * Writes NIfTI / MetaImage / NRRD through itk-wasm to exactly `path` (no atomicity here: callers go
 * through src/output/atomic.ts, which names the final output in the error and adds the fix).
 */
export async function writeItkFile(path: string, vol: Volume): Promise<void> {
  const { error, printed } = await quietly(() =>
    writeImageNode(itkFromVolume(vol), resolve(path), { useCompression: path.toLowerCase().endsWith('.gz') }),
  );
  if (error !== undefined) {
    const cause = new Error(
      diagnostics(printed, error) || 'the image writer gave no reason',
    ) as NodeJS.ErrnoException;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string') cause.code = code;
    throw cause;
  }
}
