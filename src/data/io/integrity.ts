/**
 * Checks that catch broken files the readers accept silently. ITK's NIfTI reader fills a truncated
 * .nii or .nii.gz with zeros instead of failing (measured with @itk-wasm/image-io 1.6.1), so a
 * half-copied scan would train as a black volume; here the header's data size is compared with the
 * bytes actually present. A MetaImage header whose data file is missing is reported by name.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { InputError } from '../../errors.ts';

const REEXPORT = 'the file is incomplete or corrupt: copy or export it again';

/** The InputError for a NaN or infinite voxel at flat index `i` of a volume shaped `shape`. */
export function nonFiniteError(file: string, i: number, value: number, shape: readonly number[]): InputError {
  const nx = shape[0]!;
  const ny = shape[1] ?? 1;
  const at = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
  return new InputError(
    file,
    `voxel [${at.join(', ')}] is ${value} (NaN or infinite voxels)`,
    'replace non-finite voxels before use',
  );
}

/**
 * Throws InputError when a NIfTI-1/2 file (.nii or .nii.gz) holds fewer bytes than its header
 * promises, or when its float voxels hold NaN or infinity (ITK's reader turns those into 0 silently,
 * so they must be looked for in the file itself).
 */
export function checkNifti(path: string): void {
  let bytes: Buffer = readFileSync(path);
  if (path.toLowerCase().endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new InputError(path, `gzip data is broken (${(err as Error).message})`, REEXPORT);
    }
  }
  if (bytes.length < 348)
    throw new InputError(path, `only ${bytes.length} bytes, too short for a NIfTI header`, REEXPORT);
  const le = bytes.readInt32LE(0);
  const be = bytes.readInt32BE(0);
  const little = le === 348 || le === 540;
  const size = little ? le : be;
  if (size !== 348 && size !== 540)
    throw new InputError(path, 'is not a NIfTI file (bad header size field)', REEXPORT);
  const i16 = (o: number) => (little ? bytes.readInt16LE(o) : bytes.readInt16BE(o));
  const i64 = (o: number) => Number(little ? bytes.readBigInt64LE(o) : bytes.readBigInt64BE(o));
  let dims: number[];
  let datatype: number;
  let bitpix: number;
  let voxOffset: number;
  if (size === 348) {
    dims = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
    datatype = i16(70);
    bitpix = i16(72);
    voxOffset = little ? bytes.readFloatLE(108) : bytes.readFloatBE(108);
  } else {
    if (bytes.length < 540) throw new InputError(path, 'too short for a NIfTI-2 header', REEXPORT);
    dims = Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i));
    datatype = i16(12);
    bitpix = i16(14);
    voxOffset = i64(168);
  }
  const nd = dims[0]!;
  if (nd < 1 || nd > 7) throw new InputError(path, `NIfTI header has ${nd} dimensions`, REEXPORT);
  const voxels = dims.slice(1, nd + 1).reduce((a, b) => a * Math.max(b, 1), 1);
  const expected = voxOffset + (voxels * bitpix) / 8;
  if (bytes.length < expected) {
    throw new InputError(
      path,
      `truncated: header promises ${expected} bytes of image, file has ${bytes.length}`,
      REEXPORT,
    );
  }
  // NIfTI datatype codes: 16 = float32, 64 = float64.
  if (datatype === 16 || datatype === 64) {
    const width = datatype === 16 ? 4 : 8;
    for (let i = 0; i < voxels; i++) {
      const o = voxOffset + i * width;
      const v =
        width === 4
          ? little
            ? bytes.readFloatLE(o)
            : bytes.readFloatBE(o)
          : little
            ? bytes.readDoubleLE(o)
            : bytes.readDoubleBE(o);
      if (!Number.isFinite(v)) throw nonFiniteError(path, i, v, dims.slice(1, nd + 1));
    }
  }
}

/** Throws InputError naming the data file when a detached MetaImage header (.mhd) points to a missing file. */
export function checkMetaImageDataFile(path: string): void {
  const header = readFileSync(path, 'latin1');
  const m = /^\s*ElementDataFile\s*=\s*(.+?)\s*$/m.exec(header);
  if (!m) throw new InputError(path, 'MetaImage header has no ElementDataFile line', REEXPORT);
  const name = m[1]!;
  if (name === 'LOCAL' || name.startsWith('LIST') || name.includes('%')) return;
  const data = join(dirname(path), name);
  if (!existsSync(data) || !statSync(data).isFile()) {
    throw new InputError(path, `its data file ${name} is missing`, `put ${name} next to the .mhd header`);
  }
}
