/**
 * Remote workers as every side sees them (issue 17): what each worker says of itself
 * in its heartbeat (checked with this schema when the host reads it), and the host's
 * view — whether it sends runs to a queue at all, and where (the URL without its secret).
 */
import * as v from 'valibot';

const text = (max: number) => v.pipe(v.string(), v.maxLength(max));
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const time = v.pipe(v.number(), v.finite());

export const workerInfoSchema = v.strictObject({
  name: text(100),
  protocol: v.number(),
  app: text(40),
  host: text(200),
  pid: int(0),
  backend: v.nullable(text(40)),
  device: v.nullable(text(200)),
  concurrency: int(1, 1024),
  /** Runs it is training now: the host's run ids. */
  running: v.pipe(v.array(int(1)), v.maxLength(1024)),
  /** Milliseconds since the Unix epoch. */
  startedAt: time,
  seenAt: time,
});
export type WorkerInfo = v.InferOutput<typeof workerInfoSchema>;

export interface WorkerView extends WorkerInfo {
  /** Its heartbeat is older than WORKER_STALE_MS: gone, or cut off. */
  stale: boolean;
  /** Speaks another protocol than this host: it refuses this host's runs. */
  incompatible: boolean;
}

export interface WorkersView {
  /** Where runs are queued (redis://host:port, no secret), or null: runs train on this machine. */
  queue: string | null;
  workers: WorkerView[];
  /** Why the queue this lab remembers is not in use (unreachable at start …), or null. */
  problem: string | null;
  /** This lab can remember its queue for the next start (the app and `serve`, not a queue given by --redis). */
  canRemember: boolean;
  /** The queue in use is the one remembered for the next start. */
  remembered: boolean;
}

/** Where runs train from now on: a Redis URL (its password apart, or in it), or null for this machine. */
export const queueRequestSchema = v.strictObject({
  url: v.nullable(v.pipe(v.string(), v.maxLength(2000))),
  /** Put into the URL when given (so a form can keep it out of the URL field). */
  password: v.optional(v.pipe(v.string(), v.maxLength(500))),
  /** Remember it for the next start (default true where the lab can). */
  remember: v.optional(v.boolean()),
});
export type QueueRequest = v.InferOutput<typeof queueRequestSchema>;

/** A worker whose heartbeat is older than this is listed as gone. */
export const WORKER_STALE_MS = 15_000;
