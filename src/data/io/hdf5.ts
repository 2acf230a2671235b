/**
 * fastMRI reconstructions from HDF5 through h5wasm. A fastMRI file holds `reconstruction_rss`
 * (multi-coil) or `reconstruction_esc` (single-coil), shaped (slices, y, x) in C order, which is
 * already our x-fastest voxel order. fastMRI stores no affine: spacing comes from the ISMRMRD header's
 * reconstruction space (field of view / matrix size, slice thickness from the field of view's z) when
 * present, else from a `spacing` attribute [x, y, z] on the dataset, else 1 mm; origin 0, identity direction.
 */
import { InputError } from '../../errors.ts';
import { IDENTITY_DIRECTION, type Geometry, type Volume, type VoxelArray } from '../volume.ts';
import { checkDeclaredSize, type ReadOptions } from './limits.ts';
import { resolveLinks } from './paths.ts';
import { quietly } from './quiet.ts';

export const FASTMRI_DATASETS = ['reconstruction_rss', 'reconstruction_esc'] as const;

/** Spacing [x, y, z] from an ISMRMRD XML header's reconSpace, or undefined if it is not there. */
export function spacingFromIsmrmrd(xml: string): Geometry['spacing'] | undefined {
  const recon = /<reconSpace>([\s\S]*?)<\/reconSpace>/.exec(xml)?.[1];
  if (!recon) return undefined;
  const triple = (tag: string) => {
    const block = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(recon)?.[1] ?? '';
    return ['x', 'y', 'z'].map((a) => Number(new RegExp(`<${a}>\\s*([^<]+?)\\s*</${a}>`).exec(block)?.[1]));
  };
  const [mx, my] = triple('matrixSize');
  const [fx, fy, fz] = triple('fieldOfView_mm');
  const s = [fx! / mx!, fy! / my!, fz!];
  return s.every((v) => Number.isFinite(v) && v > 0) ? (s as unknown as Geometry['spacing']) : undefined;
}

/**
 * The innermost reason of an HDF5 error stack (thrown by h5wasm's throwing error handler), e.g.
 * "file signature not found", instead of the whole stack.
 */
export function hdf5Reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error ?? '');
  const reasons = [...text.matchAll(/ in \w+\(\): (.+)$/gm)].map((m) => m[1]!.trim());
  return reasons.at(-1) ?? (text.split('\n')[0]!.trim() || 'truncated or corrupt?');
}

function asVoxels(value: unknown): VoxelArray | undefined {
  if (value instanceof Float32Array || value instanceof Float64Array || value instanceof Int16Array)
    return value;
  if (value instanceof Uint16Array || value instanceof Int32Array || value instanceof Uint8Array)
    return value;
  if (value instanceof Int8Array || value instanceof Uint32Array) return value;
  return undefined;
}

/**
 * Reads a fastMRI reconstruction (links followed); the dataset's declared size is checked against the
 * voxel limit (limits.ts) before its voxels are read.
 */
export async function readFastmriHdf5(path: string, options: ReadOptions = {}): Promise<Volume> {
  const real = resolveLinks(path);
  // loaded on first use: h5wasm's WebAssembly takes seconds to start, which every worker thread that
  // imports the readers would otherwise pay for nothing
  const { default: h5wasm } = await import('h5wasm/node');
  const module = await h5wasm.ready;
  // HDF5 prints its error stack to stderr (a screenful per broken file) unless errors throw instead
  module.activate_throwing_error_handler();
  const fix =
    'give a fastMRI .h5 file with reconstruction_rss or reconstruction_esc, complete and uncorrupted';
  const opened = await quietly(async () => new h5wasm.File(real, 'r'));
  const file = opened.value;
  if (!file || file.file_id < 0n)
    throw new InputError(path, `is not a readable HDF5 file (${hdf5Reason(opened.error)})`, fix);
  try {
    const name = FASTMRI_DATASETS.find((n) => file.keys().includes(n));
    const entity = name ? file.get(name) : null;
    if (!name || !(entity instanceof h5wasm.Dataset)) {
      throw new InputError(
        path,
        `has no dataset ${FASTMRI_DATASETS.join(' or ')} (found: ${file.keys().join(', ') || 'none'})`,
        fix,
      );
    }
    const dims = entity.shape ?? [];
    if (dims.length !== 3)
      throw new InputError(path, `${name} has shape (${dims.join(', ')}), expected (slices, y, x)`, fix);
    const [nz, ny, nx] = dims as [number, number, number];
    checkDeclaredSize(path, [nx, ny, nz], entity.metadata.size, options);
    const read = await quietly(async () => entity.value);
    if (read.error !== undefined)
      throw new InputError(
        path,
        `${name} cannot be read (${hdf5Reason(read.error)}): the file is truncated or damaged`,
        fix,
      );
    const data = asVoxels(read.value);
    if (!data)
      throw new InputError(
        path,
        `${name} cannot be read as real-valued voxels (dtype ${String(entity.dtype)})`,
        fix,
      );
    const header = file.keys().includes('ismrmrd_header') ? file.get('ismrmrd_header') : null;
    const xml = header instanceof h5wasm.Dataset ? header.value : undefined;
    const attr = entity.attrs['spacing']?.value;
    const fromAttr =
      attr && ArrayBuffer.isView(attr) && (attr as Float64Array).length === 3
        ? Array.from(attr as Float64Array)
        : undefined;
    const spacing = (typeof xml === 'string' ? spacingFromIsmrmrd(xml) : undefined) ?? fromAttr ?? [1, 1, 1];
    return {
      shape: [nx, ny, nz],
      spacing: spacing as unknown as Geometry['spacing'],
      origin: [0, 0, 0],
      direction: IDENTITY_DIRECTION,
      data,
    };
  } finally {
    file.close();
  }
}
