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
