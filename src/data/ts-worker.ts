/**
 * Starts a worker thread on a TypeScript module. Node 20 does not apply `--import tsx` given in a
 * Worker's execArgv to the worker's entry file ("Unknown file extension .ts"), so the worker starts
 * from a two-line bootstrap that registers tsx's loader and then imports the module.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startTsWorker(module: URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(code, { ...options, eval: true });
}
