/**
 * The Runs table's focus column: a run's wrong count on the classes it trained on
 * (named: "on Trouser, Bag", "33 → 4") and, below, what that did to the other classes'
 * accuracy. Pure functions of a RunView.
 */
import type { RunView } from '../../src-main/contract/api.ts';
import { classNoun, listNames, shortName } from './classes.ts';
import { fmtInt, fmtPct } from './format.ts';

type FocusRun = Pick<RunView, 'focusWrong' | 'focusWrongBefore' | 'focusClasses' | 'dataset'>;
type OtherRun = Pick<RunView, 'otherAccuracy' | 'otherAccuracyBefore' | 'otherCount' | 'dataset' | 'config'>;

/** `on`: the focus classes by name ("on Sky", "on 3, 8"); `text`: the wrong count, before → after for a fine-tune. */
export function focusCell(run: FocusRun): { on: string | null; title: string; text: string; better: boolean | null } {
  if (run.focusWrong === null) return { on: null, title: '', text: '—', better: null };
  const names = run.focusClasses ?? [];
  const on = names.length ? `on ${listNames(names.map((n) => shortName(n, 14)), 3)}` : null;
  const title = names.length ? `wrong answers on the test samples of ${classNoun(run.dataset, names.length > 1)} ${names.join(', ')}` : '';
  if (run.focusWrongBefore === null) return { on, title, text: fmtInt(run.focusWrong), better: null };
  return { on, title: `${title}: before → after training`, text: `${run.focusWrongBefore} → ${run.focusWrong}`, better: run.focusWrong < run.focusWrongBefore };
}

/** What training on the focus did to the other classes: their accuracy before → after, coloured by its own sign. */
export function otherCell(run: OtherRun): { text: string; title: string; better: boolean | null } | null {
  const after = run.otherAccuracy;
  if (after === null) return null;
  const nouns = classNoun(run.dataset, true);
  const focus = new Set(run.config.classes ?? []);
  const others = (run.dataset?.classes ?? []).filter((_, c) => !focus.has(c));
  const before = run.otherAccuracyBefore;
  const title = `test accuracy on the other ${nouns} (${listNames(others, 12)}; n = ${fmtInt(run.otherCount ?? 0)})${before === null ? '' : ': before → after training'}`;
  if (before === null) return { text: `other ${nouns} ${fmtPct(after, 1)}`, title, better: null };
  return { text: `other ${nouns} ${fmtPct(before, 1)} → ${fmtPct(after, 1)}`, title, better: after > before ? true : after < before ? false : null };
}
