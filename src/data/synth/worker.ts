/** Worker-thread entry of the cohort writer: runs the jobs it is sent, one at a time. */
import { parentPort } from 'node:worker_threads';
import { runSynthJob, type SynthJob } from './job.ts';

parentPort!.on('message', (job: SynthJob) => {
  runSynthJob(job).then(
    (result) => parentPort!.postMessage({ ok: true, result }),
    (err: unknown) =>
      parentPort!.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
