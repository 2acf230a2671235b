import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readDicomHeader } from '../../../src/data/io/dicom-header.ts';
import { readVolume } from '../../../src/data/io/index.ts';
import type { Volume } from '../../../src/data/volume.ts';
import { InputError } from '../../../src/errors.ts';
import { assertClose, obliqueDirection, rejectsNaming, tempDir, writeDicomSeries } from './helpers.ts';

test('a DICOM series folder reads as one volume with voxels, spacing, origin and oblique direction', async () => {
  const dir = tempDir();
  const direction = obliqueDirection(0.4);
  const origin: [number, number, number] = [-80.5, 12.25, 40];
  // voxel i of slice k: ((i * 31 + k * 977) % 4000) - 1000
  const voxels = Int16Array.from(
    { length: 6 * 5 * 4 },
    (_, j) => (((j % 30) * 31 + Math.floor(j / 30) * 977) % 4000) - 1000,
  );
  writeDicomSeries(dir, { shape: [6, 5, 4], spacing: [0.4, 0.55, 3], origin, direction, data: voxels });
  const vol = await readVolume(dir);
  assert.deepEqual([...vol.shape], [6, 5, 4]);
  assert.ok(vol.data instanceof Int16Array);
  assert.deepEqual(vol.data, voxels);
  assertClose(vol.spacing, [0.4, 0.55, 3], 1e-5, 'spacing');
  assertClose(vol.origin, origin, 1e-4, 'origin');
  assertClose(vol.direction, direction, 1e-5, 'direction');
});

test('an empty folder and a folder of non-DICOM files are InputErrors naming the folder', async () => {
  const dir = tempDir();
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(
    readVolume(empty),
    (e: unknown) => e instanceof InputError && e.file === empty && /empty folder/.test(e.message),
  );
  const junk = join(dir, 'junk');
  mkdirSync(junk);
  writeFileSync(join(junk, 'a.dcm'), Buffer.alloc(500, 1));
  const exitBefore = process.exitCode;
  await assert.rejects(
    readVolume(junk),
    (e: unknown) => e instanceof InputError && e.file === junk && /DICOM series/.test(e.message),
  );
  assert.equal(process.exitCode, exitBefore);
});

const IDENTITY: Volume['direction'] = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** A 4 x 3 x n series, 2 mm apart unless `offsets` say otherwise. */
function series(n: number): Volume<Int16Array> {
  return {
    shape: [4, 3, n],
    spacing: [0.5, 0.5, 2],
    origin: [-10, 5, 20],
    direction: obliqueDirection(0.2),
    data: Int16Array.from({ length: 12 * n }, (_, i) => i),
  };
}

/** Reading `dir` (or `path`) rejects naming it, and the folder is left as it was. */
async function refused(path: string, dir: string, problem: RegExp): Promise<string> {
  const before = readdirSync(dir).sort();
  let message = '';
  await rejectsNaming(
    readVolume(path).catch((e: unknown) => {
      message = String((e as Error).message);
      throw e;
    }),
    path,
    problem,
  );
  assert.deepEqual(readdirSync(dir).sort(), before);
  return message;
}

test('slices sharing one position are refused, naming the folder and the duplicate files, never spaced 1 mm', async () => {
  const dir = tempDir();
  const files = writeDicomSeries(dir, series(5), { offsets: [0, 2, 2, 4, 6] });
  const message = await refused(
    dir,
    dir,
    /slices share a position along the slice normal, so the slice spacing is unknown: \S+ and \S+ at [-\d.]+ mm\. Fix: remove the duplicate slice files/,
  );
  assert.ok(message.includes(basename(files[1]!)) && message.includes(basename(files[2]!)), message);
  // three copies of one slice are one group, named together
  const three = tempDir();
  const f3 = writeDicomSeries(three, series(5), { offsets: [0, 2, 4, 4, 4] });
  const m3 = await refused(three, three, /: \S+, \S+ and \S+ at [-\d.]+ mm\. Fix/);
  for (const k of [2, 3, 4]) assert.ok(m3.includes(basename(f3[k]!)), m3);
});

