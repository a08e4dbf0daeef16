/**
 * What a colour means on the Merge page, the same in every table and chart there: the
 * base is always the "before" grey; each combination (a preview) keeps one colour of
 * its own, in the latest preview's chart, in "Previews side by side" and in the table;
 * each adapter alone takes a colour from a separate set, never one a combination uses.
 * Pure functions over the theme's palette.
 */
import { type ChartColors, seriesColor } from './chart-colors.ts';

/** Palette slots for combinations (blue, purple, cyan, red, olive) … */
const COMBINATION_SLOTS = [0, 4, 6, 8, 7];
/** … and for adapters alone (orange, green, pink, yellow): the two sets never meet. */
const ALONE_SLOTS = [1, 2, 3, 5];
/** Combinations drawn at once in the side-by-side chart: one distinct colour each. */
export const CHART_COMBINATIONS = COMBINATION_SLOTS.length;

export function baseColor(colors: ChartColors): string {
  return colors.before;
}

/** The i-th adapter (in request order) alone. */
export function aloneColor(colors: ChartColors, i: number): string {
  return seriesColor(colors, ALONE_SLOTS[i % ALONE_SLOTS.length] ?? 1);
}

/**
 * Colours of the combinations `ids` (newest first): the newest CHART_COMBINATIONS get
 * distinct colours, each its own by id where free (so colours stay put as previews come
 * and go); older ones get none (they are not in the chart; the table says so).
 */
export function combinationColors(colors: ChartColors, ids: number[]): Map<number, string> {
  const shown = ids.slice(0, CHART_COMBINATIONS);
  const taken = new Set<number>();
  const slotOf = new Map<number, number>();
  // Oldest first, so a new preview does not move an older one's colour when both want one.
  for (const id of [...shown].reverse()) {
    const want = (id - 1) % COMBINATION_SLOTS.length;
    let k = want;
    while (taken.has(k)) k = (k + 1) % COMBINATION_SLOTS.length;
    taken.add(k);
    slotOf.set(id, k);
  }
  return new Map([...slotOf].map(([id, k]) => [id, seriesColor(colors, COMBINATION_SLOTS[k] ?? 0)]));
}
