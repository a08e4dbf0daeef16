/**
 * The weights worker thread: it answers jobs posted to it, one at a time, each with
 * its tensors transferred (not copied) both ways, until the pool in worker-client.ts
 * ends it. Built as dist/weights-worker.js; from source, loaded through tsx.
 */
import { parentPort } from 'node:worker_threads';
import { type WeightsJob, buffersOf, describeFailure, runJob } from './jobs.ts';

parentPort?.on('message', ({ id, job }: { id: number; job: WeightsJob }) => {
  try {
    const result = runJob(job);
    parentPort?.postMessage({ id, ok: true, result }, buffersOf(result));
  } catch (err) {
    parentPort?.postMessage({ id, ok: false, error: describeFailure(err) });
  }
});
