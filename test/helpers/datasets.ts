/** Small data sets of our own as real files, for the tests that import them. */
import { writeFileSync } from 'node:fs';
import { Rng } from '../../src-main/util/rng.ts';

export const COLOURS = ['red', 'green', 'blue'];

/** Three overlapping Gaussian blobs in 6 features, as a CSV with the label last; `shift` moves every sample (another domain). */
export function blobCsv(file: string, n: number, seed: number, shift = 0): void {
  const rng = new Rng(seed);
  const lines = ['f0,f1,f2,f3,f4,f5,label'];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const x = Array.from({ length: 6 }, (_, f) => (f % 3 === c ? 1.2 : 0) + shift + rng.normal() * 1.0);
    lines.push(`${x.map((v) => v.toFixed(4)).join(',')},${COLOURS[c]}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}
