/**
 * Float64 brute-force references for the tree losses: enumerate all 2^K node assignments, keep the
 * legal ones by checking the tree's constraints directly (not through src/hierarchy/states.ts).
 */
import type { LabelTree } from '../../src/hierarchy/tree.ts';

/** Legality straight from the constraints: child => parent, siblings (and roots) exclusive, a
 * positive inner node has a positive child. */
export function isLegal(y: number[], tree: LabelTree): boolean {
  const roots = tree.nodes.filter((n) => n.parent < 0).map((n) => n.index);
  if (roots.filter((r) => y[r]).length > 1) return false;
  for (const n of tree.nodes) {
    if (y[n.index] && n.parent >= 0 && !y[n.parent]) return false;
    const onChildren = n.children.filter((c) => y[c]).length;
    if (onChildren > 1) return false;
    if (y[n.index] && n.children.length > 0 && onChildren !== 1) return false;
  }
  return true;
}

export function allAssignments(K: number): number[][] {
  const out: number[][] = [];
  for (let m = 0; m < 2 ** K; m++) out.push(Array.from({ length: K }, (_, i) => (m >> i) & 1));
  return out;
}

export function legalAssignments(tree: LabelTree): number[][] {
  return allAssignments(tree.size).filter((y) => isLegal(y, tree));
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

const score = (z: number[], y: number[]) => z.reduce((s, zi, i) => s + zi * y[i]!, 0);

/** log P(observation | z) for one pixel: obs -1 none, 0 background, 1 + n node n. */
export function bruteLogObserved(z: number[], obs: number, tree: LabelTree): number {
  const legal = legalAssignments(tree);
  const all = logSumExp(legal.map((y) => score(z, y)));
  const ok = legal.filter((y) => (obs === 0 ? y.every((v) => v === 0) : y[obs - 1] === 1));
  return logSumExp(ok.map((y) => score(z, y))) - all;
}

/** Marginal P(y_n = 1) and P(background) for one pixel. */
export function bruteMarginals(z: number[], tree: LabelTree): { node: number[]; background: number } {
  const legal = legalAssignments(tree);
  const w = legal.map((y) => Math.exp(score(z, y)));
  const Z = w.reduce((a, b) => a + b, 0);
  const node = z.map((_, n) => legal.reduce((s, y, j) => s + (y[n] ? w[j]! : 0), 0) / Z);
  const background = legal.reduce((s, y, j) => s + (y.every((v) => !v) ? w[j]! : 0), 0) / Z;
  return { node, background };
}

/** The most probable legal assignment's leaf label (0 for background). */
export function bruteDecode(z: number[], tree: LabelTree): number {
  const legal = legalAssignments(tree);
  let best = legal[0]!;
  for (const y of legal) if (score(z, y) > score(z, best)) best = y;
  const leaf = tree.leaves.find((l) => best[l]);
  return leaf === undefined ? 0 : tree.nodes[leaf]!.label!;
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/**
 * Per-pixel sum over known nodes of BCE(y_d, p_d) with p_d = prod sigmoid over U(d), in float64.
 * 1 - p_d is expanded as sum_j (prod_{i<j} s_i)(1 - s_j): positive terms, no cancellation.
 */
export function bruteUp(z: number[], target: number[], known: number[], tree: LabelTree): number {
  let loss = 0;
  for (let d = 0; d < tree.size; d++) {
    if (!known[d]) continue;
    const u = tree.ancestorsAndSelf(d);
    const s = u.map((i) => sigmoid(z[i]!));
    const sc = u.map((i) => sigmoid(-z[i]!));
    const p = s.reduce((a, b) => a * b, 1);
    let q = 0;
    let prefix = 1;
    for (let j = 0; j < u.length; j++) {
      q += prefix * sc[j]!;
      prefix *= s[j]!;
    }
    loss -= target[d] ? Math.log(p) : Math.log(q);
  }
  return loss;
}

/** Node targets and known flags of one observation, straight from the definition. */
export function bruteTargets(obs: number, tree: LabelTree): { target: number[]; known: number[] } {
  const K = tree.size;
  if (obs === 0) return { target: new Array<number>(K).fill(0), known: new Array<number>(K).fill(1) };
  const n = obs - 1;
  const path = tree.ancestorsAndSelf(n);
  const target = Array.from({ length: K }, (_, m) => (path.includes(m) ? 1 : 0));
  const known = Array.from({ length: K }, (_, m) =>
    m !== n && tree.ancestorsAndSelf(m).includes(n) ? 0 : 1,
  );
  return { target, known };
}
