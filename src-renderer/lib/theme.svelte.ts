/**
 * Light or dark, following the OS (prefers-color-scheme). Charts read their colours
 * from the CSS custom properties in app.css, so they are rebuilt when this flips.
 */

import type { ChartColors } from './chart-colors.ts';

export { type ChartColors, seriesColor } from './chart-colors.ts';

class Theme {
  #dark = $state(false);

  constructor() {
    if (typeof window === 'undefined' || !window.matchMedia) return;
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    this.#dark = mq.matches;
    mq.addEventListener('change', (e) => (this.#dark = e.matches));
  }

  get dark(): boolean {
    return this.#dark;
  }

  /** Colours for uPlot; depends on `dark`, so deriving from it re-runs on a flip. */
  get colors(): ChartColors {
    void this.#dark;
    const css = getComputedStyle(document.documentElement);
    const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    return {
      text: v('--text', '#1d2430'),
      muted: v('--muted', '#5f6b7a'),
      grid: v('--grid', '#e6e9ee'),
      axis: v('--border', '#d5dae1'),
      surface: v('--surface', '#ffffff'),
      palette: Array.from({ length: 10 }, (_, i) => v(`--series-${i}`, '#4c78a8')),
      before: v('--before', '#9aa5b1'),
      after: v('--after', '#4c78a8'),
    };
  }
}

export const theme = new Theme();
