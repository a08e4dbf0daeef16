/**
 * A progress bar on stderr (so `--json` stdout stays clean). On a terminal it redraws
 * one line; elsewhere (CI logs, pipes) it prints a line every 10%. The label, phase and
 * messages can carry a run name or a trainer's device text: they are made one safe line
 * (the bar's own \r and ESC[2K are the only controls it writes).
 */
import { oneLine } from './sanitize.ts';
import { sig } from './table.ts';

export class ProgressBar {
  #lastPct = -1;
  #lastDraw = 0;
  readonly #tty: boolean;

  readonly label: string;

  constructor(label: string, readonly enabled = true, readonly out: NodeJS.WriteStream = process.stderr) {
    this.label = oneLine(label);
    this.#tty = Boolean(out.isTTY);
  }

  update(step: number, total: number, info: { loss?: number; samplesPerSec?: number; etaSeconds?: number; phase?: string }): void {
    if (!this.enabled || total <= 0) return;
    const pct = Math.min(100, Math.floor((step / total) * 100));
    const now = Date.now();
    const extra = [
      info.phase && info.phase !== 'training' ? oneLine(info.phase) : '',
      info.loss !== undefined && Number.isFinite(info.loss) ? `loss ${sig(info.loss)}` : '',
      info.samplesPerSec ? `${Math.round(info.samplesPerSec)} samples/s` : '',
      info.etaSeconds !== undefined && step < total ? `ETA ${formatDuration(info.etaSeconds)}` : '',
    ]
      .filter(Boolean)
      .join('  ');
    if (this.#tty) {
      if (now - this.#lastDraw < 100 && step < total) return;
      this.#lastDraw = now;
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      this.out.write(`\r\x1b[2K${this.label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${step}/${total}  ${extra}`);
    } else if (Math.floor(pct / 10) > Math.floor(this.#lastPct / 10) || (step === total && this.#lastPct < 100)) {
      this.out.write(`${this.label}: ${pct}% (${step}/${total})  ${extra}\n`);
    }
    this.#lastPct = pct;
  }

  message(raw: string): void {
    if (!this.enabled) return;
    const text = oneLine(raw);
    if (this.#tty) this.out.write(`\r\x1b[2K${this.label}: ${text}`);
    else this.out.write(`${this.label}: ${text}\n`);
  }

  done(raw = ''): void {
    if (!this.enabled) return;
    const text = oneLine(raw);
    if (this.#tty) this.out.write(`\r\x1b[2K${this.label}: ${text}\n`);
    else if (text) this.out.write(`${this.label}: ${text}\n`);
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
