import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.ts';
import { InputError } from '../../src/errors.ts';
import { defaultKneeTree, parseLabelTree, KNEE_TREE } from '../../src/hierarchy/tree.ts';
import { legalStates, stateLabels } from '../../src/hierarchy/states.ts';
import { labelsToObservations, nodeTargets, observedAt } from '../../src/hierarchy/targets.ts';
import { legalAssignments, bruteTargets } from './brute.ts';
import { deepTree } from './fixtures.ts';
import { KNEE_CARTILAGES } from '../../src/data/cartilages.ts';
import { KNEE_LABELS } from '../../src/data/labels.ts';

test('the knee tree has 9 nodes, 6 leaves with the values of METHOD.md, and 7 legal states', () => {
  const tree = defaultKneeTree();
  assert.equal(tree.size, 9);
  assert.deepEqual(
    tree.nodes.map((n) => n.name),
    ['PA', 'PB', 'PC', 'T', 'TB', 'TC', 'F', 'DF', 'FC'],
  );
  const byName = Object.fromEntries(tree.leaves.map((l) => [tree.nodes[l]!.name, tree.nodes[l]!.label]));
  assert.deepEqual(byName, { DF: 1, FC: 2, TB: 3, TC: 4, PB: 5, PC: 6 });
  assert.equal(legalStates(tree).length, 7);
  assert.deepEqual(legalStates(tree)[0], new Array(9).fill(0));
  // {F, FC} is the state written as label 2
  const s = stateLabels(tree).indexOf(2);
  assert.deepEqual(legalStates(tree)[s], [0, 0, 0, 0, 0, 0, 1, 0, 1]);
});

test("the knee tree's cartilage leaves are the plates' abbreviations with their label values", () => {
  const tree = defaultKneeTree();
  for (const c of KNEE_CARTILAGES) {
    const leaf = tree.nodes.find((n) => n.name === c.abbreviation)!;
    assert.ok(tree.leaves.includes(leaf.index), c.abbreviation);
    assert.equal(leaf.label, KNEE_LABELS[c.name]);
  }
});

test('legal states equal the brute-force legal subset of all 2^K assignments (knee and deep tree)', () => {
  for (const tree of [defaultKneeTree(), deepTree()]) {
    const key = (rows: number[][]) => rows.map((r) => r.join('')).sort();
    assert.deepEqual(key(legalStates(tree)), key(legalAssignments(tree)));
  }
  assert.equal(legalStates(deepTree()).length, 1 + 5);
});

test('tree definitions are validated: JSON round trip, missing leaf values, duplicates, bad fields', () => {
  assert.equal(parseLabelTree(JSON.parse(JSON.stringify(KNEE_TREE))).size, 9);
  assert.throws(
    () => parseLabelTree({ roots: [{ name: 'A', children: [{ name: 'x' }] }] }, 'tree.json'),
    (e: Error) => e instanceof InputError && /tree\.json.*leaf "x" has no label/.test(e.message),
  );
  assert.throws(
    () =>
      parseLabelTree({
        roots: [
          { name: 'A', label: 1 },
          { name: 'A', label: 2 },
        ],
      }),
    /appears twice/,
  );
  assert.throws(
    () =>
      parseLabelTree({
        roots: [
          { name: 'A', label: 1 },
          { name: 'B', label: 1 },
        ],
      }),
    /used by two nodes/,
  );
  assert.throws(() => parseLabelTree({ roots: [{ name: 'A', label: 1.5 }] }), InputError);
  assert.throws(() => parseLabelTree({ roots: [], extra: 1 }), InputError);
});

test('label maps become observations; inner-node values observe only the parent; -1 is unlabelled', () => {
  const tree = deepTree();
  const labels = tensor([0, 1, 4, 5, 6, -1], [1, 2, 3], { dtype: 'int64' });
  const obs = labelsToObservations(labels, tree);
  const n = (name: string) => observedAt(tree.indexOf(name));
  assert.deepEqual(obs.toArray(), [0, n('a'), n('A2'), n('B'), n('A1'), -1]);
  assert.throws(
    () => labelsToObservations(tensor([7], [1, 1, 1], { dtype: 'int64' }), tree, 'case_001.nii.gz'),
    /case_001.*label value 7/,
  );
  const knee = defaultKneeTree();
  assert.throws(
    () => labelsToObservations(tensor([0], [1, 1, 1], { dtype: 'int64' }).add(7), knee),
    InputError,
  );
});

test('node targets and known masks match the definition for every observation', () => {
  const tree = deepTree();
  const K = tree.size;
  const values = Array.from({ length: K + 2 }, (_, i) => i - 1);
  const obs = tensor(values, [1, 1, values.length], { dtype: 'int64' });
  const { target, known } = nodeTargets(obs, tree, 'float64');
  const t = target.toArray();
  const k = known.toArray();
  values.forEach((o, i) => {
    const exp = o < 0 ? { target: new Array(K).fill(0), known: new Array(K).fill(0) } : bruteTargets(o, tree);
    assert.deepEqual(
      Array.from({ length: K }, (_, c) => t[c * values.length + i]),
      exp.target,
      `target of ${o}`,
    );
    assert.deepEqual(
      Array.from({ length: K }, (_, c) => k[c * values.length + i]),
      exp.known,
      `known of ${o}`,
    );
  });
  // observing A1 leaves a, b, c unknown and fixes A = 1, A2 = 0, B = 0
  const a1 = bruteTargets(observedAt(tree.indexOf('A1')), tree);
  assert.deepEqual(a1.known, [1, 1, 0, 0, 0, 1, 1]);
  assert.deepEqual(a1.target, [1, 1, 0, 0, 0, 0, 0]);
});
