/**
 * A stored run as the job its trainer is sent, with what a warm trainer can skip: the
 * base weights it holds already (by key), and the `before` evaluation when another run
 * stored it for the same base, data set, test limit and backend. A LoRA run starts as
 * its base exactly (B = 0, so W + s·A·B = W bit for bit), and a full fine-tune is its
 * base at step 0: the same model on the same test images gives the same evaluation, and
 * a sweep computes it once.
 */
import { isFineTune } from '../contract/config.ts';
import type { DataSource, TrainJob } from '../contract/protocol.ts';
import type { Store } from '../store/store.ts';
import type { StoredRun } from '../store/runs.ts';
import type { TrainerHost } from '../trainer/host.ts';

/** A fine-tune's base model as trainers cache it: its id and creation time (an id alone could come back after a delete). */
export function baseKeyOf(store: Store, run: StoredRun): string | null {
  if (!isFineTune(run.kind) || run.baseModelId === null) return null;
  return `model:${run.baseModelId}:${store.models.get(run.baseModelId).createdAt}`;
}

/**
 * The job for `run` on `host`. For a LoRA run this waits for the trainer to be ready
 * (its backend decides whether a stored evaluation is the one it would compute) and may
 * store the run's copied `before` evaluation.
 */
export async function trainJobFor(store: Store, run: StoredRun, host: Pick<TrainerHost, 'baseKey' | 'whenReady' | 'backend'>, data: DataSource): Promise<TrainJob> {
  const job: TrainJob = { runId: String(run.id), config: run.config, data };
  if (!isFineTune(run.kind)) return job;
  if (run.baseModelId === null) throw new Error(`a ${run.kind} run needs a base model`);
  const key = baseKeyOf(store, run) as string;
  job.baseKey = key;
  if (host.baseKey !== key) job.baseWeights = store.tensors.get({ modelId: run.baseModelId });
  if ((await host.whenReady()) && host.backend) {
    const shared = store.evaluations.sharedBefore({
      baseModelId: run.baseModelId,
      datasetId: run.config.data,
      testLimit: run.config.testLimit,
      backend: host.backend,
      excludeRunId: run.id,
    });
    if (shared) {
      const { step: _, ...evaluation } = shared;
      store.evaluations.put(run.id, 'before', 0, evaluation);
      job.skipBefore = true;
    }
  }
  return job;
}
