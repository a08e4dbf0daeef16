import type { LabEvent } from '../../src-main/contract/api.ts';

/** Whether an event changes the stored models or adapters (their lists reload). */
export function changesWeights(e: LabEvent): boolean {
  return (
    e.type === 'model' ||
    e.type === 'model-deleted' ||
    e.type === 'adapter' ||
    e.type === 'adapter-deleted' ||
    e.type === 'run-deleted' ||
    (e.type === 'run' && e.run.status === 'completed')
  );
}

/** Whether an event changes the data sets or what uses them ("used by": runs and models reference them). */
export function changesDatasets(e: LabEvent): boolean {
  return (
    e.type === 'dataset' ||
    e.type === 'dataset-deleted' ||
    e.type === 'run-deleted' ||
    e.type === 'model' ||
    e.type === 'model-deleted' ||
    (e.type === 'run' && e.run.status === 'queued')
  );
}
