/**
 * The y scale of a spectrum chart (singular values, cosines): linear from 0, or log
 * from just under the smallest positive value (at most 8 decades below the top), with
 * its tick values. Shared by the bar chart of one spectrum and the lines of several.
 */
/** One update's spectrum on a chart of several. */
export interface SpectrumLine {
  label: string;
  color: string;
  values: readonly number[];
}

export interface SpectrumScale {
  /** Pixel row of a value. */
  y: (v: number) => number;
  ticks: number[];
}

export function spectrumScale(values: readonly number[], opts: { top: number; log: boolean; y0: number; height: number }): SpectrumScale {
  const { top, log, y0, height } = opts;
  const positive = values.filter((v) => v > 0);
  const floor = log ? Math.max(Math.min(...positive, top) / 1.5, top * 1e-8) : 0;
  const y = (v: number): number => {
    if (!(top > 0)) return y0 + height;
    if (log) {
      const lv = Math.log10(Math.max(v, floor));
      const [l0, l1] = [Math.log10(floor), Math.log10(top)];
      return y0 + height - ((lv - l0) / Math.max(l1 - l0, 1e-12)) * height;
    }
    return y0 + height - (v / top) * height;
  };
  let ticks: number[];
  if (!(top > 0)) ticks = [0];
  else if (!log) ticks = [0, top / 2, top];
  else {
    ticks = [];
    for (let e = Math.ceil(Math.log10(floor)); e <= Math.floor(Math.log10(top)); e++) ticks.push(10 ** e);
    if (!ticks.length) ticks = [top];
  }
  return { y, ticks };
}
