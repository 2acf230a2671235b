/**
 * A DICOM series (a folder of slice files) as one Volume, through @itk-wasm/dicom, which sorts the
 * slices by position and derives spacing, origin and direction from the DICOM tags (ImagePositionPatient,
 * ImageOrientationPatient, PixelSpacing) in ITK's LPS convention.
 *
 * What that reader accepts silently is refused here first, from the headers (dicom-header.ts): a folder
 * holding several series (it reads one of them), slices sharing a position (it makes them 1 mm apart),
 * uneven slice gaps (it averages them), a single slice (1 mm again), and Rows x Columns declaring more
 * pixels than a file holds (it allocates them all). `FOLDER#UID` reads the series UID of a folder
 * holding several.
 */
import { readImageDicomFileSeriesNode } from '@itk-wasm/dicom';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../../errors.ts';
import type { Volume } from '../volume.ts';
import { NATIVE_SYNTAXES, readDicomHeader, type DicomHeader } from './dicom-header.ts';
import { volumeFromItk } from './itk.ts';
import { checkDeclaredSize, type ReadOptions } from './limits.ts';
import { resolveLinks, splitSeriesPath, statFollowing } from './paths.ts';
import { diagnostics, quietly } from './quiet.ts';

/**
 * Largest difference of a slice gap from the series' usual (median) gap, as a fraction of it. ITK
 * warns of non-uniform sampling at 1e-4; 1% leaves room for positions rounded to a few decimals and
 * still catches a missing slice (a gap 100% too wide) or two interleaved stacks.
 */
export const SLICE_GAP_TOLERANCE = 0.01;

/** Slices closer than this along the slice normal (mm) share a position: the precision DICOM positions carry. */
const SAME_POSITION_MM = 1e-3;

/** Largest difference of two slices' direction cosines for them to lie in one plane orientation. */
const SAME_ORIENTATION = 1e-3;

const REEXPORT = 'the file is incomplete or corrupt: copy or export the series again';

interface Slice {
  /** the path as listed in the folder (named in errors) */
  readonly name: string;
  /** the path with links resolved (what the reader is given) */
  readonly real: string;
  readonly header: DicomHeader;
}

const fmt = (x: number) => x.toFixed(3);
const count = (n: number) => n.toLocaleString('en-US');

