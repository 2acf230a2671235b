/**
 * The import graph of src/ follows ARCHITECTURE.md's layers: a module imports only from its own layer
 * or from layers below it, layers form no cycle, and no two files import each other through a chain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SRC = resolve(import.meta.dirname, '../src');

/**
 * Lower number = lower layer. Same number = siblings, which may import each other as long as no
 * cycle forms. errors.ts and output/ (atomic writes, locks) are the foundation everything may use.
 */
export const LAYER_RANK: Record<string, number> = {
  errors: 0,
  output: 1,
  engine: 2,
  data: 3,
  image: 3,
  hierarchy: 3,
  levelset: 3,
  models: 3,
  methods: 4,
  train: 5,
  infer: 6,
  eval: 6,
  experiment: 7,
  view: 8,
  cli: 9,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(e.name) ? [p] : [];
  });
}

const layerOf = (file: string): string => {
  const parts = relative(SRC, file).split('/');
  return parts.length === 1 ? parts[0].replace(/\.tsx?$/, '') : parts[0];
};

/** Relative imports of every file under src/ (static, re-exports and dynamic), resolved to paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => resolve(dirname(file), name));
    graph.set(file, targets);
  }
  return graph;
}

/** One cycle of the graph as a path of nodes, or undefined (depth-first search, three colours). */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

test('every top-level folder of src/ has a layer', () => {
  const unknown = [...new Set(sourceFiles(SRC).map(layerOf))].filter((l) => !(l in LAYER_RANK));
  assert.deepEqual(unknown, [], 'give each new folder a rank in LAYER_RANK and in ARCHITECTURE.md');
});

test('no module imports from a layer above its own', () => {
  const upward: string[] = [];
  for (const [file, targets] of importGraph()) {
    for (const target of targets) {
      const [from, to] = [layerOf(file), layerOf(target)];
      if (LAYER_RANK[to] > LAYER_RANK[from])
        upward.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('layers form no cycle', () => {
  const layers = new Map<string, string[]>();
  for (const [file, targets] of importGraph()) {
    const from = layerOf(file);
    const edges = layers.get(from) ?? [];
    for (const t of targets) if (layerOf(t) !== from && !edges.includes(layerOf(t))) edges.push(layerOf(t));
    layers.set(from, edges);
  }
  assert.equal(findCycle(layers)?.join(' -> '), undefined);
});

test('no file imports itself through a chain of imports', () => {
  const cycle = findCycle(importGraph());
  assert.equal(cycle?.map((f) => relative(SRC, f)).join(' -> '), undefined);
});

test('findCycle finds a cycle and only a cycle', () => {
  const g = (edges: Record<string, string[]>) => new Map(Object.entries(edges));
  assert.deepEqual(findCycle(g({ a: ['b'], b: ['c'], c: ['a'] })), ['a', 'b', 'c', 'a']);
  assert.equal(findCycle(g({ a: ['b', 'c'], b: ['c'], c: [] })), undefined);
  assert.deepEqual(findCycle(g({ a: ['a'] })), ['a', 'a']);
});
