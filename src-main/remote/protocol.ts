/**
 * What travels between a host (the app, `serve`, a CLI sweep) and remote workers
 * through Redis (issue 17), stated once with the schemas that check it. The host
 * writes the database; workers never open it. Everything a worker sends is validated
 * here before the host acts on it: a broken or hostile worker can fail its own run,
 * never another run, the host, or the stored tensors.
 *
 *   queue QUEUE (BullMQ)          host → worker   one job per run dispatch (RemoteJob)
 *   stream events(dispatch)       worker → host   ready, progress, metrics, evaluations (RemoteEvent)
 *   job return value              worker → host   the outcome (RemoteResult); weights as a blob
 *   blob(sha256)                  both ways       base weights, data sets, results (safetensors)
 *   cancel(dispatch)              host → worker   set when the run is cancelled
 *   hash WORKERS                  worker → host   each worker's heartbeat (WorkerInfo)
 */
import * as v from 'valibot';
import { LORA_INITS, LORA_SCALINGS, LORA_VARIANTS, runConfigSchema } from '../contract/config.ts';

/** Bumped whenever any shape here changes: a worker of another protocol is refused with both numbers. */
export const REMOTE_PROTOCOL = 2;
export const QUEUE = 'lora-lab-runs';
const PREFIX = 'lora-lab';
export const KEYS = {
  blob: (hash: string) => `${PREFIX}:blob:${hash}`,
  events: (dispatch: string) => `${PREFIX}:events:${dispatch}`,
  cancel: (dispatch: string) => `${PREFIX}:cancel:${dispatch}`,
  workers: `${PREFIX}:workers`,
} as const;
/** Blobs and event streams expire after a day: a host that never came back leaves nothing behind for long. */
export const TTL_SECONDS = 24 * 3600;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const finite = v.pipe(v.number(), v.finite());
const hash = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));
const text = (max: number) => v.pipe(v.string(), v.maxLength(max));

export const remoteJobSchema = v.strictObject({
  protocol: v.number(),
  /** The host's database schema (its newest migration): results must fit it. */
  schema: v.number(),
  app: text(40),
  runId: int(1),
  /** This dispatch of the run: names its event stream and cancel key. */
  dispatch: v.pipe(v.string(), v.regex(/^[0-9a-zA-Z-]{8,80}$/)),
  config: runConfigSchema,
  /**
   * The data set: MNIST from the worker's own package, or a stored set as a blob (its
   * file, data/pack.ts) whose samples must have the content hash `dataset`.
   */
  data: v.variant('kind', [v.strictObject({ kind: v.literal('mnist') }), v.strictObject({ kind: v.literal('blob'), hash, dataset: hash })]),
  /** A fine-tune's base weights (safetensors blob) under the key trainers cache them by. */
  base: v.nullable(v.strictObject({ key: text(200), hash })),
});
export type RemoteJob = v.InferOutput<typeof remoteJobSchema>;

const progressSchema = v.strictObject({
  type: v.literal('progress'),
  phase: v.picklist(['loading', 'evaluating', 'training']),
  step: int(0),
  totalSteps: int(0),
  epoch: finite,
  loss: v.nullable(v.number()),
  samplesPerSec: finite,
  etaSeconds: finite,
});

const metricPoint = v.strictObject({ key: v.pipe(v.string(), v.regex(/^[a-z0-9_]+(\/[a-z0-9_]+)*$/), v.maxLength(100)), step: int(0), value: v.number(), time: finite });

const counts = v.pipe(v.array(int(0)), v.maxLength(1000));
export const evaluationSchema = v.strictObject({
  accuracy: v.pipe(finite, v.minValue(0), v.maxValue(1)),
  loss: v.number(),
  total: int(0),
  correct: int(0),
  wrongPerClass: counts,
  countPerClass: counts,
  confusion: v.pipe(v.array(counts), v.maxLength(1000)),
  /** Base64 of the predicted class per evaluated sample (one byte each). */
  predictions: v.pipe(v.string(), v.maxLength(2_000_000), v.regex(/^[A-Za-z0-9+/]*={0,2}$/)),
});

export type RemoteEvaluation = v.InferOutput<typeof evaluationSchema>;

export const remoteMessageSchema = v.variant('type', [
  v.strictObject({ type: v.literal('ready'), backend: text(40), device: text(200) }),
  progressSchema,
  v.strictObject({ type: v.literal('metrics'), points: v.pipe(v.array(metricPoint), v.maxLength(100_000)) }),
  v.strictObject({ type: v.literal('evaluation'), phase: v.picklist(['before', 'after']), step: int(0), result: evaluationSchema }),
]);
export type RemoteMessage = v.InferOutput<typeof remoteMessageSchema>;

/** One stream entry: which attempt (a worker's try at this dispatch) said what. */
export const remoteEventSchema = v.strictObject({ attempt: v.pipe(v.string(), v.regex(/^[0-9a-zA-Z_.:-]{1,200}$/)), worker: text(100), msg: remoteMessageSchema });
export type RemoteEvent = v.InferOutput<typeof remoteEventSchema>;

const summarySchema = v.strictObject({
  steps: int(0),
  epochs: finite,
  examples: int(0),
  stepsPerEpoch: finite,
  finalLoss: v.number(),
  wallSeconds: finite,
  samplesPerSec: finite,
  trainableParams: int(0),
  totalParams: int(0),
  baseParams: int(0),
  percentTrainable: finite,
  backend: text(40),
});

const adapterInfoSchema = v.strictObject({
  r: int(1, 4096),
  alpha: finite,
  scaling: finite,
  scalingRule: v.picklist(LORA_SCALINGS),
  targets: v.pipe(v.array(text(40)), v.maxLength(64)),
  init: v.picklist(LORA_INITS),
  variant: v.picklist(LORA_VARIANTS),
  freezeA: v.boolean(),
});

export const remoteResultSchema = v.strictObject({
  attempt: v.pipe(v.string(), v.regex(/^[0-9a-zA-Z_.:-]{1,200}$/)),
  worker: text(100),
  outcome: v.variant('status', [
    v.strictObject({
      status: v.literal('completed'),
      summary: summarySchema,
      backend: text(40),
      device: text(200),
      weights: v.strictObject({ kind: v.picklist(['model', 'adapter']), hash, adapter: v.optional(adapterInfoSchema) }),
    }),
    v.strictObject({ status: v.literal('cancelled'), step: v.number() }),
    v.strictObject({ status: v.literal('failed'), error: text(4000), code: v.picklist(['config', 'diverged', 'data', 'backend', 'internal', 'crash', 'hung']) }),
  ]),
});
export type RemoteResult = v.InferOutput<typeof remoteResultSchema>;

export { type WorkerInfo, workerInfoSchema } from '../contract/workers.ts';

/** The first problem of a value against a schema, in words (for logs and run errors). */
export function problemOf(schema: v.GenericSchema, value: unknown): string | null {
  const r = v.safeParse(schema, value);
  if (r.success) return null;
  const issue = r.issues[0];
  const path = issue?.path?.map((p) => String(p.key)).join('.') ?? '';
  return `${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}`;
}
