/**
 * One export, as the export dialog runs it: the formats that fit what is exported, a
 * file name checked as the server checks it, progress from `task` events, the files
 * written with their SHA-256, and the "replace it?" round when the name is taken (409).
 */
import { type ExportFormat, type ExportResult, type ExportTarget, SAFE_FILE_NAME } from '../../src-main/contract/api.ts';
import type { RunKind } from '../../src-main/contract/config.ts';
import { ApiError, errorText, lab } from './api.ts';

/** What is being exported, with the name the dialog shows and file names start from. */
export type ExportSubject =
  | { kind: 'model' | 'adapter'; id: number; name: string }
  | { kind: 'run'; id: number; name: string; runKind: RunKind }
  | { kind: 'comparison'; ids: number[]; name: string };

export interface ExportChoice {
  /** Unique within a subject: the format, and "+merged" for an adapter merged into its base. */
  key: string;
  format: ExportFormat;
  merged: boolean;
  label: string;
  hint: string;
  /** Written as a folder (PEFT, TF.js) rather than one file. */
  folder: boolean;
}

const choice = (format: ExportFormat, merged: boolean, label: string, hint: string): ExportChoice => ({
  key: merged ? `${format}+merged` : format,
  format,
  merged,
  label,
  hint,
  folder: format === 'peft' || format === 'tfjs',
});

const MODEL = [
  choice('safetensors', false, 'safetensors (PyTorch)', 'one file: linear1.weight [out, in], linear1.bias …; loads with load_state_dict'),
  choice('tfjs', false, 'TF.js model', 'a folder with model.json and weights.bin; loads with tf.loadLayersModel'),
];
const ADAPTER = [
  choice('peft', false, 'PEFT adapter', 'a folder with adapter_config.json and adapter_model.safetensors (Hugging Face PEFT)'),
  choice('safetensors', false, 'adapter weights (safetensors)', 'lora_A and lora_B only, PEFT key names, no config'),
  choice('safetensors', true, 'merged into its base: safetensors', 'full weights W0 + scaling·B·A, PyTorch layout'),
  choice('tfjs', true, 'merged into its base: TF.js model', 'full weights as a TF.js layers model'),
];
const METRICS = [
  choice('csv', false, 'metrics and parameters: CSV', 'one table; opens in any spreadsheet'),
  choice('json', false, 'metrics and parameters: JSON', 'configs, summaries, evaluations and every metric point'),
];

/** Only the formats that fit the target (the server refuses the others). */
export function exportChoices(s: ExportSubject): ExportChoice[] {
  switch (s.kind) {
    case 'model':
      return MODEL;
    case 'adapter':
      return ADAPTER;
    case 'comparison':
      return METRICS;
    case 'run':
      // A LoRA run stored an adapter; a base run and a full fine-tune stored a model.
      return [...(s.runKind === 'lora' ? ADAPTER : MODEL), ...METRICS];
  }
}

export function exportTarget(s: ExportSubject): ExportTarget {
  return s.kind === 'comparison' ? { kind: 'comparison', ids: s.ids } : { kind: s.kind, id: s.id };
}

/** What is wrong with a file name, in a few words, by the rule the Lab checks (SAFE_FILE_NAME); null when nothing. */
export function fileNameIssue(name: string): string | null {
  if (name === '') return 'a file name is needed';
  if (name.length > 128) return 'at most 128 characters';
  if (name.startsWith('.')) return 'a name may not start with a dot';
  if (!SAFE_FILE_NAME.test(name)) {
    const bad = [...new Set([...name].filter((c) => !/[A-Za-z0-9._ ()+-]/.test(c)))];
    if (bad.length) return `“${bad.join('')}” not allowed: letters, digits, spaces and . _ - ( ) + only, no folders`;
    return 'start with a letter, a digit or _';
  }
  return null;
}

/** A file name from a display name: disallowed characters become "-", extension per format. */
export function suggestedFileName(name: string, c: ExportChoice): string {
  const suffix =
    c.format === 'safetensors' ? `${c.merged ? '-merged' : ''}.safetensors` : c.format === 'peft' ? '-peft' : c.format === 'tfjs' ? `${c.merged ? '-merged' : ''}-tfjs` : `.${c.format}`;
  let stem = name
    .replace(/α/g, 'alpha')
    .replace(/×/g, 'x')
    .replace(/,\s*/g, ' ')
    .replace(/[^A-Za-z0-9._ ()+-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^A-Za-z0-9_]+/, '')
    .replace(/[\s.-]+$/, '');
  stem = stem.slice(0, 128 - suffix.length) || 'export';
  return stem + suffix;
}

export type ExportPhase = 'idle' | 'writing' | 'confirm' | 'done';

export class ExportJob {
  #folder = $state<string | null>(null);
  #phase = $state<ExportPhase>('idle');
  #progress = $state.raw<{ done: number; total: number; what: string } | null>(null);
  #result = $state.raw<ExportResult | null>(null);
  #error = $state<string | null>(null);
  #conflict = $state<string | null>(null);

  get folder(): string | null { return this.#folder; }
  get phase(): ExportPhase { return this.#phase; }
  get progress(): { done: number; total: number; what: string } | null { return this.#progress; }
  get result(): ExportResult | null { return this.#result; }
  get error(): string | null { return this.#error; }
  /** The name that already exists, while asking whether to replace it. */
  get conflict(): string | null { return this.#conflict; }

  /** Follows export progress and reads where exports go; returns the unsubscribe. */
  start(): () => void {
    const off = lab.subscribe((e) => {
      // Tasks carry no id; while this dialog writes, the export in flight is ours.
      if (e.type === 'task' && this.#phase === 'writing' && e.task.startsWith('export ')) {
        this.#progress = { done: e.done, total: e.total, what: e.task.slice('export '.length) };
      }
    });
    void lab.listFolder().then(
      (f) => (this.#folder = f.folder),
      () => undefined,
    );
    return off;
  }

  /** Export; a taken name is not an error but a question (`conflict`): run again with `overwrite` to replace it. */
  async run(subject: ExportSubject, c: ExportChoice, fileName: string, overwrite = false): Promise<ExportResult | null> {
    if (this.#phase === 'writing') return null;
    this.#phase = 'writing';
    this.#progress = null;
    this.#error = null;
    this.#conflict = null;
    this.#result = null;
    try {
      const result = await lab.exportWeights({
        target: exportTarget(subject),
        format: c.format,
        ...(c.merged ? { merged: true } : {}),
        fileName,
        ...(overwrite ? { overwrite: true } : {}),
      });
      this.#result = result;
      this.#phase = 'done';
      return result;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && !overwrite) {
        this.#conflict = fileName;
        this.#phase = 'confirm';
      } else {
        this.#error = errorText(err);
        this.#phase = 'idle';
      }
      return null;
    }
  }

  /** "No, keep it": back to the form to pick another name. */
  keep(): void {
    this.#conflict = null;
    this.#phase = 'idle';
  }

  /** The form changed: forget the last outcome. */
  reset(): void {
    if (this.#phase === 'writing') return;
    this.#phase = 'idle';
    this.#result = null;
    this.#error = null;
    this.#conflict = null;
  }
}
