/**
 * Cartilage thickness in 3-D: local thickness (Hildebrand & Rüegsegger, "A new method for the
 * model-independent assessment of thickness in three-dimensional images", J. Microsc. 185 (1997)):
 * the thickness at a point p of a structure S is the diameter of the largest ball inside S that
 * contains p,
 *
 *   tau(p) = max { 2 r(c) : c in S, |p - c| < r(c) },   r(c) = distance from c to the background.
 *
 * Why this definition: it needs no surface pairing or normal direction, works for any plate shape
 * (femoral, tibial, patellar) and any orientation, is the one BoneJ and most bone/cartilage papers
 * use, and is defined per voxel, so the same map gives mean, median, p95, max and a thickness image.
 *
 * Computation (exact for the discrete definition, in physical units, anisotropic spacing honoured):
 * 1. supersampling: each voxel is split into f x f x f sub-voxels (f = 2 by default). Ball centres on
 *    voxel centres cannot sit in the middle of a plate an even number of voxels thick, so at f = 1 the
 *    thickness of an axis-aligned plate of n voxels comes out n (n even) or n + 1 (n odd) voxels; at
 *    f = 2 it is exactly n for both. A voxel's thickness is the mean of its sub-voxels'.
 * 2. r(c) from the exact EDT of the background (src/image/edt.ts) on the plate's bounding box
 *    grown by one voxel. The image border is not background: a plate cut by the field of view is not
 *    thinned where it is cut.
 * 3. centres whose ball lies inside a 26-neighbour's ball (r(n) >= r(c) + |n - c|) are dropped: they
 *    cannot raise any tau (the "distance ridge" of Dougherty & Kunzelmann's Local Thickness plugin).
 * 3b. centres whose ball provably takes nothing (every voxel of it is in the ball of a ridge centre
 *    with a larger radius) are dropped too, in one pass in memory order before any voxel is taken:
 *    see UselessBalls, which proves it for most balls of a thick structure with a curved boundary
 *    from three uphill neighbours and a search of a few voxels.
 * 4. largest ball first: the remaining centres are sorted by decreasing radius, and each ball gives
 *    its diameter to the voxels inside it that no earlier ball took. The first ball to reach a voxel
 *    is the largest containing it, so this is tau, and each voxel is written once.
 *
 * Why step 4 is done this way. Painting every ridge ball (tau = max(tau, 2r) over the ball) costs
 * the sum of the balls' volumes, and the ridge is not thin: on a grid a ball lies inside a
 * neighbour's only when the neighbour sits exactly on the ray from the ball's nearest background
 * point, so half of a cartilage plate and nearly all of a thick blob are ridge centres; a map 98% one
 * plate (128 x 128 x 24) did not finish in 8 minutes. Largest first, a ball needs only the voxels
 * still free, and two things keep it from visiting the others:
 * - the free voxels are bit masks of 4 x 4 x 4 bricks under a pyramid of counts (an octree); a ball
 *   descends only into nodes that hold free voxels and meet it, and takes a node wholly inside it
 *   without testing its voxels one by one;
 * - a processed neighbour n = c + d has taken its whole ball, so every free voxel p of c's ball has
 *   |p - n| >= r(n) as well as |p - c| < r(c), which gives (p - c).d < (r(c)^2 + |d|^2 - r(n)^2) / 2:
 *   each processed neighbour cuts c's ball to a cap on the far side, where the ball touches the
 *   background, and the pyramid is searched only inside the caps (their bounding box, and the
 *   deepest cuts against each node). On a thick structure this leaves about ten nodes per ball.
 * A ball that adds nothing (most of them) thus costs about its number of neighbours and a few nodes,
 * whatever its radius. The smallest balls, a few hundred voxels (they come last, and are most of a
 * thin plate's), are cheaper to paint: each of their voxels is given the diameter if still free.
 * (A separable formulation, one pass per axis as in the EDT, was the other candidate; it must carry,
 * per voxel, every (radius, residual) pair that no other pair dominates, and near a thick tilted
 * plate there are as many as the radius is long, so it gains nothing where the painting is slow.)
 * The pruning only skips nodes that provably hold no free voxel of the ball (with a relative margin
 * of 1e-9 against rounding), and voxels are tested with the painting's own float64 expression, so
 * the map is the painting's value for value (test/infer/thickness.test.ts checks both against each
 * other and against the definition in float64).
 * Cost: the EDT, the ridge test and step 3b are O(f^3 V) for V voxels in the bounding box (the EDT
 * about the plate's voxels, see src/image/edt.ts), the sort is linear (counting sorts on r^2's
 * float32 bits); then a constant per kept ridge centre plus the pyramid nodes its caps meet. On a
 * map nearly all one plate, the centres left after step 3b are mostly on the grid's faces (there the
 * uphill neighbours are off the grid), and they are what remains expensive (bench/thickness/,
 * README "Speed").
 * Threads: steps 3, 3b and 4 (or the painting) run over slabs of planes, on this thread and helpers
 * (thickness-threads.ts) sharing the buffers. Steps 3 and 3b write only their slab's flags. In step
 * 4 the grid is cut into slabs (two per thread, claimed in turn); each walks the whole order and
 * takes only the slab's voxels: a voxel still gets the first (largest) ball that contains it, and
 * the cuts stay valid, as a processed neighbour has taken all of its ball in the slab. So the map
 * does not depend on the threads. A pre-pass over the order records the planes each ball's cut box
 * reaches, so a slab skips the balls that cannot reach it, and the slabs are balanced on those boxes.
 */
import type { Shape3, Spacing3 } from '../data/volume.ts';
import { squaredDistanceToForeground, type Mask } from '../image/edt.ts';
import { percentileSorted } from '../image/percentile.ts';
import { runPhaseChunks, startHelpers, thicknessThreads } from './thickness-threads.ts';

/** Relative slack for float comparisons of squared distances (the EDT may store them in float32). */
const REL_EPS = 1e-6;
/** The 26 neighbour offsets [dx, dy, dz], and their components per axis. */
const NEIGHBOURS: readonly (readonly [number, number, number])[] = [-1, 0, 1]
  .flatMap((dz) => [-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => [dx, dy, dz] as const)))
  .filter(([dx, dy, dz]) => dx || dy || dz);
const [OX, OY, OZ] = [0, 1, 2].map((a) => Int32Array.from(NEIGHBOURS, (d) => d[a]!)) as [
  Int32Array,
  Int32Array,
  Int32Array,
];
/** Relative margin below which a pyramid node's distance bounds are not trusted (its voxels are tested). */
const NODE_MARGIN = 1e-9;

// Tuning (speed only, results do not depend on them), set on bench/thickness/'s cases:
/** balls of at most this many voxels are painted directly (they come last, the pyramid is dropped) */
const PAINT_BALL = 256;
/** balls at most this many voxels across along the finest axis are taken without cuts */
const SMALL_BALL = 16;
/** cuts kept per ball, the deepest: they bound its box and are tested against each pyramid node */
const MAX_CUTS = 8;
/** every ridge ball is painted when their volumes add up to at most this many times the grid's voxels */
const PAINT_ALL = 16;
/** a ball's search starts at the lowest pyramid level where at most this many nodes meet its box */
const START_NODES = 32;

/**
 * Slabs of the take phase per thread, claimed in turn. More slabs balance the threads better, but each
 * slab pays again for the balls that reach it (their cuts and the nodes their boxes meet): on the
 * 98%-full case the take phase took 25-28 s with 3 to 6 slabs on 2 threads, 30 s with 8 and 50 s with 32.
 */
const TAKE_SLABS_PER_THREAD = 2;

/** Grids of fewer voxels run on one thread unless threads are asked for (a helper's start costs more). */
const PARALLEL_VOXELS = 1 << 22;
/** chunks per thread of the per-voxel phases (claimed in turn, so a slow or late thread does less) */
const CHUNKS_PER_THREAD = 4;

/**
 * Local thickness on the grid as given (no supersampling): tau per voxel in the units of `spacing`,
 * 0 outside the mask, NaN everywhere in the mask if the grid has no background voxel at all.
 * `threads`: this thread and helpers (default: one below PARALLEL_VOXELS voxels, else
 * thicknessThreads()); the map does not depend on it.
 */
