/// <reference lib="dom" />
/**
 * The page of `kneeseg view` (bundled with NiiVue into dist/view/app.js by src/view/bundle.ts):
 * the case table with measurements and scores, the scan with its label map in NiiVue (three planes
 * and a 3-D render), structure toggles, the thickness map (recomputed on request after an edit), two
 * label maps side by side with their disagreement (prediction vs ground truth, or two runs of an
 * experiment), "review next" by uncertainty, and correction (paint / erase one structure, undo,
 * save as labelled).
 *
 * Painting writes straight into the label volume's voxels (NVImage.img, the file's own voxel order,
 * x fastest), so what is saved is the file's grid with exactly the voxels the brush touched changed.
 */
import { MULTIPLANAR_TYPE, Niivue, NVImage, SHOW_RENDER, type NiiVueLocation } from '@niivue/niivue';
import {
  COMPARED,
  DTYPE_HEADER,
  GROUND_TRUTH,
  PREDICTION,
  SHAPE_HEADER,
  type CaseList,
  type MeasurementRow,
  type ReviewOrder,
  type SaveResult,
  type Scores,
  type ThicknessResult,
  type ViewCase,
} from '../api.ts';
// the figures' palette (no Node imports, so esbuild can bundle it for the browser)
import { structureColors, type Rgb } from '../../data/palette.ts';

type Mode = 'view' | 'paint' | 'erase';
type Vec3 = [number, number, number];

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el as T;
};

function setStatus(text: string, error = false): void {
  const s = $('status');
  s.textContent = text;
  s.className = error ? 'error' : '';
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `${url}: HTTP ${res.status}`);
  return body;
}

const fmt = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '' : x.toFixed(digits);

// ---------------------------------------------------------------- state

interface Structure {
  readonly name: string;
  readonly value: number;
  readonly color: Rgb;
  visible: boolean;
  opacity: number;
}

const state = {
  list: null as CaseList | null,
  scores: {} as Scores,
  review: null as ReviewOrder | null,
  current: null as ViewCase | null,
  structures: [] as Structure[],
  sortKey: 'case',
  sortDescending: false,
  /** one entry per brush stroke: voxel index -> value before the stroke */
  undo: [] as Map<number, number>[],
  stroke: null as Map<number, number> | null,
  thicknessMax: 0,
  /** the thickness map of the last recompute of edited labels (else the file's, derived) */
  thicknessUrl: null as string | null,
  /** the label maps shown left and right: a run name, PREDICTION, GROUND_TRUTH or COMPARED */
  runA: PREDICTION,
  runB: GROUND_TRUTH,
  /** cases opened by "review next" in this round */
  reviewed: new Set<string>(),
};

/** The URL of the label map `which` of a case. */
function labelUrl(c: ViewCase, which: string | null): string | undefined {
  if (which === null) return undefined;
  if (which === PREDICTION) return c.prediction;
  if (which === GROUND_TRUTH) return c.groundTruth;
  if (which === COMPARED) return c.compare;
  return c.runs[which];
}

const isExperiment = (): boolean => (state.list?.runs.length ?? 0) > 0;

/** What the left view shows: the chosen run, else the prediction, else the ground truth. */
function whichA(c: ViewCase): string | null {
  if (isExperiment()) return c.runs[state.runA] ? state.runA : null;
  return c.prediction ? PREDICTION : c.groundTruth ? GROUND_TRUTH : null;
}

/** What the right view compares the left with: the chosen run or the ground truth (or --compare). */
function whichB(c: ViewCase): string | null {
  if (isExperiment()) return labelUrl(c, state.runB) ? state.runB : null;
  if (!c.prediction) return null;
  return c.groundTruth ? GROUND_TRUTH : c.compare ? COMPARED : null;
}

function describeLabels(which: string | null): string {
  if (which === null) return 'no label map yet';
  if (which === PREDICTION) return 'prediction';
  if (which === GROUND_TRUTH) return 'ground truth';
  if (which === COMPARED) return 'compared run';
  return `run ${which}`;
}

