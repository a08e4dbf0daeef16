/**
 * Groups of runs and their statistics (skeleton: the groups work fills it in).
 */
import type { DatasetRef } from '../contract/api.ts';
import type { GroupComparison, GroupComparisonRequest, GroupRequest, GroupTable } from '../contract/groups.ts';
import type { Store } from '../store/store.ts';

export function groupRuns(store: Store, req: GroupRequest, datasetRef: (id: number) => DatasetRef | null): GroupTable {
  void store;
  void req;
  void datasetRef;
  throw new Error('not implemented yet');
}

export function compareGroups(store: Store, req: GroupComparisonRequest, datasetRef: (id: number) => DatasetRef | null): GroupComparison {
  void store;
  void req;
  void datasetRef;
  throw new Error('not implemented yet');
}
