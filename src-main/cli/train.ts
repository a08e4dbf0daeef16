/** `lora-lab train` and `lora-lab finetune`: one run on a data set, its evaluation, its summary. */
import type { LabApi, ModelView } from '../contract/api.ts';
import { type RunConfig, type RunKind, defaultConfig, defaultLora, isFineTune } from '../contract/config.ts';
import { type DatasetView, MNIST_DATASET_ID } from '../contract/dataset.ts';
import type { Evaluation } from '../contract/protocol.ts';
import type { CliContext } from './context.ts';
import { classHeading, classLabels, datasetByRef } from './data-ref.ts';
import { type Flags, UsageError, commonFlags, configFromFlags, onDataset, parse, runFlags } from './options.ts';
import { formatDuration } from './progress.ts';
import { terminalSafe } from './sanitize.ts';
import { variantLabel } from '../contract/variant-label.ts';
import { findModel } from './session.ts';
import { pct, sig, table } from './table.ts';

export const trainFlags = { ...runFlags, ...commonFlags, 'finetune-from': { type: 'string' }, full: { type: 'boolean' } } as const;

const arrow = (sizes: readonly number[]) => sizes.join('→');

/**
 * A fine-tune's starting config: the base model's layer widths (and so its layers as
 * LoRA targets). An explicit --sizes or --hidden must agree with them: the widths are the model's.
 */
export function fromModel(model: Pick<ModelView, 'id' | 'sizes'>, flags: Flags, data: DatasetView): RunConfig {
  const check = (flag: string, widths: number[]) => {
    if (widths.join() !== model.sizes.join()) {
      throw new UsageError(`--${flag} ${String(flags[flag])} does not match model ${model.id}, which has layers ${model.sizes.join(',')}; leave --${flag} out (a fine-tune uses its base model's widths)`);
    }
  };
  const sizes = flags['sizes'];
  if (typeof sizes === 'string' && sizes !== 'all') check('sizes', sizes.split(',').map((s) => Number(s.trim())));
  const hidden = flags['hidden'];
  if (typeof hidden === 'string') check('hidden', [model.sizes[0]!, ...(hidden.trim() === 'none' ? [] : hidden.split(',').map((s) => Number(s.trim()))), model.sizes.at(-1)!]);
  const cfg = onDataset(defaultConfig('lora'), data);
  cfg.sizes = [...model.sizes];
  cfg.lora = defaultLora(model.sizes);
  return cfg;
}

const fits = (m: Pick<ModelView, 'sizes'>, d: DatasetView) => m.sizes[0] === d.inputSize && m.sizes.at(-1) === d.classes.length;

/**
 * The base model and data set of a fine-tune. --finetune-from names the model (default:
 * the newest); --data the data set (default: the one the model was trained on). With
 * --data but no --finetune-from, the newest model trained on that data set (else the
 * newest that fits its widths).
 */
export async function fineTuneBase(lab: LabApi, flags: Flags, quiet: boolean): Promise<{ base: ModelView; data: DatasetView }> {
  const from = flags['finetune-from'];
  const dataRef = flags['data'];
  let base: ModelView;
  let data: DatasetView;
  if (typeof dataRef === 'string' && from === undefined) {
    data = await datasetByRef(lab, dataRef, quiet);
    const models = await lab.listModels(); // newest first
    const found = models.find((m) => m.datasetId === data.id) ?? models.find((m) => fits(m, data));
    if (!found) throw new UsageError(`no stored model fits ${data.name} yet (${data.inputSize} values per sample, ${data.classes.length} classes): train one first, e.g. lora-lab train --data ${data.name} --hidden 64`);
    base = found;
  } else {
    base = await findModel(lab, String(from ?? 'latest'));
    data = typeof dataRef === 'string' ? await datasetByRef(lab, dataRef, quiet) : await lab.getDataset(base.datasetId ?? MNIST_DATASET_ID);
  }
  if (!fits(base, data)) {
    throw new UsageError(
      `model ${base.id} (${arrow(base.sizes)}${base.dataset ? `, trained on ${base.dataset.name}` : ''}) does not fit ${data.name}, which has ${data.inputSize} values per sample and ${data.classes.length} classes; fine-tune a model trained on ${data.name} (lora-lab train --data ${data.name} makes one)`,
    );
  }
  return { base, data };
}

const evJson = (e: Evaluation | undefined) => (e ? { accuracy: e.accuracy, loss: e.loss, wrongPerClass: e.wrongPerClass, countPerClass: e.countPerClass } : null);

