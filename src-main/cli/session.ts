/**
 * The CLI's CliContext: trains through trainer processes with a progress bar.
 * Trained base weights are kept for the session so the demo can fine-tune them.
 */
import { BACKEND_CHOICES } from '../trainer/backend-choices.ts';
import type { RunConfig } from '../trainer/config.ts';
import { runInTrainer } from '../trainer/host.ts';
import type { NamedTensors } from '../weights/named.ts';
import { type CliContext, RunFailedError, type TrainOptions, type TrainedRun } from './context.ts';
import { UsageError } from './options.ts';
import { ProgressBar, formatDuration } from './progress.ts';

function flagValue(argv: string[], name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i] as string;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}

export function makeContext(argv: string[]): CliContext {
  const backend = flagValue(argv, 'backend');
  if (backend !== undefined && !BACKEND_CHOICES.includes(backend as never)) {
    throw new UsageError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got "${backend}"`);
  }
  const quiet = argv.includes('-q') || argv.includes('--quiet');
  const env = backend ? { ...process.env, LORA_LAB_BACKEND: backend } : process.env;
  const models = new Map<string, NamedTensors>();
  let nextRun = 1;
  return {
    quiet,
    out: (text) => console.log(text),
    async train(config: RunConfig, opts: TrainOptions): Promise<TrainedRun> {
      const runId = nextRun++;
      let baseWeights: NamedTensors | undefined;
      if (config.kind === 'lora') {
        baseWeights = opts.baseModel === undefined ? undefined : models.get(String(opts.baseModel));
        if (!baseWeights) throw new UsageError(`no base model ${opts.baseModel ?? ''} to fine-tune`);
      }
      const bar = new ProgressBar(opts.label, !quiet);
      const outcome = await runInTrainer({ runId: String(runId), config, ...(baseWeights ? { baseWeights } : {}) }, (m) => {
        if (m.type === 'ready') bar.message(`starting on ${m.backend} (${m.device})`);
        else if (m.type === 'progress') bar.update(m.step, m.totalSteps, m);
      }, { env });
      if (outcome.status !== 'completed') {
        bar.done(outcome.status);
        throw new RunFailedError(`${opts.label} ${outcome.status === 'failed' ? `failed: ${outcome.error}` : 'was cancelled'}`);
      }
      bar.done(`done in ${formatDuration(outcome.summary.wallSeconds)}, ${Math.round(outcome.summary.samplesPerSec)} samples/s`);
      const modelId = config.kind === 'base' ? `m${runId}` : String(opts.baseModel);
      if (config.kind === 'base') models.set(modelId, outcome.weights.tensors);
      return {
        runId,
        modelId,
        adapterId: config.kind === 'lora' ? `a${runId}` : null,
        evaluations: outcome.evaluations,
        summary: outcome.summary,
        backend: outcome.backend,
        device: outcome.device,
      };
    },
  };
}
