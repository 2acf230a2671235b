import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../../src/engine/index.ts';
import { mulberry32 } from '../../src/data/random.ts';
import { labelsToObservations, nodeTargets } from '../../src/hierarchy/targets.ts';
import { defaultKneeTree, parseLabelTree } from '../../src/hierarchy/tree.ts';
import { flatClassCount, flatClasses, oneHotClasses } from '../../src/methods/common.ts';
import { sdfFromMasks } from '../../src/levelset/sdf-targets.ts';
import { flatLevelSetTargets, levelSetTargets, treeLevelSetTargets } from '../../src/levelset/target-spec.ts';

/** a tree with a labelled inner node (partial labels) */
const PARTIAL = parseLabelTree({
  roots: [
    {
      name: 'F',
      label: 7,
      children: [
        { name: 'DF', label: 1 },
        { name: 'FC', label: 2 },
      ],
    },
    { name: 'T', children: [{ name: 'TB', label: 3 }] },
  ],
});

test('tree spec: channel n holds the label values of the nodes under n (the knee tree by name)', () => {
  const tree = defaultKneeTree();
  const spec = treeLevelSetTargets(tree);
  assert.equal(spec.form, 'dtc');
  const byName = Object.fromEntries(tree.nodes.map((n) => [n.name, [...spec.channels[n.index]!].sort()]));
  assert.deepEqual(byName, {
    PA: [5, 6],
    PB: [5],
    PC: [6],
    T: [3, 4],
    TB: [3],
    TC: [4],
    F: [1, 2],
    DF: [1],
    FC: [2],
  });
  assert.equal(treeLevelSetTargets(tree, 'thin').form, 'thin');
  assert.deepEqual(flatLevelSetTargets(tree).channels, [[0], [5], [6], [3], [4], [1], [2]]);
});

test('tree spec: channel membership is nodeTargets target for every label value, inner labels included', () => {
  for (const tree of [defaultKneeTree(), PARTIAL]) {
    const spec = treeLevelSetTargets(tree);
    const values = [0, ...tree.nodes.flatMap((n) => (n.label === undefined ? [] : [n.label]))];
    const labels = tensor(values, [values.length, 1, 1], { dtype: 'int64' });
    const target = nodeTargets(labelsToObservations(labels, tree), tree).target; // [V, K, 1, 1]
    const t = target.toArray();
    values.forEach((v, i) =>
      spec.channels.forEach((ch, k) =>
        assert.equal(t[i * tree.size + k], ch.includes(v) ? 1 : 0, `label ${v} channel ${k}`),
      ),
    );
  }
});

test('levelSetTargets equals sdfFromMasks of the node targets (and of the flat one-hot), bit for bit', () => {
  const r = mulberry32(3);
  const tree = defaultKneeTree();
  for (const form of ['dtc', 'thin'] as const)
    for (let trial = 0; trial < 4; trial++) {
      const [L, H, W] = [1 + (trial % 3), 6 + Math.floor(r() * 10), 5 + Math.floor(r() * 12)];
      const spacing: [number, number] = [0.3 + r(), 0.3 + r()];
      // blocks of label values, some absent from some slices, a one-pixel line
      const labels = new Uint8Array(L * H * W).map((_, i) => {
        const x = i % W;
        const y = Math.floor(i / W) % H;
        if (y === 2) return 2;
        return x < W / 3 ? 0 : Math.floor(r() * 7 * (x / W)) % 7;
      });
      const want = sdfFromMasks(
        nodeTargets(labelsToObservations(tensor(labels, [L, H, W]).to('int64'), tree), tree).target,
        spacing,
        form,
      );
      const got = levelSetTargets(labels, [L, H, W], treeLevelSetTargets(tree, form), spacing);
      assert.deepEqual(got, want.data() as Float32Array, `${form} trial ${trial}`);
      const cls = flatClasses(tensor(labels, [L, H, W]).to('int64'), tree);
      const flat = sdfFromMasks(oneHotClasses(cls, flatClassCount(tree)), spacing, form);
      assert.deepEqual(
        levelSetTargets(labels, [L, H, W], flatLevelSetTargets(tree, form), spacing),
        flat.data() as Float32Array,
      );
    }
  assert.throws(
    () => levelSetTargets(new Uint8Array(5), [1, 2, 3], treeLevelSetTargets(tree), [1, 1]),
    /shape/,
  );
});
