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
  // OpenMP threads that spin while waiting cost 5x on a busy machine (measured: a U-Net step 10 s
  // instead of 2 s with other processes running); sleeping waiters lose little when it is idle.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  const require = createRequire(import.meta.url);
  const binding = require(addonPath) as NativeBinding;
  binding.setNumThreads(threads);
  return binding;
}

export const native: NativeBinding = load();
