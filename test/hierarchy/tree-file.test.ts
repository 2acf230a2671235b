/** readLabelTree: a label tree from a JSON file (the configuration's `data.tree`), errors naming the file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KNEE_TREE, readLabelTree } from '../../src/hierarchy/tree.ts';
import { throwsNaming } from '../helpers/throws-naming.ts';

test('readLabelTree reads a tree file; a missing, unparsable or invalid one is an InputError naming it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-tree-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tree.json');
  throwsNaming(() => readLabelTree(file), file, /is missing/);
  writeFileSync(file, '{"roots": [');
  throwsNaming(() => readLabelTree(file), file, /is not valid JSON/);
  writeFileSync(file, JSON.stringify({ roots: [{ name: 'F', children: [{ name: 'DF', label: -1 }] }] }));
  throwsNaming(() => readLabelTree(file), file, /roots\.0\.children\.0\.label: .*Fix: write the tree as/);
  writeFileSync(file, JSON.stringify({ roots: [{ name: 'F', label: 1, colour: 'red' }] }));
  throwsNaming(() => readLabelTree(file), file, /colour/);
  writeFileSync(file, JSON.stringify({ roots: [{ name: 'F', children: [{ name: 'F', label: 1 }] }] }));
  throwsNaming(() => readLabelTree(file), file, /node name "F" appears twice/);

  writeFileSync(file, JSON.stringify(KNEE_TREE));
  const tree = readLabelTree(file);
  assert.deepEqual(tree.definition, KNEE_TREE);
  assert.equal(tree.size, 9);
});
