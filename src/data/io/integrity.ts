/**
 * Checks that catch broken files the readers accept silently, run on the header before a reader
 * allocates anything:
 * - ITK's NIfTI reader fills a truncated .nii or .nii.gz with zeros instead of failing (measured with
 *   @itk-wasm/image-io 1.6.1), so a half-copied scan would train as a black volume: the header's data
 *   size is compared with the bytes actually present;
 * - it also reads a file whose magic is not "n+1" (anything 348 bytes long "is" NIfTI to it) and turns
 *   zero, NaN or infinite pixdim into 1 mm: both are refused here;
 * - every header's declared size is checked against the voxel limit (limits.ts) before decompressing;
 * - a MetaImage header whose data file is missing is reported by name.
 */
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { InputError } from '../../errors.ts';
import type { Volume } from '../volume.ts';
import { checkDeclaredSize, checkSpacing, type ReadOptions } from './limits.ts';
import { resolveLinks, statFollowing } from './paths.ts';

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

/** The NIfTI header fields the checks need. */
interface NiftiHeader {
  readonly little: boolean;
  readonly dims: readonly number[];
  readonly datatype: number;
  readonly bitpix: number;
  readonly voxOffset: number;
}

const NIFTI_FIX =
  'give a NIfTI-1 (.nii/.nii.gz) file; an Analyze .hdr/.img pair or a renamed file is not one: ' +
  'convert it to NIfTI (e.g. with dcm2niix or 3D Slicer)';

/** Parses and checks a NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header; InputError naming `path`. */
function niftiHeader(path: string, bytes: Buffer, options: ReadOptions): NiftiHeader {
  if (bytes.length < 348)
    throw new InputError(path, `only ${bytes.length} bytes, too short for a NIfTI header`, REEXPORT);
  const le = bytes.readInt32LE(0);
  const little = le === 348 || le === 540;
  const size = little ? le : bytes.readInt32BE(0);
  if (size !== 348 && size !== 540)
    throw new InputError(path, 'is not a NIfTI file (bad header size field)', NIFTI_FIX);
  const i16 = (o: number) => (little ? bytes.readInt16LE(o) : bytes.readInt16BE(o));
  const f32 = (o: number) => (little ? bytes.readFloatLE(o) : bytes.readFloatBE(o));
  const f64 = (o: number) => (little ? bytes.readDoubleLE(o) : bytes.readDoubleBE(o));
  const i64 = (o: number) => Number(little ? bytes.readBigInt64LE(o) : bytes.readBigInt64BE(o));
  let magic: string;
  let accepted: readonly string[];
  let dims: number[];
  let pixdim: number[];
  let datatype: number;
  let bitpix: number;
  let voxOffset: number;
  if (size === 348) {
    magic = bytes.toString('latin1', 344, 348);
    accepted = ['n+1\0', 'ni1\0'];
    dims = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
    pixdim = Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i));
    datatype = i16(70);
    bitpix = i16(72);
    voxOffset = f32(108);
  } else {
    if (bytes.length < 540) throw new InputError(path, 'too short for a NIfTI-2 header', REEXPORT);
    magic = bytes.toString('latin1', 4, 8);
    accepted = ['n+2\0', 'ni2\0'];
    dims = Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i));
    pixdim = Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i));
    datatype = i16(12);
    bitpix = i16(14);
    voxOffset = i64(168);
  }
  if (!accepted.includes(magic)) {
    const at = size === 348 ? 344 : 4;
    throw new InputError(
      path,
      `is not a NIfTI-${size === 348 ? 1 : 2} file: its magic (byte ${at}) is ${JSON.stringify(magic)}, ` +
        `expected ${accepted.map((m) => JSON.stringify(m.slice(0, 3))).join(' or ')}`,
      NIFTI_FIX,
    );
  }
  const nd = dims[0]!;
  if (nd < 1 || nd > 7) throw new InputError(path, `NIfTI header has ${nd} dimensions`, REEXPORT);
  if (!(bitpix > 0 && bitpix % 8 === 0))
    throw new InputError(path, `NIfTI header has ${bitpix} bits per voxel`, REEXPORT);
  const sizes = dims.slice(1, nd + 1);
  checkDeclaredSize(path, sizes, bitpix / 8, options);
  checkSpacing(path, pixdim.slice(1, Math.min(nd, 3) + 1), 'NIfTI pixdim[1..3]');
  if (!(Number.isFinite(voxOffset) && voxOffset >= 0 && Number.isInteger(voxOffset)))
    throw new InputError(path, `NIfTI header has the data offset ${voxOffset}`, REEXPORT);
  return { little, dims: sizes, datatype, bitpix, voxOffset };
}

