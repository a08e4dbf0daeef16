/**
 * Payload schemas for every LabApi call, checked at each boundary (Electron IPC and
 * web-mode HTTP) before anything reaches the Lab service. Structure and sizes are
 * checked here; meaning (a rank that fits the layer …) by the config's own validation.
 */
import * as v from 'valibot';
import { EXPORT_FORMATS, FILE_NAME_RULE, LAB_CALLS, LEGACY_MERGE_METHODS, type LabCall, LabError, MAJORITY_SIGN_METHODS, MERGE_METHODS, SAFE_FILE_NAME } from './api.ts';
import { RUN_KINDS, runConfigSchema } from './config.ts';
import { BUILTIN_DATASETS, IMPORT_FORMATS, SPLITS } from './dataset.ts';
import { RUN_STATUSES } from './run-status.ts';
import { CONFIG_PATH, sweepSpecSchema } from './sweep.ts';
import { GROUP_FIGURE_KEYS } from './groups.ts';
import { analyzeRequestSchema } from './analysis.ts';
import { forgettingRequestSchema } from './forgetting.ts';
import { weightsRequestSchema } from './playground.ts';
import { queueRequestSchema } from './workers.ts';

const id = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER));
const finite = v.pipe(v.number(), v.finite());
const shortText = (max: number) => v.pipe(v.string(), v.maxLength(max));
const status = v.picklist(RUN_STATUSES);
const kind = v.picklist(RUN_KINDS);

export { runConfigSchema };

const filter = v.strictObject({
  status: v.optional(v.union([status, v.pipe(v.array(status), v.maxLength(6))])),
  kind: v.optional(kind),
  tag: v.optional(shortText(64)),
  text: v.optional(shortText(200)),
  params: v.optional(
    v.pipe(
      v.record(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/), v.maxLength(64)), v.union([shortText(200), finite, v.boolean()])),
      v.check((r) => Object.keys(r).length <= 20, 'at most 20 parameters'),
    ),
  ),
});

const newRun = v.strictObject({
  name: v.optional(shortText(200)),
  config: runConfigSchema,
  baseModelId: v.optional(v.nullable(id)),
  tags: v.optional(v.pipe(v.array(shortText(64)), v.maxLength(50))),
  notes: v.optional(shortText(100_000)),
});

const none = v.strictTuple([]);
const configPath = v.pipe(v.string(), v.maxLength(64), v.regex(CONFIG_PATH, 'a config path is dotted names like "lora.r"'));
const split = v.picklist(SPLITS);

const mergeRequestEntries = {
  baseModelId: id,
  adapters: v.pipe(v.array(v.strictObject({ adapterId: id, weight: v.pipe(finite, v.minValue(-100), v.maxValue(100)) })), v.minLength(1), v.maxLength(16)),
  // `dare` (+ dropRate): the old name of dare_linear_svd (+ density 1 − dropRate), still accepted.
  method: v.picklist([...MERGE_METHODS, ...LEGACY_MERGE_METHODS]),
  rank: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096))),
  density: v.optional(v.pipe(finite, v.minValue(0), v.maxValue(1))),
  majoritySign: v.optional(v.picklist(MAJORITY_SIGN_METHODS)),
  dropRate: v.optional(v.pipe(finite, v.minValue(0), v.maxValue(0.999))),
  seed: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff))),
  testLimit: v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10000)))),
};
// A name inside the export folder only: LabApi also takes an absolute path, but only from in-process callers.
const fileName = v.pipe(v.string(), v.regex(SAFE_FILE_NAME, FILE_NAME_RULE));
const exportTarget = v.union([
  v.strictObject({ kind: v.picklist(['model', 'adapter', 'run']), id }),
  v.strictObject({ kind: v.literal('comparison'), ids: v.pipe(v.array(id), v.minLength(1), v.maxLength(50)) }),
]);

