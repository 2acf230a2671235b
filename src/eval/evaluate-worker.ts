/** Worker-thread entry of `evaluate`: evaluates the cases it is sent, one at a time. */
import { parentPort } from 'node:worker_threads';
import { InputError } from '../errors.ts';
import { evaluateCase, type CaseJob } from './evaluate-case.ts';
import type { WorkerReply } from './worker-pool.ts';
import type { CaseResult } from './evaluate-case.ts';

parentPort!.on('message', (job: CaseJob) => {
  evaluateCase(job).then(
    (result) => parentPort!.postMessage({ ok: true, result } satisfies WorkerReply<CaseResult>),
    (err: unknown) =>
      parentPort!.postMessage({
        ok: false,
        message: err instanceof Error ? err.message : String(err),
        ...(err instanceof InputError ? { file: err.file } : {}),
      } satisfies WorkerReply<CaseResult>),
  );
});
