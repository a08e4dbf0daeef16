/**
 * Browser notifications in web mode when a sweep or a long run ends (the rule is
 * src-main/app/notifier.ts's, shared with Electron). Permission is asked only from the
 * bell in the top bar, never on load; the choice is remembered. In Electron the main
 * process notifies, so this stays off there (nothing is told twice).
 */
import { EndNotices } from '../../src-main/app/notifier.ts';
import { lab, transport } from './api.ts';
import { router } from './router.svelte.ts';

const KEY = 'lora-lab.notify';

type Permission = 'default' | 'granted' | 'denied' | 'unsupported';

const supported = (): boolean => typeof window !== 'undefined' && 'Notification' in window;

class Notify {
  /** Electron's main process notifies: no bell, no browser notices. */
  readonly native = transport === 'electron';
  #wanted = $state(typeof localStorage !== 'undefined' && localStorage.getItem(KEY) === 'on');
  #permission = $state<Permission>(supported() ? (Notification.permission as Permission) : 'unsupported');
  readonly #notices = new EndNotices();
  #off: (() => void) | null = null;

  get permission(): Permission { return this.#permission; }
  /** Notices will show: wanted and allowed. */
  get on(): boolean { return this.#wanted && this.#permission === 'granted'; }
  /** What the bell says. */
  get title(): string {
    if (this.#permission === 'unsupported') return 'this browser has no notifications';
    if (this.#permission === 'denied') return 'notifications are blocked for this page (allow them in the browser’s site settings)';
    return this.on ? 'notify when a sweep or a long run ends: on (click to turn off)' : 'notify when a sweep or a long run ends: off (click to turn on)';
  }

  /** Follow the Lab's events (from App, once). */
  start(): () => void {
    if (this.native) return () => undefined;
    this.#off = lab.subscribe((e) => {
      // Every event goes through, so the rule knows what was already seen when notices are off.
      const n = this.#notices.notice(e);
      if (n && this.on) this.#show(n.title, n.body, n.route);
    });
    return () => {
      this.#off?.();
      this.#off = null;
    };
  }

  /** The bell: on asks the browser (a click is the user gesture it needs), off just stops. */
  async toggle(): Promise<void> {
    if (!supported()) return;
    if (this.on) {
      this.#set(false);
      return;
    }
    let p = Notification.permission as Permission;
    if (p === 'default') p = (await Notification.requestPermission()) as Permission;
    this.#permission = p;
    this.#set(p === 'granted');
  }

  #set(on: boolean): void {
    this.#wanted = on;
    try {
      localStorage.setItem(KEY, on ? 'on' : 'off');
    } catch {
      // Storage refused (private mode): the choice lasts for this page only.
    }
  }

  #show(title: string, body: string, route: string): void {
    try {
      const n = new Notification(title, { body, tag: route });
      n.onclick = () => {
        window.focus();
        router.go(route);
        n.close();
      };
    } catch (err) {
      console.warn('a notification could not be shown', err);
    }
  }
}

export const notify = new Notify();
