/**
 * Cache of prepared cases, so that the second epoch reads no NIfTI: in memory per case, and
 * optionally on disk as one .bin file per case (a JSON header, then the float32 planes and the
 * uint8 labels), which lets a resumed or repeated run skip decoding and slicing too.
 *
 * The key must change whenever the slices would: build it with `cacheKey` from the case id, the
 * source files' size and modification time, and the preprocessing options.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemporaries, writeFileAtomic } from '../output/atomic.ts';
import type { PreparedCase } from './preprocess.ts';

/** A stable key from a case id, its source files and the options used to prepare it. */
export function cacheKey(id: string, files: readonly string[], options: object): string {
  const stamp = files.map((f) => {
    const s = statSync(f);
    return `${f}:${s.size}:${s.mtimeMs}`;
  });
  const hash = createHash('sha256')
    .update(JSON.stringify([stamp, options]))
    .digest('hex')
    .slice(0, 16);
  return `${id.replace(/[^\w.-]/g, '_')}.${hash}`;
}

/** Bytes of a prepared case: uint32 header length, JSON header padded to 4 bytes, planes, labels. */
export function serializeCase(p: PreparedCase): Buffer {
  const { planes, labels, ...meta } = p;
  let header = Buffer.from(JSON.stringify({ ...meta, labelled: labels !== undefined }));
  const padded = Math.ceil((header.length + 4) / 4) * 4 - 4;
  header = Buffer.concat([header, Buffer.alloc(padded - header.length, 0x20)]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const parts = [len, header, Buffer.from(planes.buffer, planes.byteOffset, planes.byteLength)];
  if (labels) parts.push(Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength));
  return Buffer.concat(parts);
}

export function deserializeCase(bytes: Buffer): PreparedCase {
  const n = bytes.readUInt32LE(0);
  const meta = JSON.parse(bytes.subarray(4, 4 + n).toString()) as Omit<PreparedCase, 'planes' | 'labels'> & {
    labelled: boolean;
  };
  const [H, W] = meta.layout.size;
  const count = meta.layout.count * H * W;
  // copy into fresh, aligned buffers (a Buffer's own offset need not be 4-aligned)
  const planes = new Float32Array(count);
  new Uint8Array(planes.buffer).set(bytes.subarray(4 + n, 4 + n + 4 * count));
  const labels = meta.labelled
    ? Uint8Array.from(bytes.subarray(4 + n + 4 * count, 4 + n + 5 * count))
    : undefined;
  const { labelled: _, ...rest } = meta;
  return { ...rest, planes, labels };
}

export class SliceCache {
  private readonly memory = new Map<string, PreparedCase>();

  /** @param dir folder for .bin files; without it the cache lives in memory only */
  constructor(readonly dir?: string) {
    if (dir) {
      mkdirSync(dir, { recursive: true });
      removeStaleTemporaries(dir, 0); // files of a process killed while writing them
    }
  }

  /** The case for `key`: from memory, else from disk, else built (and stored in both). */
  async get(key: string, build: () => Promise<PreparedCase> | PreparedCase): Promise<PreparedCase> {
    const hit = this.memory.get(key);
    if (hit) return hit;
    let p: PreparedCase | undefined;
    const file = this.dir ? join(this.dir, `${key}.bin`) : undefined;
    if (file) {
      try {
        p = deserializeCase(readFileSync(file));
      } catch {
        p = undefined; // missing or unreadable: rebuild
      }
    }
    if (!p) {
      p = await build();
      if (file) writeFileAtomic(file, serializeCase(p));
    }
    this.memory.set(key, p);
    return p;
  }

  get size(): number {
    return this.memory.size;
  }
}
