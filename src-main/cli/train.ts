/** `lora-lab train` and `lora-lab finetune`: one run, its evaluation, its summary. */
import type { RunKind } from '../trainer/config.ts';
import type { Evaluation } from '../trainer/protocol.ts';
import type { CliContext } from './context.ts';
import { UsageError, commonFlags, configFromFlags, parse, runFlags } from './options.ts';
import { formatDuration } from './progress.ts';
import { pct, table } from './table.ts';

export const trainFlags = { ...runFlags, ...commonFlags, 'finetune-from': { type: 'string' } } as const;

export async function trainCommand(kind: RunKind, argv: string[], ctx: CliContext): Promise<void> {
  const { values } = parse(argv, trainFlags);
  if (kind === 'base' && values['finetune-from'] !== undefined) throw new UsageError('--finetune-from only applies to lora-lab finetune');
  const config = configFromFlags(kind, values);
  const from = kind === 'lora' ? (values['finetune-from'] ?? 'latest') : undefined;
  const name = typeof values['name'] === 'string' ? values['name'] : kind === 'base' ? `base seed ${config.seed}` : `LoRA r${config.lora!.r} digits ${config.digits?.join(',') ?? 'all'}`;
  const run = await ctx.train(config, { name, label: kind === 'base' ? 'training' : 'fine-tuning', ...(typeof from === 'string' ? { baseModel: from } : {}) });
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
      `steps ${run.summary.steps}, final loss ${run.summary.finalLoss.toFixed(4)}, ${Math.round(run.summary.samplesPerSec)} samples/s, ${formatDuration(run.summary.wallSeconds)} on ${run.backend}`,
      `trainable parameters: ${run.summary.trainableParams.toLocaleString('en-US')} of ${run.summary.totalParams.toLocaleString('en-US')} (${run.summary.percentTrainable.toFixed(3)}%)`,
    ].join('\n'),
  );
}
