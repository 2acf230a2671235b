/**
 * Weights as safetensors files (the real format, readable by Hugging Face's `safetensors` and so by
 * PyTorch): 8-byte little-endian header length, a JSON header mapping each name to
 * {dtype, shape, data_offsets} plus optional string `__metadata__`, then the raw little-endian bytes.
 * Written by hand because the format is 40 lines and no maintained Node writer exists for it;
 * files are written to a temporary name and renamed, so a crash never leaves half a file.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { DTYPES, dtypeFromSafetensors } from './dtype.ts';
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
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of encodeSafetensors(tensors, metadata)) writeSync(fd, c);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export function decodeSafetensors(buf: Buffer, source = 'safetensors data'): SafetensorsFile {
  if (buf.length < 8) throw new Error(`${source}: too short to be a safetensors file`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new Error(`${source}: header length ${n} exceeds the file size`);
  let header: Record<string, HeaderEntry | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch {
    throw new Error(`${source}: the header is not valid JSON`);
  }
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = e as Record<string, string>;
      continue;
    }
    const {
      dtype,
      shape,
      data_offsets: [begin, end],
    } = e as HeaderEntry;
    const d = dtypeFromSafetensors(dtype);
    if (end > data.length || end - begin !== shape.reduce((a, b) => a * b, 1) * DTYPES[d].bytes)
      throw new Error(`${source}: tensor ${name} has inconsistent offsets`);
    // copy into an aligned buffer: the slice inside the file need not be aligned for the typed array
    const bytes = new Uint8Array(end - begin);
    bytes.set(data.subarray(begin, end));
    const values = new DTYPES[d].array(bytes.buffer);
    tensors.set(name, tensor(values, shape, { dtype: d }));
  }
  return { tensors, metadata };
}

export function loadSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(readFileSync(path), path);
}