export function localThicknessOnGrid(
  mask: Mask,
  shape: Shape3,
  spacing: Spacing3,
  method: GridMethod = 'auto',
  threads?: number,
): Float32Array {
  const [nx, ny, nz] = shape;
  const n = nx * ny * nz;
  if (mask.length !== n)
    throw new RangeError(`localThickness: mask has ${mask.length} voxels, shape ${shape}`);
  const maxThreads = threads !== undefined || n >= PARALLEL_VOXELS ? thicknessThreads(threads) : 1;
  const alloc = (bytes: number) => (maxThreads > 1 ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  const background = new Uint8Array(alloc(n));
  let nBackground = 0;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) {
      background[i] = 1;
      nBackground++;
    }
  }
  // Helpers pay off where the balls are many and large, on the largest-first pass, and from the start
  // on a grid mostly in the mask; a thin plate is painted on this thread (their start, a second of
  // CPU, would cost more than they save).
  let nThreads = threads !== undefined || 2 * nBackground < n ? maxThreads : 1;
  if (nThreads > 1) startHelpers(nThreads);
  const tau = new Float32Array(alloc(4 * n));
  if (nBackground === n) return tau;
  if (nBackground === 0) return tau.fill(NaN);
  // Squared radius of the largest ball centred at each voxel: squared distance to the background.
  const r2 = new Float32Array(alloc(4 * n));
  squaredDistanceToForeground(background, shape, spacing, r2);
  const shared = maxThreads > 1 ? new Uint8Array(alloc(n)) : mask;
  if (shared !== mask) shared.set(mask);
  const base = { shape, spacing, mask: shared, r2, flags: background, tau };
  let order: Uint32Array = new Uint32Array(0);
  let reach = 0;
  let caps: Int32Array = new Int32Array(0);
  let searched = 0;
  const phase = (
    p: GridWork['phase'],
    bounds = evenSlabs(nz, nThreads === 1 ? 1 : CHUNKS_PER_THREAD * nThreads),
  ): Float64Array => {
    const sums = new Float64Array(alloc(8 * (bounds.length - 1)));
    const w: GridWork = { ...base, order, reach, caps, searched, phase: p, bounds, sums };
    if (nThreads === 1) for (let k = 0; k < bounds.length - 1; k++) runGridChunk(w, k);
    else runPhaseChunks(w, bounds.length - 1, nThreads, (k) => runGridChunk(w, k));
    return w.sums;
  };
  const paintCost = phase('ridge').reduce((s, v) => s + v, 0);
  if (method === 'painting' || (method === 'auto' && paintCost <= PAINT_ALL * n)) {
    // Thin structures: painting every ridge ball costs less than ordering them.
    let maxR2 = 0;
    for (let c = 0; c < n; c++) if (r2[c]! > maxR2) maxR2 = r2[c]!;
    reach = Math.floor(Math.sqrt(maxR2) / spacing[2]) + 1;
    phase('paint', evenSlabs(nz, nThreads === 1 ? 1 : 2 * nThreads));
    return tau;
  }
  nThreads = maxThreads;
  if (nThreads > 1) startHelpers(nThreads);
  phase('useless');
  const ridge = new RidgeOrder(r2, background, alloc);
  order = ridge.all();
  const slabs = nThreads === 1 ? 1 : TAKE_SLABS_PER_THREAD * nThreads;
  let weight = ridge.perPlane(shape);
  if (slabs > 1) {
    searched = searchedBalls(order, r2, spacing);
    caps = new Int32Array(alloc(8 * searched));
    phase('caps', evenSlabs(searched, CHUNKS_PER_THREAD * nThreads));
    weight = capsPerPlane(caps, searched, nz);
  }
  phase('take', balancedSlabs(weight, slabs));
  return tau;
}

/**
 * How many ridge centres the largest-first pass visits (`kept`) and how many UselessBalls proved
 * to take nothing (`dropped`), on the grid as given: for tests and bench/thickness/.
 */
export function ridgeCentres(
  mask: Mask,
  shape: Shape3,
  spacing: Spacing3,
): { kept: number; dropped: number } {
  const background = Uint8Array.from(mask, (v) => (v ? 0 : 1));
  const r2 = squaredDistanceToForeground(
    background,
    shape,
    spacing,
    new Float32Array(mask.length),
  ) as Float32Array;
  ridgeCentreFlags(r2, shape, spacing, background, 0, shape[2]);
  const dropped = dropUselessBalls(r2, mask, shape, spacing, background, 0, shape[2]);
  return { kept: new RidgeOrder(r2, background, (b) => new ArrayBuffer(b)).all().length, dropped };
}

/**
 * One phase of localThicknessOnGrid on the planes bounds[k] <= z < bounds[k + 1] (chunk k), on
 * buffers that helper threads share: 'ridge' sets the ridge flags (1) and sums the balls' volumes,
 * 'useless' sets flag 2 on the balls UselessBalls drops and counts them, 'paint' paints every ridge
 * ball into the slab, 'caps' (whose bounds are indices into `order`, not planes) records the planes
 * each searched ball's cut box reaches, 'take' gives the slab's voxels their largest ball, in `order`.
 */
export interface GridWork {
  readonly phase: 'ridge' | 'useless' | 'paint' | 'caps' | 'take';
  readonly shape: Shape3;
  readonly spacing: Spacing3;
  readonly mask: Mask;
  readonly r2: Float32Array;
  readonly flags: Uint8Array;
  readonly tau: Float32Array;
  readonly order: Uint32Array;
  /** planes that a ball reaches beyond its centre's, at most ('paint') */
  readonly reach: number;
  /** order[0 .. searched) are the balls searched rather than painted ('caps', 'take'; 0 with one slab) */
  readonly searched: number;
  /** per searched ball, the planes its cut box reaches, first and last ('caps' sets, 'take' reads) */
  readonly caps: Int32Array;
  readonly bounds: Int32Array;
  /** per chunk: the ridge balls' volume in voxels, or the balls dropped */
  readonly sums: Float64Array;
}

/** Runs chunk k of a phase (see GridWork); on this thread or a helper. */
export function runGridChunk(w: GridWork, k: number): void {
  const z0 = w.bounds[k]!;
  const z1 = w.bounds[k + 1]!;
  if (z0 >= z1) return;
  if (w.phase === 'ridge') w.sums[k] = ridgeCentreFlags(w.r2, w.shape, w.spacing, w.flags, z0, z1);
  else if (w.phase === 'useless')
    w.sums[k] = dropUselessBalls(w.r2, w.mask, w.shape, w.spacing, w.flags, z0, z1);
  else if (w.phase === 'paint') paintSlab(w, z0, z1);
  else if (w.phase === 'caps') capPlanes(w, z0, z1);
  else takeSlab(w, z0, z1);
}

/** `chunks` slabs of about equal thickness over nz planes, as bounds. */
function evenSlabs(nz: number, chunks: number): Int32Array {
  const k = Math.max(1, Math.min(chunks, nz));
  return Int32Array.from({ length: k + 1 }, (_, i) => Math.round((i * nz) / k));
}

/** `chunks` slabs holding about equal sums of `weight` (one per plane), as bounds. */
function balancedSlabs(weight: Float64Array, chunks: number): Int32Array {
  const nz = weight.length;
  const total = weight.reduce((s, v) => s + v, 0);
  const bounds = new Int32Array(Math.min(chunks, nz) + 1);
  let z = 0;
  let acc = 0;
  for (let i = 1; i < bounds.length - 1; i++) {
    while (z < nz - 1 && acc + weight[z]! / 2 < (i * total) / (bounds.length - 1)) acc += weight[z++]!;
    bounds[i] = Math.max(z, bounds[i - 1]! + 1);
  }
  bounds[bounds.length - 1] = nz;
  return bounds;
}

/** Step 3b on the planes z0 <= z < z1: flag 2 on the ridge centres UselessBalls drops; how many. */
function dropUselessBalls(
  r2: Float32Array,
  mask: Mask,
  shape: Shape3,
  spacing: Spacing3,
  flags: Uint8Array,
  z0: number,
  z1: number,
): number {
  const [nx, ny] = shape;
  // Only balls that FreeVoxels takes with cuts are worth the test (a small one costs less). The
  // test reads its neighbours' flags as nonzero or not, so the 2s set meanwhile (by any thread)
  // change nothing.
  const useless = new UselessBalls(r2, mask, shape, spacing, flags);
  const bigR2 = ((SMALL_BALL * Math.min(...spacing)) / 2) ** 2;
  let dropped = 0;
  for (let z = z0, c = z0 * nx * ny; z < z1; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, c++)
        if (flags[c] === 1 && r2[c]! > bigR2 && useless.test(c, x, y, z)) {
          flags[c] = 2;
          dropped++;
        }
  return dropped;
}

/** Every ridge ball that reaches the planes z0 <= z < z1 paints max(tau, diameter) there. */
function paintSlab(w: GridWork, z0: number, z1: number): void {
  const { r2, flags, tau, shape, spacing, reach } = w;
  const [nx, ny, nz] = shape;
  for (let z = Math.max(0, z0 - reach), c = z * nx * ny; z < Math.min(nz, z1 + reach); z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, c++)
        if (flags[c] === 1)
          paintMax(tau, shape, spacing, x, y, z, r2[c]! * (1 - REL_EPS), 2 * Math.sqrt(r2[c]!), z0, z1);
}

/**
 * Cuts `cap`'s ball (centre c = (x, y, z), squared radius rc2, already set) by its processed
 * neighbours: the ridge centres among its 26 neighbours with a larger r2, which have taken their
 * balls (FreeVoxels.cut; one with an equal r2 may have been processed too, it is not needed).
 */
