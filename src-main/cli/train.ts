/** `lora-lab train` and `lora-lab finetune`: one run, its evaluation, its summary. */
import { type RunConfig, type RunKind, defaultConfig, defaultLora } from '../contract/config.ts';
import type { Evaluation } from '../contract/protocol.ts';
import type { CliContext } from './context.ts';
import { type Flags, UsageError, commonFlags, configFromFlags, parse, runFlags } from './options.ts';
import { formatDuration } from './progress.ts';
import { pct, sig, table } from './table.ts';

export const trainFlags = { ...runFlags, ...commonFlags, 'finetune-from': { type: 'string' } } as const;

/**
 * A fine-tune's starting config: the base model's layer widths (and so its layers as
 * LoRA targets). An explicit --sizes must agree with them: the widths are the model's.
 */
function fromModel(model: { id: number; sizes: number[] }, flags: Flags): RunConfig {
  const asked = flags['sizes'];
  if (typeof asked === 'string' && asked !== 'all') {
    const widths = asked.split(',').map((s) => Number(s.trim()));
    if (widths.join() !== model.sizes.join()) {
      throw new UsageError(`--sizes ${asked} does not match model ${model.id}, which has layers ${model.sizes.join(',')}; leave --sizes out (a fine-tune uses its base model's widths)`);
    }
  }
  const cfg = defaultConfig('lora');
  cfg.sizes = [...model.sizes];
  cfg.lora = defaultLora(model.sizes);
  return cfg;
}

export async function trainCommand(kind: RunKind, argv: string[], ctx: CliContext): Promise<void> {
  const { values } = parse(argv, trainFlags);
  if (kind === 'base' && values['finetune-from'] !== undefined) throw new UsageError('--finetune-from only applies to lora-lab finetune');
  const base = kind === 'lora' ? ctx.model(String(values['finetune-from'] ?? 'latest')) : null;
  const config = configFromFlags(kind, values, base ? fromModel(base, values) : defaultConfig(kind));
  const name = typeof values['name'] === 'string' ? values['name'] : kind === 'base' ? `base seed ${config.seed}` : `LoRA r${config.lora!.r} digits ${config.digits?.join(',') ?? 'all'}`;
  const run = await ctx.train(config, { name, label: kind === 'base' ? 'training' : 'fine-tuning', ...(base ? { baseModel: base.id } : {}) });
  const ev = (e: Evaluation | undefined) => (e ? { accuracy: e.accuracy, loss: e.loss, wrongPerClass: e.wrongPerClass, countPerClass: e.countPerClass } : null);
  if (values['json']) {
    ctx.out(JSON.stringify({ runId: run.runId, kind, modelId: run.modelId, adapterId: run.adapterId, config, summary: run.summary, before: ev(run.evaluations.before), after: ev(run.evaluations.after) }));
    return;
  }
  const after = run.evaluations.after!;
  const before = run.evaluations.before;
  const head = before ? ['digit', 'test images', 'wrong before', 'wrong after'] : ['digit', 'test images', 'wrong'];
  const rows = after.wrongPerClass.map((w, d) => (before ? [d, after.countPerClass[d] as number, before.wrongPerClass[d] as number, w] : [d, after.countPerClass[d] as number, w]));
  ctx.out(
    [
      `run ${run.runId} (${kind}) completed${kind === 'base' ? ` → model ${run.modelId}` : ` → adapter ${run.adapterId} on model ${run.modelId}`}`,
      table(head, rows),
      '',
      before ? `accuracy ${pct(before.accuracy)} → ${pct(after.accuracy)}` : `accuracy ${pct(after.accuracy)}`,
      `steps ${run.summary.steps}, final loss ${sig(run.summary.finalLoss)}, ${Math.round(run.summary.samplesPerSec)} samples/s, ${formatDuration(run.summary.wallSeconds)} on ${run.backend}`,
      `trainable parameters: ${run.summary.trainableParams.toLocaleString('en-US')} of ${run.summary.totalParams.toLocaleString('en-US')} (${run.summary.percentTrainable.toFixed(3)}%)`,
    ].join('\n'),
  );
}