/** Names of `slices` for a message, at most `max` of them. */
function names(slices: readonly Slice[], max = 4): string {
  const shown = slices.slice(0, max).map((s) => basename(s.name));
  const more = slices.length - shown.length;
  if (more > 0) return `${shown.join(', ')} and ${more} more`;
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}` : shown.join('');
}

/** The image files of `dir`, their headers read; the series named by `series` (UID) or the only one. */
function selectSeries(
  path: string,
  dir: string,
  listed: readonly { name: string; real: string }[],
  series: string | undefined,
): Slice[] {
  const images: Slice[] = [];
  const withoutPixels: Slice[] = [];
  let notDicom = 0;
  for (const f of listed) {
    const header = readDicomHeader(f.name, readFileSync(f.real));
    if (!header) notDicom++;
    else if (header.pixelBytes === undefined) withoutPixels.push({ ...f, header });
    else images.push({ ...f, header });
  }
  const noPixels = withoutPixels.length;
  if (images.length === 0) {
    const n = listed.length;
    const of = (k: number) => (k === n ? `all ${k} files` : `${k} of ${n} files`);
    const why = noPixels
      ? `${of(noPixels)} are DICOM objects without pixel data (PixelData 7FE0,0010), e.g. reports or presentation states, not image slices`
      : `${of(notDicom)} are not DICOM files (no "DICM" marker at byte 128)`;
    throw new InputError(
      path,
      `cannot be read as a DICOM series (${why})`,
      'the folder must hold the slice files of one DICOM series, complete and uncorrupted',
    );
  }
  const bySeries = new Map<string, Slice[]>();
  for (const s of images) {
    const uid = s.header.seriesUid ?? '';
    const group = bySeries.get(uid);
    if (group) group.push(s);
    else bySeries.set(uid, [s]);
  }
  // a file of the series without pixel data is a slice cut short (reports and DICOMDIRs have their own)
  const complete = (uid: string, slices: Slice[]) => {
    const cut = withoutPixels.find((s) => uid && s.header.seriesUid === uid);
    if (cut)
      throw new InputError(
        cut.name,
        `belongs to DICOM series ${uid} but holds no pixel data (PixelData 7FE0,0010): a slice cut short`,
        REEXPORT,
      );
    return slices;
  };
  if (series !== undefined) {
    const chosen = bySeries.get(series);
    if (chosen) return complete(series, chosen);
  } else if (bySeries.size === 1) return complete(images[0]!.header.seriesUid ?? '', images);
  const groups = [...bySeries].sort((a, b) => b[1].length - a[1].length);
  const list = groups
    .map(([uid, s]) => {
      const description = s[0]!.header.seriesDescription?.replace(/\s+/g, ' '); // one line
      const about = description
        ? `"${description}" (${s.length} files)`
        : `(no description, ${s.length} files)`;
      return `${uid || '(no SeriesInstanceUID)'} ${about}`;
    })
    .join(', ');
  const example = `${dir}#${groups.find(([uid]) => uid)?.[0] ?? 'UID'}`;
  if (series !== undefined)
    throw new InputError(
      path,
      `names DICOM series ${series}, which ${dir} does not hold; it holds ${list}`,
      `name one of these after the #, e.g. ${example}`,
    );
  throw new InputError(
    path,
    `holds ${bySeries.size} DICOM series and kneeseg reads one series at a time: ${list}`,
    `name the series to read as FOLDER#SeriesInstanceUID, e.g. ${example} (kneeseg predict: --series UID)`,
  );
}

const framesOf = (h: DicomHeader) => (Number.isInteger(h.frames) && h.frames! >= 1 ? h.frames! : 1);

/**
 * Each file's pixel data must hold what Rows x Columns x SamplesPerPixel x BitsAllocated x frames
 * declare (uncompressed transfer syntaxes; compressed sizes are not known before decoding), every slice
 * must have one size, and the whole series must fit the voxel limit, all before the reader allocates.
 */
function checkPixelData(path: string, slices: readonly Slice[], options: ReadOptions): void {
  for (const s of slices) {
    const { rows, columns, bitsAllocated: bits, pixelBytes } = s.header;
    const samples = s.header.samplesPerPixel ?? 1;
    const ok = (n: number | undefined) => n !== undefined && Number.isInteger(n) && n >= 1;
    if (!ok(rows) || !ok(columns) || !ok(bits) || !ok(samples))
      throw new InputError(
        s.name,
        `its header declares no valid image size (Rows ${rows}, Columns ${columns}, SamplesPerPixel ${samples}, BitsAllocated ${bits})`,
        REEXPORT,
      );
    if (typeof pixelBytes !== 'number' || !NATIVE_SYNTAXES.includes(s.header.transferSyntax)) continue;
    const frames = framesOf(s.header);
    const needed = Math.ceil((rows! * columns! * samples * bits! * frames) / 8);
    if (pixelBytes < needed)
      throw new InputError(
        s.name,
        `its header declares Rows x Columns = ${rows} x ${columns}` +
          `${samples > 1 ? ` x ${samples} samples` : ''}${frames > 1 ? ` x ${frames} frames` : ''} at ${bits} bits, ` +
          `${count(needed)} bytes of pixel data, but the file holds ${count(pixelBytes)}`,
        'the header or the file is damaged (a wrong Rows/Columns, or a truncated copy): copy or export the series again',
      );
  }
  const first = slices[0]!;
  const odd = slices.find(
    (s) => s.header.rows !== first.header.rows || s.header.columns !== first.header.columns,
  );
  if (odd)
    throw new InputError(
      path,
      `its slices differ in size: ${basename(odd.name)} is ${odd.header.rows} x ${odd.header.columns} pixels, ` +
        `${basename(first.name)} ${first.header.rows} x ${first.header.columns}`,
      'give a folder holding one 3-D series, every slice of the same size',
    );
  const frames = slices.reduce((n, s) => n + framesOf(s.header), 0);
  const bytes = ((first.header.samplesPerPixel ?? 1) * first.header.bitsAllocated!) / 8;
  checkDeclaredSize(path, [first.header.columns!, first.header.rows!, frames], bytes, options);
}