const nvA = new Niivue({ backColor: [0, 0, 0, 1], show3Dcrosshair: true, logLevel: 'error' });
const nvB = new Niivue({ backColor: [0, 0, 0, 1], show3Dcrosshair: true, logLevel: 'error' });
// disagreement: opaque magenta, a colour no structure has (femoral cartilage is red), drawn over the
// label colours (NiiVue's own maps fade in alpha, so a disagreeing voxel kept most of its label colour)
nvB.addColormap('kneeseg-disagreement', { R: [0, 255], G: [0, 0], B: [0, 255], A: [0, 255], I: [0, 255] });

function labelVolume(): NVImage | undefined {
  return nvA.volumes[1];
}

// ---------------------------------------------------------------- label colours

function colormapLabel(): {
  R: number[];
  G: number[];
  B: number[];
  A: number[];
  I: number[];
  labels: string[];
} {
  const cm = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: ['background'] };
  for (const s of state.structures) {
    const [r, g, b] = s.color;
    cm.R.push(r);
    cm.G.push(g);
    cm.B.push(b);
    cm.A.push(s.visible ? Math.round(255 * s.opacity) : 0);
    cm.I.push(s.value);
    cm.labels.push(s.name);
  }
  return cm;
}

/** Applies the structures' visibility and opacity to every label volume on screen. */
function applyColours(): void {
  const cm = colormapLabel();
  const a = labelVolume();
  if (a) a.setColormapLabel(cm);
  nvA.updateGLVolume();
  const b = nvB.volumes[1];
  if (b) {
    b.setColormapLabel(cm);
    nvB.updateGLVolume();
  }
}

function renderStructureControls(): void {
  const box = $('structures');
  box.replaceChildren();
  const pen = $<HTMLSelectElement>('pen-structure');
  pen.replaceChildren();
  for (const s of state.structures) {
    const row = document.createElement('div');
    row.className = 'structure';
    const check = document.createElement('input');
    check.type = 'checkbox';
    check.checked = s.visible;
    check.dataset.structure = s.name;
    check.title = `show ${s.name}`;
    check.addEventListener('change', () => {
      s.visible = check.checked;
      applyColours();
    });
    const name = document.createElement('span');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    const [r, g, b] = s.color;
    swatch.style.background = `rgb(${r},${g},${b})`;
    swatch.style.display = 'inline-block';
    name.append(swatch, ` ${s.name}`);
    const opacity = document.createElement('input');
    opacity.type = 'range';
    opacity.min = '0';
    opacity.max = '1';
    opacity.step = '0.05';
    opacity.value = String(s.opacity);
    opacity.title = `opacity of ${s.name}`;
    opacity.addEventListener('input', () => {
      s.opacity = Number(opacity.value);
      applyColours();
    });
    row.append(check, name, opacity);
    box.append(row);
    const option = document.createElement('option');
    option.value = String(s.value);
    option.textContent = s.name;
    pen.append(option);
  }
}

// ---------------------------------------------------------------- case table

interface Column {
  readonly key: string;
  readonly title: string;
  readonly value: (c: ViewCase) => number | string | null;
  readonly digits?: number;
}