/** The file's bytes (gunzipped for .gz) as a stream of chunks; gzip errors become InputError. */
function niftiBytes(path: string): AsyncIterator<Buffer> & { close(): void } {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const stream: Readable = path.toLowerCase().endsWith('.gz')
    ? pipeline(file, createGunzip({ chunkSize: 1 << 20 }), () => {})
    : file;
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return {
    next: async () => {
      try {
        return await it.next();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code?.startsWith('Z_'))
          throw new InputError(path, `gzip data is broken (${e.message})`, REEXPORT);
        throw new InputError(path, `cannot be read (${e.code ?? e.message})`, REEXPORT);
      }
    },
    close: () => {
      stream.destroy();
      file.destroy();
    },
  };
}

/**
 * Throws InputError when a NIfTI-1/2 file (.nii or .nii.gz) has a header that is not NIfTI, declares
 * more voxels than the limit or a non-physical voxel spacing, holds fewer bytes than its header
 * promises, or when its float voxels hold NaN or infinity (ITK's reader turns those into 0 silently,
 * so they must be looked for in the file itself). The data is streamed: only the header is checked
 * before anything is decompressed, and no more than the declared data is ever read.
 */
export async function checkNifti(path: string, options: ReadOptions = {}): Promise<void> {
  const bytes = niftiBytes(path);
  try {
    const head: Buffer[] = [];
    let have = 0;
    let done = false;
    while (have < 540) {
      const r = await bytes.next();
      if (r.done) {
        done = true;
        break;
      }
      head.push(r.value);
      have += r.value.length;
    }
    const first = Buffer.concat(head);
    const h = niftiHeader(path, first, options);
    const voxels = h.dims.reduce((a, b) => a * b, 1);
    const expected = h.voxOffset + (voxels * h.bitpix) / 8;
    // NIfTI datatype codes: 16 = float32, 64 = float64; only they can hold NaN or infinity.
    const width = h.datatype === 16 ? 4 : h.datatype === 64 ? 8 : 0;
    let carry = Buffer.alloc(0);
    let voxel = 0;
    const scan = (chunk: Buffer, start: number): void => {
      if (width === 0) return;
      const from = Math.max(0, h.voxOffset - start);
      const to = Math.min(chunk.length, expected - start);
      if (to <= from) return;
      const part = carry.length ? Buffer.concat([carry, chunk.subarray(from, to)]) : chunk.subarray(from, to);
      const whole = part.length - (part.length % width);
      const view = new DataView(part.buffer, part.byteOffset, whole);
      for (let o = 0; o < whole; o += width, voxel++) {
        const v = width === 4 ? view.getFloat32(o, h.little) : view.getFloat64(o, h.little);
        if (!Number.isFinite(v)) throw nonFiniteError(path, voxel, v, h.dims);
      }
      carry = Buffer.from(part.subarray(whole));
    };
    scan(first, 0);
    let position = first.length;
    while (!done && position < expected) {
      const r = await bytes.next();
      if (r.done) break;
      scan(r.value, position);
      position += r.value.length;
    }
    if (position < expected) {
      throw new InputError(
        path,
        `truncated: header promises ${expected} bytes of image, file has ${position}`,
        REEXPORT,
      );
    }
  } finally {
    bytes.close();
  }
}

