import { errorText } from './api.ts';

/**
 * A dialog's submit: one at a time (`busy` also disables the button), the error kept to
 * show on failure, `done` (usually closing the dialog) only on success.
 */
export class Submission {
  busy = $state(false);
  error = $state<string | null>(null);

  async run(action: () => Promise<unknown>, done: () => void): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error = null;
    try {
      await action();
      done();
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.busy = false;
    }
  }
}
