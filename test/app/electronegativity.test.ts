/**
 * Electronegativity (Doyensec's Electron security scanner) over the Electron code and
 * the page it loads: no finding of high or medium severity, except those explained in
 * the README's Reliability section (listed here with the reason).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Reviewed findings: each is explained in the README. */
const EXPLAINED: Record<string, string> = {
  // shell.openExternal only ever receives URLs that externalUrl() parsed as http(s).
  OPEN_EXTERNAL_JS_CHECK: 'openExternal is reached only through externalUrl(), which admits parsed http(s) URLs alone',
};

describe('electronegativity', () => {
  it('reports nothing of high or medium severity that is not explained', () => {
    const tmp = tempDir();
    try {
      const input = join(tmp.dir, 'app');
      mkdirSync(input);
      for (const f of readdirSync(join(root, 'src-main', 'app'))) copyFileSync(join(root, 'src-main', 'app', f), join(input, f));
      copyFileSync(join(root, 'src-renderer', 'index.html'), join(input, 'index.html'));
      const bin = join(createRequire(import.meta.url).resolve('@doyensec/electronegativity/package.json'), '..', 'dist', 'index.js');
      const out = join(tmp.dir, 'findings.csv');
      const electron = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version as string;
      execFileSync(process.execPath, [bin, '-i', input, '-o', out, '-r', '-e', electron, '-v', 'false'], { stdio: 'ignore', timeout: 120_000 });
      const rows = readFileSync(out, 'utf8').trim().split('\n').slice(1);
      const findings = rows.map((r) => {
        const [id, severity, confidence, file, location] = r.split(',').map((c) => c.replace(/^"|"$/g, ''));
        return { id: id!, severity: severity!, confidence: confidence!, where: `${file}:${location}` };
      });
      const serious = findings.filter((f) => (f.severity === 'HIGH' || f.severity === 'MEDIUM') && !(f.id in EXPLAINED));
      expect(serious, JSON.stringify(serious, null, 1)).toEqual([]);
    } finally {
      tmp.cleanup();
    }
  });
});
