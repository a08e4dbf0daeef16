/**
 * Asynchronous successive halving (ASHA, Li et al. 2018) as early stopping for a sweep.
 * Rungs sit at minSteps · eta^k steps. The first time a run's metric passes a rung
 * (its first point at a step ≥ the rung's) that value is recorded there; once at least
 * `graceRuns` runs have a value at that rung, a run whose value is not within the top
 * ceil(n / eta) of them is stopped. Pure: the sweep service feeds it points and stores
 * what it records (sweep_runs.rungs), so a resumed sweep prunes against the same history.
 */
import type { RunConfig } from '../contract/config.ts';
import type { PruneSpec } from '../contract/sweep.ts';

export interface AshaOptions {
  metric: string;
  mode: 'min' | 'max';
  eta: number;
  minSteps: number;
  graceRuns: number;
}

export interface AshaStop {
  rung: number;
  value: number;
  /** Runs with a value at that rung, this one included. */
  n: number;
  /** The worst value still within the top ceil(n / eta). */
  threshold: number;
  /** "pruned by ASHA at step 50: val/accuracy 0.912, below the top 1/3 of 6 runs at that rung (≥ 0.934)". */
  message: string;
}

export interface AshaObservation {
  /** Rungs this call recorded for the run (step → value), to be stored. */
  recorded: Record<string, number>;
  stop: AshaStop | null;
}

/** A prune spec's options with their defaults for runs of `config`. */
export function ashaOptions(prune: PruneSpec, config: RunConfig): AshaOptions {
  const eta = prune.eta ?? 3;
  const steps = config.maxSteps ?? 100;
  const minSteps = prune.minSteps ?? (prune.metric.startsWith('val/') && config.evalEvery > 0 ? config.evalEvery : Math.max(1, Math.round(steps / 10)));
  return { metric: prune.metric, mode: prune.mode ?? (prune.metric.endsWith('loss') ? 'min' : 'max'), eta, minSteps, graceRuns: prune.graceRuns ?? eta };
}

const fmt = (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(3))) : String(v));

export class Asha {
  readonly opts: AshaOptions;
  /** rung step → run key → value. */
  readonly #rungs = new Map<number, Map<string, number>>();

  constructor(opts: AshaOptions) {
    if (!(opts.eta >= 2) || !(opts.minSteps >= 1) || !(opts.graceRuns >= 1)) throw new RangeError('ASHA needs eta ≥ 2, minSteps ≥ 1 and graceRuns ≥ 1');
    this.opts = opts;
  }

  /** The k-th rung's step: minSteps · eta^k. */
  rung(k: number): number {
    return this.opts.minSteps * this.opts.eta ** k;
  }

  /** What a run recorded before (a resumed sweep). */
  load(run: string, rungs: Record<string, number>): void {
    for (const [step, value] of Object.entries(rungs)) this.#at(Number(step)).set(run, value);
  }

  /** Forgets a run (its process died and it starts again from step 0). */
  forget(run: string): void {
    for (const m of this.#rungs.values()) m.delete(run);
  }

  /** Values recorded at a rung, by run. */
  values(rung: number): ReadonlyMap<string, number> {
    return this.#rungs.get(rung) ?? new Map();
  }

  /** New points of one run, in step order (other metrics are ignored). */
  observe(run: string, points: readonly { key: string; step: number; value: number }[]): AshaObservation {
    const recorded: Record<string, number> = {};
    let stop: AshaStop | null = null;
    for (const p of points) {
      if (p.key !== this.opts.metric) continue;
      for (let k = 0; this.rung(k) <= p.step; k++) {
        const rung = this.rung(k);
        const at = this.#at(rung);
        if (at.has(run)) continue;
        at.set(run, p.value);
        recorded[String(rung)] = p.value;
        stop ??= this.#judge(run, rung);
      }
    }
    return { recorded, stop };
  }

  #at(rung: number): Map<string, number> {
    let m = this.#rungs.get(rung);
    if (!m) this.#rungs.set(rung, (m = new Map()));
    return m;
  }

  /** Sort key: larger is better; NaN (a diverged run) is the worst. */
  #score(v: number): number {
    if (Number.isNaN(v)) return -Infinity;
    return this.opts.mode === 'max' ? v : -v;
  }

  #judge(run: string, rung: number): AshaStop | null {
    const at = this.#at(rung);
    const n = at.size;
    if (n < this.opts.graceRuns) return null;
    const value = at.get(run) as number;
    const sorted = [...at.values()].sort((a, b) => this.#score(b) - this.#score(a));
    const keep = Math.ceil(n / this.opts.eta);
    const threshold = sorted[keep - 1] as number;
    if (this.#score(value) >= this.#score(threshold)) return null;
    const side = this.opts.mode === 'max' ? '≥' : '≤';
    const message = `pruned by ASHA at step ${rung}: ${this.opts.metric} ${fmt(value)}, below the top 1/${this.opts.eta} of ${n} runs at that rung (${side} ${fmt(threshold)})`;
    return { rung, value, n, threshold, message };
  }
}
