/**
 * The New run form's fields: which are typed as text and how each is parsed (numbers
 * parsed leniently, so half-typed input is never lost; the engine's rules judge the
 * values), and what each is called. Pure.
 */

/** Fields typed as text (numbers are parsed, so half-typed input is never lost). */
export type TextField =
  | 'sizes' | 'seed' | 'batchSize' | 'epochs' | 'maxSteps' | 'lr' | 'trainLimit' | 'testLimit' | 'evalEvery' | 'evalSubset'
  | 'lora.r' | 'lora.alpha' | 'lora.loraPlusRatio';

/** Field ids as configIssues names them, plus the form's own. */
export type FieldId = TextField | 'name' | 'data' | 'classes' | 'lora.targets' | 'baseModel' | 'kind' | 'optimizer' | 'lora.init' | 'lora.scaling' | 'lora.variant' | 'lora.freezeA';

export type NumSpec = { int: boolean; nullable: boolean };
export const NUMBERS: Record<Exclude<TextField, 'sizes'>, NumSpec> = {
  seed: { int: true, nullable: false },
  batchSize: { int: true, nullable: false },
  epochs: { int: true, nullable: false },
  maxSteps: { int: true, nullable: true },
  lr: { int: false, nullable: false },
  trainLimit: { int: true, nullable: true },
  testLimit: { int: true, nullable: true },
  evalEvery: { int: true, nullable: false },
  evalSubset: { int: true, nullable: false },
  'lora.r': { int: true, nullable: false },
  'lora.alpha': { int: false, nullable: false },
  'lora.loraPlusRatio': { int: false, nullable: false },
};

/** The quick-run limits the Advanced section offers: seconds, not minutes, per run. */
export const QUICK_LIMITS = { trainLimit: '2000', testLimit: '1000', evalEvery: '20' } as const;

export function parseNumber(text: string, spec: NumSpec): { value: number | null; issue: string | null } {
  const t = text.trim().replace(/_/g, '');
  if (t === '') return spec.nullable ? { value: null, issue: null } : { value: null, issue: 'required' };
  const n = Number(t);
  if (!Number.isFinite(n)) return { value: null, issue: `“${text.trim()}” is not a number` };
  if (spec.int && !Number.isInteger(n)) return { value: null, issue: 'must be a whole number' };
  return { value: n, issue: null };
}

/** "784, 1000, 2000, 10" (or with → / spaces) → numbers; the engine's rules judge them. */
export function parseSizes(text: string): number[] | null {
  const parts = text.split(/[\s,→>x×]+/).filter(Boolean);
  if (parts.length === 0) return null;
  const nums = parts.map(Number);
  return nums.every((n) => Number.isFinite(n)) ? nums : null;
}

/** What each field is called on the form, for the side panel's list of fields that need attention. */
export const FIELD_LABELS: Record<FieldId | 'lora', string> = {
  sizes: 'Layer widths', seed: 'Seed', batchSize: 'Batch size', epochs: 'Epochs', maxSteps: 'Max steps', lr: 'Learning rate',
  trainLimit: 'Training images', testLimit: 'Test images', evalEvery: 'Evaluate every', evalSubset: 'Evaluation subset',
  'lora.r': 'Rank r', 'lora.alpha': 'Alpha α', 'lora.loraPlusRatio': 'LoRA+ ratio', name: 'Name', data: 'Data set', classes: 'Train on classes',
  'lora.targets': 'Target layers', baseModel: 'Base model', kind: 'Kind of run', optimizer: 'Optimizer', 'lora.init': 'Initialisation',
  'lora.scaling': 'Scaling', 'lora.variant': 'Variant', 'lora.freezeA': 'Freeze A (LoRA-FA)', lora: 'LoRA adapter',
};
