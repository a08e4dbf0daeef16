/** The statuses a run can be in, stated once (the store's transitions: store/run-status.ts). */
export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses a run ends in (finished_at is set). */
export const FINAL_STATUSES = ['completed', 'failed', 'cancelled', 'interrupted'] as const satisfies readonly RunStatus[];
export type FinalStatus = (typeof FINAL_STATUSES)[number];
