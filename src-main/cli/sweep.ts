/**
 * `lora-lab sweep create|list|show|cancel|resume|rm`: sweeps through LabApi. create
 * builds the SweepSpec from the command line (a starting point, the run flags as its
 * starting config, --grid and --random axes, seeds, budget, concurrency, pruning), and
 * the Lab checks it whole before anything is stored. This process then drives the
 * sweep: it waits with a progress bar and prints the group table; Ctrl-C cancels it
 * cleanly. With --detach it returns at once and the sweep pauses when it exits (a sweep
 * trains only while a process drives it): `sweep resume`, the app or `lora-lab serve`
 * go on with it.
 */
import type { RunConfig } from '../contract/config.ts';
import { defaultConfig } from '../contract/config.ts';
import { type DatasetView, MNIST_DATASET_ID } from '../contract/dataset.ts';
import type { SweepSpec, SweepStart, SweepView } from '../contract/sweep.ts';
import { RunFailedError } from './context.ts';
import { datasetByRef } from './data-ref.ts';
import { type Flags, UsageError, commonFlags, configFromFlags, onDataset, parse, runFlags } from './options.ts';
import { ProgressBar } from './progress.ts';
import { runId } from './runs.ts';
import type { CliLab, Session } from './session.ts';
import { intFlag, many, parseGrid, parsePrune, parseRandom } from './sweep-args.ts';
import { countsText, detailJson, doneCount, listText, showText, summaryText } from './sweep-show.ts';
import { plural } from './table.ts';
import { fineTuneBase, fromModel } from './train.ts';

const SUBCOMMANDS = ['create', 'list', 'show', 'cancel', 'resume', 'rm'] as const;

export const sweepCreateFlags = {
  ...runFlags,
  ...commonFlags,
  'finetune-from': { type: 'string' },
  kind: { type: 'string' },
  'from-run': { type: 'string' },
  grid: { type: 'string', multiple: true },
  random: { type: 'string', multiple: true },
  trials: { type: 'string' },
  seeds: { type: 'string' },
  budget: { type: 'string' },
  concurrency: { type: 'string' },
  prune: { type: 'string' },
  'sampling-seed': { type: 'string' },
  tag: { type: 'string', multiple: true },
  objective: { type: 'string' },
  detach: { type: 'boolean' },
} as const;

/** `3` or `s3` → 3. */
export function sweepId(ref: string | undefined): number {
  if (ref === undefined) throw new UsageError('which sweep? give its id (lora-lab sweep list lists them)');
  const id = Number(ref.replace(/^s/, ''));
  if (!Number.isInteger(id) || id < 1) throw new UsageError(`"${ref}" is not a sweep id`);
  return id;
}

/** Said wherever a sweep is left to pause: only a live process trains it. */
export const pausedNote = (id: number) =>
  `the sweep trains only while a process drives it, so it pauses when this one exits: resume it with lora-lab sweep resume ${id}, or open the app / lora-lab serve, which go on with it`;

/** Where the sweep starts and its starting config (the run flags over the start's defaults, checked against the data set). */
async function startOf(lab: CliLab, v: Flags, quiet: boolean): Promise<{ start: SweepStart; config: RunConfig }> {
  const kind = v['kind'];
  if (kind !== undefined && kind !== 'base' && kind !== 'lora') throw new UsageError(`--kind must be base or lora, got "${String(kind)}"`);
  const fromRun = v['from-run'];
  if (fromRun !== undefined) {
    if (kind !== undefined || v['finetune-from'] !== undefined) throw new UsageError('--from-run starts from a run: leave out --kind and --finetune-from');
    if (v['data'] !== undefined) throw new UsageError('--data does not apply with --from-run: the sweep runs on the run\'s data set');
    const run = await lab.getRun(runId(String(fromRun)));
    const data = await lab.getDataset(run.config.data);
    const start = structuredClone(run.config);
    return { start: { kind: 'run', runId: run.id }, config: configFromFlags(run.kind, v, start, data) };
  }
  if (kind === 'base') {
    if (v['finetune-from'] !== undefined) throw new UsageError('--finetune-from fine-tunes a model: it does not go with --kind base');
    const data: DatasetView = typeof v['data'] === 'string' ? await datasetByRef(lab, v['data'], quiet) : await lab.getDataset(MNIST_DATASET_ID);
    return { start: { kind: 'base' }, config: configFromFlags('base', v, onDataset(defaultConfig('base'), data), data) };
  }
  if (kind === undefined && v['finetune-from'] === undefined) {
    throw new UsageError('where does the sweep start? give --finetune-from MODEL (LoRA fine-tunes of a stored model), --kind base (base trainings) or --from-run RUN (variations of a run)');
  }
  const { base, data } = await fineTuneBase(lab, v, quiet);
  return { start: { kind: 'finetune', baseModelId: base.id }, config: configFromFlags('lora', v, fromModel(base, v, data), data) };
}

