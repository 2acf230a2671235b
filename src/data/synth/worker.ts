/**
 * Worker-thread entry of the cohort writer: runs the jobs it is sent, one at a time. A failure is sent
 * back as plain fields (an error's class does not cross threads), so the cohort writer can name the
 * file that failed and the cause (cohort.ts).
 */
import { parentPort } from 'node:worker_threads';
import { OutputError } from '../../errors.ts';
import { runSynthJob, type SynthFailure, type SynthJob } from './job.ts';

function failure(err: unknown): SynthFailure {
  if (err instanceof OutputError)
    return { message: err.message, output: err.file, problem: err.problem, fix: err.fix };
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return { message: err instanceof Error ? err.message : String(err), ...(code ? { code } : {}) };
}

parentPort!.on('message', (job: SynthJob) => {
  runSynthJob(job).then(
    (result) => parentPort!.postMessage({ ok: true, result }),
    (err: unknown) => parentPort!.postMessage({ ok: false, error: failure(err) }),
  );
});
