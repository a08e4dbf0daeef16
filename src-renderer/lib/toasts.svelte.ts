/** Transient messages in a corner: confirmations, API errors, and the delete "Undo". */

export interface ToastAction {
  label: string;
  run: () => void;
}

export interface Toast {
  id: number;
  kind: 'info' | 'success' | 'error';
  text: string;
  action: ToastAction | null;
  /** Milliseconds it stays (0: until dismissed). */
  timeoutMs: number;
}

class Toasts {
  #list = $state<Toast[]>([]);
  #timers = new Map<number, ReturnType<typeof setTimeout>>();
  #next = 1;

  get list(): readonly Toast[] {
    return this.#list;
  }

  show(text: string, opts: { kind?: Toast['kind']; action?: ToastAction; timeoutMs?: number; onExpire?: () => void } = {}): number {
    const id = this.#next++;
    const kind = opts.kind ?? 'info';
    const timeoutMs = opts.timeoutMs ?? (kind === 'error' ? 10_000 : 4000);
    this.#list.push({ id, kind, text, action: opts.action ?? null, timeoutMs });
    if (timeoutMs > 0) {
      this.#timers.set(
        id,
        setTimeout(() => {
          this.#remove(id);
          opts.onExpire?.();
        }, timeoutMs),
      );
    }
    return id;
  }

  error(text: string): number {
    return this.show(text, { kind: 'error' });
  }

  /** Close a toast early; its expiry callback does not run. */
  dismiss(id: number): void {
    this.#remove(id);
  }

  #remove(id: number): void {
    const t = this.#timers.get(id);
    if (t) clearTimeout(t);
    this.#timers.delete(id);
    const i = this.#list.findIndex((x) => x.id === id);
    if (i >= 0) this.#list.splice(i, 1);
  }
}

export const toasts = new Toasts();