export async function trainCommand(command: 'base' | 'lora', argv: string[], ctx: CliContext): Promise<void> {
  const { values } = parse(argv, trainFlags);
  if (command === 'base' && values['finetune-from'] !== undefined) throw new UsageError('--finetune-from only applies to lora-lab finetune');
  if (command === 'base' && values['full'] !== undefined) throw new UsageError('--full only applies to lora-lab finetune (a full fine-tune of a stored model)');
  // `finetune --full`: every weight trains, the baseline a LoRA run is set against.
  const kind: RunKind = command === 'lora' && values['full'] ? 'full' : command;
  const lab = ctx.lab();
  let config: RunConfig;
  let data: DatasetView;
  let base: ModelView | null = null;
  if (isFineTune(kind)) {
    ({ base, data } = await fineTuneBase(lab, values, ctx.quiet));
    const start = fromModel(base, values, data);
    if (kind === 'full') Object.assign(start, { kind: 'full', lora: null });
    config = configFromFlags(kind, values, start, data);
  } else {
    data = typeof values['data'] === 'string' ? await datasetByRef(lab, values['data'], ctx.quiet) : await lab.getDataset(MNIST_DATASET_ID);
    config = configFromFlags(kind, values, onDataset(defaultConfig(kind), data), data);
  }
  const shift = base?.dataset && base.dataset.id !== data.id ? { from: base.dataset.name, to: data.name } : null;
  if (shift) console.error(terminalSafe(`lora-lab: domain shift: base trained on ${shift.from}, fine-tuning on ${shift.to}`));
  const name = typeof values['name'] === 'string' ? values['name'] : undefined;
  const run = await ctx.train(config, { name, label: kind === 'base' ? 'training' : kind === 'full' ? 'full fine-tuning' : 'fine-tuning', ...(base ? { baseModel: base.id } : {}) });
  const focus = config.classes?.map((c) => data.classes[c] ?? String(c)) ?? null;
  if (values['json']) {
    ctx.out(
      JSON.stringify({
        runId: run.runId,
        kind,
        modelId: run.modelId,
        baseModelId: run.baseModelId,
        adapterId: run.adapterId,
        dataset: { id: data.id, name: data.name },
        classes: data.classes,
        focusClasses: focus,
        baseDataset: shift ? { id: base!.dataset!.id, name: shift.from } : null,
        config,
        summary: run.summary,
        before: evJson(run.evaluations.before),
        after: evJson(run.evaluations.after),
      }),
    );
    return;
  }
  const after = run.evaluations.after!;
  const before = run.evaluations.before;
  const samples = data.kind === 'image' ? 'test images' : 'test samples';
  const marked = isFineTune(kind) && config.classes !== null;
  const head = [classHeading(data), samples, ...(before ? ['wrong before', 'wrong after'] : ['wrong']), ...(marked ? [''] : [])];
  const labels = classLabels(data.classes, after.wrongPerClass.length);
  const rows = after.wrongPerClass.map((w, c) => [
    labels[c]!,
    after.countPerClass[c]!,
    ...(before ? [before.wrongPerClass[c]!, w] : [w]),
    ...(marked ? [config.classes!.includes(c) ? '◀ fine-tuned' : ''] : []),
  ]);
  ctx.out(
    [
      `run ${run.runId} (${kind}) on ${data.name} completed${
        kind === 'base' ? ` → model ${run.modelId}` : kind === 'full' ? ` → model ${run.modelId}, every weight of model ${run.baseModelId} fine-tuned` : ` → adapter ${run.adapterId} on model ${run.modelId} (${variantLabel(config.lora)})`
      }`,
      table(head, rows, head.map((_, i) => (i === 0 || (marked && i === head.length - 1) ? 'l' : 'r'))),
      '',
      before ? `accuracy ${pct(before.accuracy)} → ${pct(after.accuracy)}` : `accuracy ${pct(after.accuracy)}`,
      `steps ${run.summary.steps}, final loss ${sig(run.summary.finalLoss)}, ${Math.round(run.summary.samplesPerSec)} samples/s, ${formatDuration(run.summary.wallSeconds)} on ${run.backend}`,
      `trainable parameters: ${run.summary.trainableParams.toLocaleString('en-US')} of ${run.summary.totalParams.toLocaleString('en-US')} (${run.summary.percentTrainable.toFixed(3)}%)`,
    ].join('\n'),
  );
}
