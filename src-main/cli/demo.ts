/**
 * `lora-lab demo`: the classic experiment end to end — train the base MLP one epoch,
 * evaluate, fine-tune rank-1 LoRA on digit 7 for 100 batches, evaluate again, and
 * print wrong counts per digit before and after.
 */
import type { RunConfig } from '../contract/config.ts';
import { classicPreset } from '../contract/config.ts';
import type { Evaluation } from '../contract/protocol.ts';
import { type Flags, UsageError, commonFlags, configFromFlags, parse, runFlags } from './options.ts';
import { formatDuration } from './progress.ts';
import { pct, table } from './table.ts';
import type { CliContext } from './context.ts';

export const demoFlags = { ...runFlags, ...commonFlags, 'base-steps': { type: 'string' }, 'base-epochs': { type: 'string' } } as const;

/** The demo's two configs: flags that name LoRA things go to the fine-tune only. */
export function demoConfigs(flags: Flags): { base: RunConfig; lora: RunConfig } {
  const seed = flags['seed'] === undefined ? 0 : Number(flags['seed']);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got "${flags['seed']}"`);
  const shared: Flags = {};
  for (const k of ['seed', 'batch-size', 'lr', 'optimizer', 'sizes', 'train-limit', 'test-limit']) if (flags[k] !== undefined) shared[k] = flags[k];
  const baseFlags: Flags = { ...shared, 'eval-every': flags['eval-every'] ?? '0' };
  if (flags['base-steps'] !== undefined) baseFlags['steps'] = flags['base-steps'];
  if (flags['base-epochs'] !== undefined) baseFlags['epochs'] = flags['base-epochs'];
  const base = configFromFlags('base', baseFlags, classicPreset('base', seed));
  const loraFlags: Flags = { ...flags };
  for (const k of ['base-steps', 'base-epochs', 'json', 'db', 'quiet', 'help', 'backend', 'name']) delete loraFlags[k];
  loraFlags['eval-every'] ??= '0';
  const lora = configFromFlags('lora', loraFlags, classicPreset('lora', seed));
  return { base, lora };
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
  digits: number[];
  runs: { base: number | string; lora: number | string };
  models: { base: number | string };
}

export function demoJson(r: DemoResult): object {
  const ev = (e: Evaluation) => ({ accuracy: e.accuracy, loss: e.loss, wrongPerClass: e.wrongPerClass, countPerClass: e.countPerClass });
  return {
    seed: r.seed,
    base: ev(r.base),
    finetuned: ev(r.finetuned),
    focusDigits: r.digits,
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
  const rows = r.base.wrongPerClass.map((w, d) => {
    const after = r.finetuned.wrongPerClass[d] as number;
    const change = after - w;
    const mark = r.digits.includes(d) ? '  ◀ fine-tuned' : '';
    return [String(d), r.base.countPerClass[d] as number, w, after, `${change > 0 ? '+' : ''}${change}${mark}`];
  });
  rows.push(['all', r.base.total, r.base.total - r.base.correct, r.finetuned.total - r.finetuned.correct, `${r.finetuned.correct - r.base.correct > 0 ? '-' : '+'}${Math.abs(r.finetuned.correct - r.base.correct)}`]);
  const lines = [
    table(['digit', 'test images', 'wrong (base)', 'wrong (LoRA)', 'change'], rows, ['l', 'r', 'r', 'r', 'l']),
    '',
    `accuracy: base ${pct(r.base.accuracy)} → fine-tuned ${pct(r.finetuned.accuracy)}`,
    `trainable parameters: ${r.trainableParams.toLocaleString('en-US')} of ${r.totalParams.toLocaleString('en-US')} (${r.percentTrainable.toFixed(3)}%)`,
    `backend: ${r.backend} (${r.device}); wall time ${formatDuration(r.wallSeconds)}`,
  ];
  return lines.join('\n');
}

export async function demo(argv: string[], ctx: CliContext): Promise<void> {
  const { values } = parse(argv, demoFlags);
  const { base, lora } = demoConfigs(values);
  const started = performance.now();
  const baseRun = await ctx.train(base, { name: `demo base (seed ${base.seed})`, label: 'base training' });
  const loraRun = await ctx.train(lora, {
    name: `demo LoRA r${lora.lora!.r} digit ${lora.digits?.join(',')} (seed ${lora.seed})`,
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
    digits: lora.digits ?? [],
    runs: { base: baseRun.runId, lora: loraRun.runId },
    models: { base: baseRun.modelId },
  };
  ctx.out(values['json'] ? JSON.stringify(demoJson(result)) : demoTable(result));
}
