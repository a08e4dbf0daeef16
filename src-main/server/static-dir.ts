/** Where the built renderer is: dist/renderer beside the bundled CLI, or from source. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function rendererDir(): string | null {
  const candidates = [new URL('./renderer/', import.meta.url), new URL('../../dist/renderer/', import.meta.url)];
  for (const c of candidates) {
    const dir = fileURLToPath(c);
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}
