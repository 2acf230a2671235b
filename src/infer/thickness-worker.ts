/** A helper thread of src/infer/thickness.ts (started by thickness-threads.ts): runs phase chunks. */
import { parentPort } from 'node:worker_threads';
import { runGridChunk, type GridWork } from './thickness.ts';
import { claimChunks, type PhaseMessage } from './thickness-threads.ts';

parentPort!.on('message', (m: PhaseMessage<GridWork>) => {
  claimChunks(m, (chunk) => runGridChunk(m.work, chunk), true);
});
