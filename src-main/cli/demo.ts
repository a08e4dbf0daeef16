/**
 * `lora-lab demo`: the classic experiment end to end — train the base MLP one epoch,
 * evaluate, fine-tune rank-1 LoRA on digit 7 for 100 batches, evaluate again, and
 * print wrong counts per digit before and after. On another data set (--data) the
 * fine-tune takes --classes, else the class the base gets wrong most often.
 */
import type { RunConfig } from '../contract/config.ts';
import { classicPreset } from '../contract/config.ts';
import { type DatasetView, MNIST_DATASET_ID } from '../contract/dataset.ts';
import type { Evaluation } from '../contract/protocol.ts';
import { classHeading, classLabels, datasetByRef } from './data-ref.ts';
import { type Flags, UsageError, commonFlags, configFromFlags, onDataset, parse, runFlags } from './options.ts';
import { formatDuration } from './progress.ts';
import { pct, table } from './table.ts';
import type { CliContext } from './context.ts';

export const demoFlags = { ...runFlags, ...commonFlags, 'base-steps': { type: 'string' }, 'base-epochs': { type: 'string' } } as const;

/** The demo's two configs on `data`: flags that name LoRA things (and the classes) go to the fine-tune only. */
export function demoConfigs(flags: Flags, data: DatasetView): { base: RunConfig; lora: RunConfig } {
  const seed = flags['seed'] === undefined ? 0 : Number(flags['seed']);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got "${flags['seed']}"`);
  const shared: Flags = {};
  for (const k of ['seed', 'batch-size', 'lr', 'optimizer', 'sizes', 'hidden', 'train-limit', 'test-limit']) if (flags[k] !== undefined) shared[k] = flags[k];
  const baseFlags: Flags = { ...shared, 'eval-every': flags['eval-every'] ?? '0' };
  if (flags['base-steps'] !== undefined) baseFlags['steps'] = flags['base-steps'];
  if (flags['base-epochs'] !== undefined) baseFlags['epochs'] = flags['base-epochs'];
  const base = configFromFlags('base', baseFlags, onDataset(classicPreset('base', seed), data), data);
  const loraFlags: Flags = { ...flags };
  for (const k of ['base-steps', 'base-epochs', 'json', 'db', 'quiet', 'help', 'backend', 'name', 'data']) delete loraFlags[k];
  loraFlags['eval-every'] ??= '0';
  const lora = configFromFlags('lora', loraFlags, onDataset(classicPreset('lora', seed), data), data);
  return { base, lora };
}

/** The class with the largest share of wrong answers (the first of equals). */
export function worstClass(e: Pick<Evaluation, 'wrongPerClass' | 'countPerClass'>): number {
  let worst = 0;
  let rate = -1;
  e.wrongPerClass.forEach((w, c) => {
    const n = e.countPerClass[c] ?? 0;
    const r = n > 0 ? w / n : -1;
    if (r > rate) [worst, rate] = [c, r];
  });
  return worst;
}

export interface DemoResult {
  seed: number;
  base: Evaluation;
  finetuned: Evaluation;
  trainableParams: number;
  totalParams: number;
  percentTrainable: number;
  backend: string;
  device: string;
  wallSeconds: number;
  /** The fine-tuned classes, by index. */
  focus: number[];
  data: DatasetView;
  runs: { base: number | string; lora: number | string };
  models: { base: number | string };
}

export function demoJson(r: DemoResult): object {
  const ev = (e: Evaluation) => ({ accuracy: e.accuracy, loss: e.loss, wrongPerClass: e.wrongPerClass, countPerClass: e.countPerClass });
  return {
    seed: r.seed,
    dataset: { id: r.data.id, name: r.data.name },
    classes: r.data.classes,
    base: ev(r.base),
    finetuned: ev(r.finetuned),
    focusClasses: r.focus.map((c) => r.data.classes[c] ?? String(c)),
    ...(r.data.id === MNIST_DATASET_ID ? { focusDigits: r.focus } : {}),
    trainableParams: r.trainableParams,
    totalParams: r.totalParams,
    percentTrainable: r.percentTrainable,
    backend: r.backend,
    device: r.device,
    wallSeconds: r.wallSeconds,
    runs: r.runs,
    models: r.models,
  };
}

export function demoTable(r: DemoResult): string {
  const labels = classLabels(r.data.classes, r.base.wrongPerClass.length);
  const rows = r.base.wrongPerClass.map((w, c) => {
    const after = r.finetuned.wrongPerClass[c] as number;
    const change = after - w;
    const mark = r.focus.includes(c) ? '  ◀ fine-tuned' : '';
    return [labels[c]!, r.base.countPerClass[c] as number, w, after, `${change > 0 ? '+' : ''}${change}${mark}`];
  });
  rows.push(['all', r.base.total, r.base.total - r.base.correct, r.finetuned.total - r.finetuned.correct, `${r.finetuned.correct - r.base.correct > 0 ? '-' : '+'}${Math.abs(r.finetuned.correct - r.base.correct)}`]);
  const samples = r.data.kind === 'image' ? 'test images' : 'test samples';
  const lines = [
    ...(r.data.id === MNIST_DATASET_ID ? [] : [`data set ${r.data.name}`, '']),
    table([classHeading(r.data), samples, 'wrong (base)', 'wrong (LoRA)', 'change'], rows, ['l', 'r', 'r', 'r', 'l']),
    '',
    `accuracy: base ${pct(r.base.accuracy)} → fine-tuned ${pct(r.finetuned.accuracy)}`,
    `trainable parameters: ${r.trainableParams.toLocaleString('en-US')} of ${r.totalParams.toLocaleString('en-US')} (${r.percentTrainable.toFixed(3)}%)`,
    `backend: ${r.backend} (${r.device}); wall time ${formatDuration(r.wallSeconds)}`,
  ];
  return lines.join('\n');
}

export async function demo(argv: string[], ctx: CliContext): Promise<void> {
  const { values } = parse(argv, demoFlags);
  const lab = ctx.lab();
  const data = typeof values['data'] === 'string' ? await datasetByRef(lab, values['data'], ctx.quiet) : await lab.getDataset(MNIST_DATASET_ID);
  const { base, lora } = demoConfigs(values, data);
  const mnist = data.id === MNIST_DATASET_ID;
  const started = performance.now();
  const baseRun = await ctx.train(base, { name: `demo base${mnist ? '' : ` on ${data.name}`} (seed ${base.seed})`, label: 'base training' });
  // Elsewhere than MNIST, without --classes: the class the base gets wrong most often.
  if (lora.classes === null && values['classes'] === undefined && !mnist) lora.classes = [worstClass(baseRun.evaluations.after!)];
  const focus = lora.classes ?? [];
  const slice = mnist ? (focus.length ? `digit ${focus.join(',')}` : 'all digits') : `on ${focus.length ? focus.map((c) => data.classes[c]).join(',') : `all of ${data.name}`}`;
  const loraRun = await ctx.train(lora, {
    name: `demo LoRA r${lora.lora!.r} ${slice} (seed ${lora.seed})`,
    label: 'LoRA fine-tune',
    baseModel: baseRun.modelId,
  });
  const result: DemoResult = {
    seed: base.seed,
    base: baseRun.evaluations.after!,
    finetuned: loraRun.evaluations.after!,
    trainableParams: loraRun.summary.trainableParams,
    totalParams: loraRun.summary.totalParams,
    percentTrainable: loraRun.summary.percentTrainable,
    backend: loraRun.backend,
    device: loraRun.device,
    wallSeconds: (performance.now() - started) / 1000,
    focus,
    data,
    runs: { base: baseRun.runId, lora: loraRun.runId },
    models: { base: baseRun.modelId },
  };
  ctx.out(values['json'] ? JSON.stringify(demoJson(result)) : demoTable(result));
}
