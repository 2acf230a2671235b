/**
 * Seconds per OAI-sized scan (160 sagittal slices of 384 x 384, FACTS.md) for `kneeseg predict`, for a
 * U-Net and a MedT model with untrained weights (timing does not depend on the values), against the
 * same network in PyTorch (bench/reference/, loading the same model file) in the same run.
 *
 *   node --import tsx bench/predict/predict.bench.ts [--slices 160] [--batch auto] [--backbones unet,medt]
 *     [--medt-slices N] [--no-reference]
 *
 * Ours: the whole predictVolume (2.5D slicing and scaling, batched no-grad forward of backbone and
 * f_PW, tree decoding, restacking), and its network part alone (predictSlices). PyTorch: the network
 * forward and argmax only, so the comparison favours PyTorch by our decoding and preprocessing.
 * The network part is also timed as loadModel prepares it for inference (batch norm folded into the
 * convolutions, src/models/fold-batchnorm.ts; the U-Net channels-last, src/models/channels-last.ts)
 * against the same weights as trained (eval mode, unfolded, default layout), alternating three
 * times (minimum of each, wall and CPU time), so a changing load hits both alike. `--no-reference` skips PyTorch. Both sides use 2 threads; PyTorch gets its tuned glibc allocator (FACTS.md). With fewer slices than
 * 160 the per-scan figure is extrapolated linearly (per-slice cost x 160) and the table says so.
 * Results: a table on stdout and runs/bench/predict.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSafetensors, manualSeed, saveSafetensors, setNumThreads } from '../../src/engine/index.ts';
import { prepareCase } from '../../src/data/preprocess.ts';
import { IDENTITY_DIRECTION, type Volume } from '../../src/data/volume.ts';
import { defaultKneeTree } from '../../src/hierarchy/tree.ts';
import { loadModel } from '../../src/infer/load-model.ts';
import { defaultBatch, predictSlices, predictVolume } from '../../src/infer/predict.ts';
import { buildModel } from '../../src/models/registry.ts';
import { decodeModelMetadata } from '../../src/train/model-file.ts';
import { pytorchEnv } from '../reference/env.ts';

const THREADS = 2;
const OAI_SLICES = 160;
const OAI_SHAPE: [number, number] = [384, 384];
const REFERENCE = fileURLToPath(new URL('./reference.py', import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

/** A model file as `kneeseg train` writes it, for an untrained network of the given backbone. */
function writeModel(dir: string, backbone: 'unet' | 'medt', size: [number, number]): string {
  const tree = defaultKneeTree();
  manualSeed(0);
  const model = buildModel({
    backbone,
    inChannels: 3,
    outChannels: tree.size,
    levelSet: true,
    imageSize: size,
  });
  const file = join(dir, `${backbone}.safetensors`);
  saveSafetensors(file, model.stateDict(), {
    format: 'kneeseg-model',
    model: JSON.stringify(model.config),
    decoding: 'tree',
    tree: JSON.stringify(tree.definition),
    preprocessing: JSON.stringify({
      dir: '',
      labelled: null,
      subjectPattern: null,
      axis: 'x',
      size,
      neighbours: 1,
      intensity: 'minmax255',
    }),
    structures: JSON.stringify({}),
    training: '{}',
  });
  model.dispose();
  return file;
}

/** The model of a model file as trained: eval mode, batch norm unfolded, default memory layout. */
function plainModel(file: string) {
  const { tensors, metadata } = loadSafetensors(file);
  const model = buildModel(decodeModelMetadata(file, metadata, 'a model file written by this bench').config);
  model.loadStateDict(tensors);
  for (const t of tensors.values()) t.dispose();
  model.eval();
  return model;
}

/** An OAI-like DESS volume: `slices` sagittal slices (x) of 384 x 384, 0.7 x 0.365 x 0.365 mm. */
function scan(slices: number): Volume<Int16Array> {
  const [ny, nz] = [OAI_SHAPE[1], OAI_SHAPE[0]];
  const data = new Int16Array(slices * ny * nz);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) % 1000;
  return {
    shape: [slices, ny, nz],
    spacing: [0.7, 0.365, 0.365],
    origin: [0, 0, 0],
    direction: IDENTITY_DIRECTION,
    data,
  };
}

interface Row {
  backbone: string;
  batch: number;
  parameters: number;
  slices: number;
  extrapolated: boolean;
  ours_predict_s: number;
  ours_network_s: number;
  /**
   * network part, minimum of three runs each, alternating: the model as trained (eval mode, batch
   * norm unfolded, default layout) and as loadModel prepares it for inference
   */
  plain_network_s: number;
  prepared_network_s: number;
  /** CPU seconds (all threads) of the same runs, minimum: less sensitive to other load than wall time */
  plain_network_cpu_s: number;
  prepared_network_cpu_s: number;
  pytorch_network_s: number;
  /** per OAI scan (160 slices) */
  ours_predict_per_scan_s: number;
  ours_network_per_scan_s: number;
  prepared_network_per_scan_s: number;
  pytorch_network_per_scan_s: number;
}