function cutByNeighbours(
  cap: BallCap,
  r2: Float32Array,
  flags: Uint8Array,
  shape: Shape3,
  steps: Int32Array,
  c: number,
  x: number,
  y: number,
  z: number,
): void {
  const [nx, ny, nz] = shape;
  const rc2 = r2[c]!;
  const inner = x > 0 && y > 0 && z > 0 && x < nx - 1 && y < ny - 1 && z < nz - 1;
  for (let o = 0; o < 26; o++) {
    if (!inner && !neighbourOnGrid(x, y, z, o, nx, ny, nz)) continue;
    const rn2 = r2[c + steps[o]!]!;
    if (rn2 > rc2 && flags[c + steps[o]!] === 1) cap.cut(o, rn2 * (1 - REL_EPS));
  }
}

/** Whether (x, y, z) + NEIGHBOURS[o] is on a grid of nx x ny x nz voxels. */
function neighbourOnGrid(
  x: number,
  y: number,
  z: number,
  o: number,
  nx: number,
  ny: number,
  nz: number,
): boolean {
  const u = x + OX[o]!;
  const v = y + OY[o]!;
  const w = z + OZ[o]!;
  return u >= 0 && v >= 0 && w >= 0 && u < nx && v < ny && w < nz;
}

/** The 26 neighbour offsets as steps in the flat index of a grid of `shape`. */
function neighbourSteps(shape: Shape3): Int32Array {
  const [nx, ny] = shape;
  return Int32Array.from(NEIGHBOURS, ([dx, dy, dz]) => dx + nx * (dy + ny * dz));
}

