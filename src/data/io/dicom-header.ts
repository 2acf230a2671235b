/**
 * The few tags of a DICOM file that decide whether a folder is one usable 3-D series, read with Node
 * before the WebAssembly reader sees the files: GDCM (inside @itk-wasm/dicom) reads the first series of
 * a mixed folder without a word, makes slices that share a position 1 mm apart, averages uneven gaps,
 * and allocates whatever Rows x Columns declare (4000 x 4000 from a damaged header) before finding the
 * pixel data short. Only top-level elements up to PixelData are parsed; sequences are skipped.
 */
import { inflateRawSync } from 'node:zlib';
import { InputError } from '../../errors.ts';

export interface DicomHeader {
  readonly transferSyntax: string;
  readonly seriesUid?: string;
  readonly seriesDescription?: string;
  /** ImagePositionPatient (0020,0032), mm */
  readonly position?: readonly number[];
  /** ImageOrientationPatient (0020,0037): row cosines then column cosines */
  readonly orientation?: readonly number[];
  readonly rows?: number;
  readonly columns?: number;
  readonly samplesPerPixel?: number;
  readonly bitsAllocated?: number;
  readonly frames?: number;
  /**
   * PixelData (7FE0,0010): the bytes of native (uncompressed) pixel data present in the file, or
   * 'encapsulated' for compressed frames; undefined when the file has none (a report, a DICOMDIR).
   */
  readonly pixelBytes?: number | 'encapsulated';
}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED_LE = '1.2.840.10008.1.2.1.99';

/** Transfer syntaxes whose pixel data is stored as plain samples (so its size is known exactly). */
export const NATIVE_SYNTAXES: readonly string[] = [
  IMPLICIT_LE,
  '1.2.840.10008.1.2.1',
  EXPLICIT_BE,
  DEFLATED_LE,
];

/** Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;
const PIXEL_DATA = 0x7fe00010;

type Kind = 'text' | 'numbers' | 'ushort';
/** The tags read, by (group << 16 | element), with how their value is encoded. */
const WANTED = new Map<number, readonly [keyof DicomHeader, Kind]>([
  [0x0020000e, ['seriesUid', 'text']],
  [0x0008103e, ['seriesDescription', 'text']],
  [0x00200032, ['position', 'numbers']],
  [0x00200037, ['orientation', 'numbers']],
  [0x00280002, ['samplesPerPixel', 'ushort']],
  [0x00280008, ['frames', 'numbers']],
  [0x00280010, ['rows', 'ushort']],
  [0x00280011, ['columns', 'ushort']],
  [0x00280100, ['bitsAllocated', 'ushort']],
]);

/** Thrown inside the parser when an element runs past the end of the bytes. */
class Truncated extends Error {}

interface Encoding {
  readonly little: boolean;
  readonly explicit: boolean;
}

type OnElement = (tag: number, start: number, length: number) => boolean | void;

class Parser {
  constructor(readonly buf: Buffer) {}

  u16(at: number, e: Encoding): number {
    if (at + 2 > this.buf.length) throw new Truncated();
    return e.little ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }

  u32(at: number, e: Encoding): number {
    if (at + 4 > this.buf.length) throw new Truncated();
    return e.little ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  /**
   * Parses elements from `pos` to `end` (or to an item delimiter), calling `on` for each; `on`
   * returning true stops there. Returns the position after the last element (or the delimiter).
   */
  elements(pos: number, end: number, e: Encoding, on?: OnElement): number {
    while (pos < end) {
      const group = this.u16(pos, e);
      const element = this.u16(pos + 2, e);
      const tag = ((group << 16) | element) >>> 0;
      if (group === 0xfffe) return pos + 8; // an item delimiter ends a nested item
      let vr = '';
      let start: number;
      let length: number;
      if (e.explicit) {
        if (pos + 6 > this.buf.length) throw new Truncated();
        vr = this.buf.toString('latin1', pos + 4, pos + 6);
        if (!/^[A-Z]{2}$/.test(vr)) throw new Truncated(); // not a VR: the bytes are not what they claim
        if (LONG_VRS.has(vr)) {
          length = this.u32(pos + 8, e);
          start = pos + 12;
        } else {
          length = this.u16(pos + 6, e);
          start = pos + 8;
        }
      } else {
        length = this.u32(pos + 4, e);
        start = pos + 8;
      }
      if (length === UNDEFINED) {
        if (tag === PIXEL_DATA) {
          on?.(tag, start, length);
          return start;
        }
        // a sequence (or UN of undefined length, whose content is implicit VR little endian)
        pos = this.sequence(start, vr === 'UN' ? { little: true, explicit: false } : e);
        continue;
      }
      // PixelData may run past the end (a truncated file): its caller counts the bytes present
      if (tag !== PIXEL_DATA && start + length > this.buf.length) throw new Truncated();
      if (on?.(tag, start, length)) return start + length;
      pos = start + length;
    }
    return pos;
  }

  /** Skips a sequence of undefined length starting at `pos`; returns the position after its delimiter. */
  sequence(pos: number, e: Encoding): number {
    for (;;) {
      const group = this.u16(pos, e);
      const element = this.u16(pos + 2, e);
      const length = this.u32(pos + 4, e);
      if (group !== 0xfffe) throw new Truncated();
      if (element === 0xe0dd) return pos + 8;
      if (length === UNDEFINED) pos = this.elements(pos + 8, Infinity, e);
      else pos += 8 + length;
    }
  }
}

function value(
  buf: Buffer,
  start: number,
  length: number,
  kind: Kind,
  e: Encoding,
): string | number | number[] {
  if (kind === 'ushort') {
    if (length < 2) return NaN;
    return e.little ? buf.readUInt16LE(start) : buf.readUInt16BE(start);
  }
  const text = buf
    .toString('latin1', start, start + length)
    .replace(/[\0 ]+$/, '')
    .trim();
  if (kind === 'text') return text;
  return text.split('\\').map((s) => (s.trim() === '' ? NaN : Number(s)));
}

/**
 * The header of a DICOM file from its bytes; undefined when the bytes are not DICOM (neither the
 * Part 10 "DICM" marker at byte 128 nor a bare data set starting with a group 0002 or 0008 element).
 * InputError naming `file` when the header ends before its elements do.
 */
export function readDicomHeader(file: string, bytes: Buffer): DicomHeader | undefined {
  let buf = bytes;
  let pos: number;
  const le: Encoding = { little: true, explicit: true };
  try {
    if (buf.length >= 132 && buf.toString('latin1', 128, 132) === 'DICM') pos = 132;
    else if (buf.length >= 8 && [0x0002, 0x0008].includes(buf.readUInt16LE(0)))
      pos = 0; // no preamble
    else return undefined;
    // File meta information (group 0002): always explicit VR little endian
    let syntax: string | undefined;
    const meta = new Parser(buf);
    while (pos + 4 <= buf.length && meta.u16(pos, le) === 0x0002) {
      pos = meta.elements(pos, pos + 1, le, (tag, start, length) => {
        if (tag === 0x00020010) syntax = String(value(buf, start, length, 'text', le));
      });
    }
    // a bare data set says nothing of its encoding: explicit VR when a VR follows the first tag
    syntax ??= /^[A-Z]{2}$/.test(buf.toString('latin1', pos + 4, pos + 6))
      ? '1.2.840.10008.1.2.1'
      : IMPLICIT_LE;
    if (syntax === DEFLATED_LE) {
      buf = inflateRawSync(buf.subarray(pos));
      pos = 0;
    }
    const e: Encoding = { little: syntax !== EXPLICIT_BE, explicit: syntax !== IMPLICIT_LE };
    const header: Record<string, unknown> = { transferSyntax: syntax };
    new Parser(buf).elements(pos, buf.length, e, (tag, start, length) => {
      if (tag === PIXEL_DATA) {
        header['pixelBytes'] = length === UNDEFINED ? 'encapsulated' : Math.min(length, buf.length - start);
        return true;
      }
      const want = WANTED.get(tag);
      if (!want) return;
      const v = value(buf, start, length, want[1], e);
      header[want[0]] = want[0] === 'frames' ? (v as number[])[0] : v;
    });
    return header as unknown as DicomHeader;
  } catch (err) {
    if (!(err instanceof Truncated) && !(err instanceof Error && 'code' in err)) throw err;
    throw new InputError(
      file,
      'is a DICOM file whose header is cut short or damaged (an element runs past the end of the file)',
      'the file is incomplete or corrupt: copy or export the series again',
    );
  }
}