test('slices all at one position are 2-D images; a single slice is a 2-D image: neither gets a spacing', async () => {
  const same = tempDir();
  writeDicomSeries(same, { ...series(3), spacing: [0.5, 0.5, 0] });
  await refused(
    same,
    same,
    /all 3 slices lie at one position \([-\d.]+ mm along the slice normal\): 2-D images \(e\.g\. repetitions, echoes or time points\), not a 3-D stack, so there is no slice spacing/,
  );
  const single = tempDir();
  const [file] = writeDicomSeries(single, series(1));
  await refused(
    single,
    single,
    new RegExp(`holds a single image slice \\(${basename(file!)}\\): a 2-D image, not a 3-D series`),
  );
});

test('uneven slice gaps beyond 1% are refused naming the gap; rounding-size jitter is read', async () => {
  const dir = tempDir();
  const files = writeDicomSeries(dir, series(5), { offsets: [0, 2, 4, 8, 10] }); // slice at 6 mm missing
  const message = await refused(
    dir,
    dir,
    /its slices are unevenly spaced: the gap between \S+ and \S+ is 4\.000 mm where the usual gap is 2\.000 mm \(1 of 4 gaps differ by more than 1%\): a slice is missing/,
  );
  assert.ok(message.includes(`${basename(files[2]!)} and ${basename(files[3]!)}`), message);
  const interleaved = tempDir();
  writeDicomSeries(interleaved, series(5), { offsets: [0, 2, 4, 6, 8.1] });
  await refused(interleaved, interleaved, /is 2\.100 mm where the usual gap is 2\.000 mm/);
  const jitter = tempDir();
  writeDicomSeries(jitter, series(5), { offsets: [0, 2.0005, 4, 5.9995, 8] });
  const vol = await readVolume(jitter);
  assertClose([vol.spacing[2]], [2], 1e-3, 'slice spacing');
});

test('Rows x Columns declaring more pixels than a slice holds: refused from the header, naming the file', async () => {
  const dir = tempDir();
  const [file] = writeDicomSeries(dir, series(3), { declared: { rows: 4000, columns: 4000 } });
  // each file holds 4 x 3 int16 = 24 bytes of pixels; 4000 x 4000 would be 32 MB a slice
  await rejectsNaming(
    readVolume(dir),
    file!,
    /its header declares Rows x Columns = 4000 x 4000 at 16 bits, 32,000,000 bytes of pixel data, but the file holds 24\. Fix: the header or the file is damaged/,
  );
  // a slice cut short in its pixel data: the same check, by the bytes present
  const cut = tempDir();
  const cutFiles = writeDicomSeries(cut, series(3));
  const bytes = readFileSync(cutFiles[1]!);
  writeFileSync(cutFiles[1]!, bytes.subarray(0, bytes.length - 10));
  await rejectsNaming(readVolume(cut), cutFiles[1]!, /24 bytes of pixel data, but the file holds 14\./);
  // a header cut short before its pixel data
  const headerCut = tempDir();
  const hc = writeDicomSeries(headerCut, series(3));
  const header = readFileSync(hc[0]!);
  const pixelTag = header.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  writeFileSync(hc[0]!, header.subarray(0, pixelTag - 5)); // inside the element before PixelData
  await rejectsNaming(readVolume(headerCut), hc[0]!, /is a DICOM file whose header is cut short or damaged/);
  writeFileSync(hc[0]!, header.subarray(0, pixelTag)); // between elements: the slice has no pixel data
  await rejectsNaming(
    readVolume(headerCut),
    hc[0]!,
    /belongs to DICOM series [\d.]+ but holds no pixel data \(PixelData 7FE0,0010\): a slice cut short/,
  );
});

test('the voxel limit counts a DICOM series from its headers, before reading', async () => {
  const dir = tempDir();
  writeDicomSeries(dir, series(4));
  await rejectsNaming(
    readVolume(dir, { maxVoxels: 40 }),
    dir,
    /its header declares 4 x 3 x 4 = 48 voxels \(0\.0 GB\), more than the limit of 40/,
  );
  assert.deepEqual([...(await readVolume(dir, { maxVoxels: 48 })).shape], [4, 3, 4]);
});

