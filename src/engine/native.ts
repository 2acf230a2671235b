/**
 * Loads the libtorch binding (native/). Everything else in the engine goes through this one object.
 *
 * OpenBLAS (libtorch's matmul) reads its thread count from the environment when the library loads, so
 * it is set here before the addon is opened; `setNumThreads` keeps both pools in step afterwards.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

/** An opaque libtorch tensor owned by JavaScript. */
export type Handle = { readonly __handle: unique symbol };
export type OptimizerHandle = { readonly __optimizer: unique symbol };

export interface OptimizerGroupSpec {
  params: Handle[];
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
}

export interface NativeParamState {
  step: number;
  tensors: Record<string, Handle>;
}

export type NativeArg =
  Handle | number | boolean | string | null | undefined | readonly (number | boolean | Handle | null)[];
export type NativeResult = Handle | number | boolean | null | NativeResult[];

export interface NativeBinding {
  fromData(bytes: ArrayBufferView, shape: readonly number[], dtype: number, device?: string): Handle;
  toData(h: Handle): ArrayBuffer;
  item(h: Handle): number | boolean;
  shape(h: Handle): number[];
  dtype(h: Handle): number;
  device(h: Handle): string;
  dispose(h: Handle): void;
  requiresGrad(h: Handle): boolean;
  setRequiresGrad(h: Handle, flag: boolean): void;
  isLeaf(h: Handle): boolean;
  grad(h: Handle): Handle | null;
  setGrad(h: Handle, g: Handle | null): void;
  backward(h: Handle, gradient: Handle | null, retainGraph: boolean): void;
  setGradEnabled(flag: boolean): boolean;
  isGradEnabled(): boolean;
  enterInferenceMode(): number;
  exitInferenceMode(): void;
  isInferenceModeEnabled(): boolean;
  isInference(h: Handle): boolean;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  manualSeed(seed: number): void;
  buildInfo(): { torchVersion: string; cuda: boolean; mkldnn: boolean; parallel: string };
  allocatorStats(): {
    cachedBytes: number;
    allocatedBytes: number;
    /** the most bytes live at once since the last resetPeakStats */
    peakAllocatedBytes: number;
    /** the most bytes held from the system at once (live + cached) since the last resetPeakStats */
    peakReservedBytes: number;
    limitBytes: number;
    hits: number;
    misses: number;
    liveHandles: number;
  };
  emptyCache(): void;
  /** whether new handles report their bytes to V8 (off inside scopes); returns the previous setting */
  setExternalReporting(on: boolean): boolean;
  reportExternal(h: Handle): void;
  resetPeakStats(): void;
  opLookup(name: string, overload: string): number;
  opSchema(id: number): string;
  opCall(id: number, ...args: NativeArg[]): NativeResult;
  opCallVoid(id: number, ...args: NativeArg[]): void;
  optimCreate(kind: string, groups: OptimizerGroupSpec[]): OptimizerHandle;
  optimStep(o: OptimizerHandle): void;
  optimZeroGrad(o: OptimizerHandle): void;
  optimLr(o: OptimizerHandle, group: number, lr?: number): number;
  optimGetState(o: OptimizerHandle): (NativeParamState | null)[];
  optimSetState(o: OptimizerHandle, states: (NativeParamState | null)[]): void;
}

const addonPath = fileURLToPath(new URL('../../native/build/Release/kneeseg_torch.node', import.meta.url));

function load(): NativeBinding {
  if (!existsSync(addonPath)) {
    throw new Error(
      `the libtorch binding is not built (${addonPath} is missing). Fix: run \`bash scripts/setup.sh\` ` +
        '(or `npm run build:native` once libtorch-dev is installed)',
    );
  }
  // libtorch starts with one intra-op thread here; use every core unless told otherwise.
  const threads = Number(process.env.KNEESEG_THREADS ?? availableParallelism());
  process.env.OPENBLAS_NUM_THREADS ??= String(threads);
  // Debian's OpenBLAS keeps a thread pool of its own beside libtorch's OpenMP threads; after each
  // product its threads spin (yielding) about 2^28 cycles before they sleep, taking turns on the cores
  // with the OpenMP threads of the ops in between. 2^4 cycles instead (OpenBLAS's minimum): MedT
  // inference 306-367 against 314-419 ms per slice in nine paired runs (seven faster), system time
  // 0.6 against 2.3-2.5 s over 30 slices; training steps within the noise, 0.3-0.5 s less CPU.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= '4';
  // How long an idle OpenMP thread spins before it sleeps. Spinning without end (OMP_WAIT_POLICY=ACTIVE)
  // cost 5x on a busy machine (a U-Net step 10 s instead of 2 s with other processes running), and
  // libgomp's default spins 300,000 rounds; sleeping at once (PASSIVE) makes every op wake its
  // threads again. A short spin (3,000 rounds, tens of microseconds) bridges the gap between two ops:
  // 2 threads, paired runs, MedT inference 349 against 390 ms per slice (median of five, four of five
  // faster), U-Net predict 6.3-6.6 against 7.0-7.3 s per scan; with another process on a core, no worse.
  // Unless told otherwise (OMP_WAIT_POLICY or GOMP_SPINCOUNT set).
  if (process.env.OMP_WAIT_POLICY === undefined) process.env.GOMP_SPINCOUNT ??= '3000';
  const require = createRequire(import.meta.url);
  const binding = require(addonPath) as NativeBinding;
  binding.setNumThreads(threads);
  return binding;
}

export const native: NativeBinding = load();
