/**
 * Weights as safetensors files (the real format, readable by Hugging Face's `safetensors` and so by
 * PyTorch): 8-byte little-endian header length, a JSON header mapping each name to
 * {dtype, shape, data_offsets} plus optional string `__metadata__`, then the raw little-endian bytes.
 * Written by hand because the format is 40 lines and no maintained Node writer exists for it;
 * files go through the one atomic writer (src/output/atomic.ts), so a crash or a full disk never
 * leaves half a file. Reading checks the layout as strictly as the reference reader
 * (decodeSafetensors), so a damaged or forged file is refused by name instead of loading shifted or
 * overlapping weights.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../output/atomic.ts';
import { DTYPES, dtypeFromSafetensors, type DType } from './dtype.ts';
import { tensor } from './ops.ts';
import { Tensor } from './tensor.ts';

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function encodeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Buffer[] {
  const entries = [...(tensors instanceof Map ? tensors : new Map(Object.entries(tensors)))].sort(
    ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0),
  );
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const bytes = Buffer.from(t.data().buffer);
    header[name] = {
      dtype: DTYPES[t.dtype].safetensors,
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes.length],
    };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // data starts 8-byte aligned
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return [len, Buffer.from(json), ...chunks];
}

export function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const CORRUPT = 'the file is incomplete or corrupt: copy it again, or write it again with its program';

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

type Fail = (problem: string) => InputError;

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a safetensors file, checking everything the format requires (as the reference Rust reader
 * does): a JSON object header; each tensor with a known dtype, a shape of non-negative integers and
 * data_offsets [begin, end] with 0 <= begin <= end; end - begin = numel x dtype size; and the tensors'
 * byte ranges tiling the data region exactly, with no gap, no overlap and nothing left after them.
 * `__metadata__` must map names to strings. Anything else is an InputError naming `source`.
 */
export function decodeSafetensors(buf: Buffer, source = 'safetensors data'): SafetensorsFile {
  const fail: Fail = (problem) => new InputError(source, problem, CORRUPT);
  const { header, data } = splitHeader(buf, fail);
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') metadata = checkMetadata(e, fail);
    else entries.push(checkEntry(name, e, data.length, fail));
  }
  checkTiling(entries, data.length, fail);
  const tensors = new Map<string, Tensor>();
  for (const { name, dtype, shape, begin, end } of entries) {
    // copy into an aligned buffer: the slice inside the file need not be aligned for the typed array
    const bytes = new Uint8Array(end - begin);
    bytes.set(data.subarray(begin, end));
    const values = new DTYPES[dtype].array(bytes.buffer);
    tensors.set(name, tensor(values, shape, { dtype }));
  }
  return { tensors, metadata };
}

/** The JSON header object and the data region after it. */
function splitHeader(buf: Buffer, fail: Fail): { header: Record<string, unknown>; data: Buffer } {
  if (buf.length < 8) throw fail('too short to be a safetensors file');
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(buf.length - 8)) throw fail(`header length ${n} exceeds the file size`);
  const headerEnd = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, headerEnd).toString('utf8'));
  } catch {
    throw fail('the header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw fail('the header is not a JSON object');
  return { header: header as Record<string, unknown>, data: buf.subarray(headerEnd) };
}

function checkMetadata(e: unknown, fail: Fail): Record<string, string> {
  if (
    typeof e !== 'object' ||
    e === null ||
    Array.isArray(e) ||
    !Object.values(e).every((v) => typeof v === 'string')
  )
    throw fail('__metadata__ is not a map of names to strings');
  return e as Record<string, string>;
}

/** One tensor's header entry, checked against itself and the `dataBytes` of the data region. */
function checkEntry(name: string, e: unknown, dataBytes: number, fail: Fail): Entry {
  const { dtype, shape, data_offsets: offsets } = (e ?? {}) as Partial<HeaderEntry>;
  let d: DType;
  try {
    d = dtypeFromSafetensors(String(dtype));
  } catch {
    throw fail(`tensor ${name} has the unknown dtype ${JSON.stringify(dtype ?? null)}`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount))
    throw fail(`tensor ${name} has the invalid shape ${JSON.stringify(shape ?? null)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount))
    throw fail(
      `tensor ${name} has inconsistent offsets: data_offsets ${JSON.stringify(offsets ?? null)} are not two non-negative integers`,
    );
  const [begin, end] = offsets;
  if (begin > end)
    throw fail(
      `tensor ${name} has inconsistent offsets: data_offsets [${begin}, ${end}] end before they begin`,
    );
  if (end > dataBytes)
    throw fail(
      `tensor ${name} has inconsistent offsets: data_offsets [${begin}, ${end}] run past the ${dataBytes} bytes of data`,
    );
  const numel = shape.reduce((a, b) => a * b, 1);
  if (end - begin !== numel * DTYPES[d].bytes)
    throw fail(
      `tensor ${name} has inconsistent offsets: it holds ${end - begin} bytes, its shape [${shape.join(', ')}] of ${dtype} needs ${numel * DTYPES[d].bytes}`,
    );
  return { name, dtype: d, shape, begin, end };
}

/** The byte ranges must tile the data region: sorted by offset, each begins where the last ended. */
function checkTiling(entries: readonly Entry[], dataBytes: number, fail: Fail): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < cursor)
      throw fail(
        `tensors ${previous!.name} and ${e.name} overlap (bytes ${previous!.begin}..${previous!.end} and ${e.begin}..${e.end})`,
      );
    if (e.begin > cursor)
      throw fail(`bytes ${cursor}..${e.begin} of the data belong to no tensor (a gap before ${e.name})`);
    cursor = e.end;
    previous = e;
  }
  if (cursor !== dataBytes)
    throw fail(`the last ${dataBytes - cursor} bytes of the data belong to no tensor`);
}

export function loadSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(readFileSync(path), path);
}
