import type { AdapterInspection } from '../../src-main/contract/api.ts';
import { errorText, lab } from './api.ts';

/**
 * The Lab's look at a PEFT folder before it is imported (which stored model its config
 * names and its shapes fit); `error` when the Lab could not be asked.
 */
export class AdapterInspect {
  result = $state.raw<AdapterInspection | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);

  async load(fileName: string): Promise<AdapterInspection | null> {
    this.loading = true;
    this.error = null;
    try {
      this.result = await lab.inspectAdapter(fileName);
      return this.result;
    } catch (err) {
      this.error = errorText(err);
      return null;
    } finally {
      this.loading = false;
    }
  }

  /** Why the adapter does not fit this model (null: it fits, or nothing is known). */
  mismatch(modelId: number | null): string | null {
    if (modelId === null || !this.result) return null;
    return this.result.models.find((m) => m.modelId === modelId)?.mismatch ?? null;
  }
}
