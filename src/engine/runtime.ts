/** Process-wide engine settings: threads, seeds, build information, allocator statistics. */
import { native } from './native.ts';

export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** Seeds libtorch's default generator (randn, dropout, init). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
export function buildInfo(): { torchVersion: string; cuda: boolean; mkldnn: boolean; parallel: string } {
  return native.buildInfo();
}
export function memoryStats(): ReturnType<typeof native.allocatorStats> {
  return native.allocatorStats();
}
/** Starts new peaks: peakAllocatedBytes and peakReservedBytes become the bytes live and held now. */
export function resetPeakMemoryStats(): void {
  native.resetPeakStats();
}
export function emptyCache(): void {
  native.emptyCache();
}

/**
 * The bytes a failed allocation asked for when `err` is libtorch running out of memory (the caching
 * allocator's "out of memory allocating N bytes", CUDA's "out of memory", std::bad_alloc); NaN when
 * the size is not known; undefined when `err` is something else.
 */
export function outOfMemoryBytes(err: unknown): number | undefined {
  const text = err instanceof Error ? err.message : '';
  const m = /out of memory allocating (\d+) bytes/.exec(text);
  if (m) return Number(m[1]);
  if (/out of memory|bad_alloc|can't allocate memory/i.test(text)) return NaN;
  return undefined;
}