/**
 * Single-frame slices must make a 3-D stack: each with a position and orientation, all parallel, no
 * two at one position along the slice normal, gaps even within SLICE_GAP_TOLERANCE. Otherwise the
 * reader would make up a slice spacing. Multi-frame files carry their geometry per frame (in
 * sequences this check does not read) and are left to the reader.
 */
function checkPositions(path: string, slices: readonly Slice[]): void {
  if (slices.some((s) => framesOf(s.header) > 1)) return;
  if (slices.length === 1)
    throw new InputError(
      path,
      `holds a single image slice (${basename(slices[0]!.name)}): a 2-D image, not a 3-D series, so it has no slice spacing`,
      'point to the folder holding every slice of the 3-D series',
    );
  checkGeometryTags(slices);
  const at = positionsAlongNormal(path, slices);
  checkDistinctPositions(path, at);
  checkEvenGaps(path, at);
}

type Placed = { s: Slice; d: number };

function checkGeometryTags(slices: readonly Slice[]): void {
  const finite = (v: readonly number[] | undefined, n: number) =>
    v !== undefined && v.length === n && v.every(Number.isFinite);
  for (const s of slices) {
    const { position, orientation } = s.header;
    if (!finite(position, 3) || !finite(orientation, 6))
      throw new InputError(
        s.name,
        `has no valid ${finite(position, 3) ? 'ImageOrientationPatient (0020,0037)' : 'ImagePositionPatient (0020,0032)'}, ` +
          'so where the slice lies, and the slice spacing, are unknown',
        'export the series again with its geometry tags',
      );
  }
}

/** Each slice's distance along the normal of the (shared) slice plane, in increasing order. */
function positionsAlongNormal(path: string, slices: readonly Slice[]): Placed[] {
  const first = slices[0]!;
  const o = first.header.orientation!;
  const tilted = slices.find((s) =>
    s.header.orientation!.some((v, i) => Math.abs(v - o[i]!) > SAME_ORIENTATION),
  );
  if (tilted)
    throw new InputError(
      path,
      `its slices lie in differently oriented planes (${basename(first.name)}: ${o.join('\\')}, ` +
        `${basename(tilted.name)}: ${tilted.header.orientation!.join('\\')}), e.g. a 3-plane localizer`,
      'give a folder holding one 3-D series of parallel slices',
    );
  // distance of each slice along the normal (row cosines x column cosines)
  const normal = [
    o[1]! * o[5]! - o[2]! * o[4]!,
    o[2]! * o[3]! - o[0]! * o[5]!,
    o[0]! * o[4]! - o[1]! * o[3]!,
  ];
  const norm = Math.hypot(...normal);
  return slices
    .map((s) => ({ s, d: s.header.position!.reduce((sum, p, i) => sum + (p * normal[i]!) / norm, 0) }))
    .sort((a, b) => a.d - b.d);
}

