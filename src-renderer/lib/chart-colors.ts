/** The colours charts are drawn with (read from app.css by theme.svelte.ts), as plain types and helpers. */

export interface ChartColors {
  text: string;
  muted: string;
  grid: string;
  axis: string;
  surface: string;
  /** One per run or series, distinguishable in both themes. */
  palette: string[];
  before: string;
  after: string;
}

/** The colour of the i-th run or series. */
export function seriesColor(colors: ChartColors, i: number): string {
  return colors.palette[i % colors.palette.length] ?? '#4c78a8';
}