function columns(list: CaseList): Column[] {
  const cols: Column[] = [{ key: 'case', title: 'case', value: (c) => c.id }];
  if (list.cases.some((c) => c.reviewable))
    cols.push({
      key: 'uncertainty',
      title: 'uncertainty',
      value: (c) => state.review?.cases.find((r) => r.id === c.id)?.uncertainty ?? null,
      digits: 3,
    });
  const rows = new Map<string, { structure: string; region: string }>();
  for (const c of list.cases) for (const m of c.measurements) rows.set(`${m.structure}/${m.region}`, m);
  for (const [key, m] of rows) {
    const find = (c: ViewCase) => c.measurements.find((x) => `${x.structure}/${x.region}` === key);
    if (m.region === 'all')
      cols.push({
        key: `vol:${key}`,
        title: `${m.structure} mm³`,
        value: (c) => find(c)?.volumeMm3 ?? null,
        digits: 0,
      });
    if (list.cases.some((c) => find(c)?.meanThicknessMm != null))
      cols.push({
        key: `th:${key}`,
        title: `${m.structure}${m.region === 'all' ? '' : ` ${m.region}`} thickness mm`,
        value: (c) => find(c)?.meanThicknessMm ?? null,
        digits: 2,
      });
  }
  if (Object.keys(state.scores).length > 0)
    for (const s of state.structures) {
      cols.push({
        key: `dice:${s.name}`,
        title: `${s.name} Dice`,
        value: (c) => state.scores[c.id]?.[s.name]?.dice ?? null,
        digits: 3,
      });
      cols.push({
        key: `hd95:${s.name}`,
        title: `${s.name} HD95 mm`,
        value: (c) => state.scores[c.id]?.[s.name]?.hd95Mm ?? null,
        digits: 2,
      });
    }
  return cols;
}

function compareValues(a: number | string | null, b: number | string | null): number {
  if (a === null && b === null) return 0;
  if (a === null) return 1; // missing values last in both directions
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function renderTable(): void {
  const list = state.list;
  if (!list) return;
  const cols = columns(list);
  const head = document.createElement('tr');
  for (const col of cols) {
    const th = document.createElement('th');
    th.dataset.key = col.key;
    th.textContent = col.title + (state.sortKey === col.key ? (state.sortDescending ? ' ▼' : ' ▲') : '');
    th.addEventListener('click', () => {
      state.sortDescending = state.sortKey === col.key ? !state.sortDescending : false;
      state.sortKey = col.key;
      renderTable();
    });
    head.append(th);
  }
  $('case-table').querySelector('thead')!.replaceChildren(head);
  const sortCol = cols.find((c) => c.key === state.sortKey) ?? cols[0]!;
  const cases = [...list.cases].sort((a, b) => {
    const va = sortCol.value(a);
    const vb = sortCol.value(b);
    if (va === null || vb === null) return compareValues(va, vb);
    return state.sortDescending ? compareValues(vb, va) : compareValues(va, vb);
  });
  const body = cases.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.case = c.id;
    if (c.id === state.current?.id) tr.className = 'current';
    for (const col of cols) {
      const td = document.createElement('td');
      const v = col.value(c);
      td.textContent = typeof v === 'number' ? fmt(v, col.digits) : (v ?? '');
      tr.append(td);
    }
    tr.addEventListener('click', () => void openCase(c.id));
    return tr;
  });
  $('case-table')
    .querySelector('tbody')!
    .replaceChildren(...body);
}

// ---------------------------------------------------------------- viewing a case

function readout(loc: NiiVueLocation): void {
  const parts: string[] = [];
  const vox = loc.values[0]?.vox;
  if (vox) parts.push(`voxel ${Math.round(vox[0])}, ${Math.round(vox[1])}, ${Math.round(vox[2])}`);
  const [scan, label, thickness] = loc.values;
  if (scan && state.current?.image) parts.push(`intensity ${fmt(scan.value, 0)}`);
  if (label) {
    const v = Math.round(label.value);
    parts.push(`label ${state.structures.find((s) => s.value === v)?.name ?? (v === 0 ? 'background' : v)}`);
  }
  if (thickness && thickness.value > 0) parts.push(`thickness ${fmt(thickness.value, 2)} mm`);
  $('readout').textContent = parts.join(' · ');
}

function setupViewer(nv: Niivue, canvas: HTMLCanvasElement): Promise<void> {
  return nv.attachToCanvas(canvas).then(() => {
    nv.setSliceType(nv.sliceTypeMultiplanar);
    nv.opts.multiplanarShowRender = SHOW_RENDER.ALWAYS;
    nv.opts.multiplanarLayout = MULTIPLANAR_TYPE.GRID;
    nv.opts.isColorbar = false;
    nv.opts.dragAndDropEnabled = false;
  });
}

