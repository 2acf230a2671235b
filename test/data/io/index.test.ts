import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readVolume, writeLabelMap, writeVolume, WRITABLE_ENDINGS } from '../../../src/data/io/index.ts';
import { writeItkFile } from '../../../src/data/io/itk.ts';
import { InputError } from '../../../src/errors.ts';
import { assertClose, obliqueVolume, tempDir } from './helpers.ts';

// NIfTI stores geometry as float32, the others as decimal text of doubles.
const geometryTol = (ending: string) => (ending.startsWith('.nii') ? 2e-6 : 1e-9);

for (const ending of WRITABLE_ENDINGS) {
  test(`${ending}: oblique, anisotropic float32 volume round-trips voxels and geometry`, async () => {
    const dir = tempDir();
    const vol = obliqueVolume((n) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1000));
    const path = join(dir, `scan${ending}`);
    await writeVolume(path, vol);
    const back = await readVolume(path);
    assert.deepEqual([...back.shape], [...vol.shape]);
    assert.ok(back.data instanceof Float32Array);
    assert.deepEqual(back.data, vol.data);
    const tol = geometryTol(ending);
    assertClose(back.spacing, vol.spacing, tol, 'spacing');
    assertClose(back.origin, vol.origin, tol * 40, 'origin');
    assertClose(back.direction, vol.direction, tol, 'direction');
    // nothing but the output (and its .raw) is left in the folder
    const expected = ending === '.mhd' ? ['scan.mhd', 'scan.raw'] : [`scan${ending}`];
    assert.deepEqual(readdirSync(dir).sort(), expected);
  });
}

test('direction convention: NRRD "space directions" list spacing_j times column j of Volume.direction', async () => {
  const dir = tempDir();
  const vol = obliqueVolume((n) => new Int16Array(n));
  await writeVolume(join(dir, 'a.nrrd'), vol);
  const header = readFileSync(join(dir, 'a.nrrd'), 'latin1').split('\n\n')[0]!;
  assert.match(header, /space: left-posterior-superior/);
  const line = /space directions: (.*)/.exec(header)![1]!;
  const vectors = [...line.matchAll(/\(([^)]*)\)/g)].map((m) => m[1]!.split(',').map(Number));
  assert.equal(vectors.length, 3);
  for (let j = 0; j < 3; j++) {
    const column = [0, 1, 2].map((r) => vol.direction[r * 3 + j]! * vol.spacing[j]!);
    assertClose(vectors[j]!, column, 1e-12, `axis ${j}`);
  }
});

test('.nii.gz is gzip-compressed and int16 / uint8 voxel types are kept', async () => {
  const dir = tempDir();
  const vol = obliqueVolume((n) => Int16Array.from({ length: n }, (_, i) => i * 37 - 500));
  await writeVolume(join(dir, 'a.nii.gz'), vol);
  const bytes = readFileSync(join(dir, 'a.nii.gz'));
  assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b]);
  const back = await readVolume(join(dir, 'a.nii.gz'));
  assert.ok(back.data instanceof Int16Array);
  assert.deepEqual(back.data, vol.data);
});

test('writeLabelMap writes uint8 when labels fit, int16 otherwise, and rejects fractions', async () => {
  const dir = tempDir();
  const small = obliqueVolume((n) => Float32Array.from({ length: n }, (_, i) => i % 7));
  await writeLabelMap(join(dir, 'small.nii.gz'), small);
  const a = await readVolume(join(dir, 'small.nii.gz'));
  assert.ok(a.data instanceof Uint8Array);
  assert.deepEqual(Array.from(a.data), Array.from(small.data));
  const big = obliqueVolume((n) => Float32Array.from({ length: n }, (_, i) => (i % 2 ? 300 : -2)));
  await writeLabelMap(join(dir, 'big.nii.gz'), big);
  const b = await readVolume(join(dir, 'big.nii.gz'));
  assert.ok(b.data instanceof Int16Array);
  assert.deepEqual(Array.from(b.data), Array.from(big.data));
  const frac = obliqueVolume((n) => new Float32Array(n).fill(0.5));
  await assert.rejects(writeLabelMap(join(dir, 'frac.nii.gz'), frac), InputError);
  assert.ok(!existsSync(join(dir, 'frac.nii.gz')));
});