test('a folder of two series lists them (UID, description, files); FOLDER#UID reads one', async () => {
  const dir = tempDir();
  const a = '1.2.826.0.1.3680043.8.498.11';
  const b = '1.2.826.0.1.3680043.8.498.12';
  writeDicomSeries(dir, series(3), { seriesUid: a, description: 'T1 SAG', prefix: 'A' });
  writeDicomSeries(dir, { ...series(4), spacing: [0.5, 0.5, 1.5] }, { seriesUid: b, prefix: 'B' });
  await refused(
    dir,
    dir,
    new RegExp(
      `holds 2 DICOM series and kneeseg reads one series at a time: ${b} \\(no description, 4 files\\), ${a} "T1 SAG" \\(3 files\\)\\. ` +
        `Fix: name the series to read as FOLDER#SeriesInstanceUID, e\\.g\\. ${dir}#${b} \\(kneeseg predict: --series UID\\)`,
    ),
  );
  const vb = await readVolume(`${dir}#${b}`);
  assert.deepEqual([...vb.shape], [4, 3, 4]);
  assertClose([vb.spacing[2]], [1.5], 1e-5, 'spacing of series b');
  const va = await readVolume(`${dir}#${a}`);
  assert.deepEqual([...va.shape], [4, 3, 3]);
  assert.deepEqual(va.data, series(3).data);
  await refused(
    `${dir}#1.2.3`,
    dir,
    new RegExp(`names DICOM series 1\\.2\\.3, which ${dir} does not hold; it holds ${b} .*, ${a} "T1 SAG"`),
  );
});

test('slices in differently oriented planes (a 3-plane localizer) are refused', async () => {
  const dir = tempDir();
  writeDicomSeries(dir, { ...series(2), direction: IDENTITY }, { prefix: 'AX', seriesUid: '1.2.3.9' });
  writeDicomSeries(
    dir,
    { ...series(2), direction: obliqueDirection(1) },
    { prefix: 'OB', seriesUid: '1.2.3.9' },
  );
  await refused(dir, dir, /its slices lie in differently oriented planes \(.*\), e\.g\. a 3-plane localizer/);
});

test('the header reader skips sequences of undefined length and reads implicit VR little endian', () => {
  // Part 10 file: meta group with TransferSyntaxUID implicit VR LE, then a data set holding a
  // sequence of undefined length with one item of undefined length, Rows, Columns and PixelData
  const el = (g: number, e: number, value: Buffer) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(g, 0);
    b.writeUInt16LE(e, 2);
    b.writeUInt32LE(value.length, 4);
    return Buffer.concat([b, value]);
  };
  const tag = (g: number, e: number, length: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(g, 0);
    b.writeUInt16LE(e, 2);
    b.writeUInt32LE(length, 4);
    return b;
  };
  const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);
  const ts = Buffer.from('1.2.840.10008.1.2\0', 'latin1');
  const metaTs = Buffer.concat([Buffer.from([0x02, 0x00, 0x10, 0x00]), Buffer.from('UI'), us(ts.length), ts]);
  const body = Buffer.concat([
    el(0x0020, 0x000e, Buffer.from('1.2.3.4 ', 'latin1')),
    tag(0x0008, 0x1140, 0xffffffff), // a sequence of undefined length
    tag(0xfffe, 0xe000, 0xffffffff), // an item of undefined length
    el(0x0028, 0x0010, us(999)), // inside the item: not the image's Rows
    tag(0xfffe, 0xe00d, 0),
    tag(0xfffe, 0xe0dd, 0),
    el(0x0020, 0x0032, Buffer.from('1.5\\-2\\3e1 ', 'latin1')),
    el(0x0028, 0x0010, us(3)),
    el(0x0028, 0x0011, us(4)),
    el(0x0028, 0x0100, us(16)),
    el(0x7fe0, 0x0010, Buffer.alloc(24)),
  ]);
  const file = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), metaTs, body]);
  const h = readDicomHeader('x.dcm', file);
  assert.deepEqual(h, {
    transferSyntax: '1.2.840.10008.1.2',
    seriesUid: '1.2.3.4',
    position: [1.5, -2, 30],
    rows: 3,
    columns: 4,
    bitsAllocated: 16,
    pixelBytes: 24,
  });
  assert.equal(readDicomHeader('t.txt', Buffer.from('not dicom at all')), undefined);
});