/** The spec the command line describes; every syntax problem is a UsageError here, the rest the Lab's check. */
export async function specFromFlags(lab: CliLab, v: Flags & Record<string, unknown>, quiet: boolean): Promise<SweepSpec> {
  const grids = many(v['grid']);
  const randoms = many(v['random']);
  const trials = intFlag('trials', v['trials'], 1, 10_000);
  const seeds = intFlag('seeds', v['seeds'], 1, 100);
  const budget = intFlag('budget', v['budget'], 1, 100_000);
  const concurrency = intFlag('concurrency', v['concurrency'], 1, 64);
  const samplingSeed = intFlag('sampling-seed', v['sampling-seed'], 0, 0xffffffff);
  if (trials !== undefined && randoms.length === 0) throw new UsageError('--trials draws points for --random axes; give at least one --random PATH=DIST');
  const prune = typeof v['prune'] === 'string' ? parsePrune(v['prune']) : undefined;
  const { start, config } = await startOf(lab, v, quiet);
  const axes = [...grids.map((g) => parseGrid(g, config)), ...randoms.map((r) => parseRandom(r, config))];
  const spec: SweepSpec = { start, config, axes };
  if (typeof v['name'] === 'string') spec.name = v['name'];
  if (trials !== undefined) spec.trials = trials;
  if (seeds !== undefined) spec.seeds = seeds;
  if (budget !== undefined) spec.budget = budget;
  if (concurrency !== undefined) spec.concurrency = concurrency;
  if (samplingSeed !== undefined) spec.samplingSeed = samplingSeed;
  if (prune) spec.prune = prune;
  const tags = many(v['tag']);
  if (tags.length) spec.tags = tags;
  return spec;
}

/**
 * Waits while this process drives the sweep, with a progress bar (runs done of all,
 * running, pruned, failed, ETA). The first Ctrl-C cancels the sweep (its running runs
 * stop cleanly, pending ones never start); a second quits at once (the sweep then pauses).
 */
async function follow(lab: CliLab, started: SweepView, quiet: boolean): Promise<SweepView> {
  const bar = new ProgressBar(`sweep ${started.id}`, !quiet);
  // Which of its runs train right now, from the run events (a sweep event may come before its run starts).
  const training = new Set<number>();
  let last = started;
  const draw = (v: SweepView) => {
    last = v;
    bar.update(doneCount(v), v.counts.total, {
      phase: `${Math.max(training.size, v.counts.running)} running, ${v.counts.pruned} pruned, ${v.counts.failed} failed`,
      ...(v.etaSeconds !== null ? { etaSeconds: v.etaSeconds } : {}),
    });
  };
  draw(started);
  const off = lab.subscribe((e) => {
    if (e.type === 'sweep' && e.sweep.id === started.id) draw(e.sweep);
    else if (e.type === 'run' && e.run.sweep?.sweepId === started.id) {
      const was = training.size;
      if (e.run.status === 'running') training.add(e.run.id);
      else training.delete(e.run.id);
      if (training.size !== was && e.run.status === 'running') bar.message(`run ${e.run.id} training (${e.run.name})`);
      if (training.size !== was) draw(last);
    }
  });
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    bar.message('cancelling the sweep: running runs stop cleanly, pending ones never start (Ctrl-C again to quit at once)…');
    void lab.cancelSweep(started.id).catch(() => undefined);
  };
  process.on('SIGINT', onSigint);
  try {
    const end = await lab.waitForSweep(started.id);
    bar.done(`${end.status}: ${countsText(end)}`);
    return end;
  } finally {
    off();
    process.off('SIGINT', onSigint);
  }
}