/** A label volume of zeros on the scan's grid, for a case with no label map yet. */
function blankLabels(scan: NVImage): NVImage {
  const blank = scan.clone();
  blank.zeroImage();
  blank.name = 'labels';
  return blank;
}

async function loadPair(nv: Niivue, scanUrl: string, labelUrl: string | undefined): Promise<void> {
  await nv.loadVolumes([{ url: scanUrl, colormap: 'gray' }]);
  if (labelUrl) await nv.addVolumeFromUrl({ url: labelUrl, opacity: 1 });
  else nv.addVolume(blankLabels(nv.volumes[0]!));
  for (const v of nv.volumes) v.colorbarVisible = false;
}

async function openCase(id: string): Promise<void> {
  const c = state.list?.cases.find((x) => x.id === id);
  if (!c) return;
  document.body.dataset.state = 'loading';
  setStatus(`loading ${id} ...`);
  state.current = c;
  state.undo = [];
  state.thicknessMax = 0;
  state.thicknessUrl = null;
  $<HTMLInputElement>('thickness').checked = false;
  $('thickness-scale').replaceChildren();
  document.body.dataset.thicknessShown = 'false';
  setThicknessStale(false);
  renderTable();
  const which = whichA(c);
  const labels = labelUrl(c, which);
  const scanUrl = c.image ?? labels;
  if (!scanUrl) {
    setStatus(`${id} has no files to show`, true);
    return;
  }
  try {
    await loadPair(nvA, scanUrl, labels);
    $('caption-a').textContent = describeLabels(which);
    await updateSideBySide();
    applyColours();
    updateButtons();
    setStatus(`${id}`);
    document.body.dataset.state = 'ready';
    document.body.dataset.case = id;
  } catch (err) {
    setStatus(`could not load ${id}: ${(err as Error).message}`, true);
    document.body.dataset.state = 'error';
  }
}

/**
 * The second view: ground truth, the compared run or a second experiment run, with the voxels where
 * it disagrees with the left view in magenta (a colour no structure has: femoral cartilage is red).
 */
async function updateSideBySide(): Promise<void> {
  const c = state.current;
  const [a, b] = c ? [whichA(c), whichB(c)] : [null, null];
  const other = c && a !== null && b !== null && b !== a ? labelUrl(c, b) : undefined;
  const show = $<HTMLInputElement>('side-by-side').checked && c !== null && other !== undefined;
  $('view-b').hidden = !show;
  $<HTMLInputElement>('side-by-side').disabled = other === undefined;
  // for scripted use: which label maps pane B shows once loaded, and whether disagreement is drawn
  delete document.body.dataset.paneB;
  if (!show || !c) {
    nvA.broadcastTo([]);
    nvA.resizeListener();
    return;
  }
  $('caption-b').textContent = describeLabels(b);
  nvB.resizeListener();
  await loadPair(nvB, c.image ?? other, other);
  if ($<HTMLInputElement>('disagreement').checked) {
    const q = new URLSearchParams({ a: a!, b: b! });
    const d = await nvB.addVolumeFromUrl({
      url: `/derived/disagreement/${encodeURIComponent(c.id)}.nii.gz?${q}`,
      colormap: 'kneeseg-disagreement',
      opacity: 0.8,
      cal_min: 0,
      cal_max: 1,
    });
    d.colorbarVisible = false;
  }
  applyColours();
  nvA.broadcastTo([nvB], { '2d': true, '3d': true });
  nvB.broadcastTo([nvA], { '2d': true, '3d': true });
  nvA.resizeListener();
  const drawn = $<HTMLInputElement>('disagreement').checked;
  document.body.dataset.paneB = `${a}|${b}|${drawn ? 'disagreement' : 'plain'}`;
}