export const callSchemas = {
  listRuns: v.strictTuple([v.optional(filter)]),
  getRun: v.strictTuple([id]),
  createRun: v.strictTuple([newRun]),
  cancelRun: v.strictTuple([id]),
  deleteRun: v.strictTuple([id]),
  renameRun: v.strictTuple([id, shortText(200)]),
  setTags: v.strictTuple([id, v.pipe(v.array(shortText(64)), v.maxLength(50))]),
  setNotes: v.strictTuple([id, shortText(100_000)]),
  compareRuns: v.strictTuple([v.pipe(v.array(id), v.minLength(1), v.maxLength(50))]),
  listModels: none,
  listAdapters: none,
  presets: none,
  listDatasets: none,
  getDataset: v.strictTuple([id]),
  importDataset: v.strictTuple([
    v.strictObject({
      path: fileName,
      name: v.optional(shortText(64)),
      format: v.optional(v.picklist(IMPORT_FORMATS)),
      testFraction: v.optional(v.pipe(finite, v.gtValue(0), v.ltValue(1))),
      seed: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff))),
      labelColumn: v.optional(shortText(200)),
    }),
  ]),
  addBuiltinDataset: v.strictTuple([v.picklist(BUILTIN_DATASETS)]),
  deleteDataset: v.strictTuple([id]),
  datasetSamples: v.strictTuple([id, split, v.pipe(v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31))), v.maxLength(500))]),
  datasetLabels: v.strictTuple([id, split]),
  previewMerge: v.strictTuple([v.strictObject(mergeRequestEntries)]),
  saveMerge: v.strictTuple([v.strictObject({ ...mergeRequestEntries, name: shortText(200), output: v.picklist(['model', 'adapter']) })]),
  listMergePreviews: none,
  keepMergePreview: v.strictTuple([v.strictObject(mergeRequestEntries)]),
  saveMergePreview: v.strictTuple([id, shortText(200), v.picklist(['model', 'adapter'])]),
  deleteMergePreview: v.strictTuple([id]),
  exportWeights: v.strictTuple([
    v.strictObject({ target: exportTarget, format: v.picklist(EXPORT_FORMATS), merged: v.optional(v.boolean()), fileName, overwrite: v.optional(v.boolean()) }),
  ]),
  importWeights: v.strictTuple([v.strictObject({ fileName, kind: v.picklist(['model', 'adapter']), baseModelId: v.optional(id), name: v.optional(shortText(200)) })]),
  listFolder: none,
  inspectAdapter: v.strictTuple([fileName]),
  evaluateModel: v.strictTuple([id, v.optional(v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10000))))]),
  deleteModel: v.strictTuple([id]),
  deleteAdapter: v.strictTuple([id]),
  analyzeAdapter: v.strictTuple([analyzeRequestSchema]),
  forgetting: v.strictTuple([forgettingRequestSchema]),
  listWorkers: none,
  setQueue: v.strictTuple([queueRequestSchema]),
  getWeights: v.strictTuple([weightsRequestSchema]),
  createSweep: v.strictTuple([sweepSpecSchema]),
  listSweeps: none,
  getSweep: v.strictTuple([id, v.optional(v.picklist(GROUP_FIGURE_KEYS))]),
  cancelSweep: v.strictTuple([id]),
  resumeSweep: v.strictTuple([id]),
  deleteSweep: v.strictTuple([id]),
  groupRuns: v.strictTuple([
    v.strictObject({
      runIds: v.optional(v.pipe(v.array(id), v.minLength(1), v.maxLength(10_000))),
      sweepId: v.optional(id),
      by: v.optional(v.pipe(v.array(configPath), v.maxLength(32))),
    }),
  ]),
  compareGroups: v.strictTuple([
    v.strictObject({
      groups: v.pipe(
        v.array(v.strictObject({ name: v.optional(shortText(200)), runIds: v.pipe(v.array(id), v.minLength(1), v.maxLength(1000)) })),
        v.minLength(1),
        v.maxLength(12),
      ),
    }),
  ]),
} satisfies Record<LabCall, v.GenericSchema>;

export function isLabCall(name: unknown): name is LabCall {
  return typeof name === 'string' && (LAB_CALLS as readonly string[]).includes(name);
}

/** The call's arguments, checked; a LabError (400) that says what is wrong otherwise. */
export function validateArgs(call: LabCall, args: unknown): unknown[] {
  const result = v.safeParse(callSchemas[call], args);
  if (result.success) return result.output as unknown[];
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
  throw new LabError(`${call}: invalid arguments${path ? ` at ${path}` : ''}: ${issue.message}`, 400);
}