/** Asserts an InputError whose message names `file` and matches `problem`. */
async function rejectsNaming(p: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.file, file);
    assert.ok(err.message.startsWith(file), err.message);
    assert.match(err.message, problem);
    return true;
  });
}

for (const ending of ['.nii', '.nii.gz', '.mha', '.nrrd', '.mhd']) {
  test(`truncated ${ending} gives an InputError naming the file and leaves the exit status alone`, async () => {
    const dir = tempDir();
    const path = join(dir, `scan${ending}`);
    await writeVolume(
      path,
      obliqueVolume((n) => Float32Array.from({ length: n }, (_, i) => i + 1), [20, 16, 12]),
    );
    const target = ending === '.mhd' ? join(dir, 'scan.raw') : path;
    const bytes = readFileSync(target);
    writeFileSync(target, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const exitBefore = process.exitCode;
    await rejectsNaming(readVolume(path), path, /truncated|broken|cannot be read|not read completely/);
    assert.equal(process.exitCode, exitBefore);
  });
}

test('unsupported ending, missing file, missing .raw and garbage bytes are InputErrors', async () => {
  const dir = tempDir();
  const txt = join(dir, 'scan.txt');
  writeFileSync(txt, 'hello');
  await rejectsNaming(readVolume(txt), txt, /unsupported file ending/);
  const missing = join(dir, 'nope.nii.gz');
  await rejectsNaming(readVolume(missing), missing, /does not exist/);
  const mhd = join(dir, 'scan.mhd');
  await writeVolume(
    mhd,
    obliqueVolume((n) => new Uint8Array(n)),
  );
  unlinkSync(join(dir, 'scan.raw'));
  await rejectsNaming(readVolume(mhd), mhd, /scan\.raw is missing/);
  const garbage = join(dir, 'garbage.nrrd');
  writeFileSync(garbage, Buffer.alloc(1000, 7));
  await rejectsNaming(readVolume(garbage), garbage, /cannot be read/);
  const empty = join(dir, 'empty.nii');
  writeFileSync(empty, '');
  await rejectsNaming(readVolume(empty), empty, /too short/);
});

test('NaN or infinite voxels: reading names the file and voxel; writing refuses and leaves nothing', async () => {
  const dir = tempDir();
  const vol = obliqueVolume((n) => new Float32Array(n).fill(1));
  (vol.data as Float32Array)[2 + 7 * (3 + 5 * 1)] = NaN;
  const path = join(dir, 'nan.nii.gz');
  await writeItkFile(path, vol); // bypasses writeVolume's check, as a foreign tool would
  await rejectsNaming(readVolume(path), path, /voxel \[2, 3, 1\] is NaN/);
  const out = join(dir, 'out', 'nan.nii.gz');
  await rejectsNaming(writeVolume(out, vol), out, /NaN or infinite/);
  (vol.data as Float32Array)[2 + 7 * (3 + 5 * 1)] = Infinity;
  await rejectsNaming(writeVolume(out, vol), out, /Infinity/);
  assert.ok(!existsSync(out));
  assert.deepEqual(readdirSync(dir), ['nan.nii.gz']);
});

test('a failing writer leaves neither the file nor its temporary folder', async () => {
  const dir = tempDir();
  const bad = { ...obliqueVolume((n) => new Float32Array(n)), data: new Float32Array(3) };
  const out = join(dir, 'bad.nii.gz');
  await rejectsNaming(writeVolume(out, bad), out, /voxels for shape/);
  await rejectsNaming(
    writeVolume(
      join(dir, 'x.h5'),
      obliqueVolume((n) => new Float32Array(n)),
    ),
    join(dir, 'x.h5'),
    /unsupported/,
  );
  assert.deepEqual(readdirSync(dir), []);
});
