/** LoRA Lab's version from its package.json (found from the source tree and from the bundle alike). */
import { readFileSync } from 'node:fs';

export function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'lora-lab' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* not this one */
    }
  }
  return 'unknown';
}