async function toggleThickness(on: boolean): Promise<void> {
  const c = state.current;
  if (!c) return;
  const have = nvA.volumes[2];
  // for scripted use: "true" once the map is drawn
  document.body.dataset.thicknessShown = 'false';
  if (!on) {
    if (have) nvA.setOpacity(2, 0);
    nvA.opts.isColorbar = false;
    $('thickness-scale').replaceChildren();
    nvA.drawScene();
    return;
  }
  setStatus(`measuring thickness of ${c.id} ...`);
  try {
    if (!have) await addThicknessVolume(c);
    else nvA.setOpacity(2, 1);
    nvA.opts.isColorbar = true;
    nvA.drawScene();
    renderThicknessScale();
    setStatus(c.id);
    document.body.dataset.thicknessShown = 'true';
  } catch (err) {
    setStatus(`thickness: ${(err as Error).message}`, true);
  }
}

/** Adds the thickness map of the left view's labels (or of their last recomputed edit) as volume 2. */
async function addThicknessVolume(c: ViewCase): Promise<void> {
  const q = new URLSearchParams({ of: whichA(c) ?? PREDICTION });
  const t = await nvA.addVolumeFromUrl({
    url: state.thicknessUrl ?? `/derived/thickness/${encodeURIComponent(c.id)}.nii.gz?${q}`,
    colormap: 'viridis',
    opacity: 1,
  });
  state.thicknessMax = Math.max(t.global_max ?? 0, 0.1);
  t.cal_min = 0.01;
  t.cal_max = state.thicknessMax;
  t.colorbarVisible = true;
  nvA.updateGLVolume();
}

function renderThicknessScale(): void {
  const scale = document.createElement('div');
  const ramp = document.createElement('div');
  ramp.className = 'ramp';
  const ticks = document.createElement('div');
  ticks.className = 'ticks';
  for (const f of [0, 0.5, 1]) {
    const s = document.createElement('span');
    s.textContent = `${fmt(f * state.thicknessMax, 1)}`;
    ticks.append(s);
  }
  const unit = document.createElement('div');
  unit.textContent = 'local thickness, mm';
  scale.append(ramp, ticks, unit);
  $('thickness-scale').replaceChildren(scale);
}

/** After an edit the thickness map and numbers describe the old labels: say so until recomputed. */
function setThicknessStale(stale: boolean): void {
  $('thickness-stale').hidden = !stale;
  document.body.dataset.thickness = stale ? 'stale' : 'fresh';
}

/**
 * Sends the edited labels for a thickness recompute, then shows the new map (when the overlay is on)
 * and the case's new measurements in the table.
 */
async function recomputeThickness(): Promise<void> {
  const c = state.current;
  const payload = labelPayload();
  if (!c || !payload) return;
  setStatus(`recomputing thickness of ${c.id} ...`);
  try {
    const res = await fetch(`/api/cases/${encodeURIComponent(c.id)}/thickness`, {
      method: 'POST',
      ...payload,
    });
    const body = (await res.json()) as ThicknessResult & { error?: string };
    if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
    if (state.current !== c) return; // another case was opened meanwhile
    state.thicknessUrl = body.url;
    replaceMeasurements(c.id, body.measurements);
    if (nvA.volumes[2]) {
      nvA.removeVolume(nvA.volumes[2]);
      if ($<HTMLInputElement>('thickness').checked) {
        await addThicknessVolume(state.current);
        nvA.drawScene();
        renderThicknessScale();
      }
    }
    setThicknessStale(false);
    setStatus(c.id);
  } catch (err) {
    setStatus(`thickness: ${(err as Error).message}`, true);
  }
}

function replaceMeasurements(id: string, rows: readonly MeasurementRow[]): void {
  const list = state.list;
  if (!list) return;
  const cases = list.cases.map((x) => (x.id === id ? { ...x, measurements: rows } : x));
  state.list = { ...list, cases };
  state.current = cases.find((x) => x.id === id) ?? state.current;
  renderTable();
}

// ---------------------------------------------------------------- correction

function mode(): Mode {
  return (document.querySelector<HTMLInputElement>('input[name=mode]:checked')?.value ?? 'view') as Mode;
}