/** How many balls at the start of `order` (decreasing radius) are searched rather than painted. */
function searchedBalls(order: Uint32Array, r2: Float32Array, spacing: Spacing3): number {
  const voxelVolume = spacing[0] * spacing[1] * spacing[2];
  let [lo, hi] = [0, order.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (paintedBall(r2[order[mid]!]! * (1 - REL_EPS), voxelVolume)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Whether the ball of squared radius rr2 is painted rather than searched for (see takeSlab). */
function paintedBall(rr2: number, voxelVolume: number): boolean {
  return ((4 / 3) * Math.PI * rr2 * Math.sqrt(rr2)) / voxelVolume <= PAINT_BALL;
}

/**
 * The take phase's pre-pass on order[i0 .. i1): for each ball that is searched (not painted), the
 * planes its box can reach after its neighbours' cuts, caps[2i] .. caps[2i + 1] (an empty range
 * when nothing of it is left). The box depends only on the ball and its neighbours, so computing it
 * once lets each slab of the take phase pass over the balls that cannot reach it at a few
 * nanoseconds each, instead of cutting every ball once per slab.
 */
function capPlanes(w: GridWork, i0: number, i1: number): void {
  const { r2, flags, shape, spacing, order, caps } = w;
  const [nx, ny] = shape;
  const cap = new BallCap(shape, spacing);
  const steps = neighbourSteps(shape);
  for (let i = i0; i < i1; i++) {
    const c = order[i]!;
    const rr2 = r2[c]! * (1 - REL_EPS);
    const x = c % nx;
    const y = Math.floor(c / nx) % ny;
    const z = Math.floor(c / (nx * ny));
    if (!cap.setBall(x, y, z, rr2)) cutByNeighbours(cap, r2, flags, shape, steps, c, x, y, z);
    const some = cap.box();
    // nothing left: a range no slab meets
    caps[2 * i] = some ? cap.z0 : shape[2];
    caps[2 * i + 1] = some ? cap.z1 : -1;
  }
}

/**
 * The take phase's work per plane, roughly, to balance its slabs: how many searched balls' cut boxes
 * reach the plane (capPlanes). Each slab a box reaches pays for the ball's cuts and the pyramid nodes
 * the box meets there, and the boxes gather where the balls touch the background, so counting ridge
 * centres per plane (all that is known without the pre-pass) puts most of the work in one slab: on
 * bench/thickness/'s 98%-full case, one of two slabs took 37 s and the other 17 s.
 */
function capsPerPlane(caps: Int32Array, searched: number, nz: number): Float64Array {
  const change = new Float64Array(nz + 1);
  for (let i = 0; i < searched; i++) {
    if (caps[2 * i]! > caps[2 * i + 1]!) continue;
    change[caps[2 * i]!]!++;
    change[caps[2 * i + 1]! + 1]!--;
  }
  const weight = new Float64Array(nz);
  for (let z = 0, sum = 0; z < nz; z++) weight[z] = sum += change[z]!;
  return weight;
}

/**
 * Step 4 on the planes z0 <= z < z1: the balls in `order` (decreasing radius) that reach the slab
 * give their diameter to its voxels that no earlier ball took. The slab's voxels get the same
 * balls as on one thread, as a voxel's value is its largest ball's; the cuts stay valid, as a
 * processed neighbour has taken all of its ball in the slab, and only the slab's voxels are free.
 * With several slabs, the pre-pass's planes per ball (capPlanes, w.searched balls of the order)
 * skip the balls whose cut box misses the slab.
 */
function takeSlab(w: GridWork, z0: number, z1: number): void {
  const { r2, flags, tau, shape, spacing, order, caps, searched } = w;
  const [nx, ny] = shape;
  const hz = spacing[2];
  const free = new FreeVoxels(w.mask, shape, spacing, z0, z1);
  const steps = neighbourSteps(shape);
  const voxelVolume = spacing[0] * spacing[1] * spacing[2];
  let left = free.count;
  let paint = false;
  for (let i = 0; i < order.length && left > 0; i++) {
    const c = order[i]!;
    const z = Math.floor(c / (nx * ny));
    const rc2 = r2[c]!;
    const rr2 = rc2 * (1 - REL_EPS);
    const kz = Math.floor(Math.sqrt(rr2) / hz);
    if (z + kz < z0 || z - kz >= z1) continue;
    if (i < searched && (caps[2 * i]! >= z1 || caps[2 * i + 1]! < z0)) continue;
    const x = c % nx;
    const y = Math.floor(c / nx) % ny;
    // Small balls cost less to paint than to search the pyramid for; every later ball is smaller.
    paint ||= paintedBall(rr2, voxelVolume);
    if (paint) {
      left -= paintFree(tau, shape, spacing, x, y, z, rr2, 2 * Math.sqrt(rc2), z0, z1);
      continue;
    }
    if (!free.setBall(x, y, z, rr2)) cutByNeighbours(free, r2, flags, shape, steps, c, x, y, z);
    left -= free.take(2 * Math.sqrt(rc2), tau);
  }
}

/**
 * Gives `diameter` to the free voxels (tau 0) strictly within the ball of squared radius `rr2` about
 * (x, y, z) (the painting's loops and test), on the planes z0 <= z < z1; returns how many.
 */
function paintFree(
  tau: Float32Array,
  shape: Shape3,
  spacing: Spacing3,
  x: number,
  y: number,
  z: number,
  rr2: number,
  diameter: number,
  z0 = 0,
  z1 = shape[2],
): number {
  const [nx, ny] = shape;
  const [hx, hy, hz] = spacing;
  const r = Math.sqrt(rr2);
  const kz = Math.floor(r / hz);
  let taken = 0;
  for (let w = Math.max(z0, z - kz); w <= Math.min(z1 - 1, z + kz); w++) {
    const remZ = rr2 - ((w - z) * hz) ** 2;
    if (remZ <= 0) continue;
    const ky = Math.floor(Math.sqrt(remZ) / hy);
    for (let v = Math.max(0, y - ky); v <= Math.min(ny - 1, y + ky); v++) {
      const remY = remZ - ((v - y) * hy) ** 2;
      if (remY <= 0) continue;
      const kx = Math.floor(Math.sqrt(remY) / hx);
      const row = nx * (v + ny * w);
      for (let u = Math.max(0, x - kx); u <= Math.min(nx - 1, x + kx); u++) {
        if (tau[row + u] === 0 && ((u - x) * hx) ** 2 < remY) {
          tau[row + u] = diameter;
          taken++;
        }
      }
    }
  }
  return taken;
}

/**
 * tau = max(tau, diameter) on the voxels strictly within the ball of squared radius `rr2` about
 * (x, y, z), on the planes z0 <= z < z1.
 */
function paintMax(
  tau: Float32Array,
  shape: Shape3,
  spacing: Spacing3,
  x: number,
  y: number,
  z: number,
  rr2: number,
  diameter: number,
  z0 = 0,
  z1 = shape[2],
): void {
  const [nx, ny] = shape;
  const [hx, hy, hz] = spacing;
  const r = Math.sqrt(rr2);
  const kz = Math.floor(r / hz);
  for (let w = Math.max(z0, z - kz); w <= Math.min(z1 - 1, z + kz); w++) {
    const remZ = rr2 - ((w - z) * hz) ** 2;
    if (remZ <= 0) continue;
    const ky = Math.floor(Math.sqrt(remZ) / hy);
    for (let v = Math.max(0, y - ky); v <= Math.min(ny - 1, y + ky); v++) {
      const remY = remZ - ((v - y) * hy) ** 2;
      if (remY <= 0) continue;
      const kx = Math.floor(Math.sqrt(remY) / hx);
      const row = nx * (v + ny * w);
      for (let u = Math.max(0, x - kx); u <= Math.min(nx - 1, x + kx); u++) {
        if (((u - x) * hx) ** 2 < remY && tau[row + u]! < diameter) tau[row + u] = diameter;
      }
    }
  }
}

/**
 * Step 3 of the module comment on the planes z0 <= z < z1: `flags[c]` = 1 for the ridge centres, 0
 * elsewhere. Returns the sum of their balls' volumes in voxels (what painting them all costs).
 */
function ridgeCentreFlags(
  r2: Float32Array,
  shape: Shape3,
  spacing: Spacing3,
  flags: Uint8Array,
  z0: number,
  z1: number,
): number {
  const [nx, ny, nz] = shape;
  const [hx, hy, hz] = spacing;
  const step = neighbourSteps(shape);
  const len = Float64Array.from(NEIGHBOURS, ([dx, dy, dz]) => Math.hypot(dx * hx, dy * hy, dz * hz));
  let volume = 0;
  // A neighbour with no larger r2 cannot hold c's ball ((rc + |d|) (1 - REL_EPS) > rc while
  // rc < |d| (1 / REL_EPS - 1); with 1e5 for room): its square root is not needed.
  const uphillOnly = 1e5 * Math.min(...len);
  for (let z = z0, c = z0 * nx * ny; z < z1; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, c++) {
        flags[c] = 0;
        const rc2 = r2[c]!;
        if (rc2 === 0) continue;
        const rc = Math.sqrt(rc2);
        // Not a ridge centre when a neighbour's ball contains c's ball.
        const inner = x > 0 && y > 0 && z > 0 && x < nx - 1 && y < ny - 1 && z < nz - 1;
        let covered = false;
        for (let k = 0; k < 26 && !covered; k++) {
          if (!inner && !neighbourOnGrid(x, y, z, k, nx, ny, nz)) continue;
          const rn2 = r2[c + step[k]!]!;
          if (rn2 <= rc2 && rc < uphillOnly) continue;
          covered = Math.sqrt(rn2) >= (rc + len[k]!) * (1 - REL_EPS);
        }
        if (covered) continue;
        flags[c] = 1;
        volume += rc2 * rc;
      }
    }
  }
  return ((4 / 3) * Math.PI * volume) / (hx * hy * hz);
}

/**
 * The ridge centres (flag 1, step 3 of the module comment) by decreasing r2 (ties in any order).
 * They are bucketed by the high 16 bits of r2's float32 pattern (a positive float32's bits order
 * like its value), and each bucket is sorted on its low 16 bits.
 */
class RidgeOrder {
  private readonly order: Uint32Array;
  /** order[start[b]] .. order[start[b + 1] - 1]: bucket b, b = 65535 - high 16 bits */
  private readonly start = new Uint32Array(65537);
  private readonly bits: Uint32Array;
  private temp = new Uint32Array(0);
  private readonly count = new Uint32Array(257);

  /** `alloc` gives the order's buffer (shared with helper threads or not). */
  constructor(r2: Float32Array, flags: Uint8Array, alloc: (bytes: number) => ArrayBufferLike) {
    const bits = new Uint32Array(r2.buffer, r2.byteOffset, r2.length);
    this.bits = bits;
    const histogram = new Uint32Array(65536);
    for (let c = 0; c < r2.length; c++) if (flags[c] === 1) histogram[65535 - (bits[c]! >>> 16)]!++;
    const start = this.start;
    for (let b = 0; b < 65536; b++) start[b + 1] = start[b]! + histogram[b]!;
    const fill = start.slice(0, 65536);
    this.order = new Uint32Array(alloc(4 * start[65536]!));
    for (let c = 0; c < r2.length; c++)
      if (flags[c] === 1) this.order[fill[65535 - (bits[c]! >>> 16)]!++] = c;
  }

  /** All the centres, sorted. */
  all(): Uint32Array {
    for (let b = 0; b < 65536; b++) this.sortBucket(this.start[b]!, this.start[b + 1]!);
    return this.order;
  }

  /** Centres per plane z (the take phase's work, roughly, to balance its slabs). */
  perPlane(shape: Shape3): Float64Array {
    const planes = new Float64Array(shape[2]);
    for (const c of this.order) planes[Math.floor(c / (shape[0] * shape[1]))]!++;
    return planes;
  }

  /** Sorts order[from..to) by decreasing low 16 bits of r2: two counting passes of 8 bits. */
  private sortBucket(from: number, to: number): void {
    const n = to - from;
    if (n < 2) return;
    if (this.temp.length < n) this.temp = new Uint32Array(Math.max(n, 2 * this.temp.length));
    const { order, bits, temp, count } = this;
    // Low byte: order -> temp.
    count.fill(0);
    for (let i = from; i < to; i++) count[256 - (bits[order[i]!]! & 255)]!++;
    for (let b = 1; b < 257; b++) count[b]! += count[b - 1]!;
    for (let i = from; i < to; i++) temp[count[255 - (bits[order[i]!]! & 255)]!++] = order[i]!;
    // High byte: temp -> order (stable, so ties keep the low byte's order).
    count.fill(0);
    for (let i = 0; i < n; i++) count[256 - ((bits[temp[i]!]! >>> 8) & 255)]!++;
    for (let b = 1; b < 257; b++) count[b]! += count[b - 1]!;
    for (let i = 0; i < n; i++) order[from + count[255 - ((bits[temp[i]!]! >>> 8) & 255)]!++] = temp[i]!;
  }
}

/** Boxes of more grid points than this are not searched by UselessBalls (the ball is kept). */
const USELESS_BOX = 512;
/** Slack, in voxels, of UselessBalls' box against rounding (its float error is below 1e-10 voxel). */
const BOX_SLACK = 1e-6;
/** UselessBalls tilts w into the cone by this share of a unit vector when w alone leaves a large box */
const TILT_BY = 0.2;
/** simplexBox's answers */
const [NONE, SOME, BIG] = [0, 1, 2];

/**
 * Finds ridge balls that take no voxel, before any is taken, so that the largest-first pass never
 * visits them. Why they exist: where the background is curved (a hole in a thick structure), a
 * ball lies inside no single neighbour's ball, so nearly every voxel is a ridge centre, yet the
 * union of its uphill neighbours' balls covers all of it but a sliver at the point where it touches
 * the background, a sliver that usually holds no grid point.
 *
 * The proof for one ball c (radius r, q = p - c): let n_i = c + d_i, i = 1..3, be ridge centres with
 * a larger r2 than c. A voxel p of c's ball outside the three balls of the n_i satisfies, as in
 * FreeVoxels.cut, d_i.q < k_i = (r^2 + |d_i|^2 - r_i^2) / 2, so it lies in the cone
 * q = q0 - sum lambda_i g_i, lambda_i >= 0 (q0 the apex, d_i.q0 = k_i; g_i the dual basis,
 * d_i.g_j = [i = j]). Inside the ball q.w > -r for a unit w; when every g_i.w > 0 this bounds the
 * lambdas: the cone and the ball meet inside the simplex q0, q0 - (q0.w + r) / (g_i.w) g_i, whose
 * bounding box is searched: each grid point there is tested with the painting's own expression
 * against c's ball and the balls of all ridge neighbours with a larger r2. When none is left, c takes
 * nothing: each voxel of its ball is in the ball of a ridge centre with a larger r2, which by the
 * same argument (in decreasing r2) is in a ball that is kept, and processed before c, with c's
 * diameter or a larger one. Dropping c leaves every other ball's voxels, so the map is unchanged.
 * The d_i are the three of the 26 neighbour directions around w = the gradient of r at c (central
 * differences): the triangle of the cube's 3 x 3 face grid that holds w's direction; there the cone
 * is narrow and the simplex a few voxels wide at most. Anything that does not fit (a neighbour
 * downhill, off the grid or not a ridge centre, a g_i.w <= 0, a box of more than USELESS_BOX grid
 * points) keeps the ball: the test only ever drops a ball when it has the proof.
 */
class UselessBalls {
  private readonly nx: number;
  private readonly ny: number;
  private readonly nz: number;
  private readonly hx: number;
  private readonly hy: number;
  private readonly hz: number;
  private readonly step: Int32Array;
  /** |d|^2 per neighbour direction, physical */
  private readonly len2: Float64Array;
  /** per triangle (48): its three neighbour directions, and the inverse of their physical rows */
  private readonly triDir = new Int32Array(48 * 3);
  private readonly triInv = new Float64Array(48 * 9);
  /** neighbours of the current ball with a larger r2 that are ridge centres, and their rr2 */
  private readonly larger = new Int32Array(26);
  private readonly largerR2 = new Float64Array(26);
  /** simplexBox's result: [i0, i1, j0, j1, l0, l1] */
  private readonly box = new Int32Array(6);

  /** `ridge[i]` nonzero for the ridge centres */
  constructor(
    private readonly r2: Float32Array,
    private readonly mask: Mask,
    shape: Shape3,
    spacing: Spacing3,
    private readonly ridge: Uint8Array,
  ) {
    [this.nx, this.ny, this.nz] = shape;
    [this.hx, this.hy, this.hz] = spacing;
    this.step = neighbourSteps(shape);
    this.len2 = Float64Array.from(NEIGHBOURS, (d) => d.reduce((s, v, a) => s + (v * spacing[a]!) ** 2, 0));
    const index = (d: readonly number[]) => {
      const k = 9 * (d[2]! + 1) + 3 * (d[1]! + 1) + d[0]! + 1;
      return k < 13 ? k : k - 1;
    };
    for (let tri = 0; tri < 48; tri++) {
      const [a, sa, ss, st, diag] = [tri >> 4, (tri >> 3) & 1, (tri >> 2) & 1, (tri >> 1) & 1, tri & 1];
      const [o0, o1] = [0, 1, 2].filter((e) => e !== a) as [number, number];
      const d1 = [0, 0, 0];
      d1[a] = sa ? 1 : -1;
      const d2 = [...d1];
      if (diag) d2[o1] = st ? 1 : -1;
      else d2[o0] = ss ? 1 : -1;
      const d3 = [...d1];
      d3[o0] = ss ? 1 : -1;
      d3[o1] = st ? 1 : -1;
      const rows = [d1, d2, d3];
      rows.forEach((d, i) => (this.triDir[3 * tri + i] = index(d)));
      const m = rows.map((d) => d.map((v, e) => v * spacing[e]!));
      const [[a0, a1, a2], [b0, b1, b2], [c0, c1, c2]] = m as [number[], number[], number[]] as [
        [number, number, number],
        [number, number, number],
        [number, number, number],
      ];
      const det = a0 * (b1 * c2 - b2 * c1) - a1 * (b0 * c2 - b2 * c0) + a2 * (b0 * c1 - b1 * c0);
      // inverse = adjugate / det, row-major
      this.triInv.set(
        [
          b1 * c2 - b2 * c1,
          a2 * c1 - a1 * c2,
          a1 * b2 - a2 * b1,
          b2 * c0 - b0 * c2,
          a0 * c2 - a2 * c0,
          a2 * b0 - a0 * b2,
          b0 * c1 - b1 * c0,
          a1 * c0 - a0 * c1,
          a0 * b1 - a1 * b0,
        ].map((v) => v / det),
        9 * tri,
      );
    }
  }

  /** Whether the ball of ridge centre c = (x, y, z) provably takes nothing. */
  test(c: number, x: number, y: number, z: number): boolean {
    const { r2, nx, ny, hx, hy, hz, step, len2, ridge } = this;
    const rc2 = r2[c]!;
    const rr2 = rc2 * (1 - REL_EPS);
    const sxy = nx * ny;
    // Gradient of r (physical, up to a factor 2) and its direction in voxel indices.
    const { nz } = this;
    const gx = (Math.sqrt(r2[x < nx - 1 ? c + 1 : c]!) - Math.sqrt(r2[x > 0 ? c - 1 : c]!)) / hx;
    const gy = (Math.sqrt(r2[y < ny - 1 ? c + nx : c]!) - Math.sqrt(r2[y > 0 ? c - nx : c]!)) / hy;
    const gz = (Math.sqrt(r2[z < nz - 1 ? c + sxy : c]!) - Math.sqrt(r2[z > 0 ? c - sxy : c]!)) / hz;
    const g = Math.sqrt(gx * gx + gy * gy + gz * gz);
    if (!(g > 0)) return false;
    const wx = gx / g;
    const wy = gy / g;
    const wz = gz / g;
    const ix = wx / hx;
    const iy = wy / hy;
    const iz = wz / hz;
    const ax = Math.abs(ix);
    const ay = Math.abs(iy);
    const az = Math.abs(iz);
    // The dominant axis, the signs of the other two and which of them is larger pick the triangle.
    let tri: number;
    if (ax >= ay && ax >= az)
      tri = (ix > 0 ? 8 : 0) + (iy >= 0 ? 4 : 0) + (iz >= 0 ? 2 : 0) + (ay >= az ? 0 : 1);
    else if (ay >= az)
      tri = 16 + (iy > 0 ? 8 : 0) + (ix >= 0 ? 4 : 0) + (iz >= 0 ? 2 : 0) + (ax >= az ? 0 : 1);
    else tri = 32 + (iz > 0 ? 8 : 0) + (ix >= 0 ? 4 : 0) + (iy >= 0 ? 2 : 0) + (ax >= ay ? 0 : 1);
    // k_i of the three cuts, widened like FreeVoxels.cut's against rounding.
    let k0 = 0;
    let k1 = 0;
    let k2 = 0;
    for (let i = 0; i < 3; i++) {
      const o = this.triDir[3 * tri + i]!;
      if (!neighbourOnGrid(x, y, z, o, this.nx, this.ny, this.nz)) return false;
      const n = c + step[o]!;
      const rn2 = r2[n]!;
      if (ridge[n] === 0 || !(rn2 > rc2)) return false;
      const rr2n = rn2 * (1 - REL_EPS);
      this.larger[i] = o;
      this.largerR2[i] = rr2n;
      const k = (rr2 + len2[o]! - rr2n) / 2 + NODE_MARGIN * (rr2 + rr2n + len2[o]!);
      if (i === 0) k0 = k;
      else if (i === 1) k1 = k;
      else k2 = k;
    }
    const m = this.triInv;
    const t9 = 9 * tri;
    const qx = m[t9]! * k0 + m[t9 + 1]! * k1 + m[t9 + 2]! * k2;
    const qy = m[t9 + 3]! * k0 + m[t9 + 4]! * k1 + m[t9 + 5]! * k2;
    const qz = m[t9 + 6]! * k0 + m[t9 + 7]! * k1 + m[t9 + 8]! * k2;
    let found = this.simplexBox(tri, qx, qy, qz, rr2, wx, wy, wz);
    if (found === BIG) found = this.tiltedSimplexBox(tri, qx, qy, qz, rr2, wx, wy, wz);
    if (found === BIG) return false;
    if (found === NONE) return true;
    return this.boxCovered(c, x, y, z, rc2);
  }

  /**
   * simplexBox with w tilted into the cone's inside: the gradient near a side of the triangle (a
   * g_i.w near 0) makes the simplex long.
   */
  private tiltedSimplexBox(
    tri: number,
    qx: number,
    qy: number,
    qz: number,
    rr2: number,
    wx: number,
    wy: number,
    wz: number,
  ): number {
    const m = this.triInv;
    const t9 = 9 * tri;
    let sx = 0;
    let sy = 0;
    let sz = 0;
    for (let i = 0; i < 3; i++) {
      const cx = m[t9 + i]!;
      const cy = m[t9 + 3 + i]!;
      const cz = m[t9 + 6 + i]!;
      const l = Math.sqrt(cx * cx + cy * cy + cz * cz);
      sx += cx / l;
      sy += cy / l;
      sz += cz / l;
    }
    const ls = Math.sqrt(sx * sx + sy * sy + sz * sz);
    const tx = wx + (TILT_BY * sx) / ls;
    const ty = wy + (TILT_BY * sy) / ls;
    const tz = wz + (TILT_BY * sz) / ls;
    const lw = Math.sqrt(tx * tx + ty * ty + tz * tz);
    return this.simplexBox(tri, qx, qy, qz, rr2, tx / lw, ty / lw, tz / lw);
  }

  /**
   * Whether every mask voxel of `box` (grid offsets from c = (x, y, z)) in c's ball is in the ball
   * of a ridge neighbour with a larger r2.
   */
  private boxCovered(c: number, x: number, y: number, z: number, rc2: number): boolean {
    const { nx, ny, nz, hx, hy, hz, box } = this;
    const rr2 = rc2 * (1 - REL_EPS);
    // Grid offsets from c in the box, on the grid.
    const i0 = Math.max(box[0]!, -x);
    const i1 = Math.min(box[1]!, nx - 1 - x);
    const j0 = Math.max(box[2]!, -y);
    const j1 = Math.min(box[3]!, ny - 1 - y);
    const l0 = Math.max(box[4]!, -z);
    const l1 = Math.min(box[5]!, nz - 1 - z);
    // A voxel of c's ball outside the cone is in the ball of one of the three neighbours that make
    // it (test puts them first in `larger`), so those are tried first, and the other larger
    // neighbours only for a voxel that all three miss; the neighbour that covered the last voxel is
    // tried first (it usually covers the next).
    let nLarger = 3;
    let all = false;
    let last = 0;
    for (let l = l0; l <= l1; l++) {
      // inBall's terms, a row at a time
      const remZ = rr2 - (l * hz) ** 2;
      if (remZ <= 0) continue;
      for (let j = j0; j <= j1; j++) {
        const remY = remZ - (j * hy) ** 2;
        if (remY <= 0) continue;
        const row = c + nx * (j + ny * l);
        for (let i = i0; i <= i1; i++) {
          if (!this.mask[row + i] || (i * hx) ** 2 >= remY) continue;
          let e = this.coveringNeighbour(nLarger, last, i, j, l);
          if (e < 0 && !all) {
            nLarger = this.collectLarger(c, x, y, z, rc2);
            all = true;
            e = this.coveringNeighbour(nLarger, 0, i, j, l);
          }
          if (e < 0) return false;
          last = e;
        }
      }
    }
    return true;
  }

  /**
   * The box (grid offsets from c, inclusive, in `box`) of the simplex of the cone with apex q and
   * the triangle's directions, cut by q.w > -r (w a unit vector). NONE: no grid point can be in it;
   * BIG: w does not bound it (a g_i.w <= 0) or it holds more than USELESS_BOX grid points.
   */
  private simplexBox(
    tri: number,
    qx: number,
    qy: number,
    qz: number,
    rr2: number,
    wx: number,
    wy: number,
    wz: number,
  ): number {
    const { hx, hy, hz, box } = this;
    const m = this.triInv;
    const t9 = 9 * tri;
    const rb = Math.sqrt(rr2) * (1 + NODE_MARGIN);
    const top = qx * wx + qy * wy + qz * wz + rb;
    if (top <= 0) return NONE;
    let x0 = qx;
    let x1 = qx;
    let y0 = qy;
    let y1 = qy;
    let z0 = qz;
    let z1 = qz;
    for (let i = 0; i < 3; i++) {
      // g_i: column i of the inverse
      const cx = m[t9 + i]!;
      const cy = m[t9 + 3 + i]!;
      const cz = m[t9 + 6 + i]!;
      const gw = cx * wx + cy * wy + cz * wz;
      if (!(gw > 0)) return BIG;
      const l = top / gw;
      const vx = qx - l * cx;
      const vy = qy - l * cy;
      const vz = qz - l * cz;
      if (vx < x0) x0 = vx;
      if (vx > x1) x1 = vx;
      if (vy < y0) y0 = vy;
      if (vy > y1) y1 = vy;
      if (vz < z0) z0 = vz;
      if (vz > z1) z1 = vz;
    }
    // In grid offsets, within the ball's box, with slack for rounding.
    box[0] = Math.ceil(Math.max(x0, -rb) / hx - BOX_SLACK);
    box[1] = Math.floor(Math.min(x1, rb) / hx + BOX_SLACK);
    box[2] = Math.ceil(Math.max(y0, -rb) / hy - BOX_SLACK);
    box[3] = Math.floor(Math.min(y1, rb) / hy + BOX_SLACK);
    box[4] = Math.ceil(Math.max(z0, -rb) / hz - BOX_SLACK);
    box[5] = Math.floor(Math.min(z1, rb) / hz + BOX_SLACK);
    const a = box[1]! - box[0]! + 1;
    const b = box[3]! - box[2]! + 1;
    const c = box[5]! - box[4]! + 1;
    if (a <= 0 || b <= 0 || c <= 0) return NONE;
    return a * b * c > USELESS_BOX ? BIG : SOME;
  }

  /**
   * The first of larger[0 .. n), from `first` on and round, whose ball holds the voxel at offset
   * (i, j, l) from the ball's centre; -1 if none does.
   */
  private coveringNeighbour(n: number, first: number, i: number, j: number, l: number): number {
    const { hx, hy, hz } = this;
    for (let tried = 0, e = first; tried < n; tried++, e = e + 1 < n ? e + 1 : 0) {
      const o = this.larger[e]!;
      if (inBall(this.largerR2[e]!, i - OX[o]!, j - OY[o]!, l - OZ[o]!, hx, hy, hz)) return e;
    }
    return -1;
  }

  /** Fills `larger` with the ridge neighbours of c = (x, y, z) with a larger r2; returns how many. */
  private collectLarger(c: number, x: number, y: number, z: number, rc2: number): number {
    let count = 0;
    for (let o = 0; o < 26; o++) {
      if (!neighbourOnGrid(x, y, z, o, this.nx, this.ny, this.nz)) continue;
      const n = c + this.step[o]!;
      const rn2 = this.r2[n]!;
      if (this.ridge[n] === 0 || !(rn2 > rc2)) continue;
      this.larger[count] = o;
      this.largerR2[count++] = rn2 * (1 - REL_EPS);
    }
    return count;
  }
}

/**
 * Whether the voxel at offset (i, j, l) from a ball's centre is in the ball of squared radius rr2,
 * with the painting's expression (paintFree, FreeVoxels.takeBrick).
 */
function inBall(rr2: number, i: number, j: number, l: number, hx: number, hy: number, hz: number): boolean {
  const remZ = rr2 - (l * hz) ** 2;
  if (remZ <= 0) return false;
  const remY = remZ - (j * hy) ** 2;
  return remY > 0 && (i * hx) ** 2 < remY;
}

/**
 * A ball of the largest-first pass and the cuts of its processed neighbours (see cut), down to the
 * box of the part that may still hold free voxels: what FreeVoxels searches, and what the take
 * phase's pre-pass ('caps') records per ball, so that a slab the box misses skips the ball before
 * its cuts. One ball at a time: setBall, then cut for each processed neighbour (large balls only),
 * then box.
 */
class BallCap {
  protected readonly nx: number;
  protected readonly ny: number;
  protected readonly nz: number;
  protected readonly hx: number;
  protected readonly hy: number;
  protected readonly hz: number;
  /** per neighbour offset o (NEIGHBOURS): |d|^2 and |d| of d in physical units, m = -d/|d|, sqrt(1 - m^2) */
  protected readonly dir = new Float64Array(8 * 26);

  // The ball: centre (voxel indices), squared radius, radius, with the node margins.
  protected cx = 0;
  protected cy = 0;
  protected cz = 0;
  protected rr2 = 0;
  protected r = 0;
  protected outer2 = 0;
  protected inner2 = 0;
  /** no free voxel can be in the ball (a cut leaves nothing of it) */
  protected empty = false;
  // Bounding box (voxel indices, inclusive) of the ball's part that may hold free voxels (set by box).
  x0 = 0;
  x1 = 0;
  y0 = 0;
  y1 = 0;
  z0 = 0;
  z1 = 0;
  /** the deepest cuts: neighbour offset index and depth, deepest first */
  protected readonly cutDir = new Int32Array(MAX_CUTS);
  protected readonly cutDepth = new Float64Array(MAX_CUTS);
  /**
   * the same as (ax, ay, az, n, k): a.p < k for free voxels p in voxel indices, and n the sum of a's
   * negative components, so that a node of corner o and side s + 1 meets the half-space only if
   * a.o + n s < k (set by box)
   */
  protected readonly cuts = new Float64Array(5 * MAX_CUTS);
  protected nCuts = 0;

  constructor(shape: Shape3, spacing: Spacing3) {
    [this.nx, this.ny, this.nz] = shape;
    [this.hx, this.hy, this.hz] = spacing;
    for (let o = 0; o < 26; o++) {
      const d = NEIGHBOURS[o]!.map((v, a) => v * spacing[a]!);
      const len = Math.hypot(...d);
      const m = d.map((v) => -v / len);
      this.dir.set([len * len, len, ...m, ...m.map((v) => Math.sqrt(1 - v * v))], 8 * o);
    }
  }

  /**
   * Starts the ball |p - (cx, cy, cz)|^2 < rr2 (physical units, centre in voxel indices). Returns
   * true for a small ball, which is taken without cuts (they would cost more than they save).
   */
  setBall(cx: number, cy: number, cz: number, rr2: number): boolean {
    const r = Math.sqrt(rr2);
    this.cx = cx;
    this.cy = cy;
    this.cz = cz;
    this.rr2 = rr2;
    this.r = r;
    this.outer2 = rr2 * (1 + NODE_MARGIN);
    this.inner2 = rr2 * (1 - NODE_MARGIN);
    this.empty = false;
    this.nCuts = 0;
    return 2 * r <= SMALL_BALL * Math.min(this.hx, this.hy, this.hz);
  }

  /**
   * Cuts the ball by its processed neighbour n = c + d (d = NEIGHBOURS[o] in physical units), whose
   * ball (squared radius rr2n) is all taken: a free voxel p of c's ball has |p - n|^2 >= rr2n and
   * |p - c|^2 < rr2, so (p - c).d < k = (rr2 + |d|^2 - rr2n) / 2. The half-space cuts the ball to a cap
   * on the side away from n, where c's ball touches the background. The MAX_CUTS deepest cuts are
   * kept (see take).
   */
  cut(o: number, rr2n: number): void {
    // Widened by the margin, as the node bounds are, so that rounding cannot lose a voxel.
    const k = (this.rr2 + this.dir[8 * o]! - rr2n) / 2 + NODE_MARGIN * (this.rr2 + rr2n + this.dir[8 * o]!);
    // The plane's distance from c towards -d: the depth of the cut.
    const t = -k / this.dir[8 * o + 1]!;
    if (t >= this.r) this.empty = true;
    const { cutDir, cutDepth } = this;
    let h = Math.min(this.nCuts, MAX_CUTS - 1);
    if (this.nCuts === MAX_CUTS && cutDepth[h]! >= t) return;
    for (; h > 0 && cutDepth[h - 1]! < t; h--) {
      cutDepth[h] = cutDepth[h - 1]!;
      cutDir[h] = cutDir[h - 1]!;
    }
    cutDepth[h] = t;
    cutDir[h] = o;
    this.nCuts = Math.min(this.nCuts + 1, MAX_CUTS);
  }

  /**
   * Sets the box (x0 .. z1, on the grid) of the ball's part left by the cuts, and the cuts as node
   * tests; false when nothing is left.
   */
  box(): boolean {
    if (this.empty) return false;
    const { cx, cy, cz, hx, hy, hz, r, dir, cuts } = this;
    // Bounding box of the ball (q = p - c, physical), narrowed to that of each cap
    // {|q| < r, q.m > t} (m = -d/|d|, t = the depth): along an axis e the cap reaches r where the
    // ball's own extreme r e lies in it, else the rim of its base disc, t m_e + sqrt(r^2 - t^2)
    // sqrt(1 - m_e^2). Each cut is also kept for the node tests as (p - c).a < t' in voxel indices.
    let [qx0, qy0, qz0, qx1, qy1, qz1] = [-r, -r, -r, r, r, r];
    for (let h = 0; h < this.nCuts; h++) {
      const t = this.cutDepth[h]!;
      const o = 8 * this.cutDir[h]!;
      const rim = Math.sqrt(r * r - t * t);
      const mx = dir[o + 2]!;
      const my = dir[o + 3]!;
      const mz = dir[o + 4]!;
      if (r * mx <= t) qx1 = Math.min(qx1, t * mx + rim * dir[o + 5]!);
      if (-r * mx <= t) qx0 = Math.max(qx0, t * mx - rim * dir[o + 5]!);
      if (r * my <= t) qy1 = Math.min(qy1, t * my + rim * dir[o + 6]!);
      if (-r * my <= t) qy0 = Math.max(qy0, t * my - rim * dir[o + 6]!);
      if (r * mz <= t) qz1 = Math.min(qz1, t * mz + rim * dir[o + 7]!);
      if (-r * mz <= t) qz0 = Math.max(qz0, t * mz - rim * dir[o + 7]!);
      const ax = -mx * hx;
      const ay = -my * hy;
      const az = -mz * hz;
      cuts[5 * h] = ax;
      cuts[5 * h + 1] = ay;
      cuts[5 * h + 2] = az;
      cuts[5 * h + 3] = Math.min(ax, 0) + Math.min(ay, 0) + Math.min(az, 0);
      cuts[5 * h + 4] = -t + ax * cx + ay * cy + az * cz;
    }
    // In voxel indices, with one voxel of slack for rounding.
    const x0 = (this.x0 = Math.max(0, cx + Math.floor(qx0 / hx) - 1));
    const x1 = (this.x1 = Math.min(this.nx - 1, cx + Math.ceil(qx1 / hx) + 1));
    const y0 = (this.y0 = Math.max(0, cy + Math.floor(qy0 / hy) - 1));
    const y1 = (this.y1 = Math.min(this.ny - 1, cy + Math.ceil(qy1 / hy) + 1));
    const z0 = (this.z0 = Math.max(0, cz + Math.floor(qz0 / hz) - 1));
    const z1 = (this.z1 = Math.min(this.nz - 1, cz + Math.ceil(qz1 / hz) + 1));
    return x0 <= x1 && y0 <= y1 && z0 <= z1;
  }
}

/**
 * The voxels of a mask that no ball has taken yet: one bit per voxel in 4 x 4 x 4 bricks (two 32-bit
 * words a brick: word (z & 3) >> 1, bit (x & 3) + 4 (y & 3) + 16 (z & 1)), and above them a pyramid
 * of counts, each node the sum of 2 x 2 x 2 nodes below it, up to one node for the whole grid.
 * One ball at a time: as BallCap, then take.
 */
class FreeVoxels extends BallCap {
  /** free voxels left */
  count = 0;
  private readonly bits: Int32Array;
  /** counts[l][node]: free voxels under a node of level l (level 0: one brick), x fastest */
  private readonly counts: Int32Array[] = [];
  /** nodes per axis at each level, [x, y, z] flattened */
  private readonly dims: number[] = [];
  /** the planes that hold free voxels (the slab), inclusive */
  private readonly slab0: number;
  private readonly slab1: number;

  /** The free voxels: those of `mask` on the planes z0 <= z < z1. */
  constructor(mask: Mask, shape: Shape3, spacing: Spacing3, z0: number, z1: number) {
    super(shape, spacing);
    const [nx, ny, nz] = shape;
    this.slab0 = z0;
    this.slab1 = z1 - 1;
    let [bx, by, bz] = [(nx + 3) >> 2, (ny + 3) >> 2, (nz + 3) >> 2];
    this.bits = new Int32Array(2 * bx * by * bz);
    const level0 = new Int32Array(bx * by * bz);
    for (let z = z0; z < z1; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0, i = nx * (y + ny * z); x < nx; x++, i++) {
          if (!mask[i]) continue;
          const b = (x >> 2) + bx * ((y >> 2) + by * (z >> 2));
          this.bits[2 * b + ((z & 3) >> 1)]! |= 1 << ((x & 3) + 4 * (y & 3) + 16 * (z & 1));
          level0[b]!++;
          this.count++;
        }
    this.counts.push(level0);
    this.dims.push(bx, by, bz);
    while (bx > 1 || by > 1 || bz > 1) {
      const below = this.counts[this.counts.length - 1]!;
      const [px, py, pz] = [bx, by, bz];
      [bx, by, bz] = [(bx + 1) >> 1, (by + 1) >> 1, (bz + 1) >> 1];
      const level = new Int32Array(bx * by * bz);
      for (let k = 0; k < pz; k++)
        for (let j = 0; j < py; j++)
          for (let i = 0; i < px; i++)
            level[(i >> 1) + bx * ((j >> 1) + by * (k >> 1))]! += below[i + px * (j + py * k)]!;
      this.counts.push(level);
      this.dims.push(bx, by, bz);
    }
  }

  /**
   * Gives `diameter` (in `tau`) to every free voxel p of the ball, |p - c|^2 < rr2 in the painting's
   * float64 expression, and takes it; returns how many.
   */
  take(diameter: number, tau: Float32Array): number {
    if (!this.box()) return 0;
    // only the slab's voxels are free: the box is cut to it (which also starts the search lower)
    const { x0, x1, y0, y1 } = this;
    const z0 = (this.z0 = Math.max(this.slab0, this.z0));
    const z1 = (this.z1 = Math.min(this.slab1, this.z1));
    if (z0 > z1) return 0;
    // Start at the lowest level where at most START_NODES nodes meet the box (a long thin box, as
    // a ball on the grid's face has, starts low).
    let level = 0;
    while (
      level < this.counts.length - 1 &&
      ((x1 >> (2 + level)) - (x0 >> (2 + level)) + 1) *
        ((y1 >> (2 + level)) - (y0 >> (2 + level)) + 1) *
        ((z1 >> (2 + level)) - (z0 >> (2 + level)) + 1) >
        START_NODES
    )
      level++;
    const s = 2 + level;
    const dx = this.dims[3 * level]!;
    const dy = this.dims[3 * level + 1]!;
    const counts = this.counts[level]!;
    let taken = 0;
    for (let k = z0 >> s; k <= z1 >> s; k++)
      for (let j = y0 >> s; j <= y1 >> s; j++)
        for (let i = x0 >> s; i <= x1 >> s; i++) {
          const node = i + dx * (j + dy * k);
          if (counts[node] !== 0) taken += this.visit(level, node, i, j, k, false, diameter, tau);
        }
    this.count -= taken;
    return taken;
  }

  /**
   * Takes the free voxels of node (i, j, k) (index `node`, which holds some) of `level` inside the
   * ball, all of them when `inside`; returns how many.
   */
  private visit(
    level: number,
    node: number,
    i: number,
    j: number,
    k: number,
    inside: boolean,
    diameter: number,
    tau: Float32Array,
  ): number {
    if (!inside) {
      // The node's box (unclipped: there are no free voxels outside the grid) against the bounding
      // box, the ball (nearest and farthest voxel centre) and the cuts.
      const { hx, hy, hz, cx, cy, cz } = this;
      const last = (4 << level) - 1;
      const x0 = i << (2 + level);
      const y0 = j << (2 + level);
      const z0 = k << (2 + level);
      if (x0 > this.x1 || x0 + last < this.x0 || y0 > this.y1 || y0 + last < this.y0) return 0;
      if (z0 > this.z1 || z0 + last < this.z0) return 0;
      const nearX = cx < x0 ? x0 - cx : cx > x0 + last ? cx - x0 - last : 0;
      const nearY = cy < y0 ? y0 - cy : cy > y0 + last ? cy - y0 - last : 0;
      const nearZ = cz < z0 ? z0 - cz : cz > z0 + last ? cz - z0 - last : 0;
      if ((nearX * hx) ** 2 + (nearY * hy) ** 2 + (nearZ * hz) ** 2 >= this.outer2) return 0;
      const cuts = this.cuts;
      for (let o = 0; o < 5 * this.nCuts; o += 5) {
        if (cuts[o]! * x0 + cuts[o + 1]! * y0 + cuts[o + 2]! * z0 + cuts[o + 3]! * last >= cuts[o + 4]!)
          return 0;
      }
      const farX = Math.max(cx - x0, x0 + last - cx);
      const farY = Math.max(cy - y0, y0 + last - cy);
      const farZ = Math.max(cz - z0, z0 + last - cz);
      inside = (farX * hx) ** 2 + (farY * hy) ** 2 + (farZ * hz) ** 2 < this.inner2;
    }
    let taken = 0;
    if (level === 0) taken = this.takeBrick(node, i << 2, j << 2, k << 2, inside, diameter, tau);
    else {
      const below = this.counts[level - 1]!;
      const bx = this.dims[3 * level - 3]!;
      const by = this.dims[3 * level - 2]!;
      const bz = this.dims[3 * level - 1]!;
      for (let c = 0; c < 8; c++) {
        const a = 2 * i + (c & 1);
        const b = 2 * j + ((c >> 1) & 1);
        const e = 2 * k + (c >> 2);
        if (a >= bx || b >= by || e >= bz) continue;
        const child = a + bx * (b + by * e);
        if (below[child] !== 0) taken += this.visit(level - 1, child, a, b, e, inside, diameter, tau);
      }
    }
    this.counts[level]![node]! -= taken;
    return taken;
  }

  /** Takes the free voxels of brick `b` (first voxel x0, y0, z0) inside the ball (all when `inside`). */
  private takeBrick(
    b: number,
    x0: number,
    y0: number,
    z0: number,
    inside: boolean,
    diameter: number,
    tau: Float32Array,
  ): number {
    const { nx, ny, hx, hy, hz, cx, cy, cz, rr2 } = this;
    // The ball's bits of the brick, a row of four voxels at a time: the painting's terms along x
    // are the same for every row, so a row costs one remY and four comparisons, whatever its free
    // voxels (a brick at the edge of the taken region holds many that the ball misses).
    const dx0 = ((x0 - cx) * hx) ** 2;
    const dx1 = ((x0 + 1 - cx) * hx) ** 2;
    const dx2 = ((x0 + 2 - cx) * hx) ** 2;
    const dx3 = ((x0 + 3 - cx) * hx) ** 2;
    let taken = 0;
    for (let word = 0; word < 2; word++) {
      const free = this.bits[2 * b + word]!;
      if (free === 0) continue;
      let m = free;
      if (!inside) {
        m = 0;
        for (let half = 0; half < 2; half++) {
          if (((free >>> (16 * half)) & 0xffff) === 0) continue;
          const remZ = rr2 - ((z0 + 2 * word + half - cz) * hz) ** 2;
          if (remZ <= 0) continue;
          for (let row = 0; row < 4; row++) {
            const shift = 16 * half + 4 * row;
            if (((free >>> shift) & 15) === 0) continue;
            const remY = remZ - ((y0 + row - cy) * hy) ** 2;
            if (remY <= 0) continue;
            const ball =
              (dx0 < remY ? 1 : 0) | (dx1 < remY ? 2 : 0) | (dx2 < remY ? 4 : 0) | (dx3 < remY ? 8 : 0);
            m |= ball << shift;
          }
        }
        m &= free;
        if (m === 0) continue;
      }
      this.bits[2 * b + word] = free & ~m;
      while (m !== 0) {
        const low = m & -m;
        m ^= low;
        const bit = 31 - Math.clz32(low);
        tau[x0 + (bit & 3) + nx * (y0 + ((bit >> 2) & 3) + ny * (z0 + 2 * word + (bit >> 4)))] = diameter;
        taken++;
      }
    }
    return taken;
  }
}

/**
 * How localThicknessOnGrid gives the balls their voxels (the same map either way): 'largest-first'
 * (step 4), 'painting' (every ridge ball paints max(tau, diameter), cheap on thin plates), or 'auto':
 * painting when the ridge balls' volumes add up to at most PAINT_ALL voxels per voxel of the grid.
 */
export type GridMethod = 'auto' | 'largest-first' | 'painting';

/** A local-thickness method on a grid as given, as localThicknessOnGrid. */
export type GridThickness = (mask: Mask, shape: Shape3, spacing: Spacing3) => Float32Array;

export interface ThicknessOptions {
  /** sub-voxels per voxel along each axis (default 2; 1 is faster and biased, see the module comment) */
  supersample?: number;
  /** threads for the supersampled grid (localThicknessOnGrid's default when absent); same map */
  threads?: number;
}

/**
 * Local thickness map of one plate in mm (0 outside the plate), computed on its bounding box with
 * supersampling (see the module comment).
 *
 * @param mask    binary plate mask, x fastest
 * @param shape   [nx, ny, nz]
 * @param spacing [sx, sy, sz] voxel size in mm
 * @param onGrid  the method on the supersampled grid (default localThicknessOnGrid with
 *                options.threads; the tests and bench/thickness/ pass the ball painting it replaced)
 */
export function localThickness(
  mask: Mask,
  shape: Shape3,
  spacing: Spacing3,
  options: ThicknessOptions = {},
  onGrid: GridThickness = (m, s, sp) => localThicknessOnGrid(m, s, sp, 'auto', options.threads),
): Float32Array {
  const f = options.supersample ?? 2;
  if (!Number.isInteger(f) || f < 1)
    throw new RangeError(`localThickness: supersample ${f} must be an integer >= 1`);
  const [nx, ny, nz] = shape;
  const n = nx * ny * nz;
  if (mask.length !== n)
    throw new RangeError(`localThickness: mask has ${mask.length} voxels, shape ${shape}`);
  const out = new Float32Array(n);

  // Bounding box grown by one voxel (clamped to the image), so the plate's background is in it.
  const lo = [nx, ny, nz];
  const hi = [-1, -1, -1];
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0, i = nx * (y + ny * z); x < nx; x++, i++) {
        if (!mask[i]) continue;
        if (x < lo[0]!) lo[0] = x;
        if (x > hi[0]!) hi[0] = x;
        if (y < lo[1]!) lo[1] = y;
        if (y > hi[1]!) hi[1] = y;
        if (z < lo[2]!) lo[2] = z;
        if (z > hi[2]!) hi[2] = z;
      }
  if (hi[0]! < 0) return out;
  for (let a = 0; a < 3; a++) {
    lo[a] = Math.max(0, lo[a]! - 1);
    hi[a] = Math.min(shape[a]! - 1, hi[a]! + 1);
  }
  const [bx, by, bz] = [hi[0]! - lo[0]! + 1, hi[1]! - lo[1]! + 1, hi[2]! - lo[2]! + 1];
  // No background in the box (the plate fills the image): no ball has a radius, tau is NaN.
  let inBox = 0;
  for (let i = 0; i < n; i++) if (mask[i]) inBox++;
  if (inBox === bx * by * bz) return out.map((_, i) => (mask[i] ? NaN : 0));
  const sub: Shape3 = [bx * f, by * f, bz * f];
  const subSpacing: Spacing3 = [spacing[0] / f, spacing[1] / f, spacing[2] / f];

  const subMask = new Uint8Array(sub[0] * sub[1] * sub[2]);
  for (let z = 0; z < sub[2]; z++)
    for (let y = 0; y < sub[1]; y++) {
      const src = lo[0]! + nx * (lo[1]! + Math.floor(y / f) + ny * (lo[2]! + Math.floor(z / f)));
      const dst = sub[0] * (y + sub[1] * z);
      for (let x = 0; x < bx; x++) if (mask[src + x]) subMask.fill(1, dst + f * x, dst + f * x + f);
    }
  const tau = onGrid(subMask, sub, subSpacing);

  // Each voxel: mean of its f^3 sub-voxels.
  const inv = 1 / (f * f * f);
  for (let z = 0; z < bz; z++)
    for (let y = 0; y < by; y++)
      for (let x = 0; x < bx; x++) {
        const i = lo[0]! + x + nx * (lo[1]! + y + ny * (lo[2]! + z));
        if (!mask[i]) continue;
        let s = 0;
        for (let c = 0; c < f; c++)
          for (let b = 0; b < f; b++) {
            const row = sub[0] * (f * y + b + sub[1] * (f * z + c)) + f * x;
            for (let a = 0; a < f; a++) s += tau[row + a]!;
          }
        out[i] = s * inv;
      }
  return out;
}

/** Summary of a thickness map over a plate, in mm. All NaN for an empty plate. */
export interface ThicknessStats {
  meanMm: number;
  medianMm: number;
  p95Mm: number;
  maxMm: number;
  voxels: number;
}

/** Mean, median, 95th percentile (numpy "linear") and max of `thickness` over the voxels of `mask`. */
export function thicknessStats(thickness: Float32Array, mask: Mask): ThicknessStats {
  let count = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) count++;
  const values = new Float64Array(count);
  let k = 0;
  let sum = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    values[k++] = thickness[i]!;
    sum += thickness[i]!;
  }
  values.sort();
  return {
    meanMm: count ? sum / count : NaN,
    medianMm: percentileSorted(values, 50),
    p95Mm: percentileSorted(values, 95),
    maxMm: count ? values[count - 1]! : NaN,
    voxels: count,
  };
}

/** Thickness map (mm) and its summary for one plate. */
export function plateThickness(
  mask: Mask,
  shape: Shape3,
  spacing: Spacing3,
  options: ThicknessOptions = {},
): { map: Float32Array; stats: ThicknessStats } {
  const map = localThickness(mask, shape, spacing, options);
  return { map, stats: thicknessStats(map, mask) };
}
