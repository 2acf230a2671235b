import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, randn, scope, type Tensor } from '../../src/engine/index.ts';
import { countFlops } from '../../src/models/flops.ts';
import {
  GROUPED_MAX_LENGTH,
  weightedValues,
  weightedValuesOfTransposed,
} from '../../src/models/medt/weighted-values.ts';

/** out_bgci = sum_j sim_bgij v_bgcj by loops, in float64. */
function bruteForce(sim: Tensor, v: Tensor): Float64Array {
  const [B, G, L] = sim.shape as [number, number, number];
  const c = v.shape[2]!;
  const s = sim.double().contiguous().data() as Float64Array;
  const w = v.double().contiguous().data() as Float64Array;
  const out = new Float64Array(B * G * c * L);
  for (let bg = 0; bg < B * G; bg++)
    for (let ch = 0; ch < c; ch++)
      for (let i = 0; i < L; i++) {
        let sum = 0;
        for (let j = 0; j < L; j++) sum += s[(bg * L + i) * L + j]! * w[(bg * c + ch) * L + j]!;
        out[(bg * c + ch) * L + i] = sum;
      }
  return out;
}

function assertClose(got: Tensor, want: Float64Array, tol: number, what: string): void {
  const g = got.double().contiguous().data() as Float64Array;
  assert.equal(g.length, want.length, `${what}: size`);
  let worst = 0;
  for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - want[i]!));
  assert.ok(worst <= tol, `${what}: max difference ${worst}`);
}

// v as a slice of a larger tensor, as the attention's split of the qkv projection gives it
const inputs = (B: number, G: number, c: number, L: number) => {
  const sim = randn([B, G, L, L]).softmax(3);
  const v = randn([B, G, 3 * c, L]).narrow(2, 2 * c, c);
  return { sim, v };
};

test('weightedValues without a graph (grouped convolution on short axes) equals the sum over j', () =>
  scope(() => {
    manualSeed(5);
    for (const [B, G, c, L] of [
      [3, 2, 2, 9],
      [2, 8, 4, 36],
      [1, 3, 8, 5],
      [2, 2, 2, GROUPED_MAX_LENGTH + 3],
    ] as const) {
      const { sim, v } = inputs(B, G, c, L);
      const want = bruteForce(sim, v);
      const got = noGrad(() => weightedValues(sim, v));
      assert.deepEqual(got.shape, [B, G, c, L]);
      assertClose(got, want, 1e-5, `B ${B} G ${G} c ${c} L ${L}`);
      // float64 through the same path: agreement to float64 rounding, so no term is dropped or misplaced
      assertClose(
        noGrad(() => weightedValues(sim.double(), v.double())),
        want,
        1e-12,
        `float64, L ${L}`,
      );
    }
  }));

test('weightedValuesOfTransposed of the transposed maps equals the sum over j', () =>
  scope(() => {
    manualSeed(8);
    for (const [B, G, c, L] of [
      [3, 2, 2, 9],
      [2, 8, 4, 36],
      [1, 3, 8, 5],
    ] as const) {
      const { sim, v } = inputs(B, G, c, L);
      const simT = sim.transpose(2, 3).contiguous();
      const want = bruteForce(sim, v);
      assertClose(
        noGrad(() => weightedValuesOfTransposed(simT, v)),
        want,
        1e-5,
        `B ${B} G ${G} c ${c} L ${L}`,
      );
      assertClose(
        noGrad(() => weightedValuesOfTransposed(simT.double(), v.double())),
        want,
        1e-12,
        `float64, L ${L}`,
      );
      assert.equal(
        countFlops(() => noGrad(() => weightedValuesOfTransposed(simT, v))),
        2 * B * G * c * L * L,
      );
    }
  }));

test('weightedValues with a graph gives the same values and the gradient of the product', () =>
  scope(() => {
    manualSeed(6);
    const { sim, v } = inputs(2, 3, 4, 12);
    const s = sim.double().requiresGrad_(true);
    const w = v.double().contiguous().requiresGrad_(true);
    const out = weightedValues(s, w);
    assertClose(out, bruteForce(sim, v), 1e-12, 'values');
    const seed = randn([2, 3, 4, 12]).double();
    out.mul(seed).sum().backward();
    // d/dv_bgcj = sum_i seed_bgci sim_bgij: the same sum as the values', over the transposed maps
    assertClose(w.grad!, bruteForce(sim.transpose(2, 3), seed), 1e-12, 'gradient for v');
    // d/dsim_bgij = sum_c seed_bgci v_bgcj
    const gs = s.grad!.data() as Float64Array;
    const V = w.detach().data() as Float64Array;
    const E = seed.data() as Float64Array;
    const [BG, c, L] = [6, 4, 12];
    for (let bg = 0; bg < BG; bg++)
      for (let i = 0; i < L; i++)
        for (let j = 0; j < L; j++) {
          let dsim = 0;
          for (let ch = 0; ch < c; ch++) dsim += E[(bg * c + ch) * L + i]! * V[(bg * c + ch) * L + j]!;
          assert.ok(Math.abs(gs[(bg * L + i) * L + j]! - dsim) < 1e-12, 'gradient for sim');
        }
  }));

test('weightedValues counts the FLOPs of the product on both paths', () =>
  scope(() => {
    const { sim, v } = inputs(2, 8, 4, 30);
    const want = 2 * 2 * 8 * 4 * 30 * 30;
    assert.equal(
      countFlops(() => weightedValues(sim, v)),
      want,
    );
    assert.equal(
      countFlops(() => noGrad(() => weightedValues(sim, v))),
      want,
    );
  }));