function checkDistinctPositions(path: string, at: readonly Placed[]): void {
  const groups: Placed[][] = [];
  for (const x of at) {
    const last = groups.at(-1);
    if (last && x.d - last[0]!.d <= SAME_POSITION_MM) last.push(x);
    else groups.push([x]);
  }
  if (groups.length === 1)
    throw new InputError(
      path,
      `all ${at.length} slices lie at one position (${fmt(at[0]!.d)} mm along the slice normal): ` +
        '2-D images (e.g. repetitions, echoes or time points), not a 3-D stack, so there is no slice spacing',
      'give a folder holding one 3-D series, one slice per position',
    );
  const shared = groups.filter((g) => g.length > 1);
  if (shared.length) {
    const shown = shared
      .slice(0, 3)
      .map((g) => `${names(g.map((x) => x.s))} at ${fmt(g[0]!.d)} mm`)
      .join('; ');
    throw new InputError(
      path,
      `slices share a position along the slice normal, so the slice spacing is unknown: ${shown}` +
        `${shared.length > 3 ? `; ${shared.length - 3} more positions` : ''}`,
      'remove the duplicate slice files (copies, or a second echo or repetition, which belongs in a folder of its own)',
    );
  }
}

function checkEvenGaps(path: string, at: readonly Placed[]): void {
  const gaps = at.slice(1).map((x, i) => ({ from: at[i]!, to: x, gap: x.d - at[i]!.d }));
  const sorted = gaps.map((g) => g.gap).sort((a, b) => a - b);
  const usual = sorted[Math.floor(sorted.length / 2)]!;
  const tolerance = Math.max(SLICE_GAP_TOLERANCE * usual, SAME_POSITION_MM);
  const uneven = gaps.filter((g) => Math.abs(g.gap - usual) > tolerance);
  if (uneven.length) {
    const worst = uneven.reduce((a, b) => (Math.abs(b.gap - usual) > Math.abs(a.gap - usual) ? b : a));
    throw new InputError(
      path,
      `its slices are unevenly spaced: the gap between ${basename(worst.from.s.name)} and ${basename(worst.to.s.name)} ` +
        `is ${fmt(worst.gap)} mm where the usual gap is ${fmt(usual)} mm (${uneven.length} of ${gaps.length} gaps differ by more ` +
        `than ${SLICE_GAP_TOLERANCE * 100}%): a slice is missing, or the folder mixes stacks`,
      'export the complete series again; a series with uneven gaps must be resampled to even spacing first (e.g. in 3D Slicer)',
    );
  }
}

/**
 * Reads every regular, non-hidden file of the folder `path` (links followed) as one series; with
 * `FOLDER#UID`, the files of series UID only. InputError naming the folder (or the slice file) for
 * what the module comment lists.
 */
export async function readDicomSeries(path: string, options: ReadOptions = {}): Promise<Volume> {
  const { dir, series } = splitSeriesPath(path);
  // The reader needs absolute paths (relative ones fail inside its virtual file system; FACTS.md),
  // and real ones: it mounts each file's folder and cannot follow a link out of it.
  const listed = readdirSync(resolveLinks(dir))
    .filter((f) => !f.startsWith('.'))
    .map((f) => join(dir, f))
    .filter((f) => statFollowing(f)?.isFile())
    .sort()
    .map((name) => ({ name, real: resolveLinks(name) }));
  if (listed.length === 0) {
    throw new InputError(
      path,
      'is an empty folder, expected the files of a DICOM series',
      'point to the folder holding the .dcm slices',
    );
  }
  const slices = selectSeries(path, dir, listed, series);
  checkPixelData(path, slices, options);
  checkPositions(path, slices);
  const { value, error, printed } = await quietly(() =>
    readImageDicomFileSeriesNode({ inputImages: slices.map((s) => s.real) }),
  );
  if (!value) {
    throw new InputError(
      path,
      `cannot be read as a DICOM series (${diagnostics(printed, error) || 'the DICOM reader stopped without giving a reason'})`,
      'the folder must hold the slice files of one DICOM series, complete and uncorrupted',
    );
  }
  const vol = volumeFromItk(value.outputImage, path);
  const frames = slices.reduce((n, s) => n + framesOf(s.header), 0);
  if (vol.shape[2] !== frames)
    throw new InputError(
      path,
      `the DICOM reader made ${vol.shape[2]} slices of ${frames} image frames`,
      'give a folder holding one 3-D series of single-frame slices, or convert it to NIfTI (e.g. with dcm2niix)',
    );
  return vol;
}
