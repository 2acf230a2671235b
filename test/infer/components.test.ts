import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepLargestComponents } from '../../src/infer/components.ts';

test('known answer: the smaller blob of a label goes, other labels and diagonal neighbours are separate', () => {
  const shape = [6, 4, 3] as const;
  const l = new Uint8Array(6 * 4 * 3);
  const at = (x: number, y: number, z: number) => x + 6 * (y + 4 * z);
  for (const x of [0, 1, 2]) l[at(x, 0, 0)] = 2; // 3 voxels of label 2
  l[at(3, 1, 1)] = 2; // touches (2,0,0) only diagonally: its own component
  l[at(5, 3, 2)] = 4; // the only component of label 4
  const before = l.slice();
  assert.equal(keepLargestComponents(l, shape), 1);
  assert.equal(l[at(3, 1, 1)], 0);
  for (let i = 0; i < l.length; i++) if (i !== at(3, 1, 1)) assert.equal(l[i], before[i]);
});

test('random label maps: only the largest 6-connected component per label survives (union-find oracle)', () => {
  let seed = 99;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const [nx, ny, nz] = [9, 8, 7];
  for (let trial = 0; trial < 5; trial++) {
    const l = Uint8Array.from({ length: nx * ny * nz }, () => (rnd() < 0.5 ? 0 : 1 + Math.floor(rnd() * 3)));
    const parent = Int32Array.from({ length: l.length }, (_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
    for (let i = 0; i < l.length; i++) {
      const x = i % nx;
      const y = Math.floor(i / nx) % ny;
      const z = Math.floor(i / (nx * ny));
      for (const [ok, j] of [
        [x + 1 < nx, i + 1],
        [y + 1 < ny, i + nx],
        [z + 1 < nz, i + nx * ny],
      ] as const)
        if (ok && l[i] && l[i] === l[j]) parent[find(i)] = find(j);
    }
    const size = new Map<number, number>();
    for (let i = 0; i < l.length; i++) if (l[i]) size.set(find(i), (size.get(find(i)) ?? 0) + 1);
    const biggest = new Map<number, number>(); // label -> root
    for (let i = 0; i < l.length; i++) {
      if (!l[i]) continue;
      const b = biggest.get(l[i]!);
      if (b === undefined || size.get(find(i))! > size.get(b)!) biggest.set(l[i]!, find(i));
    }
    const out = l.slice();
    keepLargestComponents(out, [nx, ny, nz]);
    for (let i = 0; i < l.length; i++) {
      const keep = l[i] !== 0 && size.get(find(i)) === size.get(biggest.get(l[i]!)!);
      if (keep) continue; // ties may keep either; the size is what must be the largest
      assert.equal(out[i], 0, `voxel ${i}`);
    }
    for (const [label, root] of biggest) {
      let n = 0;
      for (const v of out) if (v === label) n++;
      assert.equal(n, size.get(root));
    }
  }
});
