/**
 * Runs a call into a WebAssembly reader (itk-wasm, h5wasm) without letting it touch the process:
 * itk-wasm's emscripten runtime sets `process.exitCode = 1` when a pipeline fails and prints its
 * diagnostics with console.log/console.error. Library functions here never print, and a failed read
 * that we turn into an InputError must not make the whole process exit with status 1 later.
 * What the module printed is returned, so the caller can quote it in the error.
 */
export async function quietly<T>(
  fn: () => Promise<T>,
): Promise<{ value?: T; error?: unknown; printed: string }> {
  const savedExitCode = process.exitCode;
  const savedLog = console.log;
  const savedError = console.error;
  const lines: string[] = [];
  const capture = (...args: unknown[]): void => {
    lines.push(args.map(String).join(' '));
  };
  console.log = capture;
  console.error = capture;
  try {
    return { value: await fn(), printed: lines.join('\n') };
  } catch (error) {
    return { error, printed: lines.join('\n') };
  } finally {
    console.log = savedLog;
    console.error = savedError;
    process.exitCode = savedExitCode;
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
