/**
 * The CLI's CliContext over the Lab service: runs are stored in the database (`--db`,
 * `LORA_LAB_DB`, or the per-user default), trained through the run manager, and shown
 * with a progress bar. Ctrl-C cancels the current run cleanly; a second Ctrl-C quits.
 */
import { resolve } from 'node:path';
import { BACKEND_CHOICES } from '../contract/backend-choices.ts';
import type { RunConfig } from '../contract/config.ts';
import type { LabApi, ModelView } from '../contract/api.ts';
import { Lab } from '../lab/lab.ts';
import type { RemoteDispatcher } from '../remote/dispatcher.ts';
import { queueFileFor } from '../remote/settings.ts';
import { defaultDbPath, setAsideDamaged } from '../store/database.ts';
import { isUnusableDatabase } from '../store/errors.ts';
import { type CliContext, RunFailedError, type TrainOptions, type TrainedRun } from './context.ts';
import { UsageError } from './options.ts';
import { ProgressBar, formatDuration } from './progress.ts';
import { terminalSafe } from './sanitize.ts';

function flagValue(argv: string[], name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i] as string;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}

/** The CLI's way out of a damaged or foreign database file, said after the problem. */
export const RESET_HINT = 'run the command again with --reset-db to keep that file aside (renamed, not deleted) and start a fresh database';

/**
 * What CLI commands see of the Lab: LabApi, like every other transport (so its checks
 * and LabErrors apply), plus the two things only a local, in-process caller needs.
 * Never the store or the weights service behind it (test/cli/lab-api.test.ts).
 */
export type CliLab = LabApi & Pick<Lab, 'waitForRun' | 'waitForSweep' | 'databaseFile' | 'connectRememberedQueue'>;

export interface Session extends CliContext {
  lab(): CliLab;
  close(): Promise<void>;
}

/**
 * `remote`: the queue given by --redis. `rememberQueue`: the lab keeps the queue set on
 * its Workers page in the queue file beside its database (serve, like the app).
 */
export function makeSession(argv: string[], remote: RemoteDispatcher | null = null, rememberQueue = false): Session {
  const backend = flagValue(argv, 'backend');
  if (backend !== undefined && !BACKEND_CHOICES.includes(backend as never)) {
    throw new UsageError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got "${backend}"`);
  }
  const quiet = argv.includes('-q') || argv.includes('--quiet');
  const env = backend ? { ...process.env, LORA_LAB_BACKEND: backend } : process.env;
  const dbFlag = flagValue(argv, 'db');
  // An empty --db would resolve to the current folder (and --reset-db would move it aside).
  if (dbFlag !== undefined && dbFlag.trim() === '') throw new UsageError('--db needs the path of a database file, got an empty one');
  const dbPath = dbFlag ?? defaultDbPath();
  const concurrencyFlag = flagValue(argv, 'concurrency');
  const concurrency = concurrencyFlag === undefined ? 1 : Number(concurrencyFlag);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UsageError(`--concurrency must be an integer from 1 to 64, got "${concurrencyFlag}"`);
  const resetDb = argv.includes('--reset-db');
  const queueFile = rememberQueue ? queueFileFor(resolve(dbPath)) : null;
  let lab: Lab | null = null;
  const open = (): Lab => {
    if (lab) return lab;
    try {
      // With --reset-db the whole file is checked, so damage in the bulk tables is found now, while it can be set aside.
      lab = Lab.open(dbPath, { host: { env }, concurrency, remote, queueFile, ...(resetDb ? { fullCheck: true } : {}) });
    } catch (err) {
      if (!isUnusableDatabase(err)) throw err;
      if (!resetDb) throw new UsageError(`${err.message}; ${RESET_HINT}`);
      const aside = setAsideDamaged(dbPath);
      console.error(`lora-lab: the damaged database was kept as ${aside}; starting a fresh one at ${dbPath}`);
      lab = Lab.open(dbPath, { host: { env }, concurrency, remote, queueFile });
    }
    return lab;
  };

  return {
    quiet,
    lab: open,
    async model(ref) {
      const m = await findModel(open(), ref);
      return { id: m.id, sizes: [...m.sizes] };
    },
    // Everything a command prints passes here: stored names must not drive the terminal.
    out: (text) => console.log(terminalSafe(text)),
    async close() {
      await lab?.close();
    },
    async train(config: RunConfig, opts: TrainOptions): Promise<TrainedRun> {
      const l: CliLab = open();
      const baseModelId = opts.baseModel === undefined ? null : await resolveModel(l, opts.baseModel);
      const bar = new ProgressBar(opts.label, !quiet);
      const run = await l.createRun({ ...(opts.name !== undefined ? { name: opts.name } : {}), config, baseModelId });
      const off = l.subscribe((e) => {
        if (e.type === 'progress' && e.runId === run.id) bar.update(e.progress.step, e.progress.totalSteps, { ...e.progress, loss: e.progress.loss ?? NaN });
        else if (e.type === 'run' && e.run.id === run.id && e.run.status === 'running') bar.message(`run ${run.id} training on ${e.run.backend} (${e.run.device})`);
      });
      let interrupts = 0;
      const onSigint = () => {
        if (++interrupts > 1) process.exit(130);
        bar.message('cancelling (Ctrl-C again to quit at once)…');
        void l.cancelRun(run.id).catch(() => undefined);
      };
      process.on('SIGINT', onSigint);
      try {
        const done = await l.waitForRun(run.id);
        if (done.status !== 'completed') {
          bar.done(done.status);
          throw new RunFailedError(`run ${run.id} (${opts.label}) ${done.status === 'failed' ? `failed: ${done.error}` : done.status}`);
        }
        const summary = done.summary!;
        bar.done(`run ${run.id} done in ${formatDuration(summary.wallSeconds)}, ${Math.round(summary.samplesPerSec)} samples/s`);
        const detail = await l.getRun(run.id);
        return {
          runId: run.id,
          // A LoRA run's model is its base; a base or full run's is the model it made.
          modelId: config.kind === 'lora' ? (baseModelId as number) : (done.modelId as number),
          baseModelId,
          adapterId: done.adapterId,
          evaluations: detail.evaluations,
          summary,
          backend: done.backend ?? summary.backend,
          device: done.device ?? '',
        };
      } finally {
        off();
        process.off('SIGINT', onSigint);
      }
    },
  };
}

/** A model reference on the command line: its id (`3` or `m3`) or `latest` (the newest stored model). */
export async function findModel(lab: LabApi, ref: number | string): Promise<ModelView> {
  const s = String(ref).trim();
  const id = s === 'latest' ? null : Number(s.replace(/^m/, ''));
  if (id !== null && (!Number.isInteger(id) || id < 1)) throw new UsageError(`"${s}" is not a model id (use a number such as 3, or "latest")`);
  const models = await lab.listModels(); // newest first
  if (id === null) {
    const newest = models[0];
    if (!newest) throw new UsageError('there is no stored model yet: train one with lora-lab train (or lora-lab demo)');
    return newest;
  }
  const m = models.find((x) => x.id === id);
  if (!m) throw new UsageError(`model ${id} does not exist (lora-lab models lists them)`);
  return m;
}

export const resolveModel = async (lab: LabApi, ref: number | string): Promise<number> => (await findModel(lab, ref)).id;
