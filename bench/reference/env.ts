/**
 * How every bench starts the PyTorch reference (Debian's python3-torch): glibc's allocator tuned as
 * FACTS.md measured best for PyTorch on these machines, and OpenBLAS / OpenMP at the same thread count
 * as our side.
 */
export const GLIBC_TUNABLES =
  'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736:glibc.malloc.top_pad=268435456';

/** The variables the reference process gets on top of the environment. */
export function pytorchEnv(threads: number): Record<string, string> {
  return { GLIBC_TUNABLES, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
}
