/**
 * The label tree as data (METHOD.md section 2): nodes with a name, a parent and optionally the label
 * value that marks them in label maps. Siblings are mutually exclusive (so are the roots), and a
 * positive child implies its parent. Any depth and width: other datasets label other structures, so
 * the tree is a JSON definition, never code.
 *
 * Label values: every leaf needs one (the value written to predicted label maps). An inner node may
 * have one too: that value marks a pixel observed only at that node (e.g. "femur with cartilage" as
 * one region), which L_CP trains through the node's marginal (METHOD.md section 4).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KNEE_CARTILAGES, type Cartilage } from '../data/cartilages.ts';
import { KNEE_LABELS } from '../data/labels.ts';
import { InputError } from '../errors.ts';

export interface TreeNodeDefinition {
  name: string;
  /** value in label maps; required for leaves */
  label?: number;
  children?: TreeNodeDefinition[];
}

export const treeNodeSchema: z.ZodType<TreeNodeDefinition> = z.lazy(() =>
  z.strictObject({
    name: z.string().min(1),
    label: z.number().int().positive().optional(),
    children: z.array(treeNodeSchema).min(1).optional(),
  }),
);

/** A tree definition: the roots, each with its subtree. */
export const labelTreeSchema = z.strictObject({ roots: z.array(treeNodeSchema).min(1) });
export type LabelTreeDefinition = z.infer<typeof labelTreeSchema>;

/** A cartilage leaf: its name is the plate's abbreviation, its value the plate's label value. */
function cartilageLeaf(name: Cartilage['name']): { name: string; label: number } {
  const plate = KNEE_CARTILAGES.find((c) => c.name === name)!;
  return { name: plate.abbreviation, label: KNEE_LABELS[name] };
}

/** The default knee tree of METHOD.md section 2 (leaf values 1 DF, 2 FC, 3 TB, 4 TC, 5 PB, 6 PC). */
export const KNEE_TREE: LabelTreeDefinition = {
  roots: [
    {
      name: 'PA',
      children: [{ name: 'PB', label: KNEE_LABELS.patella }, cartilageLeaf('patellar_cartilage')],
    },
    {
      name: 'T',
      children: [{ name: 'TB', label: KNEE_LABELS.tibia }, cartilageLeaf('tibial_cartilage')],
    },
    {
      name: 'F',
      children: [{ name: 'DF', label: KNEE_LABELS.femur }, cartilageLeaf('femoral_cartilage')],
    },
  ],
};

export interface TreeNode {
  readonly index: number;
  readonly name: string;
  /** index of the parent, -1 for a root */
  readonly parent: number;
  readonly children: readonly number[];
  readonly label: number | undefined;
  readonly depth: number;
}

/**
 * A validated tree. Nodes are numbered in depth-first pre-order of the definition (parents before
 * their children); this is the channel order of the pixel-wise and level-set heads.
 */
export class LabelTree {
  readonly nodes: readonly TreeNode[];
  /** leaf node indices in definition order; flat (softmax) class c >= 1 is leaf c - 1 */
  readonly leaves: readonly number[];
  readonly #byName = new Map<string, number>();
  readonly #byLabel = new Map<number, number>();

  constructor(
    readonly definition: LabelTreeDefinition,
    source = '<label tree>',
  ) {
    const nodes: TreeNode[] = [];
    const visit = (def: TreeNodeDefinition, parent: number, depth: number): number => {
      const index = nodes.length;
      const node = { index, name: def.name, parent, children: [] as number[], label: def.label, depth };
      nodes.push(node);
      if (this.#byName.has(def.name))
        throw new InputError(
          source,
          `node name "${def.name}" appears twice`,
          'give every node a unique name',
        );
      this.#byName.set(def.name, index);
      if (def.label !== undefined) {
        if (this.#byLabel.has(def.label))
          throw new InputError(
            source,
            `label value ${def.label} is used by two nodes`,
            'give every node its own value',
          );
        this.#byLabel.set(def.label, index);
      } else if (!def.children) {
        throw new InputError(source, `leaf "${def.name}" has no label value`, 'add "label": <integer >= 1>');
      }
      for (const c of def.children ?? []) node.children.push(visit(c, index, depth + 1));
      return index;
    };
    for (const r of definition.roots) visit(r, -1, 0);
    this.nodes = nodes;
    this.leaves = nodes.filter((n) => n.children.length === 0).map((n) => n.index);
  }

  /** number of nodes K (channels of the tree heads) */
  get size(): number {
    return this.nodes.length;
  }
  get maxDepth(): number {
    return Math.max(...this.nodes.map((n) => n.depth));
  }
  get maxLabel(): number {
    return Math.max(...this.#byLabel.keys());
  }
  indexOf(name: string): number {
    const i = this.#byName.get(name);
    if (i === undefined) throw new RangeError(`label tree has no node "${name}"`);
    return i;
  }
  /** the node a label value marks, or undefined */
  nodeOfLabel(value: number): number | undefined {
    return this.#byLabel.get(value);
  }
  /** U(d): the node and its ancestors, root first (Eq. 8) */
  ancestorsAndSelf(node: number): number[] {
    const path: number[] = [];
    for (let n = node; n >= 0; n = this.nodes[n]!.parent) path.unshift(n);
    return path;
  }
  isLeaf(node: number): boolean {
    return this.nodes[node]!.children.length === 0;
  }
  /** leaf label values in flat class order: [0 (background), leaf 1, leaf 2, ...] */
  flatClassLabels(): number[] {
    return [0, ...this.leaves.map((l) => this.nodes[l]!.label!)];
  }
}

const TREE_FIX =
  'write the tree as {"roots": [{"name": "F", "children": [{"name": "DF", "label": 1}, ...]}, ...]} (KNEE_TREE in src/hierarchy/tree.ts)';

/** Validates a parsed JSON definition; errors name `source` and the offending field. */
export function parseLabelTree(json: unknown, source = '<label tree>'): LabelTree {
  const r = labelTreeSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new InputError(source, `${issue.path.join('.') || 'tree'}: ${issue.message}`, TREE_FIX);
  }
  return new LabelTree(r.data, source);
}

/** Reads and validates a label tree file (JSON); InputError naming the file when it cannot be used. */
export function readLabelTree(path: string): LabelTree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      path,
      code === 'ENOENT' ? 'is missing' : `cannot be read (${code ?? 'error'})`,
      TREE_FIX,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch (e) {
    throw new InputError(path, `is not valid JSON (${(e as Error).message})`, TREE_FIX);
  }
  return parseLabelTree(json, path);
}

export function defaultKneeTree(): LabelTree {
  return new LabelTree(KNEE_TREE, 'KNEE_TREE');
}