/** The voxel (of the label map, its own index order) under a point of canvas A, or null off the slices. */
function voxelAt(clientX: number, clientY: number): { vox: Vec3; normalAxis: number } | null {
  const vol = labelVolume();
  const canvas = $<HTMLCanvasElement>('canvas-a');
  if (!vol) return null;
  const rect = canvas.getBoundingClientRect();
  const scale = canvas.width / rect.width;
  const x = (clientX - rect.left) * scale;
  const y = (clientY - rect.top) * scale;
  const frac = nvA.canvasPos2frac([x, y]);
  if (frac[0] < 0) return null; // the 3-D render or outside the slices
  const tile = nvA.tileIndex(x, y);
  const plane = tile >= 0 ? nvA.screenSlices[tile]?.axCorSag : undefined;
  if (plane === undefined || plane > 2) return null;
  const mm = nvA.frac2mm(frac);
  const at = (p: ArrayLike<number>): Vec3 => {
    const v = vol.mm2vox([p[0]!, p[1]!, p[2]!]);
    return [Math.round(v[0]!), Math.round(v[1]!), Math.round(v[2]!)];
  };
  const vox = at(mm);
  const dims = vol.hdr!.dims;
  if (vox.some((v, i) => v < 0 || v >= dims[i + 1]!)) return null;
  // the voxel axis along the screen's normal: axial = RAS z, coronal = y, sagittal = x
  const ras = plane === 0 ? 2 : plane === 1 ? 1 : 0;
  const step = [mm[0]!, mm[1]!, mm[2]!];
  step[ras]! += 10 * Math.max(...vol.hdr!.pixDims.slice(1, 4));
  const moved = vol.mm2vox(step);
  const delta = [0, 1, 2].map((i) => Math.abs(moved[i]! - vox[i]!));
  const normalAxis = delta.indexOf(Math.max(...delta));
  return { vox, normalAxis };
}

/** Voxel indices of a brush of `size` voxels across, centred at `vox`, in the plane normal to `axis`. */
function brushVoxels(vox: Vec3, normalAxis: number, size: number, dims: readonly number[]): number[] {
  const [u, v] = [0, 1, 2].filter((a) => a !== normalAxis) as [number, number];
  const r = (size - 1) / 2;
  const R = Math.ceil(r);
  const out: number[] = [];
  for (let du = -R; du <= R; du++)
    for (let dv = -R; dv <= R; dv++) {
      if (du * du + dv * dv > r * r + 1e-9) continue;
      const p: Vec3 = [vox[0], vox[1], vox[2]];
      p[u] += du;
      p[v] += dv;
      if (p.some((x, i) => x < 0 || x >= dims[i + 1]!)) continue;
      out.push(p[0] + dims[1]! * (p[1] + dims[2]! * p[2]));
    }
  return out;
}

function paintAt(clientX: number, clientY: number): void {
  const vol = labelVolume();
  const hit = voxelAt(clientX, clientY);
  if (!vol?.img || !hit || !state.stroke) return;
  const label = Number($<HTMLSelectElement>('pen-structure').value);
  const size = Math.max(1, Math.min(25, Math.round(Number($<HTMLInputElement>('brush').value) || 1)));
  const erase = mode() === 'erase';
  const img = vol.img;
  for (const i of brushVoxels(hit.vox, hit.normalAxis, size, vol.hdr!.dims)) {
    const before = img[i]!;
    const after = erase ? (before === label ? 0 : before) : label;
    if (after === before) continue;
    if (!state.stroke.has(i)) state.stroke.set(i, before);
    img[i] = after;
  }
  nvA.updateGLVolume();
}

function updateButtons(): void {
  $<HTMLButtonElement>('undo').disabled = state.undo.length === 0;
  const c = state.current;
  const save = $<HTMLButtonElement>('save');
  save.disabled = !c?.savable;
  save.title = c?.savable ? 'write this label map into the dataset labelsTr' : (c?.notSavable ?? '');
}

function undo(): void {
  const vol = labelVolume();
  const last = state.undo.pop();
  if (!vol?.img || !last) return;
  for (const [i, v] of last) vol.img[i] = v;
  nvA.updateGLVolume();
  setThicknessStale(true);
  updateButtons();
}

