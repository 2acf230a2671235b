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
export function emptyCache(): void {
  native.emptyCache();
}