/** The first `max` bytes of a file (the text header of a MetaImage or NRRD file). */
function headText(path: string, max = 1 << 16): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(max);
    const n = readSync(fd, buf, 0, max, 0);
    return buf.toString('latin1', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** A number as header text writes it; C's "inf" and "nan" spellings included. */
function parseNumber(text: string): number {
  const t = text.trim().toLowerCase();
  if (/^[+-]?inf(inity)?$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  return Number(t);
}

const numbers = (text: string | undefined): number[] =>
  text === undefined ? [] : text.trim().split(/\s+/).filter(Boolean).map(parseNumber);

const META_BYTES: Readonly<Record<string, number>> = {
  MET_CHAR: 1,
  MET_UCHAR: 1,
  MET_SHORT: 2,
  MET_USHORT: 2,
  MET_INT: 4,
  MET_UINT: 4,
  MET_LONG: 4,
  MET_ULONG: 4,
  MET_LONG_LONG: 8,
  MET_ULONG_LONG: 8,
  MET_FLOAT: 4,
  MET_DOUBLE: 8,
};

/**
 * Checks a MetaImage header (.mha or .mhd): declared size within the voxel limit and a physical
 * ElementSpacing (ITK passes 0, negative and NaN spacing through). A header without DimSize is left
 * to the reader, which reports it.
 */
export function checkMetaImageHeader(path: string, options: ReadOptions = {}): void {
  const text = headText(path);
  const end = /^\s*ElementDataFile\b.*$/m.exec(text);
  const header = end ? text.slice(0, end.index + end[0].length) : text;
  const field = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*(.*?)\\s*$`, 'm').exec(header)?.[1];
  const dims = numbers(field('DimSize'));
  if (dims.length === 0) return;
  const channels = Number(field('ElementNumberOfChannels') ?? 1) || 1;
  const bytes = (META_BYTES[field('ElementType') ?? ''] ?? 4) * channels;
  checkDeclaredSize(path, dims, bytes, options);
  const key = field('ElementSpacing') !== undefined ? 'ElementSpacing' : 'ElementSize';
  const spacing = numbers(field(key));
  if (spacing.length) checkSpacing(path, spacing.slice(0, Math.min(dims.length, 3)), `MetaImage ${key}`);
}

function nrrdBytes(type: string): number {
  const t = type.toLowerCase();
  if (/double/.test(t)) return 8;
  if (/float/.test(t)) return 4;
  if (/long ?long|int64/.test(t)) return 8;
  if (/short|int16/.test(t)) return 2;
  if (/char|int8/.test(t)) return 1;
  return 4;
}

/**
 * Checks an NRRD header: declared size within the voxel limit, and each spatial axis with a finite
 * spacing above 0 (from "space directions" vector lengths, or "spacings"). ITK turns a zero direction
 * into spacing 0 with NaN directions, and fails with no message on NaN.
 */
export function checkNrrdHeader(path: string, options: ReadOptions = {}): void {
  const text = headText(path);
  if (!text.startsWith('NRRD')) return; // not NRRD at all: the reader says it cannot read it
  const lines = text.split(/\r?\n/);
  const blank = lines.findIndex((l) => l.trim() === '');
  const fields = new Map<string, string>();
  for (const line of lines.slice(1, blank < 0 ? undefined : blank)) {
    if (line.startsWith('#')) continue;
    const m = /^([^:]+?):=?\s*(.*)$/.exec(line);
    if (m) fields.set(m[1]!.trim().toLowerCase(), m[2]!.trim());
  }
  const dims = numbers(fields.get('sizes'));
  if (dims.length === 0) return;
  checkDeclaredSize(path, dims, nrrdBytes(fields.get('type') ?? ''), options);
  const kinds = (fields.get('kinds') ?? '').split(/\s+/).filter(Boolean);
  const spatial = (i: number) => kinds.length === 0 || /^(domain|space)$/i.test(kinds[i] ?? 'domain');
  const directions = fields.get('space directions');
  if (directions !== undefined) {
    const vectors = directions.match(/\([^)]*\)|none/gi) ?? [];
    const lengths = vectors
      .filter((v, i) => v.toLowerCase() !== 'none' && spatial(i))
      .map((v) => Math.hypot(...v.slice(1, -1).split(',').map(parseNumber)));
    checkSpacing(path, lengths, 'NRRD space directions, as lengths');
  } else if (fields.has('spacings')) {
    const spacings = fields
      .get('spacings')!
      .split(/\s+/)
      .map(parseNumber)
      .filter((_, i) => spatial(i));
    checkSpacing(path, spacings, 'NRRD spacings');
  }
}

/**
 * Why the NRRD file `path` could not be read, when its reader gave no reason: throws an InputError
 * naming a truncated data section (raw: fewer bytes than sizes x type; gzip: a stream cut short or
 * damaged, or too short once inflated). Returns when it finds nothing wrong (detached data, other
 * encodings): the caller then reports the reader's failure.
 */
export function explainNrrdFailure(path: string): void {
  const text = headText(path);
  if (!text.startsWith('NRRD')) return;
  const end = /\r?\n\r?\n/.exec(text);
  if (!end) return;
  const fields = new Map<string, string>();
  for (const line of text.slice(0, end.index).split(/\r?\n/).slice(1)) {
    const m = /^([^:#]+?):=?\s*(.*)$/.exec(line);
    if (m) fields.set(m[1]!.trim().toLowerCase(), m[2]!.trim());
  }
  if (fields.has('data file') || fields.has('datafile')) return;
  const dims = numbers(fields.get('sizes'));
  const expected = dims.reduce((a, b) => a * b, 1) * nrrdBytes(fields.get('type') ?? '');
  const start = end.index + end[0].length;
  const encoding = (fields.get('encoding') ?? 'raw').toLowerCase();
  let bytes: number;
  if (encoding === 'raw') bytes = statSync(path).size - start;
  else if (encoding === 'gzip' || encoding === 'gz') {
    try {
      bytes = gunzipSync(readFileSync(path).subarray(start)).length;
    } catch (err) {
      throw new InputError(
        path,
        `is truncated or damaged: its gzip-compressed voxel data cannot be inflated (${(err as Error).message})`,
        REEXPORT,
      );
    }
  } else return;
  if (bytes < expected)
    throw new InputError(
      path,
      `is truncated: its voxel data holds ${bytes} bytes, its header declares ${expected} (sizes ${dims.join(' ')} of ${fields.get('type') ?? '?'})`,
      REEXPORT,
    );
}

/** A detached MetaImage header's data file: its name in the header and the real file to read. */
export interface MetaImageDataFile {
  readonly name: string;
  readonly file: string;
}

/**
 * The data file of a detached MetaImage header (.mhd), looked for beside `path` (where ITK looks)
 * and, when `path` is a link, beside the header it points to; links are resolved. Undefined when the
 * header holds its data (LOCAL) or lists several files. InputError naming the header otherwise.
 */
export function metaImageDataFile(path: string): MetaImageDataFile | undefined {
  const real = resolveLinks(path);
  const header = readFileSync(real, 'latin1');
  const m = /^\s*ElementDataFile\s*=\s*(.+?)\s*$/m.exec(header);
  if (!m) throw new InputError(path, 'MetaImage header has no ElementDataFile line', REEXPORT);
  const name = m[1]!;
  if (name === 'LOCAL' || name.startsWith('LIST') || name.includes('%')) return undefined;
  const candidates = isAbsolute(name)
    ? [name]
    : [...new Set([join(dirname(path), name), join(dirname(real), name)])];
  for (const c of candidates) {
    let stat;
    try {
      stat = statFollowing(c);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      throw new InputError(path, `its data file ${c} ${e.problem}`, e.fix);
    }
    if (stat?.isFile()) return { name, file: resolveLinks(c) };
  }
  throw new InputError(
    path,
    `its data file ${name} is missing${candidates.length > 1 ? ` (looked beside ${path} and beside ${real}, where it links to)` : ''}`,
    `put ${basename(name)} next to the .mhd header`,
  );
}

/**
 * Throws InputError naming `file` when a volume's geometry is not physical: spacing not a finite
 * number above 0, or a non-finite origin or direction (whatever the format and reader).
 */
export function checkGeometry(vol: Volume, file: string): void {
  checkSpacing(file, vol.spacing, 'as read');
  const bad = [...vol.origin, ...vol.direction].some((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad)
    throw new InputError(
      file,
      `has a non-finite origin (${vol.origin.join(', ')}) or direction (${vol.direction.join(', ')})`,
      'write the true position and orientation into the header (e.g. convert the DICOM series again)',
    );
}