/** The label volume's voxels as the server takes them (save, thickness recompute). */
function labelPayload(): { headers: Record<string, string>; body: Uint8Array<ArrayBuffer> } | null {
  const vol = labelVolume();
  if (!vol?.img) return null;
  const dims = vol.hdr!.dims;
  let max = 0;
  for (const v of vol.img) if (v > max) max = v;
  const data: Uint8Array<ArrayBuffer> | Int16Array<ArrayBuffer> =
    max <= 255 ? Uint8Array.from(vol.img) : Int16Array.from(vol.img);
  return {
    headers: {
      'content-type': 'application/octet-stream',
      [SHAPE_HEADER]: `${dims[1]},${dims[2]},${dims[3]}`,
      [DTYPE_HEADER]: data instanceof Uint8Array ? 'uint8' : 'int16',
    },
    body: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

async function save(): Promise<void> {
  const c = state.current;
  const payload = labelPayload();
  if (!payload || !c) return;
  $('save-info').textContent = 'saving ...';
  try {
    const res = await fetch(`/api/cases/${encodeURIComponent(c.id)}/labels`, { method: 'PUT', ...payload });
    const body = (await res.json()) as SaveResult & { error?: string };
    if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
    $('save-info').textContent =
      `saved ${body.file}${body.changedVoxels !== null ? ` (${body.changedVoxels} voxels changed)` : ''}`;
    $('save-info').className = '';
    document.body.dataset.saved = c.id;
    state.list = await getJson<CaseList>('/api/cases');
    state.current = state.list.cases.find((x) => x.id === c.id) ?? c;
    renderTable();
  } catch (err) {
    $('save-info').textContent = `not saved: ${(err as Error).message}`;
    $('save-info').className = 'error';
  }
}

function installBrush(): void {
  const view = $('view-a');
  const canvas = $<HTMLCanvasElement>('canvas-a');
  // capture phase on the parent: in paint/erase mode NiiVue never sees the pointer (no crosshair drag)
  view.addEventListener(
    'pointerdown',
    (e) => {
      if (mode() === 'view' || e.target !== canvas || e.button !== 0) return;
      e.stopPropagation();
      e.preventDefault();
      state.stroke = new Map();
      paintAt(e.clientX, e.clientY);
    },
    true,
  );
  view.addEventListener(
    'pointermove',
    (e) => {
      if (!state.stroke) return;
      e.stopPropagation();
      paintAt(e.clientX, e.clientY);
    },
    true,
  );
  const end = (e: Event) => {
    if (!state.stroke) return;
    e.stopPropagation();
    if (state.stroke.size > 0) {
      state.undo.push(state.stroke);
      setThicknessStale(true);
    }
    state.stroke = null;
    updateButtons();
  };
  view.addEventListener('pointerup', end, true);
  view.addEventListener('pointerleave', end, true);
  for (const type of ['mousedown', 'mousemove', 'mouseup'])
    view.addEventListener(
      type,
      (e) => void (mode() !== 'view' && e.target === canvas && e.stopPropagation()),
      true,
    );
}

// ---------------------------------------------------------------- start

/**
 * Opens the most uncertain case not reviewed yet: the ones opened by "review next" and the one on
 * screen count as reviewed; when every case has been, the round starts again.
 */
async function reviewNext(): Promise<void> {
  const order = state.review?.cases ?? [];
  if (order.length === 0) return;
  if (state.current) state.reviewed.add(state.current.id);
  let next = order.find((r) => !state.reviewed.has(r.id));
  if (!next) {
    state.reviewed = new Set(state.current ? [state.current.id] : []);
    next = order.find((r) => !state.reviewed.has(r.id)) ?? order[0]!;
  }
  state.reviewed.add(next.id);
  $('review-info').textContent =
    `uncertainty ${fmt(next.uncertainty, 3)} (rank ${order.indexOf(next) + 1}/${order.length})`;
  await openCase(next.id);
}

/** Fills the left/right run choices of an experiment (left: a run; right: ground truth or a run). */
function setupRunChoice(list: CaseList): void {
  if (list.runs.length === 0) return;
  $('run-choice').hidden = false;
  const [a, b] = [$<HTMLSelectElement>('run-a'), $<HTMLSelectElement>('run-b')];
  const option = (value: string, text: string) =>
    Object.assign(document.createElement('option'), { value, text });
  a.replaceChildren(...list.runs.map((r) => option(r, r)));
  b.replaceChildren(option(GROUND_TRUTH, 'ground truth'), ...list.runs.map((r) => option(r, r)));
  state.runA = list.runs[0]!;
  state.runB = list.cases.some((c) => c.groundTruth) ? GROUND_TRUTH : (list.runs[1] ?? GROUND_TRUTH);
  a.value = state.runA;
  b.value = state.runB;
  a.addEventListener('change', () => {
    state.runA = a.value;
    loadScores();
    if (state.current) void openCase(state.current.id);
  });
  b.addEventListener('change', () => {
    state.runB = b.value;
    void updateSideBySide();
  });
}

/** Scores of the left view's labels (an experiment run's from its evaluation.json); filled in when they come. */
function loadScores(): void {
  const q = isExperiment() ? `?run=${encodeURIComponent(state.runA)}` : '';
  void getJson<Scores>(`/api/scores${q}`)
    .then((s) => {
      state.scores = s;
      renderTable();
    })
    .catch((err: Error) => setStatus(`scores: ${err.message}`, true));
}

function loadReviewOrder(list: CaseList): void {
  if (!list.cases.some((c) => c.reviewable)) return;
  void getJson<ReviewOrder>('/api/review')
    .then((r) => {
      state.review = r;
      $<HTMLButtonElement>('review-next').disabled = r.cases.length === 0;
      $('review-next').title = r.measure;
      document.body.dataset.review = 'ready';
      renderTable();
    })
    .catch((err: Error) => setStatus(`review order: ${err.message}`, true));
}

function installControls(): void {
  $<HTMLInputElement>('thickness').addEventListener(
    'change',
    (e) => void toggleThickness((e.target as HTMLInputElement).checked),
  );
  $<HTMLInputElement>('side-by-side').addEventListener('change', () => void updateSideBySide());
  $<HTMLInputElement>('disagreement').addEventListener('change', () => void updateSideBySide());
  $('undo').addEventListener('click', undo);
  $('save').addEventListener('click', () => void save());
  $('review-next').addEventListener('click', () => void reviewNext());
  $('thickness-recompute').addEventListener('click', () => void recomputeThickness());
}

async function start(): Promise<void> {
  await setupViewer(nvA, $<HTMLCanvasElement>('canvas-a'));
  await setupViewer(nvB, $<HTMLCanvasElement>('canvas-b'));
  nvA.onLocationChange = (loc) => readout(loc as NiiVueLocation);
  installBrush();
  const list = await getJson<CaseList>('/api/cases');
  state.list = list;
  $('title').textContent = `${list.kind}: ${list.title}`;
  // in label order, background left out; coloured as in the report figures
  state.structures = [...structureColors(list.labels)].map(([value, { name, color }]) => ({
    name,
    value,
    color,
    visible: true,
    opacity: 0.7,
  }));
  renderStructureControls();
  setupRunChoice(list);
  renderTable();
  installControls();
  const wanted = new URLSearchParams(location.search).get('case');
  const first = list.cases.find((c) => c.id === wanted) ?? list.cases[0];
  if (first) await openCase(first.id);
  else setStatus('no cases');
  // scores and uncertainty can take a while to compute: fill them in when they come
  loadScores();
  loadReviewOrder(list);
}

/** For scripted use (the browser tests): which voxel of the label map lies under a point of the page. */
(window as unknown as { kneesegView: object }).kneesegView = { voxelAt };

start().catch((err: Error) => {
  setStatus(err.message, true);
  document.body.dataset.state = 'error';
});
