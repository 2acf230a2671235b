/**
 * Conversion between itk-wasm images and our Volume, and file reading/writing through
 * @itk-wasm/image-io (NIfTI, MetaImage, NRRD). itk-wasm stores `direction` row-major with the axis
 * directions as columns (element [row * 3 + col], as its getMatrixElement does) — measured by writing
 * an oblique image to NRRD, whose "space directions" list each axis vector explicitly. That is the
 * same convention as Volume, so the matrix is copied, not transposed (test/data/io/itk.test.ts).
 */
import { readImageNode, writeImageNode } from '@itk-wasm/image-io';
import { Image, ImageType, type TypedArray } from 'itk-wasm';
import { resolve } from 'node:path';
import { InputError } from '../../errors.ts';
import { voxelCount, type Geometry, type Volume, type VoxelArray } from '../volume.ts';
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

/** Reads NIfTI / MetaImage / NRRD through itk-wasm; failures become InputError naming the file. */
export async function readItkFile(path: string): Promise<Volume> {
  const { value, error, printed } = await quietly(() => readImageNode(resolve(path)));
  if (!value) {
    throw new InputError(
      path,
      `cannot be read (${diagnostics(printed, error) || 'unknown error'})`,
      'the file is incomplete or corrupt: copy or export it again',
    );
  }
  return volumeFromItk(value, path);
}

/** Writes NIfTI / MetaImage / NRRD through itk-wasm to exactly `path` (no atomicity here; see atomic.ts). */
export async function writeItkFile(path: string, vol: Volume): Promise<void> {
  const { error, printed } = await quietly(() =>
    writeImageNode(itkFromVolume(vol), resolve(path), { useCompression: path.toLowerCase().endsWith('.gz') }),
  );
  if (error !== undefined) {
    throw new InputError(
      path,
      `cannot be written (${diagnostics(printed, error) || 'unknown error'})`,
      'check the folder is writable and the disk not full',
    );
  }
}
