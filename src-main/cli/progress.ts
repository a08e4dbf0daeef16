/**
 * A progress bar on stderr (so `--json` stdout stays clean). On a terminal it redraws
 * one line; elsewhere (CI logs, pipes) it prints a line every 10%.
 */
export class ProgressBar {
  #lastPct = -1;
  #lastDraw = 0;
  readonly #tty: boolean;

  constructor(readonly label: string, readonly enabled = true, readonly out: NodeJS.WriteStream = process.stderr) {
    this.#tty = Boolean(out.isTTY);
  }

  update(step: number, total: number, info: { loss?: number; samplesPerSec?: number; etaSeconds?: number; phase?: string }): void {
    if (!this.enabled || total <= 0) return;
    const pct = Math.min(100, Math.floor((step / total) * 100));
    const now = Date.now();
    const extra = [
      info.phase && info.phase !== 'training' ? info.phase : '',
      info.loss !== undefined && Number.isFinite(info.loss) ? `loss ${info.loss.toFixed(4)}` : '',
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

  message(text: string): void {
    if (!this.enabled) return;
    if (this.#tty) this.out.write(`\r\x1b[2K${this.label}: ${text}`);
    else this.out.write(`${this.label}: ${text}\n`);
  }

  done(text = ''): void {
    if (!this.enabled) return;
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
