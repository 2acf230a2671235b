/**
 * Runs a call into a WebAssembly reader (itk-wasm, h5wasm) without letting it touch the process:
 * itk-wasm's emscripten runtime sets `process.exitCode = 1` when a pipeline fails and prints its
 * diagnostics with console.log/console.error. Library functions here never print, and a failed read
 * that we turn into an InputError must not make the whole process exit with status 1 later.
 * What the module printed is returned, so the caller can quote it in the error.
 */
/**
 * Reads run concurrently (a prediction and its ground truth under Promise.all), so the console is
 * taken over once, by the first call in, and given back by the last one out; each call collects
 * what was printed while it ran. Saving and restoring per call would leave the console captured
 * whenever the calls finish in the order they started (every later line of the process lost).
 */
const active = new Set<string[]>();
let saved: {
  log: typeof console.log;
  error: typeof console.error;
  exitCode: typeof process.exitCode;
} | null = null;

function capture(...args: unknown[]): void {
  const line = args.map(String).join(' ');
  for (const lines of active) lines.push(line);
}

export async function quietly<T>(
  fn: () => Promise<T>,
): Promise<{ value?: T; error?: unknown; printed: string }> {
  const lines: string[] = [];
  if (active.size === 0) {
    saved = { log: console.log, error: console.error, exitCode: process.exitCode };
    console.log = capture;
    console.error = capture;
  }
  active.add(lines);
  try {
    return { value: await fn(), printed: lines.join('\n') };
  } catch (error) {
    return { error, printed: lines.join('\n') };
  } finally {
    active.delete(lines);
    if (active.size === 0 && saved) {
      console.log = saved.log;
      console.error = saved.error;
      process.exitCode = saved.exitCode;
      saved = null;
    }
  }
}

/** The useful part of what a WebAssembly reader printed, for an error message. */
export function diagnostics(printed: string, error: unknown): string {
  const text = printed
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) => l && !/^(Exception while running pipeline|stdout:|stderr:|Build module in Debug mode)/.test(l),
    )
    .join('; ');
  if (text) return text.slice(0, 300);
  return error instanceof Error ? error.message : '';
}
