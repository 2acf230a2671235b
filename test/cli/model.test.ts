import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setNumThreads } from '../../src/engine/index.ts';
import { buildModel } from '../../src/models/registry.ts';
import { kneeseg } from '../helpers/cli.ts';

setNumThreads(1);

/** What `kneeseg model ...args` prints; a non-zero exit rejects with what it printed to stderr. */
async function run(args: string[]): Promise<string> {
  const r = await kneeseg('model', ...args);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}

test('kneeseg model --json: parts add up to the model built from the same options', async () => {
  const out = JSON.parse(await run(['--backbone', 'unet', '--size', '64x48', '--json'])) as {
    params: number;
    parts: { name: string; params: number }[];
    flopsPerSlice: number;
  };
  const m = buildModel({ backbone: 'unet', imageSize: [64, 48] });
  assert.equal(out.params, m.parameterCount());
  assert.equal(
    out.parts.reduce((s, p) => s + p.params, 0),
    out.params,
  );
  assert.ok(out.flopsPerSlice > 0);
  m.dispose();
});

test('kneeseg model prints MedT parts, the paper comparison and FLOPs', async () => {
  const text = await run(['--backbone', 'medt', '--size', '64x64', '--out-channels', '2', '--no-level-set']);
  assert.match(text, /backbone\.global branch/);
  assert.match(text, /backbone\.local branch\s+1,453,584/);
  assert.match(text, /1\.73 M/);
  assert.match(text, /FLOPs per slice: [\d.]+ G/);
  assert.doesNotMatch(text, /ls_head/);
});

test('kneeseg model rejects a malformed size', async () => {
  await assert.rejects(run(['--size', '288by240']), /--size.*HEIGHTxWIDTH/);
});