/** After following: the group table (or --json), and exit 1 when the sweep did not complete. */
async function report(s: Session, end: SweepView, v: Flags): Promise<void> {
  const objective = typeof v['objective'] === 'string' ? v['objective'] : undefined;
  const d = await s.lab().getSweep(end.id, objective);
  s.out(v['json'] ? JSON.stringify(detailJson(d)) : summaryText(d));
  if (d.status === 'paused') throw new RunFailedError(`sweep ${d.id} paused: ${pausedNote(d.id)}`);
  if (d.status !== 'completed') throw new RunFailedError(`sweep ${d.id} ${d.status}${d.error ? `: ${d.error}` : ''} (${countsText(d)})`);
}

async function createCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, sweepCreateFlags, true);
  if (positionals.length) throw new UsageError(`sweep create takes flags only, got "${positionals.join(' ')}" (lora-lab sweep create --help)`);
  const lab = s.lab();
  const spec = await specFromFlags(lab, values, s.quiet);
  const view = await lab.createSweep(spec);
  if (values['detach']) {
    const note = pausedNote(view.id);
    if (values['json']) return s.out(JSON.stringify({ ...view, detached: true, note }));
    return s.out(`sweep ${view.id} created: ${plural(view.points, 'point')} × ${plural(view.seeds, 'seed')} = ${plural(view.counts.total, 'run')}\n${note}`);
  }
  await report(s, await follow(lab, view, s.quiet), values);
}

async function resumeCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, objective: { type: 'string' }, concurrency: { type: 'string' }, backend: { type: 'string' } }, true);
  const lab = s.lab();
  const view = await lab.resumeSweep(sweepId(positionals[0]));
  await report(s, await follow(lab, view, s.quiet), values);
}

async function listCommand(argv: string[], s: Session): Promise<void> {
  const { values } = parse(argv, commonFlags);
  const sweeps = await s.lab().listSweeps();
  s.out(values['json'] ? JSON.stringify(sweeps) : listText(sweeps));
}

async function showCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, { ...commonFlags, objective: { type: 'string' } }, true);
  const objective = typeof values['objective'] === 'string' ? values['objective'] : undefined;
  const d = await s.lab().getSweep(sweepId(positionals[0]), objective);
  s.out(values['json'] ? JSON.stringify(detailJson(d)) : showText(d));
}

async function cancelCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, commonFlags, true);
  const v = await s.lab().cancelSweep(sweepId(positionals[0]));
  s.out(values['json'] ? JSON.stringify(v) : `sweep ${v.id} ${v.status}: ${countsText(v)}`);
}

async function rmCommand(argv: string[], s: Session): Promise<void> {
  const { values, positionals } = parse(argv, commonFlags, true);
  const id = sweepId(positionals[0]);
  await s.lab().deleteSweep(id);
  s.out(values['json'] ? JSON.stringify({ deleted: id }) : `deleted sweep ${id} (its runs stay, no longer linked to it)`);
}

export async function sweepCommand(argv: string[], s: Session): Promise<void> {
  const [sub, ...rest] = argv;
  const commands: Record<(typeof SUBCOMMANDS)[number], (a: string[], s: Session) => Promise<void>> = {
    create: createCommand,
    list: listCommand,
    show: showCommand,
    cancel: cancelCommand,
    resume: resumeCommand,
    rm: rmCommand,
  };
  const command = commands[sub as (typeof SUBCOMMANDS)[number]];
  if (!command) throw new UsageError(`sweep needs one of ${SUBCOMMANDS.join(', ')}${sub ? `, got "${sub}"` : ''} (lora-lab sweep --help)`);
  await command(rest, s);
}