function main(): void {
  setNumThreads(THREADS);
  const size = arg('size', '288x240').split('x').map(Number) as [number, number];
  // 'auto': predict's own default for the slice size (defaultBatch), for both networks and PyTorch
  const batchOf = (name: string) => {
    const v = arg(name, 'auto');
    return v === 'auto' ? defaultBatch(size) : Number(v);
  };
  const batch = batchOf('batch');
  const medtBatch = batchOf('medt-batch');
  const backbones = arg('backbones', 'unet,medt').split(',') as ('unet' | 'medt')[];
  const noReference = process.argv.includes('--no-reference');
  const dir = mkdtempSync(join(tmpdir(), 'kneeseg-bench-predict-'));
  const rows: Row[] = [];
  for (const backbone of backbones) {
    const slices = Number(
      backbone === 'medt'
        ? arg('medt-slices', arg('slices', String(OAI_SLICES)))
        : arg('slices', String(OAI_SLICES)),
    );
    const b = backbone === 'medt' ? medtBatch : batch;
    const file = writeModel(dir, backbone, size);
    const m = loadModel(file);
    const vol = scan(slices);
    // warm-up: one batch (allocator, oneDNN primitives)
    predictSlices(m, prepareCase('warm', scan(Math.min(b, slices)), undefined, m.preprocessing), {
      batch: b,
    });
    let t0 = performance.now();
    predictVolume(m, vol, 'bench', { batch: b });
    const oursPredict = (performance.now() - t0) / 1000;
    const p = prepareCase('bench', vol, undefined, m.preprocessing);
    t0 = performance.now();
    predictSlices(m, p, { batch: b });
    const oursNetwork = (performance.now() - t0) / 1000;
    // the predictor as loadModel prepares it (batch norm folded, the U-Net channels-last) against the
    // same weights as trained: eval mode, unfolded, default layout
    const plain = plainModel(file);
    const unprepared = { ...m, model: plain, channelsLast: false };
    predictSlices(unprepared, prepareCase('warm', scan(Math.min(b, slices)), undefined, m.preprocessing), {
      batch: b,
    });
    const times = { plain: Infinity, prepared: Infinity };
    const cpu = { plain: Infinity, prepared: Infinity };
    for (const which of ['plain', 'prepared', 'prepared', 'plain', 'plain', 'prepared'] as const) {
      const c0 = process.cpuUsage();
      t0 = performance.now();
      predictSlices(which === 'prepared' ? m : unprepared, p, { batch: b });
      times[which] = Math.min(times[which], (performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      cpu[which] = Math.min(cpu[which], (c.user + c.system) / 1e6);
    }
    plain.dispose();
    const parameters = m.model.parameterCount();
    m.model.dispose();
    const py = noReference
      ? null
      : spawnSync(
          '/usr/bin/python3',
          [REFERENCE, file, '--slices', String(slices), '--batch', String(b), '--threads', String(THREADS)],
          {
            encoding: 'utf8',
            env: {
              ...process.env,
              ...pytorchEnv(THREADS),
            },
          },
        );
    if (py && py.status !== 0) throw new Error(`PyTorch reference failed: ${py.stderr}`);
    const ref = py
      ? (JSON.parse(py.stdout.trim().split('\n').pop()!) as { seconds: number; params: number })
      : { seconds: NaN, params: parameters };
    const scale = OAI_SLICES / slices;
    rows.push({
      backbone,
      batch: b,
      parameters,
      slices,
      extrapolated: slices !== OAI_SLICES,
      ours_predict_s: oursPredict,
      ours_network_s: oursNetwork,
      plain_network_s: times.plain,
      prepared_network_s: times.prepared,
      plain_network_cpu_s: cpu.plain,
      prepared_network_cpu_s: cpu.prepared,
      pytorch_network_s: ref.seconds,
      ours_predict_per_scan_s: oursPredict * scale,
      ours_network_per_scan_s: oursNetwork * scale,
      prepared_network_per_scan_s: times.prepared * scale,
      pytorch_network_per_scan_s: ref.seconds * scale,
    });
    if (ref.params !== parameters)
      throw new Error(`parameter counts differ: ours ${parameters}, PyTorch ${ref.params}`);
  }
  const f = (x: number) => x.toFixed(1).padStart(8);
  console.log(
    `seconds per OAI scan (${OAI_SLICES} slices of ${OAI_SHAPE.join('x')}, cut to ${size.join('x')} model slices), ${THREADS} threads`,
  );
  console.log('backbone   params  batch  slices run   ours predict   ours network   PyTorch network   ratio');
  for (const r of rows)
    console.log(
      `${r.backbone.padEnd(8)} ${String(r.parameters).padStart(9)} ${String(r.batch).padStart(4)}   ${String(r.slices).padStart(5)}${r.extrapolated ? '*' : ' '}    ${f(r.ours_predict_per_scan_s)}       ${f(r.ours_network_per_scan_s)}       ${f(r.pytorch_network_per_scan_s)}       ${(r.ours_network_per_scan_s / r.pytorch_network_per_scan_s).toFixed(2)}`,
    );
  for (const r of rows)
    console.log(
      `${r.backbone}: network ${f(r.plain_network_s * (OAI_SLICES / r.slices))} s per scan as trained, ` +
        `${f(r.prepared_network_s * (OAI_SLICES / r.slices))} s as loaded for inference (min of 3 each, ` +
        `alternating), loaded / as trained ${(r.prepared_network_s / r.plain_network_s).toFixed(2)}, CPU time ` +
        `${(r.prepared_network_cpu_s / r.plain_network_cpu_s).toFixed(2)}`,
    );
  if (rows.some((r) => r.extrapolated))
    console.log(`* fewer slices run; per-scan seconds extrapolated x (${OAI_SLICES} / slices run)`);
  mkdirSync('runs/bench', { recursive: true });
  writeFileSync(
    'runs/bench/predict.json',
    `${JSON.stringify({ threads: THREADS, scan: [OAI_SLICES, ...OAI_SHAPE], modelSlice: size, rows }, null, 2)}\n`,
  );
}

main();
